"""The client's booking pages (/book/...): sign in, a coach's week, book in one step, the
appointments list, move and cancel, manage links from the mails, slugs and the coach-only
restriction — all through the same services as the API, with CSRF on."""

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client as HttpClient

from reservation.models import AuditEntry, CoachAssignment, Notification, Reservation
from reservation.publicref import encode_ref
from reservation.services.coaching import provider_slug_set
from reservation.services.mail import build_message
from reservation.services.manage_links import manage_token
from reservation.services.reservations import reservation_confirm, reservation_create
from reservation.tests.factories import (
    NOW,
    PASSWORD,
    actor_for,
    at,
    make_client,
    make_policy,
    make_provider,
    make_reservation,
)

pytestmark = pytest.mark.django_db


class Page(HTMLParser):
    """Text, alerts, notices and forms (with their fields and buttons) of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self.alerts: list[str] = []
        self.labels: set[str] = set()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (href, rel)
        self._alert: list[str] | None = None
        self._alert_tag = ""
        self._button: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append((a["href"].replace("&amp;", "&"), a.get("rel", "")))
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif tag in {"input", "textarea", "select"} and self.forms:
            if a.get("type") != "radio" or "checked" in a:
                self.forms[-1]["fields"][a.get("name", "")] = a.get("value", "")
        elif tag == "button":
            self._button = []
        elif tag == "label":
            self.labels.add(a.get("for", ""))
        if a.get("role") == "alert":
            self._alert, self._alert_tag = [], tag

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            self.forms[-1]["buttons"].append(" ".join("".join(self._button).split()))
            self._button = None
        if self._alert is not None and tag == self._alert_tag:
            self.alerts.append(" ".join("".join(self._alert).split()))
            self._alert = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._alert is not None:
            self._alert.append(data)
        if self._button is not None:
            self._button.append(data)

    @property
    def content(self) -> str:
        return " ".join(" ".join(self.text).split())

    def slot_forms(self) -> list[dict[str, Any]]:
        return [f for f in self.forms if "start" in f["fields"]]

    def slot_buttons(self) -> list[str]:
        return [b for f in self.slot_forms() for b in f["buttons"]]

    def form_with(self, button: str) -> dict[str, Any]:
        [form] = [f for f in self.forms if button in f["buttons"]]
        return form


def page(response: HttpResponse) -> Page:
    return Page(response.content.decode())


def submit(http: HttpClient, form: dict[str, Any], **changes: str) -> HttpResponse:
    return http.post(form["action"], {**form["fields"], **changes})


@pytest.fixture
def coach():
    """Anna, Mon–Fri 09–17 UTC, slug 'anna-berg'."""
    provider = make_provider(email="anna@example.com", name="Anna")
    provider.display_name = "Anna Berg"
    provider.save(update_fields=["display_name"])
    provider_slug_set(actor=actor_for(provider), provider_id=provider.pk, slug="anna-berg", now=NOW)
    return provider


@pytest.fixture
def carla(coach):
    client = make_client(email="carla@example.com", name="Carla", time_zone="Europe/Berlin")
    CoachAssignment.objects.create(provider=coach, client=client, created_at=NOW)
    return client


def signed_in(http: HttpClient, email: str) -> HttpClient:
    form = page(http.get("/book/sign-in/")).form_with("Sign in")
    response = submit(http, form, email=email, password=PASSWORD)
    assert response.status_code == 303
    return http


# --- sign in ---------------------------------------------------------------------------------


def test_sign_in_keeps_the_address_on_a_wrong_password_and_needs_csrf(http, carla) -> None:
    form = page(http.get("/book/sign-in/?next=/book/appointments/")).form_with("Sign in")
    assert form["fields"]["next"] == "/book/appointments/"

    wrong = submit(http, form, email="carla@example.com", password="nope")
    assert wrong.status_code == 400
    again = page(wrong)
    assert again.alerts == [
        "Not done That e-mail address and password do not match an account. Check both and "
        "try again. (code INVALID_CREDENTIALS)"
    ]
    assert again.form_with("Sign in")["fields"]["email"] == "carla@example.com"
    assert again.form_with("Sign in")["fields"]["password"] == ""

    forged = HttpClient(enforce_csrf_checks=True).post(
        "/book/sign-in/", {"email": "carla@example.com", "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert "Please try again" in page(forged).content

    right = submit(http, form, email="carla@example.com", password=PASSWORD)
    assert (right.status_code, right["Location"]) == (303, "/book/appointments/")


def test_pages_need_sign_in_and_a_client_with_one_coach_lands_on_that_coach(http, carla) -> None:
    response = http.get("/book/appointments/")
    assert (response.status_code, response["Location"]) == (
        303,
        "/book/sign-in/?next=%2Fbook%2Fappointments%2F",
    )
    signed_in(http, "carla@example.com")
    home = http.get("/book/")
    assert (home.status_code, home["Location"]) == (303, "/book/coach/anna-berg/")


# --- the week --------------------------------------------------------------------------------


def test_the_week_shows_free_times_in_the_clients_zone_with_week_navigation(
    http, carla, coach
) -> None:
    make_reservation(provider=coach, client=make_client(), start=at(8, 9))
    signed_in(http, "carla@example.com")

    this_week = page(http.get("/book/coach/anna-berg/"))
    # Mon 7 Jan 08:00 UTC, 24 h notice: Tue from 10:00 UTC (09:00 is taken), in Berlin +1.
    buttons = this_week.slot_buttons()
    assert buttons[:3] == [
        "Book 11:00–12:00 on Tue 8 Jan",
        "Book 12:00–13:00 on Tue 8 Jan",
        "Book 13:00–14:00 on Tue 8 Jan",
    ]
    assert len(buttons) == 7 + 8 + 8 + 8  # Tue 10–17, Wed–Fri 09–17 UTC
    assert "Times are shown in Europe/Berlin" in this_week.content
    assert "No earlier week: this is the current one." in this_week.content
    assert "Next week (14 Jan)" in this_week.content

    following = page(http.get("/book/coach/anna-berg/?week=2030-01-14"))
    assert len(following.slot_buttons()) == 40
    assert following.slot_buttons()[0] == "Book 10:00–11:00 on Mon 14 Jan"
    assert "Previous week (7 Jan)" in following.content


def test_the_week_view_takes_a_bounded_number_of_queries(
    http, carla, coach, django_assert_num_queries
) -> None:
    for day in range(8, 12):
        make_reservation(provider=coach, client=carla, start=at(day, 12))
    signed_in(http, "carla@example.com")
    # session, user, slug, and one statement for policy, windows, weekly hours, time off and
    # busy time (selectors.booking.slot_query): 4 whatever the week
    with django_assert_num_queries(4):
        assert http.get("/book/coach/anna-berg/?week=2030-01-14").status_code == 200
    with django_assert_num_queries(4):
        assert http.get("/book/coach/anna-berg/").status_code == 200


def test_old_slugs_redirect_and_unknown_ones_are_plain_404s(http, carla, coach) -> None:
    signed_in(http, "carla@example.com")
    provider_slug_set(actor=actor_for(coach), provider_id=coach.pk, slug="dr-berg", now=NOW)
    old = http.get("/book/coach/anna-berg/?week=2030-01-14")
    assert (old.status_code, old["Location"]) == (301, "/book/coach/dr-berg/?week=2030-01-14")
    assert http.get("/book/coach/nobody/").status_code == 404
    assert str(coach.pk) not in http.get("/book/coach/dr-berg/")["Content-Type"]


# --- booking ---------------------------------------------------------------------------------


def test_booking_is_one_step_and_the_loser_of_a_race_sees_the_slot_gone(http, carla, coach) -> None:
    other = make_client(email="olaf@example.com")
    CoachAssignment.objects.create(provider=coach, client=other, created_at=NOW)
    signed_in(http, "carla@example.com")
    olaf = signed_in(HttpClient(enforce_csrf_checks=True), "olaf@example.com")
    carla_page = page(http.get("/book/coach/anna-berg/"))
    olaf_page = page(olaf.get("/book/coach/anna-berg/"))
    carla_form = carla_page.form_with("Book 10:00–11:00 on Tue 8 Jan")  # Berlin
    olaf_form = olaf_page.form_with("Book 09:00–10:00 on Tue 8 Jan")  # UTC
    assert olaf_form["fields"]["start"] == carla_form["fields"]["start"]
    assert carla_form["fields"]["start"] == "2030-01-08T09:00:00+00:00"

    booked = submit(http, carla_form)
    assert (booked.status_code, booked["Location"]) == (303, "/book/appointments/")
    [reservation] = Reservation.objects.filter(client=carla)
    assert (reservation.start, reservation.status) == (at(8, 9), "CONFIRMED")

    lost = submit(olaf, olaf_form)
    assert lost.status_code == 409
    shown = page(lost)
    assert shown.alerts == [
        "Not done Sorry, that time is not free any more (someone may have just booked it). "
        "The times below are the ones still free; please choose another. That slot is not "
        "available. (code SLOT_UNAVAILABLE)"
    ]
    assert "Book 09:00–10:00 on Tue 8 Jan" not in shown.slot_buttons()
    assert shown.slot_buttons()[0] == "Book 10:00–11:00 on Tue 8 Jan"
    assert Reservation.objects.filter(client=other).count() == 0

    listed = page(http.get("/book/appointments/"))
    assert "Booked: Tue 8 Jan 2030, 10:00–11:00 with Anna Berg." in listed.content


def test_a_restricted_coach_is_closed_to_unassigned_clients_on_every_path(
    http, carla, coach
) -> None:
    make_policy(provider=coach, restrict_to_assigned_clients=True)
    make_client(email="uma@example.com")
    uma = signed_in(HttpClient(enforce_csrf_checks=True), "uma@example.com")

    shown = uma.get("/book/coach/anna-berg/")
    assert shown.status_code == 403
    assert page(shown).alerts == [
        "Not done This coach takes bookings only from their own clients. If you should be one "
        "of them, ask your coach or our staff to add you. This coach takes bookings only from "
        "their own clients. (code CLIENT_NOT_ASSIGNED)"
    ]
    assert page(shown).slot_forms() == []
    token = page(uma.get("/book/sign-in/")).forms[0]["fields"]["csrfmiddlewaretoken"]
    posted = uma.post(
        "/book/coach/anna-berg/book/",
        {"csrfmiddlewaretoken": token, "start": "2030-01-08T10:00:00+00:00"},
    )
    assert posted.status_code == 403
    assert Reservation.objects.count() == 0
    home = page(uma.get("/book/"))
    assert "Anna Berg" not in home.content

    # Near miss: her own client books as usual.
    signed_in(http, "carla@example.com")
    assert len(page(http.get("/book/coach/anna-berg/")).slot_buttons()) == 32


# --- appointments: list, move, cancel --------------------------------------------------------


def test_appointments_list_upcoming_first_and_the_past_back_to_the_policy_limit(
    http, carla, coach
) -> None:
    make_policy(provider=coach, past_weeks_visible=2)
    make_reservation(provider=coach, client=carla, start=NOW - timedelta(weeks=3))
    make_reservation(provider=coach, client=carla, start=NOW - timedelta(weeks=1))
    make_reservation(provider=coach, client=carla, start=at(10, 9))
    make_reservation(provider=coach, client=carla, start=at(9, 9))
    make_reservation(provider=coach, client=carla, start=at(11, 9), status="CANCELLED")
    signed_in(http, "carla@example.com")

    text = page(http.get("/book/appointments/")).content
    upcoming, past = text.split("Upcoming, soonest first")[1].split("Past and cancelled")
    assert re.findall(r"\w{3} \d+ Jan 2030, \d\d:\d\d", upcoming) == [
        "Wed 9 Jan 2030, 10:00",
        "Wed 9 Jan 2030, 10:00",  # again in the link's text for screen readers
        "Thu 10 Jan 2030, 10:00",
        "Thu 10 Jan 2030, 10:00",
    ]
    assert re.findall(r"\w{3} \d+ \w{3} 20\d\d, \d\d:\d\d", past) == [
        "Fri 11 Jan 2030, 10:00",
        "Mon 31 Dec 2029, 09:00",
    ]


def test_moving_keeps_the_old_time_when_the_new_one_is_gone_and_then_moves(
    http, carla, coach
) -> None:
    mine = make_reservation(provider=coach, client=carla, start=at(9, 9))
    signed_in(http, "carla@example.com")
    url = f"/book/appointments/{encode_ref(mine.pk, purpose='reservation')}/"
    shown = page(http.get(url))
    form = shown.form_with("Move to 11:00–12:00 on Tue 8 Jan")
    assert form["action"] == url

    make_reservation(provider=coach, client=make_client(), start=at(8, 10))  # taken meanwhile
    refused = submit(http, form)
    assert refused.status_code == 409
    assert "code SLOT_UNAVAILABLE" in page(refused).alerts[0]
    mine.refresh_from_db()
    assert (mine.start, mine.status) == (at(9, 9), "CONFIRMED")

    moved = submit(http, page(refused).form_with("Move to 12:00–13:00 on Tue 8 Jan"))
    assert (moved.status_code, moved["Location"]) == (303, "/book/appointments/")
    mine.refresh_from_db()
    assert mine.start == at(8, 11)
    assert "Moved to Tue 8 Jan 2030, 12:00–13:00 (it was Wed 9 Jan 2030, 10:00–11:00)." in (
        page(http.get("/book/appointments/")).content
    )


def test_cancelling_keeps_the_reason_on_an_error_and_records_it(http, carla, coach) -> None:
    mine = make_reservation(provider=coach, client=carla, start=at(9, 9))
    signed_in(http, "carla@example.com")
    url = f"/book/appointments/{encode_ref(mine.pk, purpose='reservation')}/"
    form = page(http.get(url)).form_with("Cancel the appointment")

    too_long = submit(http, form, reason="x" * 501)
    assert too_long.status_code == 400
    assert "reason is too long (500 at most). (code INVALID_INPUT)" in page(too_long).alerts[0]
    assert "x" * 501 in too_long.content.decode()
    mine.refresh_from_db()
    assert mine.status == "CONFIRMED"

    done = submit(http, form, reason="Travelling")
    assert done.status_code == 303
    mine.refresh_from_db()
    assert (mine.status, mine.cancel_reason) == ("CANCELLED", "Travelling")
    assert (
        http.get(
            f"/book/appointments/{encode_ref(mine.pk + 1000, purpose='reservation')}/"
        ).status_code
        == 404
    )


def test_someone_elses_appointment_is_not_found(http, carla, coach) -> None:
    theirs = make_reservation(provider=coach, client=make_client(), start=at(9, 9))
    signed_in(http, "carla@example.com")
    url = f"/book/appointments/{encode_ref(theirs.pk, purpose='reservation')}/"
    assert http.get(url).status_code == 404
    assert http.get(f"/book/appointments/{theirs.pk}/").status_code == 404


# --- manage links ----------------------------------------------------------------------------


def _mailed_link(reservation: Reservation, kind: str) -> str:
    notification = Notification.objects.get(
        reservation=reservation, kind=kind, recipient=reservation.client.user
    )
    assert "[manage link: added when this mail is sent]" in notification.body  # never stored
    body = build_message(notification, now=NOW).body
    [link] = re.findall(r"http://127\.0\.0\.1:8000(/book/manage/[^\s]+/)", body)
    return link


def test_the_confirmation_mail_carries_a_manage_link_that_cancels_without_signing_in(
    carla, coach
) -> None:
    held = reservation_create(actor=actor_for(carla), provider_id=coach.pk, start=at(9, 9), now=NOW)
    reservation_confirm(actor=actor_for(carla), reservation_id=held.pk, now=NOW)
    link = _mailed_link(held, "RESERVATION_CONFIRMED")
    provider_copy = Notification.objects.get(
        reservation=held, kind="RESERVATION_CONFIRMED", recipient=coach.user
    )
    assert "/book/manage/" not in build_message(provider_copy, now=NOW).body

    browser = HttpClient(enforce_csrf_checks=True)
    shown = page(browser.get(link))
    assert "You opened this page from the link in your e-mail" in shown.content
    assert "Wed 9 Jan 2030, 10:00–11:00 (Europe/Berlin)" in shown.content
    cancelled = submit(browser, shown.form_with("Cancel the appointment"), reason="Ill")
    assert (cancelled.status_code, cancelled["Location"]) == (303, link)
    held.refresh_from_db()
    assert (held.status, held.cancel_reason, held.cancelled_by_id) == (
        "CANCELLED",
        "Ill",
        carla.user_id,
    )
    uses = list(
        AuditEntry.objects.filter(action="reservation.manage_link", subject_id=held.pk)
        .order_by("id")
        .values_list("actor_user", "changes")
    )
    assert uses == [(carla.user_id, {"use": "view"}), (carla.user_id, {"use": "cancel"})]
    cancel_link = _mailed_link(held, "RESERVATION_CANCELLED")
    assert "This appointment can no longer be changed." in page(browser.get(cancel_link)).content


def test_altered_or_expired_manage_links_open_nothing(carla, coach) -> None:
    mine = make_reservation(provider=coach, client=carla, start=at(9, 9))
    token = manage_token(reservation=mine, now=NOW)
    browser = HttpClient(enforce_csrf_checks=True)
    assert browser.get(f"/book/manage/{token}/").status_code == 200
    assert browser.get(f"/book/manage/{token[:-2]}xy/").status_code == 403
    other = make_reservation(provider=coach, client=carla, start=at(10, 9))
    forged = manage_token(reservation=other, now=NOW).split(":")[0] + ":" + token.split(":")[1]
    assert browser.get(f"/book/manage/{forged}/").status_code == 403
    expired = manage_token(reservation=mine, now=NOW - timedelta(days=30))
    # Valid until a day after the appointment ends: Thu 10 Jan 10:00 UTC; NOW is before.
    assert browser.get(f"/book/manage/{expired}/").status_code == 200
    old = make_reservation(provider=coach, client=carla, start=NOW - timedelta(days=3))
    assert (
        browser.get(
            f"/book/manage/{manage_token(reservation=old, now=NOW - timedelta(days=4))}/"
        ).status_code
        == 403
    )


def test_a_series_from_the_page_books_the_free_times_and_names_the_others(
    http, carla, coach
) -> None:
    make_reservation(provider=coach, client=make_client(), start=at(15, 9))
    signed_in(http, "carla@example.com")
    options = page(http.get("/book/coach/anna-berg/?every=1&times=3&mode=free"))
    assert (
        "Each time below books 3 appointments, every week, starting then. If some of them are "
        "not free, the free ones are booked and you are told which were not."
    ) in options.content
    form = options.form_with("Book 10:00–11:00 on Tue 8 Jan")
    assert {k: form["fields"][k] for k in ("every", "times", "mode")} == {
        "every": "1",
        "times": "3",
        "mode": "free",
    }
    done = submit(http, form)
    assert done.status_code == 303
    listed = page(http.get("/book/appointments/")).content
    assert (
        "Booked 2 of 3 appointments with Anna Berg: Tue 8 Jan 2030, 10:00–11:00; "
        "Tue 22 Jan 2030, 10:00–11:00."
    ) in listed
    assert "Not booked: Tue 15 Jan 2030, 10:00 — Sorry, that time is not free any more" in listed
    assert "1 of 3, every week" in listed

    # Cancelling "this one and all later ones" from the first cancels both.
    first = Reservation.objects.filter(client=carla).order_by("start").first()
    url = f"/book/appointments/{encode_ref(first.pk, purpose='reservation')}/"
    cancel = page(http.get(url)).form_with("Cancel the appointment")
    assert submit(http, cancel, scope="series", reason="Done").status_code == 303
    assert set(Reservation.objects.filter(client=carla).values_list("status", flat=True)) == {
        "CANCELLED"
    }
    assert (
        "Cancelled 2 appointments of the series." in page(http.get("/book/appointments/")).content
    )


def test_all_or_nothing_from_the_page_keeps_the_options_and_books_nothing(
    http, carla, coach
) -> None:
    make_reservation(provider=coach, client=make_client(), start=at(15, 9))
    signed_in(http, "carla@example.com")
    form = page(http.get("/book/coach/anna-berg/?every=1&times=3&mode=all")).form_with(
        "Book 10:00–11:00 on Tue 8 Jan"
    )
    refused = submit(http, form)
    assert refused.status_code == 409
    shown = page(refused)
    assert shown.alerts == [
        "Not done Not every one of the repeated times is free, so nothing was booked. Choose "
        "another time, or allow booking only the free ones. Nothing was booked: 1 of the times "
        "are not free (Tue 15 Jan 2030, 10:00 (Europe/Berlin)). (code SERIES_INCOMPLETE)"
    ]
    kept = shown.form_with("Book 10:00–11:00 on Tue 8 Jan")["fields"]
    assert (kept["every"], kept["times"], kept["mode"]) == ("1", "3", "all")
    assert Reservation.objects.filter(client=carla).count() == 0
