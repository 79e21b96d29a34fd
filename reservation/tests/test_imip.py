"""iMIP REPLYs (answers given in calendar apps) applied: built with `icalendar` from the
invitation the calendar mailed, as a calendar app builds them, wrapped in an RFC 822 message,
then delivered to the inbound-mail endpoint or read from a mailbox by `imip_fetch` from an IMAP
server on loopback (a small fake speaking the IMAP4rev1 commands imaplib sends)."""

import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from io import StringIO

import icalendar
import pytest
from django.core.management import call_command
from django.test import Client
from pytest_django.fixtures import Settings

from reservation.ical import event_invite, event_uid
from reservation.models import AuditEntry, Event, Participant, User
from reservation.services.calendar import EventChanges, event_create, event_update, recurrence_spec
from reservation.tests.factories import NOW, actor_for, make_user

pytestmark = pytest.mark.django_db
SECRET = "inbound-secret-for-tests"


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", time_zone="Europe/Berlin")


@pytest.fixture
def pia() -> User:
    return make_user(email="pia@example.com")


@pytest.fixture
def event(olga: User, pia: User) -> Event:
    return event_create(
        actor=actor_for(olga),
        title="Standup",
        start=datetime(2030, 3, 19, 8, tzinfo=UTC),
        end=datetime(2030, 3, 19, 9, tzinfo=UTC),
        time_zone="Europe/Berlin",
        participants=[pia.email],
        recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[1]),
        now=NOW,
    )


def reply(event: Event, *, who: str, partstat: str, sender: str | None = None) -> bytes:
    """The REPLY a calendar app sends: the invitation's VEVENT with METHOD:REPLY and only the
    answering ATTENDEE, its PARTSTAT set (RFC 5546 3.2.3), mailed as text/calendar."""
    invite = event_invite(event, stamp=NOW)
    assert invite is not None
    calendar = icalendar.Calendar.from_ical(invite.content)
    calendar["METHOD"] = icalendar.vText("REPLY")
    for vevent in calendar.walk("VEVENT"):
        mine = [a for a in vevent["ATTENDEE"] if str(a) == f"mailto:{who}"]
        del vevent["ATTENDEE"]
        for attendee in mine:
            attendee.params["PARTSTAT"] = partstat
            attendee.params.pop("RSVP", None)
            vevent.add("attendee", attendee)
        for alarm in list(vevent.subcomponents):
            vevent.subcomponents.remove(alarm)
    message = EmailMessage()
    message["From"] = f"Someone <{sender or who}>"
    message["To"] = "olga@example.com"
    message["Subject"] = f"Accepted: {event.title}"
    message.set_content("I'll be there.")
    message.add_attachment(
        calendar.to_ical(),
        maintype="text",
        subtype="calendar",
        params={"method": "REPLY"},
        filename="invite.ics",
    )
    return message.as_bytes()


def answer_of(event: Event, user: User) -> str:
    return Participant.objects.get(event=event, user=user).rsvp


@pytest.fixture
def inbound(settings: Settings) -> Client:
    settings.INBOUND_MAIL_SECRET = SECRET
    return Client()


def post(client: Client, raw: bytes, secret: str = SECRET) -> tuple[int, dict]:
    response = client.post(
        "/inbound/mail",
        data=raw,
        content_type="message/rfc822",
        headers={"Authorization": f"Bearer {secret}"},
    )
    return response.status_code, response.json()


def test_an_accept_from_a_calendar_app_is_applied_and_audited(
    inbound: Client, event: Event, pia: User
) -> None:
    status, body = post(inbound, reply(event, who=pia.email, partstat="ACCEPTED"))
    assert (status, body) == (
        200,
        {
            "replies": [
                {
                    "uid": event_uid(event.pk),
                    "attendee": "pia@example.com",
                    "outcome": "APPLIED",
                    "decision": "YES",
                }
            ]
        },
    )
    assert answer_of(event, pia) == "YES"
    entry = AuditEntry.objects.filter(action="event.respond").get()
    assert entry.changes == {
        "participant": "pia@example.com",
        "rsvp": ["UNDECIDED", "YES"],
        "via": "imip-http",
        "sequence": 1,
        "version": 1,
    }


