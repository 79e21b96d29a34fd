"""Every admin page a staff member opens renders: changelists and change forms."""

import pytest
from django.contrib import admin
from django.test import Client as HttpClient
from django.urls import reverse

from reservation.actors import Actor
from reservation.models import AuditEntry, BookingPolicy, User
from reservation.services.events import SlotInput, event_notify, event_propose
from reservation.tests.factories import NOW, at, make_client, make_provider, make_reservation

pytestmark = pytest.mark.django_db

MODELS = [model for model in admin.site._registry if model._meta.app_label == "reservation"]


@pytest.fixture
def staff_browser() -> HttpClient:
    user = User.objects.create_superuser("root@example.com", "a long admin password")
    browser = HttpClient(HTTP_HOST="localhost")
    browser.force_login(user)
    provider, client = make_provider(), make_client()
    make_reservation(provider=provider, client=client, start=at(8, 10))
    event = event_propose(
        actor=Actor(user=client.user),
        parties=["guest@example.com"],
        slots=[SlotInput(start=at(9, 9), duration_minutes=30)],
        now=NOW,
    )
    event_notify(
        actor=Actor(user=client.user),
        event_id=event.pk,
        parties=["guest@example.com"],
        expected_version=1,
        now=NOW,
    )
    return browser


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.model_name)
def test_every_changelist_and_first_change_form_render(
    staff_browser: HttpClient, model: type
) -> None:
    meta = model._meta
    listing = staff_browser.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))

    assert listing.status_code == 200
    first = model.objects.order_by("pk").first()
    if first is not None:
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
        assert staff_browser.get(url).status_code == 200


def test_the_booking_policy_is_edited_in_the_admin(staff_browser: HttpClient) -> None:
    policy = BookingPolicy.objects.get(provider=None)
    url = reverse("admin:reservation_bookingpolicy_change", args=[policy.pk])
    form = {
        "slot_length_minutes": 45,
        "step_minutes": 15,
        "min_notice_minutes": 120,
        "horizon_days": 30,
        "hold_minutes": 10,
        "buffer_before_minutes": 5,
        "buffer_after_minutes": 5,
        "max_active_holds": 2,
        "past_weeks_visible": 8,  # unchanged (issue 11)
    }

    response = staff_browser.post(url, form)

    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.slot_length_minutes, policy.step_minutes, policy.hold_minutes) == (45, 15, 10)
    entry = AuditEntry.objects.get(action="bookingpolicy.admin_update")
    assert (entry.actor_kind, entry.actor_user.email, entry.subject_id) == (
        "USER",
        "root@example.com",
        policy.pk,
    )
    assert entry.changes == {
        "slot_length_minutes": ["60", "45"],
        "step_minutes": ["None", "15"],
        "min_notice_minutes": ["1440", "120"],
        "horizon_days": ["60", "30"],
        "hold_minutes": ["30", "10"],
        "buffer_before_minutes": ["0", "5"],
        "buffer_after_minutes": ["0", "5"],
        "max_active_holds": ["3", "2"],
    }


@pytest.mark.parametrize(
    "model",
    ["workinghours", "timeoff", "availabilitywindow", "reservation", "event", "reminderdelivery"],
)
def test_rows_that_change_through_services_cannot_be_edited_here(
    staff_browser: HttpClient, model: str
) -> None:
    add = staff_browser.get(reverse(f"admin:reservation_{model}_add"))

    assert add.status_code == 403
