"""The booking pages against a live server, the way seed 002 asks for them to be checked:
the whole flow in Lynx (sign in, pick a week, book, move, cancel, change the time zone, sign
out), and axe-core in headless Chromium (JavaScript on and off, driven from the keyboard)
finding no WCAG 2.1 A/AA violation on any page.

Lynx renders every page (`-dump`, what a person reads) and submits the forms found in the
same page's source (`-source`, then `-post_data`), keeping its cookies between runs like one
browsing session. Tools that are missing skip with the reason; `.ci/run` installs them.
"""

import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from api.tests.test_booking_pages import Page
from reservation.models import AuditEntry, CoachAssignment, Reservation
from reservation.services.coaching import provider_slug_set
from reservation.services.manage_links import manage_token
from reservation.tests.factories import (
    NOW,
    PASSWORD,
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
)

ROOT = Path(__file__).resolve().parents[2]
A11Y = ROOT / "devops" / "a11y"
LYNX = shutil.which("lynx")
NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world() -> dict[str, object]:
    coach = make_provider(email="anna@example.com", name="Anna")
    coach.display_name = "Anna Berg"
    coach.save(update_fields=["display_name"])
    provider_slug_set(actor=actor_for(coach), provider_id=coach.pk, slug="anna-berg", now=NOW)
    carla = make_client(email="carla@example.com", name="Carla", time_zone="Europe/Berlin")
    CoachAssignment.objects.create(provider=coach, client=carla, created_at=NOW)
    return {"coach": coach, "carla": carla}


