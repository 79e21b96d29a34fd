"""The prompt: one letter (and an event's number) per command, as in the seed's TUI."""

from __future__ import annotations

import contextlib
import re
import socket
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rendezvous_tui import config, times
from rendezvous_tui.api import Api, ApiError, Refused
from rendezvous_tui.terminal import Terminal
from rendezvous_tui.words import plain

BAR = "l c d[n] p[n] v[n] a[n] n[n] g[n] x[n]  r s[n] b[n] k[n] u[n]  ? q"
HELP = [
    ("l", "list my events: proposed, scheduled and recurring, with their state"),
    ("c", "create a proposal: parties' e-mails, then candidate times"),
    ("d[n]", "detail of event n (d alone: the last one shown)"),
    ("p[n]", "narrow event n's candidates (keep some) and extend them (add times)"),
    ("v[n]", "vote on event n's candidates: yes, if need be, no"),
    ("a[n]", "agree: schedule event n at one of its candidates"),
    ("n[n]", "notify: e-mail the parties of event n a personal link"),
    ("g[n]", "log of event n: who did what, when"),
    ("x[n]", "cancel event n"),
    ("r", "my upcoming reservations"),
    ("s[n]", "free slots of provider n (s alone lists the providers)"),
    ("b[n]", "book slot n of the last s: hold it, then confirm"),
    ("k[n]", "confirm reservation n of the last r"),
    ("u[n]", "cancel reservation n of the last r"),
    ("w", "who am I: account, server, time zone"),
    ("i", "sign in with e-mail and password (stores a token)"),
    ("?", "this help"),
    ("q", "quit (Ctrl-D too)"),
]
SLOT_PAGE = 40
SLOT_DAYS = 14
ANSWERS = {"y": "YES", "m": "IF_NEED_BE", "n": "NO"}
NOTICE_WORDS = {
    "EVENT_INVITATION": "link",
    "EVENT_SCHEDULED": "scheduled",
    "EVENT_CANCELLED": "cancelled",
}
ANSWER_WORDS = {"YES": "yes", "IF_NEED_BE": "if need be", "NO": "no"}


class Cancelled(Exception):
    """The person backed out of a command (Ctrl-C or an empty answer where one is needed)."""


def numbers(text: str) -> list[int]:
    """`1 3,4` → [1, 3, 4]; `2-4` → [2, 3, 4]."""
    found: list[int] = []
    for part in re.split(r"[\s,]+", text.strip()):
        if not part:
            continue
        if m := re.fullmatch(r"(\d+)-(\d+)", part):
            found.extend(range(int(m[1]), int(m[2]) + 1))
        elif part.isdigit():
            found.append(int(part))
        else:
            raise ValueError(f"{part!r} is not a number")
    return found


def clip(text: str, width: int) -> str:
    text = " ".join(text.splitlines())
    return text if len(text) <= width else text[: width - 1] + "…"


