"""iTIP/iMIP (RFC 5545, 5546, 6047) as other calendars read it: the invitations the calendar
mails for a series, a moved or cancelled occurrence, and a split, parsed with `icalendar` and
expanded with `recurring-ical-events` (independent of our expansion), then compared occurrence
by occurrence with the calendar's own reading (`occurrences_between`)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from reservation.ical import CANCEL, REQUEST, event_invite, event_uid, notification_invite
from reservation.models import Event, Notification, User
from reservation.selectors.calendar import occurrences_between
from reservation.services.calendar import (
    EventChanges,
    UpdateScope,
    event_create,
    event_update,
    occurrence_cancel,
    recurrence_spec,
)
from reservation.tests.factories import NOW, actor_for, make_user

pytestmark = pytest.mark.django_db

# Lord Howe Island moves its clocks by half an hour (+10:30 / +11:00), in April and October.
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
STAMP = datetime(2030, 1, 7, 12, tzinfo=UTC)


def lh(*args: int) -> datetime:
    return datetime(*args, tzinfo=LORD_HOWE)


@pytest.fixture
def olga() -> User:
    return make_user(email="olga@example.com", name="Olga", time_zone="Australia/Lord_Howe")


@pytest.fixture
def pia() -> User:
    return make_user(email="pia@example.com")


def series(olga: User, pia: User) -> Event:
    """Weekly on Monday and Thursday 08:30 Lord Howe time from 3 March 2030 (across the April
    DST end), with an extra Saturday, an excluded Thursday, and reminders."""
    return event_create(
        actor=actor_for(olga),
        title="Rounds",
        start=lh(2030, 3, 4, 8, 30),
        end=lh(2030, 3, 4, 9, 15),
        time_zone="Australia/Lord_Howe",
        participants=[pia.email],
        recurrence_rule=recurrence_spec(kind="WEEKLY", weekdays=[0, 3], until=date(2030, 5, 2)),
        extra_dates=[date(2030, 4, 6)],
        excluded_dates=[date(2030, 3, 14)],
        reminders=[(0, "EMAIL", 1), (15, "EMAIL")],
        now=NOW,
    )


def parsed(content: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(content)


def theirs(calendar: icalendar.Calendar) -> list[tuple[datetime, datetime]]:
    """The occurrences recurring-ical-events finds, in UTC."""
    return sorted(
        (c.decoded("DTSTART").astimezone(UTC), c.decoded("DTEND").astimezone(UTC))
        for c in recurring_ical_events.of(calendar).between(
            datetime(2029, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
        )
    )


def ours(event: Event) -> list[tuple[datetime, datetime]]:
    return [
        (o.start, o.end)
        for o in occurrences_between(
            users=[event.organizer],
            start=datetime(2030, 1, 1, tzinfo=UTC),
            end=datetime(2030, 12, 31, tzinfo=UTC),
        )
        if o.event.pk == event.pk
    ]


def test_a_series_invitation_expands_as_the_api_does(olga: User, pia: User) -> None:
    event = series(olga, pia)
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=lh(2030, 4, 1, 8, 30),
        expected_version=1,
        now=NOW,
    )
    event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=2,
        changes=EventChanges(start=lh(2030, 4, 11, 14)),
        scope=UpdateScope.THIS_OCCURRENCE,
        occurrence_start=lh(2030, 4, 11, 8, 30),
        now=NOW,
    )
    event.refresh_from_db()
    invite = event_invite(event, stamp=STAMP)
    assert invite is not None
    assert invite.method == REQUEST
    calendar = parsed(invite.content)
    assert str(calendar["METHOD"]) == "REQUEST"

    expected = ours(event)
    assert len(expected) == 17  # 18 rule dates + 1 extra - 1 excluded - 1 cancelled
    assert theirs(calendar) == expected
    assert (lh(2030, 4, 11, 14), lh(2030, 4, 11, 14, 45)) in expected
    assert (lh(2030, 4, 6, 8, 30), lh(2030, 4, 6, 9, 15)) in expected

    master, override = calendar.walk("VEVENT")
    assert str(master["DTSTART"].params["TZID"]) == "Australia/Lord_Howe"
    assert b"\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20300502T132959Z\r\n" in invite.content
    assert [d.dt for d in master["RDATE"].dts] == [lh(2030, 4, 6, 8, 30)]
    assert sorted(d.dt for d in master["EXDATE"].dts) == [
        lh(2030, 3, 14, 8, 30),
        lh(2030, 4, 1, 8, 30),
    ]
    assert override.decoded("RECURRENCE-ID") == lh(2030, 4, 11, 8, 30)
    assert {str(c["UID"]) for c in (master, override)} == {event_uid(event.pk)}
    assert master.decoded("SEQUENCE") == override.decoded("SEQUENCE") == 3
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Australia/Lord_Howe"
    assert [(str(a), a.params.get("RSVP"), a.params["PARTSTAT"]) for a in master["ATTENDEE"]] == [
        ("mailto:olga@example.com", None, "ACCEPTED"),
        ("mailto:pia@example.com", "TRUE", "NEEDS-ACTION"),
    ]
    assert str(master["ORGANIZER"]) == "mailto:olga@example.com"
    assert [str(a["TRIGGER"].to_ical(), "ascii") for a in master.walk("VALARM")] == [
        "-P1D",
        "-PT15M",
    ]


def test_moving_one_occurrence_mails_a_request_with_its_recurrence_id(
    olga: User, pia: User
) -> None:
    event = series(olga, pia)
    event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=1,
        changes=EventChanges(start=lh(2030, 3, 7, 10)),
        scope=UpdateScope.THIS_OCCURRENCE,
        occurrence_start=lh(2030, 3, 7, 8, 30),
        now=NOW,
    )
    notification = Notification.objects.filter(occurrence_start__isnull=False).get()
    assert (notification.kind, notification.recipient, notification.occurrence_start) == (
        Notification.Kind.EVENT_SCHEDULED,
        pia,
        lh(2030, 3, 7, 8, 30),
    )
    invite = notification_invite(notification, stamp=STAMP)
    assert invite is not None
    assert invite.method == REQUEST
    [vevent] = parsed(invite.content).walk("VEVENT")
    assert (
        vevent.decoded("RECURRENCE-ID"),
        vevent.decoded("DTSTART"),
        vevent.decoded("DTEND"),
        vevent.decoded("SEQUENCE"),
        str(vevent["UID"]),
        "RRULE" in vevent,
    ) == (
        lh(2030, 3, 7, 8, 30),
        lh(2030, 3, 7, 10),
        lh(2030, 3, 7, 10, 45),
        2,
        event_uid(event.pk),
        False,
    )


def test_cancelling_one_occurrence_mails_a_cancel_with_its_recurrence_id(
    olga: User, pia: User
) -> None:
    event = series(olga, pia)
    occurrence_cancel(
        actor=actor_for(olga),
        event_id=event.pk,
        occurrence_start=lh(2030, 3, 7, 8, 30),
        expected_version=1,
        now=NOW,
    )
    notification = Notification.objects.filter(occurrence_start__isnull=False).get()
    assert notification.kind == Notification.Kind.EVENT_CANCELLED
    invite = notification_invite(notification, stamp=STAMP)
    assert invite is not None
    assert invite.method == CANCEL
    calendar = parsed(invite.content)
    assert str(calendar["METHOD"]) == "CANCEL"
    [vevent] = calendar.walk("VEVENT")
    assert (
        vevent.decoded("RECURRENCE-ID"),
        str(vevent["STATUS"]),
        vevent.decoded("SEQUENCE"),
        str(vevent["UID"]),
    ) == (lh(2030, 3, 7, 8, 30), "CANCELLED", 2, event_uid(event.pk))


def test_this_and_following_sends_the_shortened_series_and_the_new_one(
    olga: User, pia: User
) -> None:
    event = series(olga, pia)
    following = event_update(
        actor=actor_for(olga),
        event_id=event.pk,
        expected_version=1,
        changes=EventChanges(start=lh(2030, 4, 8, 8, 30) + timedelta(hours=1)),
        scope=UpdateScope.THIS_AND_FOLLOWING,
        occurrence_start=lh(2030, 4, 8, 8, 30),
        now=NOW,
    )
    event.refresh_from_db()
    sent = Notification.objects.filter(recipient=pia, created_at=NOW).order_by("pk")
    # The creation's invitation, then the old series with its new end, then the new series.
    assert [n.event_id for n in sent] == [event.pk, event.pk, following.pk]
    old_content = notification_invite(sent[1], stamp=STAMP).content  # type: ignore[union-attr]
    old = parsed(old_content)
    new = parsed(notification_invite(sent[2], stamp=STAMP).content)  # type: ignore[union-attr]
    [old_master] = old.walk("VEVENT")
    assert b"\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20300407T215959Z\r\n" in old_content
    assert old_master.decoded("SEQUENCE") == 2
    assert str(old_master["UID"]) != str(new.walk("VEVENT")[0]["UID"])
    # Together they give exactly what the API gives for both events.
    assert theirs(old) == ours(event)
    assert theirs(new) == ours(following)
    assert theirs(new)[0] == (lh(2030, 4, 8, 9, 30), lh(2030, 4, 8, 10, 15))
    assert theirs(old)[-1] == (lh(2030, 4, 6, 8, 30), lh(2030, 4, 6, 9, 15))  # the extra date


def test_every_update_raises_the_sequence_and_keeps_the_uid(olga: User, pia: User) -> None:
    event = series(olga, pia)
    seen = []
    for version, title in enumerate(["Rounds 2", "Rounds 3"], start=1):
        event = event_update(
            actor=actor_for(olga),
            event_id=event.pk,
            expected_version=version,
            changes=EventChanges(title=title),
            now=NOW,
        )
        invite = event_invite(event, stamp=STAMP)
        assert invite is not None
        [vevent] = parsed(invite.content).walk("VEVENT")
        seen.append((str(vevent["UID"]), vevent.decoded("SEQUENCE"), str(vevent["SUMMARY"])))
    assert seen == [
        (event_uid(event.pk), 2, "Rounds 2"),
        (event_uid(event.pk), 3, "Rounds 3"),
    ]
    # Each change is mailed (a REQUEST with the higher SEQUENCE): creation + two updates.
    assert Notification.objects.filter(recipient=pia).count() == 3
