"""manage.py imip_fetch: read the unseen mails of a mailbox over IMAP and apply their iMIP
REPLYs (answers given in calendar apps), then flag each mail \\Seen so it is read once.

Connection from the IMAP_* settings, each overridable by an option; run it from cron or a
systemd timer (every minute is fine: it only fetches what is unseen). A mail that fails to
apply is still flagged \\Seen: its outcome is printed, and the audit log has every answer
that was applied (via imip-imap).
"""

import contextlib
import imaplib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reservation.services.imip import imip_message_apply


class Command(BaseCommand):
    help = "Apply the iMIP REPLYs (calendar-app answers) in a mailbox's unseen mails over IMAP."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=settings.IMAP_HOST)
        parser.add_argument("--port", type=int, default=settings.IMAP_PORT)
        parser.add_argument("--user", default=settings.IMAP_USER)
        parser.add_argument("--mailbox", default=settings.IMAP_MAILBOX)
        parser.add_argument(
            "--no-ssl", action="store_true", help="Plain IMAP (a server on loopback only)."
        )
        parser.add_argument("--limit", type=int, default=200, help="At most this many mails.")

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"]
        if not host:
            raise CommandError("No IMAP host: set IMAP_HOST or pass --host.")
        use_ssl = settings.IMAP_SSL and not options["no_ssl"]
        client_class = imaplib.IMAP4_SSL if use_ssl else imaplib.IMAP4
        try:
            client = client_class(host, options["port"], timeout=30)
        except OSError as exc:
            raise CommandError(f"Cannot reach {host}:{options['port']}: {exc}") from exc
        applied = seen = 0
        try:
            client.login(options["user"], settings.IMAP_PASSWORD)
            status, _ = client.select(options["mailbox"])
            if status != "OK":
                raise CommandError(f"No mailbox {options['mailbox']!r}.")
            _, data = client.uid("SEARCH", "UNSEEN")
            uids = data[0].split()[: options["limit"]] if data and data[0] else []
            for uid in uids:
                _, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next(
                    (part[1] for part in fetched if isinstance(part, tuple) and len(part) > 1),
                    b"",
                )
                try:
                    outcomes = imip_message_apply(raw=raw, via="imip-imap")
                except ValueError as exc:
                    self.stdout.write(f"mail {uid.decode()}: {exc}")
                    outcomes = []
                for outcome in outcomes:
                    applied += outcome.outcome == "APPLIED"
                    self.stdout.write(
                        f"mail {uid.decode()}: {outcome.attendee} {outcome.decision or '-'} "
                        f"on {outcome.uid}: {outcome.outcome}"
                    )
                client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
                seen += 1
        except imaplib.IMAP4.error as exc:
            raise CommandError(f"IMAP: {exc}") from exc
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
        self.stdout.write(f"{seen} mails read, {applied} answers applied.")