class Shell:
    def __init__(
        self, api: Api, settings: config.Settings, *, term: Terminal | None = None
    ) -> None:
        self.settings = settings
        self.term = term or Terminal(color=settings.color, toolbar=self._toolbar)
        self.api = api
        self.api.on_retry = lambda text: self.say(f"… {text}", "dim")
        self.me: dict[str, Any] | None = None
        self.tz = ZoneInfo("UTC")
        self.events: list[dict[str, Any]] = []  # as numbered by the last `l`
        self.events_total = 0
        self.current: str | None = None  # the event `d` alone means
        self.providers: list[dict[str, Any]] = []
        self.slots: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (provider, slot)
        self.reservations: list[dict[str, Any]] = []

    # --- output helpers -------------------------------------------------------------------

    def say(self, text: str = "", style: str = "") -> None:
        self.term.say(text, style)

    def ok(self, text: str) -> None:
        self.term.write([("ok", "✓ "), ("", text)])

    def fail(self, error: ApiError) -> None:
        for problem in error.problems:
            first, *rest = textwrap.wrap(plain(problem), self.term.width - 2) or [""]
            self.term.write([("err", "✗ "), ("", first)])
            for line in rest:
                self.say(f"  {line}")

    def _toolbar(self) -> str:
        who = self.me["email"] if self.me else "not signed in"
        return clip(
            f" l c d p v a n g x · r s b k u · ? q │ {who} │ {self.tz.key}", self.term.width
        )

    def when(self, value: str) -> str:
        return times.when(value, self.tz)

    def span(self, start: str, end: str) -> str:
        return times.span_text(start, end, self.tz)

    # --- start ----------------------------------------------------------------------------

    def start(self) -> bool:
        """Who am I; offers to sign in when there is no (valid) token. False: cannot go on."""
        self.say(f"Rendezvous · {self.api.url}", "head")
        if not self.api.has_token:
            self.say("You are not signed in.")
            if not self.sign_in():
                return False
        while True:
            try:
                self.me = self.api.run("Me")
            except ApiError as exc:
                self.fail(exc)
                if "UNAUTHENTICATED" in exc.codes and self.sign_in():
                    continue
                return False
            if self.me is None:  # a token that is an event link, not an account
                self.say("This token is not an account's: sign in with e-mail and password.")
                if self.sign_in():
                    continue
                return False
            break
        self.set_zone()
        self.say(f"Signed in as {self.me['email']} · times in {self.tz.key}")
        self.say(f"  {BAR}", "dim")
        return True

    def set_zone(self) -> None:
        name = self.settings.time_zone or (self.me or {}).get("timeZone") or "UTC"
        try:
            self.tz = times.zone(name)
        except times.BadTime as exc:
            self.term.write([("warn", "! "), ("", f"{exc}; showing UTC")])
            self.tz = ZoneInfo("UTC")

    def sign_in(self) -> bool:
        """E-mail and password → an API token stored in the config folder (mode 0600)."""
        try:
            email = self.term.ask("E-mail: ")
            if not email:
                return False
            password = self.term.ask("Password: ", password=True)
        except (KeyboardInterrupt, EOFError):
            return False
        token = obtain_token(self.api.url, email, password, on_error=self.fail)
        if token is None:
            return False
        path = config.token_path(config.config_dir())
        config.write_token(path, token)
        self.api = Api(self.api.url, token)
        self.api.on_retry = lambda text: self.say(f"… {text}", "dim")
        overridden = self.settings.token_source.startswith(("$", "--"))
        self.settings.token_source = str(path)
        self.ok(f"signed in; token stored in {path} (readable by you only)")
        if overridden:
            self.say("Next time, drop $RENDEZVOUS_TOKEN / --token-file to use it.", "warn")
        return True

    # --- the loop -------------------------------------------------------------------------

    def loop(self) -> None:
        while True:
            try:
                line = self.term.ask("> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return
            if not line:
                continue
            if line in ("q", "quit", "exit"):
                return
            self.dispatch(line)

    COMMANDS: dict[str, str] = {
        "l": "list",
        "c": "create",
        "d": "detail",
        "p": "patch",
        "v": "vote",
        "a": "agree",
        "n": "notify",
        "g": "log",
        "x": "cancel",
        "r": "reservations",
        "s": "slots",
        "b": "book",
        "k": "confirm",
        "u": "unbook",
        "w": "whoami",
        "i": "signin",
        "?": "help",
        "h": "help",
    }

    def dispatch(self, line: str) -> None:
        m = re.fullmatch(r"\s*([a-z?])\s*(\d+)?\s*", line.lower())
        if not m or m[1] not in self.COMMANDS:
            self.say(f"Unknown command {line!r}; ? shows the commands.", "warn")
            return
        handler: Callable[[int | None], None] = getattr(self, "cmd_" + self.COMMANDS[m[1]])
        try:
            handler(int(m[2]) if m[2] else None)
        except Cancelled as exc:
            if str(exc):
                self.say(str(exc), "dim")
        except (KeyboardInterrupt, EOFError):
            self.say("(cancelled)", "dim")
        except ApiError as exc:
            self.fail(exc)
        except Exception as exc:  # noqa: BLE001 - one failed command must not end the session
            self.term.write([("err", "✗ "), ("", f"the client failed on this command: {exc!r}")])

    def cmd_help(self, _: int | None) -> None:
        for key, text in HELP:
            self.term.write([("key", f"{key:<6}"), ("", text)])
        self.say(f"Times are typed and shown in {self.tz.key}, as {times.SPAN_FORMAT}", "dim")
        self.say("(start, then length), e.g. 2030-01-15T10:30 0:45.", "dim")

    def cmd_whoami(self, _: int | None) -> None:
        me = self.me or {}
        roles = [
            r
            for r, on in (("client", me.get("isClient")), ("provider", me.get("isProvider")))
            if on
        ]
        self.say(f"account   {me.get('email')} {me.get('name') or ''}".rstrip())
        self.say(f"roles     {', '.join(roles) or 'none'}")
        self.say(f"server    {self.api.url}")
        self.say(f"zone      {self.tz.key} (account: {me.get('timeZone')})")
        self.say(f"token     from {self.settings.token_source}")

    def cmd_signin(self, _: int | None) -> None:
        if self.sign_in():
            self.me = self.api.run("Me")
            self.set_zone()
            self.events, self.reservations, self.slots = [], [], []
            self.say(f"Signed in as {self.me['email']} · times in {self.tz.key}")

    # --- events ---------------------------------------------------------------------------

    def load_events(self) -> None:
        found = self.api.run("Events", first=100)
        self.events = [edge["node"] for edge in found["edges"]]
        self.events_total = found["totalCount"] or len(self.events)

    def cmd_list(self, _: int | None) -> None:
        self.load_events()
        if not self.events:
            self.say("No events yet: c proposes one.")
            return
        self.say(f"{'#':>3} {'state':<10} {'title':<30} when ({self.tz.key})", "head")
        for n, event in enumerate(self.events, 1):
            state = event["status"]
            if event["recurrence"]:
                state = "RECURRING" if state == "SCHEDULED" else state
            if event["status"] == "PROPOSED":
                count = len(event["candidates"])
                if count:
                    first = self.when(event["candidates"][0]["start"])
                    when = f"{count} time{'s' if count != 1 else ''}, from {first}"
                else:
                    when = "no times"
            elif event["start"]:
                when = self.when(event["start"])
            else:
                when = ""
            mine = (
                "" if event["organizer"]["email"] == (self.me or {}).get("email") else " (invited)"
            )
            style = {"CANCELLED": "dim", "PROPOSED": "", "SCHEDULED": "ok"}[event["status"]]
            self.term.write(
                [
                    ("", f"{n:>3} "),
                    (style, f"{state:<10} "),
                    ("", f"{clip(event['title'] + mine, 30):<30} "),
                    ("dim", clip(when, max(10, self.term.width - 46))),
                ]
            )
        if self.events_total > len(self.events):
            self.say(f"(the newest {len(self.events)} of {self.events_total})", "dim")

    def event_id(self, n: int | None) -> str:
        if n is None:
            if self.current:
                return self.current
            self.say("Which event? Give its number from l, e.g. d1.", "warn")
            raise Cancelled
        if not self.events:
            self.load_events()
        if not 1 <= n <= len(self.events):
            self.say(f"There is no event {n}: l lists them ({len(self.events)}).", "warn")
            raise Cancelled
        self.current = self.events[n - 1]["id"]
        return self.current

    def fetch(self, event_id: str) -> dict[str, Any]:
        return self.api.run("Event", id=event_id)

    def show(self, event: dict[str, Any]) -> None:
        width = self.term.width
        status = event["status"]
        if event["recurrence"]:
            status += f" · {times.rule_text(event['recurrence'])}"
        self.term.write(
            [
                ("head", clip(event["title"], width - 30)),
                ("dim", f"  {status} · v{event['version']}"),
            ]
        )
        if event["description"]:
            self.say(clip(event["description"], width), "dim")
        me = (self.me or {}).get("email")
        parties = [p for p in event["participants"] if p["role"] == "PARTY"]
        self.say(f"organizer {event['organizer']['email']}")
        if event["status"] == "SCHEDULED":
            self.say(f"when      {self.span(event['start'], event['end'])} ({self.tz.key})", "ok")
            for p in parties:
                self.say(f"  {p['user']['email']:<40} {p['rsvp'].lower()}")
        else:
            self.say(clip("parties   " + ", ".join(p["user"]["email"] for p in parties), width))
        if event["status"] == "CANCELLED":
            self.say(f"cancelled {event['cancelReason'] or '(no reason given)'}", "dim")
        if event["status"] == "PROPOSED":
            self.show_candidates(event, me)

    def show_candidates(self, event: dict[str, Any], me: str | None) -> None:
        candidates = event["candidates"]
        if not candidates:
            self.say("no candidate times left")
            return
        self.say(
            f"{'#':>3}  {'candidate times (' + self.tz.key + ')':<36} "
            f"{'len':>5}  yes ifnb  no  you",
            "head",
        )
        for n, slot in enumerate(candidates, 1):
            mine = next(
                (v["answer"] for v in slot["votes"] if v["participant"]["user"]["email"] == me),
                None,
            )
            self.say(
                f"{n:>3}  {self.span(slot['start'], slot['end']):<36} "
                f"{times.length(slot['durationMinutes']):>5}  "
                f"{slot['yes']:>3} {slot['ifNeedBe']:>4} "
                f"{slot['no']:>3}  {ANSWER_WORDS.get(mine or '', '-')}"
            )

    def cmd_detail(self, n: int | None) -> None:
        self.show(self.fetch(self.event_id(n)))

    def read_spans(self, question: str) -> list[times.Span]:
        self.say(f"{question} in {self.tz.key}, one per line: a start and a length as")
        self.say(f"{times.SPAN_FORMAT}, e.g. 2030-01-15T10:30 0:45. An empty line ends.")
        spans: list[times.Span] = []
        while True:
            text = self.term.ask("  time> ")
            if not text:
                return spans
            try:
                span = times.parse_span(text, self.tz)
            except times.BadTime as exc:
                self.term.write([("err", "✗ "), ("", f"{exc}; type it again")])
                continue
            spans.append(span)
            self.say(
                f"    = {self.span(span.start.isoformat(), span.end.isoformat())}"
                f" ({times.length(span.minutes)})",
                "dim",
            )

    def cmd_create(self, _: int | None) -> None:
        title = self.term.ask("Title (empty: a generated one): ")
        self.say("Parties' e-mail addresses, separated by commas or one per line.")
        self.say("An empty line ends.")
        parties: list[str] = []
        while True:
            text = self.term.ask("  e-mail> ")
            if not text:
                break
            parties.extend(a for a in re.split(r"[\s,;]+", text) if a)
        if not parties:
            self.say("A proposal needs at least one party.", "warn")
            raise Cancelled
        spans = self.read_spans("Candidate times")
        if not spans:
            self.say("A proposal needs at least one time.", "warn")
            raise Cancelled
        event_input: dict[str, Any] = {"parties": parties, "slots": [s.as_input() for s in spans]}
        if title:
            event_input["title"] = title
        event = self.api.run("Propose", input=event_input)
        self.current = event["id"]
        self.load_events()  # numbers as `l` would show them now
        n = next((i for i, e in enumerate(self.events, 1) if e["id"] == event["id"]), None)
        self.ok(f"proposed as event {n}; nobody is told yet (n{n} e-mails the parties)")
        self.show(event)

    # STALE_VERSION: show what changed, offer to try again on the new version.

    def changes(self, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        lines = []
        if old["status"] != new["status"]:
            lines.append(f"state: {old['status']} → {new['status']}")
        if old["title"] != new["title"]:
            lines.append(f"title: {old['title']!r} → {new['title']!r}")
        before = {c["id"]: c for c in old["candidates"]}
        after = {c["id"]: c for c in new["candidates"]}
        for gone in [c for i, c in before.items() if i not in after]:
            lines.append(f"- removed {self.span(gone['start'], gone['end'])}")
        for added in [c for i, c in after.items() if i not in before]:
            lines.append(f"+ added   {self.span(added['start'], added['end'])}")
        if new["status"] == "SCHEDULED" and old["status"] != "SCHEDULED":
            lines.append(f"scheduled at {self.span(new['start'], new['end'])}")
        return lines or ["(votes or links only)"]

    def with_version(self, event: dict[str, Any], attempt: Callable[[dict[str, Any]], Any]) -> Any:
        """attempt(event) with its version; on STALE_VERSION, explain and offer a retry."""
        while True:
            try:
                return attempt(event)
            except Refused as exc:
                if "STALE_VERSION" not in exc.codes:
                    raise
                fresh = self.fetch(event["id"])
                self.term.write(
                    [
                        ("warn", "! "),
                        (
                            "",
                            "Someone changed the event since you looked"
                            f" (v{event['version']} → v{fresh['version']}):",
                        ),
                    ]
                )
                for line in self.changes(event, fresh):
                    self.say(f"    {line}")
                if not self.term.yes("Try again on the new version?", default=False):
                    raise Cancelled(
                        "Nothing was changed; d shows the event as it is now."
                    ) from None
                event = fresh

    def pick(self, event: dict[str, Any], text: str) -> list[str]:
        try:
            chosen = numbers(text)
        except ValueError as exc:
            self.say(f"{exc}; give candidate numbers, e.g. 1 3", "warn")
            raise Cancelled from None
        count = len(event["candidates"])
        wrong = [n for n in chosen if not 1 <= n <= count]
        if wrong:
            self.say(f"No candidate {', '.join(map(str, wrong))} (there are {count}).", "warn")
            raise Cancelled
        return [event["candidates"][n - 1]["id"] for n in dict.fromkeys(chosen)]

    def proposed(self, n: int | None) -> dict[str, Any]:
        event = self.fetch(self.event_id(n))
        if event["status"] != "PROPOSED":
            self.say(
                f"{event['title']} is {event['status']}: only a proposed event's times change.",
                "warn",
            )
            raise Cancelled
        return event

    def cmd_patch(self, n: int | None) -> None:
        event = self.proposed(n)
        self.show(event)
        keep_text = self.term.ask("Keep which times (numbers, e.g. 1 3; empty: all): ")
        keep = self.pick(event, keep_text) if keep_text else []
        spans = self.read_spans("Times to add")
        if not keep and not spans:
            self.say("Nothing to change.")
            return
        if keep and len(keep) < len(event["candidates"]):

            def narrow(current: dict[str, Any]) -> dict[str, Any]:
                still = [i for i in keep if i in {c["id"] for c in current["candidates"]}]
                if len(still) < len(keep):
                    self.say(
                        f"{len(keep) - len(still)} of the times you keep are gone already.", "warn"
                    )
                if not still:
                    raise Cancelled
                return self.api.run(
                    "Narrow", id=current["id"], keep=still, version=current["version"]
                )

            event = self.with_version(event, narrow)
            self.ok(f"kept {len(event['candidates'])} time(s)")
        if spans:
            payload = [s.as_input() for s in spans]

            def extend(current: dict[str, Any]) -> dict[str, Any]:
                return self.api.run(
                    "Extend", id=current["id"], slots=payload, version=current["version"]
                )

            event = self.with_version(event, extend)
            self.ok(f"now {len(event['candidates'])} candidate time(s)")
        self.show(event)

    def cmd_vote(self, n: int | None) -> None:
        event = self.proposed(n)
        self.show(event)
        self.say("For each time: y (yes), m (if need be), n (no), empty (no answer).")
        self.say("Your earlier answers are filled in; Enter keeps one.", "dim")
        me = (self.me or {}).get("email")
        letter = {value: key for key, value in ANSWERS.items()}
        votes = []
        for i, slot in enumerate(event["candidates"], 1):
            mine = next(
                (v["answer"] for v in slot["votes"] if v["participant"]["user"]["email"] == me),
                None,
            )
            while True:
                answer = self.term.ask(
                    f"  {i} {self.span(slot['start'], slot['end'])}? ",
                    default=letter.get(mine or "", ""),
                ).lower()
                if not answer or answer[0] in ANSWERS:
                    break
                self.say("  y, m, n or empty", "warn")
            if answer:
                votes.append({"slotId": slot["id"], "answer": ANSWERS[answer[0]]})
        event = self.api.run("Vote", id=event["id"], votes=votes)
        self.ok(f"{len(votes)} answer(s) recorded")
        self.show(event)

    def cmd_agree(self, n: int | None) -> None:
        event = self.proposed(n)
        self.show(event)
        if not event["candidates"]:
            raise Cancelled
        default = "1" if len(event["candidates"]) == 1 else ""
        chosen = self.pick(
            event, self.term.ask("Schedule at which time (number): ", default=default) or "x"
        )
        if len(chosen) != 1:
            self.say("Pick one time.", "warn")
            raise Cancelled
        slot_id = chosen[0]

        def agree(current: dict[str, Any]) -> dict[str, Any]:
            if slot_id not in {c["id"] for c in current["candidates"]}:
                self.say("That time is no longer a candidate.", "warn")
                raise Cancelled
            return self.api.run("Agree", id=current["id"], slot=slot_id, version=current["version"])

        event = self.with_version(event, agree)
        self.ok(f"scheduled at {self.span(event['start'], event['end'])}; everyone is e-mailed")
        self.show(event)

    def cmd_notify(self, n: int | None) -> None:
        event = self.fetch(self.event_id(n))
        me = (self.me or {}).get("email")
        everyone = [p["user"]["email"] for p in event["participants"] if p["user"]["email"] != me]
        self.say(f"{event['title']}: {len(everyone)} other(s): {', '.join(everyone)}")
        text = self.term.ask("Notify whom (e-mails; empty: all of them): ")
        parties = [a for a in re.split(r"[\s,;]+", text) if a] or everyone
        if not parties:
            self.say("Nobody else is on this event.", "warn")
            raise Cancelled
        message = self.term.ask("A note for the e-mail (optional): ")

        def notify(current: dict[str, Any]) -> dict[str, Any]:
            return self.api.run(
                "Notify",
                id=current["id"],
                parties=parties,
                version=current["version"],
                message=message,
            )

        sent = self.with_version(event, notify)
        for note in sent["notifications"]:
            self.ok(f"{note['recipient']['email']}: link e-mail {note['status'].lower()}")

    def cmd_cancel(self, n: int | None) -> None:
        event = self.fetch(self.event_id(n))
        if not self.term.yes(f"Cancel {event['title']!r} and e-mail everyone?", default=False):
            raise Cancelled("Nothing was changed.")
        reason = self.term.ask("Why (optional): ")
        event = self.api.run("Cancel", id=event["id"], reason=reason)
        self.ok(f"{event['title']} is {event['status'].lower()}")

    def describe(self, entry: dict[str, Any]) -> tuple[str, list[str]]:
        """One log entry in words (and the candidate times it left, if it changed them)."""
        action, changes = entry["action"], entry["changes"] or {}
        slots = changes.get("slots") or []
        listing = [times.span_text(a, b, self.tz, short=True) for a, b in slots]
        before = changes.get("before")
        was = len(before) if isinstance(before, list) else "?"
        match action:
            case "event.propose":
                return f"proposed {len(slots)} time(s)", listing
            case "event.narrow":
                return f"narrowed {was} → {len(slots)} time(s)", listing
            case "event.extend":
                return f"extended {was} → {len(slots)} time(s)", listing
            case "event.vote":
                return f"voted on {len(changes.get('votes', {}))} time(s)", []
            case "event.agree":
                agreed = times.span_text(changes["start"], changes["end"], self.tz, short=True)
                return f"agreed on {agreed}", []
            case "event.cancel":
                return f"cancelled {changes.get('reason') or ''}".rstrip(), []
            case "event.notify":
                kind = NOTICE_WORDS.get(str(changes.get("kind")), "link")
                return f"e-mailed {changes.get('recipient')}: {kind}", []
            case "event.view":
                return "opened through an e-mailed link", []
            case "event.create":
                return f"created with {len(changes.get('participants', []))} other(s)", []
            case "event.update":
                return f"changed ({changes.get('scope', 'ALL').lower().replace('_', ' ')})", []
            case "event.respond":
                rsvp = changes.get("rsvp") or ["", ""]
                return f"answered {str(rsvp[-1]).lower()}", []
            case _:
                return action, []

    def cmd_log(self, n: int | None) -> None:
        event_id = self.event_id(n)
        log = self.api.run("EventLog", id=event_id, first=100)
        entries = [edge["node"] for edge in log["edges"]]
        self.say(f"{'when':<15} {'who':<20} what ({self.tz.key})", "head")
        for entry in entries:
            who = (entry["actorUser"] or {}).get("email") or entry["actorKind"].lower()
            what, listing = self.describe(entry)
            self.say(
                clip(
                    f"{times.when(entry['at'], self.tz, short=True)} {clip(who, 20):<20} {what}",
                    self.term.width,
                )
            )
            shown = listing if len(listing) <= 4 else [*listing[:3], f"… {len(listing) - 3} more"]
            for line in shown:
                self.say(f"{'':<37}{line}", "dim")
        if log["totalCount"] > len(entries):
            self.say(f"(the first {len(entries)} of {log['totalCount']})", "dim")

    # --- bookings -------------------------------------------------------------------------

    def cmd_reservations(self, _: int | None) -> None:
        now = datetime.now(UTC) - timedelta(hours=12)
        found = self.api.run("Reservations", start=now.isoformat(), first=50)
        self.reservations = [edge["node"] for edge in found["edges"]]
        if not self.reservations:
            self.say("No upcoming reservations: s shows providers' free slots.")
            return
        self.say(f"{'#':>3}  {'when (' + self.tz.key + ')':<32} {'state':<10} with", "head")
        for n, r in enumerate(self.reservations, 1):
            status = r["status"]
            tail = (
                f"  until {self.when(r['expiresAt'])[-5:]}"
                if status == "HELD" and r["expiresAt"]
                else ""
            )
            self.say(
                clip(
                    f"{n:>3}  {self.span(r['start'], r['end']):<32} {status:<10} "
                    f"{r['provider']['name']}{tail}",
                    self.term.width,
                )
            )

    def cmd_slots(self, n: int | None) -> None:
        if not self.providers:
            self.providers = [e["node"] for e in self.api.run("Providers", first=100)["edges"]]
        if not self.providers:
            self.say("No providers offer time on this server.")
            return
        if n is None and len(self.providers) > 1:
            for i, p in enumerate(self.providers, 1):
                self.say(f"{i:>3}  {p['name']} ({p['timeZone']})")
            self.say("s<n> shows provider n's free slots, e.g. s1.", "dim")
            return
        n = n or 1
        if not 1 <= n <= len(self.providers):
            self.say(f"There is no provider {n} (there are {len(self.providers)}).", "warn")
            raise Cancelled
        provider = self.providers[n - 1]
        day_text = self.term.ask("From which day (YYYY-MM-DD, today, tomorrow, +N; empty: today): ")
        try:
            day = times.parse_day(day_text, self.tz, today=datetime.now(self.tz).date())
        except times.BadTime as exc:
            self.say(str(exc), "warn")
            raise Cancelled from None
        start = max(times.local(day, 0, 0, 0, self.tz), datetime.now(UTC))
        end = start + timedelta(days=SLOT_DAYS)
        found = self.api.run(
            "Slots",
            provider=provider["id"],
            start=start.isoformat(),
            end=end.isoformat(),
            first=SLOT_PAGE,
        )
        self.slots = [(provider, slot) for slot in found]
        if not self.slots:
            self.say(f"{provider['name']} has no free slot in the {SLOT_DAYS} days from {day}.")
            return
        self.say(
            f"{provider['name']}: free slots ({self.tz.key}; provider in {provider['timeZone']})",
            "head",
        )
        # One line per day, `n hh:mm` per slot: 40 slots fit an 80×24 screen.
        days: dict[str, list[str]] = {}
        for i, (_, slot) in enumerate(self.slots, 1):
            start = times.instant(slot["start"]).astimezone(self.tz)
            odd = self.slot_minutes(i - 1) != self.slot_minutes(0)
            label = f"{i:>3} {start:%H:%M}" + ("*" if odd else "")
            days.setdefault(f"{start:%a %Y-%m-%d}", []).append(label)
        per_line = max(1, (self.term.width - 16) // 9)
        for day, labels in days.items():
            for first in range(0, len(labels), per_line):
                head = day if first == 0 else ""
                self.say(
                    f"{head:<15}" + "".join(f"{x:<9}" for x in labels[first : first + per_line])
                )
        more = " (more: s again from a later day)" if len(self.slots) == SLOT_PAGE else ""
        self.say(f"each {times.length(self.slot_minutes(0))}; b<n> books slot n{more}", "dim")

    def slot_minutes(self, index: int) -> int:
        _, slot = self.slots[index]
        return int(
            (times.instant(slot["end"]) - times.instant(slot["start"])).total_seconds() // 60
        )

    def cmd_book(self, n: int | None) -> None:
        if not self.slots:
            self.say("s<n> lists a provider's free slots first.", "warn")
            raise Cancelled
        n = n or 1
        if not 1 <= n <= len(self.slots):
            self.say(f"There is no slot {n} (there are {len(self.slots)}).", "warn")
            raise Cancelled
        provider, slot = self.slots[n - 1]
        held = self.api.run(
            "Reserve", provider=provider["id"], start=slot["start"], key=str(uuid.uuid4())
        )
        self.ok(
            f"held {self.span(held['start'], held['end'])} with {held['provider']['name']}"
            f" until {self.when(held['expiresAt'])[-5:]}"
        )
        if self.term.yes("Confirm it now?", default=True):
            self.confirm(held)
        else:
            self.say("Unconfirmed holds lapse; r lists them, k<n> confirms.", "dim")
        self.slots = []

    def confirm(self, reservation: dict[str, Any]) -> None:
        done = self.api.run("Confirm", id=reservation["id"])
        self.ok(
            f"confirmed {self.span(done['start'], done['end'])} with {done['provider']['name']}"
        )

    def reservation(self, n: int | None) -> dict[str, Any]:
        if not self.reservations:
            self.cmd_reservations(None)
        if n is None or not 1 <= n <= len(self.reservations):
            self.say(f"Give a reservation's number from r (1–{len(self.reservations)}).", "warn")
            raise Cancelled
        return self.reservations[n - 1]

    def cmd_confirm(self, n: int | None) -> None:
        self.confirm(self.reservation(n))
        self.reservations = []

    def cmd_unbook(self, n: int | None) -> None:
        r = self.reservation(n)
        if not self.term.yes(
            f"Cancel {self.span(r['start'], r['end'])} with {r['provider']['name']}?", default=False
        ):
            raise Cancelled("Nothing was changed.")
        done = self.api.run("ReservationCancel", id=r["id"], reason="")
        self.ok(f"{done['status'].lower()}: {self.span(done['start'], done['end'])}")
        self.reservations = []


def obtain_token(
    url: str, email: str, password: str, *, on_error: Callable[[ApiError], None]
) -> str | None:
    """A new API token for this account: apiTokenObtain in one call where the server has it,
    else a session (login) that makes one (apiTokenCreate) and is ended (logout)."""
    name = f"rendezvous-tui on {socket.gethostname()}"[:100]
    api = Api(url)
    try:
        try:
            return api.run("TokenObtain", email=email, password=password, name=name)["secret"]
        except Refused:
            raise
        except ApiError as exc:
            # An older server: no apiTokenObtain (and a cookie-less POST may need CSRF too).
            if not {"GRAPHQL_VALIDATION_FAILED", "CSRF_FAILED"} & set(exc.codes):
                raise
        # Sign in with a session, which needs the CSRF cookie first.
        api.fetch_csrf_cookie()
        api.run("Login", session=True, email=email, password=password)
        try:
            return api.run("TokenCreate", session=True, name=name)["secret"]
        finally:
            with contextlib.suppress(ApiError):  # else the session lapses by itself
                api.run("Logout", session=True)
    except ApiError as exc:
        on_error(exc)
        return None
