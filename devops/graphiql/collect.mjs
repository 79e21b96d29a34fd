// Copies the browser builds of the pinned packages (package-lock.json) out of node_modules
// into the folder given, which Django's static files then serve: GraphiQL needs no CDN.
//   npm ci && node collect.mjs ../../api/static/api/graphiql/vendor
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const FILES = {
  react: ["umd/react.production.min.js"],
  "react-dom": ["umd/react-dom.production.min.js"],
  // The source maps too: the minified files name them, and the production static storage
  // (hashed names) refuses a CSS file whose references are missing.
  graphiql: ["graphiql.min.js", "graphiql.min.js.map", "graphiql.min.css", "graphiql.min.css.map"],
};

const out = process.argv[2];
if (!out) {
  console.error("usage: node collect.mjs <output folder>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const versions = {};
for (const [name, files] of Object.entries(FILES)) {
  const root = dirname(require.resolve(`${name}/package.json`));
  versions[name] = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  for (const file of files) {
    copyFileSync(join(root, file), join(out, file.split("/").pop()));
  }
}
writeFileSync(join(out, "versions.json"), `${JSON.stringify(versions, null, 2)}\n`);
console.log(`GraphiQL assets in ${out}: ${JSON.stringify(versions)}`);