def test_a_form_field_as_mailgun_and_sendgrid_post_it_works_too(
    inbound: Client, event: Event, pia: User
) -> None:
    response = inbound.post(
        "/inbound/mail",
        data={"body-mime": reply(event, who=pia.email, partstat="DECLINED").decode()},
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert response.status_code == 200
    assert answer_of(event, pia) == "NO"


def test_without_the_secret_nothing_is_applied(inbound: Client, event: Event, pia: User) -> None:
    status, body = post(inbound, reply(event, who=pia.email, partstat="ACCEPTED"), "wrong")
    assert (status, body) == (401, {"error": "UNAUTHENTICATED"})
    assert answer_of(event, pia) == "UNDECIDED"
    assert not AuditEntry.objects.filter(action="event.respond").exists()


def test_the_endpoint_is_off_without_a_configured_secret(
    settings: Settings, event: Event, pia: User
) -> None:
    settings.INBOUND_MAIL_SECRET = ""
    status, _ = post(Client(), reply(event, who=pia.email, partstat="ACCEPTED"), "")
    assert status == 404


def test_a_reply_for_someone_else_than_the_sender_is_refused(
    inbound: Client, event: Event, pia: User
) -> None:
    raw = reply(event, who=pia.email, partstat="DECLINED", sender="mallory@example.com")
    _, body = post(inbound, raw)
    assert [r["outcome"] for r in body["replies"]] == ["NOT_THE_SENDER"]
    assert answer_of(event, pia) == "UNDECIDED"


def test_a_reply_to_an_older_invitation_is_not_applied(
    inbound: Client, event: Event, olga: User, pia: User
) -> None:
    old = reply(event, who=pia.email, partstat="ACCEPTED")
    event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=1,
        changes=EventChanges(start=datetime(2030, 3, 19, 10, tzinfo=UTC)),
        now=NOW,
    )
    _, body = post(inbound, old)
    assert [r["outcome"] for r in body["replies"]] == ["STALE_VERSION"]
    assert answer_of(event, pia) == "UNDECIDED"


# --- IMAP -------------------------------------------------------------------------------------


class Mailbox:
    """Messages by UID, with their \\Seen flag."""

    def __init__(self, messages: list[bytes]) -> None:
        self.messages = dict(enumerate(messages, start=1))
        self.seen: set[int] = set()
        self.logins: list[tuple[str, str]] = []


class ImapHandler(socketserver.StreamRequestHandler):
    """The IMAP4rev1 subset imaplib's client uses here (RFC 3501)."""

    mailbox: Mailbox

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        self.wfile.write(data + b"\r\n")

    def handle(self) -> None:
        self.send("* OK [CAPABILITY IMAP4rev1] fake ready")
        while line := self.rfile.readline():
            tag, command, *rest = line.decode().rstrip("\r\n").split(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1")
            elif command == "LOGIN":
                self.mailbox.logins.append((rest[0], rest[1].strip('"')))
            elif command == "SELECT":
                self.send(f"* {len(self.mailbox.messages)} EXISTS")
                self.send("* FLAGS (\\Seen)")
                tag_ok = f"{tag} OK [READ-WRITE] SELECT completed"
                self.send(tag_ok)
                continue
            elif command == "UID" and rest[0].upper() == "SEARCH":
                unseen = [str(u) for u in self.mailbox.messages if u not in self.mailbox.seen]
                self.send("* SEARCH " + " ".join(unseen))
            elif command == "UID" and rest[0].upper() == "FETCH":
                uid = int(rest[1])
                raw = self.mailbox.messages[uid]
                self.send(f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode())
                self.wfile.write(raw)
                self.send(")")
            elif command == "UID" and rest[0].upper() == "STORE":
                self.mailbox.seen.add(int(rest[1]))
                self.send(f"* {rest[1]} FETCH (FLAGS (\\Seen))")
            elif command == "LOGOUT":
                self.send("* BYE")
                self.send(f"{tag} OK LOGOUT completed")
                return
            self.send(f"{tag} OK {command} completed")


@pytest.fixture
def imap_server() -> Iterator[tuple[socketserver.TCPServer, Mailbox]]:
    mailbox = Mailbox([])
    handler = type("Handler", (ImapHandler,), {"mailbox": mailbox})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, mailbox
    server.shutdown()
    server.server_close()


def test_imip_fetch_applies_the_replies_in_a_mailbox_once(
    imap_server: tuple[socketserver.TCPServer, Mailbox],
    settings: Settings,
    event: Event,
    pia: User,
) -> None:
    server, mailbox = imap_server
    plain = EmailMessage()
    plain["From"] = "someone@example.com"
    plain.set_content("No calendar in here.")
    mailbox.messages = {
        1: reply(event, who=pia.email, partstat="TENTATIVE"),
        2: plain.as_bytes(),
    }
    settings.IMAP_PASSWORD = "pw"
    out = StringIO()
    call_command(
        "imip_fetch",
        host="127.0.0.1",
        port=server.server_address[1],
        user="calendar",
        no_ssl=True,
        stdout=out,
    )
    assert answer_of(event, pia) == "MAYBE"
    assert mailbox.seen == {1, 2}
    assert mailbox.logins == [("calendar", "pw")]
    assert out.getvalue().splitlines() == [
        f"mail 1: pia@example.com MAYBE on {event_uid(event.pk)}: APPLIED",
        "2 mails read, 1 answers applied.",
    ]
    entry = AuditEntry.objects.filter(action="event.respond").get()
    assert (entry.changes["via"], entry.changes["rsvp"]) == ("imip-imap", ["UNDECIDED", "MAYBE"])

    # Read again: nothing unseen, nothing applied twice.
    out = StringIO()
    call_command(
        "imip_fetch",
        host="127.0.0.1",
        port=server.server_address[1],
        user="calendar",
        no_ssl=True,
        stdout=out,
    )
    assert out.getvalue().splitlines() == ["0 mails read, 0 answers applied."]
    assert AuditEntry.objects.filter(action="event.respond").count() == 1
