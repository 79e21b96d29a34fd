"""Finding a time together at the prompt, against a live server, typed as a person types it:
sign in, propose to two addresses, narrow and extend, notify, agree (through a STALE_VERSION
someone else caused), read the log."""

import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rendezvous_tui.tests.screen import PACKAGE_ROOT, Screen
from reservation.actors import Actor
from reservation.models import ApiToken, Event, Notification, Vote
from reservation.services.accounts import api_token_create
from reservation.services.events import SlotInput, event_extend
from reservation.tests.factories import PASSWORD, make_user

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def candidates(event: Event) -> list[tuple[datetime, datetime]]:
    return list(event.candidates.order_by("start").values_list("start", "end"))


def test_propose_narrow_notify_agree_and_read_the_log(
    server: str, screens: list[Screen], tmp_path: Path
) -> None:
    # Given Ana (Berlin) with an account, Bo with one, and cy@example.org with none
    ana = make_user(email="ana@example.com", name="Ana", time_zone="Europe/Berlin")
    bo = make_user(email="bo@example.com", name="Bo")
    day = datetime.now(BERLIN).date() + timedelta(days=30)
    d1, d2, d3, d4 = (day + timedelta(days=i) for i in range(4))
    config = tmp_path / "config"

    # When she starts the client with no token and signs in
    screen = Screen("--url", server, env={"RENDEZVOUS_CONFIG_DIR": str(config), "NO_COLOR": "1"})
    screens.append(screen)
    screen.expect("You are not signed in.")
    screen.expect("E-mail:")
    screen.type("ana@example.com")
    screen.expect("Password:")
    screen.type(PASSWORD)
    screen.expect(f"token stored in {config / 'token'}")
    screen.expect("Signed in as ana@example.com · times in Europe/Berlin")

    # Then the token is on disk for her alone, and is hers
    token_file = config / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    secret = token_file.read_text().strip()
    (token,) = ApiToken.objects.filter(user=ana)
    assert secret.startswith(token.prefix)

    # When she proposes lunch to two addresses with three times typed in her zone
    screen.type("c")
    screen.expect("Title")
    screen.type("Planning lunch")
    screen.expect("e-mail>")
    screen.type("bo@example.com, cy@example.org", "")
    screen.expect("time>")
    screen.type(f"{d1}T12 1", f"{d2}T12:30 1:30", f"{d3}T25 1")
    screen.expect("25:00 is not a time of day; type it again")
    screen.type(f"{d3}T13 0:45", "")
    screen.expect("✓ proposed as event 1; nobody is told yet (n1 e-mails the parties)")
    screen.expect("Planning lunch  PROPOSED · v1")
    screen.expect("parties   bo@example.com, cy@example.org")
    screen.expect(f"  1  {d1:%a %Y-%m-%d} 12:00–13:00              1h    0    0   0  -")
    screen.expect(f"  2  {d2:%a %Y-%m-%d} 12:30–14:00           1h30m    0    0   0  -")
    screen.expect(f"  3  {d3:%a %Y-%m-%d} 13:00–13:45             45m    0    0   0  -")

    # Then the server has the event with those times, converted from Berlin
    event = Event.objects.get(organizer=ana)
    assert (event.title, event.status, event.version) == ("Planning lunch", "PROPOSED", 1)
    assert sorted(event.participants.values_list("user__email", flat=True)) == [
        "ana@example.com",
        "bo@example.com",
        "cy@example.org",
    ]
    assert candidates(event) == [
        (berlin(d1, 12), berlin(d1, 13)),
        (berlin(d2, 12, 30), berlin(d2, 14)),
        (berlin(d3, 13), berlin(d3, 13, 45)),
    ]

    # When she lists her events, then narrows to the first and third and adds a fourth
    screen.type("l")
    listed = "  1 PROPOSED   Planning lunch                 3 times, from"
    screen.expect(f"{listed} {d1:%a %Y-%m-%d} 12:00")
    screen.type("p1")
    screen.expect("Keep which times")
    screen.type("1 3")
    screen.expect("time>")
    screen.type(f"{d4}T16 1", "")
    screen.expect("✓ kept 2 time(s)")
    screen.expect("✓ now 3 candidate time(s)")
    screen.expect("Planning lunch  PROPOSED · v3")

    event.refresh_from_db()
    assert event.version == 3
    assert candidates(event) == [
        (berlin(d1, 12), berlin(d1, 13)),
        (berlin(d3, 13), berlin(d3, 13, 45)),
        (berlin(d4, 16), berlin(d4, 17)),
    ]

    # When she notifies everyone
    screen.type("n1")
    screen.expect("Planning lunch: 2 other(s): bo@example.com, cy@example.org")
    screen.type("", "Bring ideas")
    screen.expect("✓ bo@example.com: link e-mail pending")
    screen.expect("✓ cy@example.org: link e-mail pending")
    assert sorted(
        Notification.objects.filter(event=event).values_list("recipient__email", "kind")
    ) == [("bo@example.com", "EVENT_INVITATION"), ("cy@example.org", "EVENT_INVITATION")]

    # When Bo, in a terminal of his own (UTC, a token in the environment), answers two times
    bo_screen = Screen(
        "--url",
        server,
        env={
            "RENDEZVOUS_CONFIG_DIR": str(tmp_path / "bo"),
            "RENDEZVOUS_TOKEN": api_token_create(actor=Actor(user=bo), name="tui")[1],
            "NO_COLOR": "1",
        },
    )
    screens.append(bo_screen)
    bo_screen.expect("Signed in as bo@example.com · times in UTC")
    bo_screen.type("l")
    bo_screen.expect("  1 PROPOSED   Planning lunch (invited)")
    bo_screen.type("v1")
    bo_screen.expect(f"  1 {d1:%a %Y-%m-%d} 11:00–12:00?")  # 12:00 in Berlin
    bo_screen.type("y")
    bo_screen.expect("  2 ")
    bo_screen.type("")
    bo_screen.expect("  3 ")
    bo_screen.type("maybe")
    bo_screen.expect("✓ 2 answer(s) recorded")
    bo_screen.expect(f"  1  {d1:%a %Y-%m-%d} 11:00–12:00              1h    1    0   0  yes")
    bo_screen.expect(f"  3  {d4:%a %Y-%m-%d} 15:00–16:00              1h    0    1   0  if need be")
    assert sorted(
        Vote.objects.filter(participant__user=bo).values_list("candidate__start", "answer")
    ) == [(berlin(d1, 12), "YES"), (berlin(d4, 16), "IF_NEED_BE")]

    # When she is about to agree and, meanwhile, the event changes under her
    screen.type("a1")
    screen.expect("Schedule at which time (number):")
    event_extend(
        actor=Actor(user=ana),
        event_id=event.pk,
        slots=[SlotInput(start=berlin(d4, 9), duration_minutes=30)],
        expected_version=3,
    )
    screen.type("2")

    # Then she sees what changed and may retry on the new version
    screen.expect("! Someone changed the event since you looked (v3 → v4):")
    screen.expect(f"+ added   {d4:%a %Y-%m-%d} 09:00–09:30")
    screen.expect("Try again on the new version? [y/N]")
    screen.type("y")
    screen.expect(f"✓ scheduled at {d3:%a %Y-%m-%d} 13:00–13:45; everyone is e-mailed")

    event.refresh_from_db()
    assert (event.status, event.start, event.end) == (
        "SCHEDULED",
        berlin(d3, 13),
        berlin(d3, 13, 45),
    )

    # When she reads the log
    screen.type("g1")
    screen.expect("ana@example.com      proposed 3 time(s)")
    screen.expect("ana@example.com      narrowed 3 → 2 time(s)")
    screen.expect("ana@example.com      extended 2 → 3 time(s)")
    screen.expect("ana@example.com      e-mailed bo@example.com: link")
    screen.expect("ana@example.com      e-mailed cy@example.org: link")
    screen.expect("ana@example.com      extended 3 → 4 time(s)")
    screen.expect(f"ana@example.com      agreed on {d3:%a %m-%d} 13:00–13:45")
    screen.expect("system               e-mailed bo@example.com: scheduled")

    # And quits; nothing on the screen ever showed the token
    screen.type("q")
    screen.expect("[exited 0 ]")
    assert secret not in screen.transcript()
    # nothing wrapped on an 80-column screen (but the test's long temporary path)
    lines = screen.lines() + bo_screen.lines()
    assert [line for line in lines if len(line) > 80 and str(tmp_path) not in line] == []
    assert "\x1b[3" not in screen.visible()  # NO_COLOR: no colour escapes

    # When she signs out, the token is revoked on the server and gone from the disk
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rendezvous_tui", "--url", server, "logout"],
        env={**os.environ, "RENDEZVOUS_CONFIG_DIR": str(config), "PYTHONPATH": str(PACKAGE_ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == f"✓ signed out: the token is revoked and {token_file} is deleted\n"
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert not token_file.exists()
