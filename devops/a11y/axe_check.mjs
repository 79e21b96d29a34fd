// Accessibility check of the booking pages (issue 11): walks the client's whole flow in
// headless Chromium (the system /usr/bin/chromium, through playwright-core) from the
// keyboard, runs axe-core on every page for WCAG 2.1 A and AA, and does the flow again with
// JavaScript off. Prints one JSON line per page and exits 1 on any violation.
//
//   node axe_check.mjs BASE_URL EMAIL PASSWORD MANAGE_PATH
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const [base, email, password, managePath] = process.argv.slice(2);
if (!managePath) {
  console.error("usage: node axe_check.mjs BASE_URL EMAIL PASSWORD MANAGE_PATH");
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
let failures = 0;

async function audit(page, name) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags } }),
    TAGS,
  );
  const violations = result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(" ")),
  }));
  failures += violations.length;
  console.log(JSON.stringify({ page: name, url: page.url(), passes: result.passes.length, violations }));
}

// Keyboard only: Tab until the element with this accessible name has focus, then Enter.
async function pressOn(page, role, name) {
  const target = page.getByRole(role, { name, exact: true }).first();
  await target.waitFor();
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement)) {
      await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.keyboard.press("Enter")]);
      return;
    }
  }
  throw new Error(`could not reach "${name}" with the Tab key`);
}

async function flow(javaScriptEnabled) {
  // axe is injected as a script tag, which the pages' own CSP (script-src 'self') rightly
  // refuses; the CSP is checked on its own (test_deploy_configs.py), so the audit bypasses it.
  const context = await browser.newContext({ javaScriptEnabled, bypassCSP: true });
  const page = await context.newPage();
  const label = javaScriptEnabled ? "js-on" : "js-off";
  const check = javaScriptEnabled ? audit : async () => {};

  await page.goto(`${base}/book/sign-in/`);
  await check(page, "sign-in");
  await page.getByLabel("E-mail address").fill("nobody@example.com");
  await page.getByLabel("Password").fill("wrong");
  await pressOn(page, "button", "Sign in");
  await check(page, "sign-in-error");
  await page.getByLabel("E-mail address").fill(email);
  await page.getByLabel("Password").fill(password);
  await pressOn(page, "button", "Sign in");
  await page.waitForURL(/\/book\/coach\//);
  await check(page, "coach-week");
  await pressOn(page, "link", /^Next week/);
  await check(page, "coach-next-week");
  const book = page.getByRole("button", { name: /^Book / }).first();
  const bookName = (await book.innerText()).replace(/\s+/g, " ").trim();
  await pressOn(page, "button", bookName);
  await page.waitForURL(/\/book\/appointments\/$/);
  await check(page, "appointments");
  await pressOn(page, "link", /^Move or cancel/);
  await check(page, "appointment");
  const move = page.getByRole("button", { name: /^Move to / }).nth(2);
  await pressOn(page, "button", (await move.innerText()).replace(/\s+/g, " ").trim());
  await page.waitForURL(/\/book\/appointments\/$/);
  const moved = await page.getByRole("status").first().innerText();
  if (!moved.startsWith("Moved to")) throw new Error(`${label}: not moved: ${moved}`);
  await pressOn(page, "link", /^Move or cancel/);
  await page.getByLabel(/^Reason/).fill(`Cancelled from Chromium, ${label}`);
  await pressOn(page, "button", "Cancel the appointment");
  const cancelled = await page.getByRole("status").first().innerText();
  if (!cancelled.startsWith("Cancelled")) throw new Error(`${label}: not cancelled: ${cancelled}`);
  await check(page, "appointments-after-cancel");
  await page.goto(`${base}/book/coach/no-such-coach/`);
  await check(page, "not-found");
  await pressOn(page, "button", "Sign out");
  await context.close();

  const stranger = await browser.newContext({ javaScriptEnabled, bypassCSP: true });
  const linkPage = await stranger.newPage();
  await linkPage.goto(`${base}${managePath}`);
  await check(linkPage, "manage-link");
  await linkPage.goto(`${base}/book/manage/not-a-token/`);
  await check(linkPage, "manage-link-invalid");
  await stranger.close();
  console.log(JSON.stringify({ flow: label, done: true, moved, cancelled }));
}

try {
  await flow(true);
  await flow(false);
} finally {
  await browser.close();
}
process.exit(failures ? 1 : 0);
