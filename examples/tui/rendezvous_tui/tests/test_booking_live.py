"""Booking a provider's slot at the prompt, against a live server: free slots in my zone, a
slot taken meanwhile (its error in plain words), hold and confirm, my reservations."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rendezvous_tui.tests.screen import Screen
from reservation.actors import Actor
from reservation.models import Reservation
from reservation.selectors.booking import available_slots
from reservation.services.accounts import api_token_create
from reservation.services.reservations import reservation_create
from reservation.tests.factories import make_client, make_provider

NEW_YORK = ZoneInfo("America/New_York")


def span(start: datetime, end: datetime) -> str:
    a, b = start.astimezone(NEW_YORK), end.astimezone(NEW_YORK)
    return f"{a:%a %Y-%m-%d %H:%M}–{b:%H:%M}"


def test_free_slots_book_confirm_and_list(
    server: str, screens: list[Screen], tmp_path: Path
) -> None:
    # Given Pat's practice (Mon–Fri 09–17 UTC) and Cleo, a client in New York with a token
    provider = make_provider(email="pat@example.com", name="Pat")
    provider.display_name = "Pat's Practice"
    provider.save(update_fields=["display_name"])
    cleo = make_client(email="cleo@example.com", time_zone="America/New_York")
    rival = make_client(email="rex@example.com")
    _, secret = api_token_create(actor=Actor(user=cleo.user), name="tui test")

    screen = Screen(
        "--url",
        server,
        env={"RENDEZVOUS_CONFIG_DIR": str(tmp_path), "RENDEZVOUS_TOKEN": secret},
    )
    screens.append(screen)
    screen.expect("Signed in as cleo@example.com · times in America/New_York")

    # When she asks for her reservations, then for free slots from today
    screen.type("r")
    screen.expect("No upcoming reservations: s shows providers' free slots.")
    now = datetime.now(UTC)
    screen.type("s")
    screen.expect("From which day")
    screen.type("")

    # Then she sees the slots the server offers, in her zone
    screen.expect("Pat's Practice: free slots (America/New_York; provider in UTC)")
    offered = available_slots(provider=provider, start=now, end=now + timedelta(days=14), now=now)
    # (one line per day: `n hh:mm` for each slot, seven to a line on 80 columns)
    first_day = offered[0][0].astimezone(NEW_YORK).date()
    that_day = [
        f"{n:>3} {start.astimezone(NEW_YORK):%H:%M}"
        for n, (start, _) in enumerate(offered[:40], 1)
        if start.astimezone(NEW_YORK).date() == first_day
    ]
    label = f"{first_day:%a %Y-%m-%d}"
    assert screen.expect(f"{label}  ") == f"{label:<15}" + "".join(that_day[:7])

    # When someone else takes the first slot before she books it
    reservation_create(actor=Actor(user=rival.user), provider_id=provider.pk, start=offered[0][0])
    screen.type("b1")

    # Then she is told in plain words, with the code
    screen.expect("✗ That time is not free (any more). [SLOT_UNAVAILABLE]")

    # When she books the second, and confirms it
    screen.type("b2")
    screen.expect(f"✓ held {span(*offered[1])} with Pat's Practice until")
    screen.expect("Confirm it now? [Y/n]")
    screen.type("")
    screen.expect(f"✓ confirmed {span(*offered[1])} with Pat's Practice")

    # Then the server has it confirmed, and her list shows it
    mine = Reservation.objects.get(client=cleo)
    assert (mine.status, mine.start, mine.end) == ("CONFIRMED", *offered[1])
    screen.type("r")
    screen.expect(f"  1  {span(*offered[1])}       CONFIRMED  Pat's Practice")

    # When she starts to cancel it and thinks better of it, nothing changes
    screen.type("u1")
    screen.expect("Cancel ")
    screen.type("n")
    screen.expect("Nothing was changed.")
    mine.refresh_from_db()
    assert mine.status == "CONFIRMED"

    # Colour is on without NO_COLOR; the token never shows
    assert "\x1b[3" in screen.visible()
    screen.type("q")
    screen.expect("[exited 0 ]")
    assert secret not in screen.transcript()
    assert max(map(len, screen.lines())) <= 80  # nothing wrapped on an 80-column screen


def test_a_revoked_token_is_explained_and_offers_to_sign_in(
    server: str, screens: list[Screen], tmp_path: Path
) -> None:
    screen = Screen(
        "--url",
        server,
        env={
            "RENDEZVOUS_CONFIG_DIR": str(tmp_path),
            "RENDEZVOUS_TOKEN": "rdv_not-a-token",
            "NO_COLOR": "1",
        },
    )
    screens.append(screen)
    screen.expect("✗ You are not signed in, or your token was revoked: sign in again.")
    screen.expect("  [UNAUTHENTICATED] (The Bearer token is unknown, revoked or expired.)")
    screen.expect("E-mail:")
    screen.type("")
    screen.expect("[exited 1 ]")
    assert "rdv_not-a-token" not in screen.transcript()
    assert max(map(len, screen.lines())) <= 80