class Lynx:
    """One Lynx session: a config that keeps cookies, and a cookie file shared by its runs."""

    def __init__(self, base: str, home: Path) -> None:
        self.base = base
        self.cookies = home / "cookies.txt"
        self.cookies.touch()
        self.config = home / "lynx.cfg"
        self.config.write_text(
            "INCLUDE:/etc/lynx/lynx.cfg\nPERSISTENT_COOKIES:TRUE\nACCEPT_ALL_COOKIES:TRUE\n"
            "SET_COOKIES:TRUE\n"
        )

    def _run(self, *args: str, stdin: str | None = None) -> str:
        command = [
            str(LYNX),
            f"-cfg={self.config}",
            f"-cookie_file={self.cookies}",
            f"-cookie_save_file={self.cookies}",
            "-nolist",
            "-width=200",
            "-display_charset=utf-8",
            *args,
        ]
        done = subprocess.run(  # noqa: S603 - lynx with arguments this test chose
            command, input=stdin, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.stdout, done.stderr  # Lynx exits 1 on 4xx pages, which still render
        return done.stdout

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def read(self, path: str) -> str:
        """What a person sees: the page as Lynx renders it."""
        return " ".join(self._run("-dump", self.url(path)).split())

    def source(self, path: str) -> Page:
        return Page(self._run("-source", self.url(path)))

    def submit(self, form: dict, **changes: str) -> str:
        """Send a form as Lynx does (following the redirect); the rendered result."""
        data = urlencode({**form["fields"], **changes})
        return " ".join(
            self._run(
                "-dump", "-post_data", self.url(form["action"]), stdin=f"{data}\n---\n"
            ).split()
        )


@pytest.mark.skipif(LYNX is None, reason="lynx is not installed (.ci/run installs it)")
def test_the_whole_flow_in_lynx(live_server, tmp_path: Path, world) -> None:
    carla = world["carla"]
    lynx = Lynx(live_server.url, tmp_path)

    # Sign in (a wrong password first: the address stays filled in).
    seen = lynx.read("/book/")
    assert "Sign in E-mail address" in seen
    form = lynx.source("/book/sign-in/").form_with("Sign in")
    wrong = lynx.submit(form, email="carla@example.com", password="nope")
    assert "That e-mail address and password do not match an account." in wrong
    landed = lynx.submit(form, email="carla@example.com", password=PASSWORD)
    # One coach: straight to her week, in Carla's zone (Berlin), today's week first.
    assert "Book with Anna Berg" in landed
    assert "Booking takes one step" in landed
    assert "(BUTTON) Book 10:00–11:00 on Tue 8 Jan" in landed
    assert "Times are shown in Europe/Berlin" in landed

    # Pick the next week, book Monday 10:00 (09:00 UTC).
    week = lynx.source("/book/coach/anna-berg/")
    [next_week] = [href for href, rel in week.links if rel == "next"]
    shown = lynx.read(next_week)
    assert "Free times, week of 14 Jan – 20 Jan 2030" in shown
    booked = lynx.submit(lynx.source(next_week).form_with("Book 10:00–11:00 on Mon 14 Jan"))
    assert "Booked: Mon 14 Jan 2030, 10:00–11:00 with Anna Berg." in booked
    assert "Upcoming, soonest first" in booked
    [mine] = Reservation.objects.filter(client=carla)
    assert (mine.start, mine.status) == (at(14, 9), "CONFIRMED")

    # Move it to Tuesday 15 Jan 12:00 Berlin (the move page opens on the appointment's week).
    listing = lynx.source("/book/appointments/")
    [change] = [
        href
        for href, _ in listing.links
        if href.startswith("/book/appointments/") and href != "/book/appointments/"
    ]
    moved = lynx.submit(lynx.source(change).form_with("Move to 12:00–13:00 on Tue 15 Jan"))
    assert "Moved to Tue 15 Jan 2030, 12:00–13:00 (it was Mon 14 Jan 2030, 10:00–11:00)." in moved
    mine.refresh_from_db()
    assert mine.start == at(15, 11)

    # Cancel it, with a reason.
    cancelled = lynx.submit(
        lynx.source(change).form_with("Cancel the appointment"), reason="Travelling"
    )
    assert "Cancelled: Tue 15 Jan 2030, 12:00–13:00." in cancelled
    assert "No upcoming appointments." in cancelled
    mine.refresh_from_db()
    assert (mine.status, mine.cancel_reason) == ("CANCELLED", "Travelling")

    # Show times in New York from now on, then sign out.
    zone_form = lynx.source("/book/appointments/").form_with("Change time zone")
    changed = lynx.submit(zone_form, time_zone="America/New_York")
    assert "Times are now shown in America/New_York." in changed
    carla.user.refresh_from_db()
    assert carla.user.time_zone == "America/New_York"
    out = lynx.submit(lynx.source("/book/appointments/").form_with("Sign out"))
    assert "You are signed out." in out
    assert "Sign in" in lynx.read("/book/appointments/")


@pytest.mark.skipif(LYNX is None, reason="lynx is not installed (.ci/run installs it)")
def test_a_manage_link_works_in_lynx_without_signing_in(live_server, tmp_path: Path, world) -> None:
    mine = make_reservation(provider=world["coach"], client=world["carla"], start=at(9, 9))
    lynx = Lynx(live_server.url, tmp_path)
    path = f"/book/manage/{manage_token(reservation=mine, now=NOW)}/"
    seen = lynx.read(path)
    assert "You opened this page from the link in your e-mail" in seen
    moved = lynx.submit(lynx.source(path).form_with("Move to 10:00–11:00 on Tue 8 Jan"))
    assert "Moved to Tue 8 Jan 2030, 10:00–11:00 (it was Wed 9 Jan 2030, 10:00–11:00)." in moved
    mine.refresh_from_db()
    assert mine.start == at(8, 9)
    uses = AuditEntry.objects.filter(action="reservation.manage_link", subject_id=mine.pk)
    assert [e.changes["use"] for e in uses.order_by("id")] == ["view", "view", "move", "view"]


@pytest.mark.skipif(
    NODE is None or CHROMIUM is None or not (A11Y / "node_modules" / "axe-core").exists(),
    reason="node, chromium or devops/a11y/node_modules missing (.ci/run: npm ci there)",
)
def test_axe_finds_no_wcag_21_aa_violation_with_javascript_on_or_off(live_server, world) -> None:
    mine = make_reservation(provider=world["coach"], client=world["carla"], start=at(10, 9))
    path = f"/book/manage/{manage_token(reservation=mine, now=NOW)}/"
    done = subprocess.run(  # noqa: S603 - our own script, arguments this test chose
        [str(NODE), "axe_check.mjs", live_server.url, "carla@example.com", PASSWORD, path],
        cwd=A11Y,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    pages = [line for line in lines if "page" in line]
    assert [p["page"] for p in pages] == [
        "sign-in",
        "sign-in-error",
        "coach-week",
        "coach-next-week",
        "appointments",
        "appointment",
        "appointments-after-cancel",
        "not-found",
        "manage-link",
        "manage-link-invalid",
    ], done.stderr
    assert [(p["page"], p["violations"]) for p in pages if p["violations"]] == []
    assert [line["flow"] for line in lines if line.get("done")] == ["js-on", "js-off"], done.stderr
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(LYNX is None, reason="lynx is not installed (.ci/run installs it)")
def test_two_clients_pressing_the_same_time_at_once_one_wins_the_other_is_told(
    live_server, tmp_path: Path, world
) -> None:
    other = make_client(email="olaf@example.com", name="Olaf", time_zone="Europe/Berlin")
    CoachAssignment.objects.create(provider=world["coach"], client=other, created_at=NOW)
    sessions = []
    for email in ("carla@example.com", "olaf@example.com"):
        home = tmp_path / email
        home.mkdir()
        lynx = Lynx(live_server.url, home)
        lynx.submit(
            lynx.source("/book/sign-in/").form_with("Sign in"), email=email, password=PASSWORD
        )
        sessions.append(
            (lynx, lynx.source("/book/coach/anna-berg/").form_with("Book 10:00–11:00 on Tue 8 Jan"))
        )

    barrier = threading.Barrier(2)

    def press(session: tuple[Lynx, dict]) -> str:
        lynx, form = session
        barrier.wait()
        return lynx.submit(form)

    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = list(pool.map(press, sessions))

    won = [p for p in pages if "Booked: Tue 8 Jan 2030, 10:00–11:00 with Anna Berg." in p]
    lost = [p for p in pages if "Sorry, that time is not free any more" in p]
    assert (len(won), len(lost)) == (1, 1), pages
    assert "Book 10:00–11:00 on Tue 8 Jan" not in lost[0]  # the slot is gone from the page
    assert "Book 11:00–12:00 on Tue 8 Jan" in lost[0]
    assert Reservation.objects.filter(start=at(8, 9), status="CONFIRMED").count() == 1
