"""Finding a time together, through the services with the clock injected: propose, narrow,
extend, vote (and the tallies), agree and cancel, and what each leaves in the audit trail.
Links, tokens, notifications, viewing, the log, deleting and listing: test_event_tokens.py."""

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation.actors import ANONYMOUS
from reservation.errors import ErrorCode
from reservation.models import (
    AuditEntry,
    CandidateSlot,
    Event,
    EventAccessToken,
    Notification,
    Participant,
    User,
    Vote,
)
from reservation.selectors.events import event_tallies
from reservation.services.events import (
    MAX_SLOT_MINUTES,
    SlotInput,
    event_cancel,
    event_narrow,
    event_propose,
)
from reservation.tests.event_factories import (
    CANCELLED,
    HOUR,
    LATER,
    MINUTE,
    ORGANIZER,
    PARTY,
    PROPOSED,
    SCHEDULED,
    STARTS,
    agree,
    candidate_ids,
    changes_of,
    event_rows,
    extend,
    link_actor,
    narrow,
    propose,
    refused,
    slot_in,
    spans,
    state,
    vote,
    votes_of,
)
from reservation.tests.factories import (
    NOW,
    actor_for,
    at,
    audit_trail,
    json_time,
    make_staff,
    make_user,
)

pytestmark = pytest.mark.django_db


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def olga() -> User:
    """The organizer, in Berlin."""
    return make_user(email="olga@example.com", name="Olga", time_zone="Europe/Berlin")


@pytest.fixture
def ann() -> User:
    return make_user(email="ann@example.com", name="Ann")


@pytest.fixture
def event(olga: User, ann: User) -> Event:
    """Olga asks Ann and bob@ (unknown so far) about Tue 09:00, Tue 10:00 and Wed 14:00 UTC."""
    return propose(olga, "ann@example.com", "bob@example.com")


@pytest.fixture
def bob(event: Event) -> User:
    return User.objects.get(email="bob@example.com")


# --- event_propose -------------------------------------------------------------------------


def test_propose_fixes_the_parties_and_the_merged_candidates(olga: User, ann: User) -> None:
    users_before = User.objects.count()
    plus_one = timezone(timedelta(hours=1))

    event = event_propose(
        actor=actor_for(olga),
        parties=[" Ann@Example.com", "bob@example.com", "OLGA@example.com", "ann@example.com"],
        slots=[
            slot_in(at(9, 14), 30),
            slot_in(at(8, 9)),
            slot_in(at(8, 9)),  # the same slot twice
            slot_in(datetime(2030, 1, 8, 11, tzinfo=plus_one)),  # 10:00 UTC
            slot_in(at(8, 10)),  # the same instant in UTC
        ],
        title="  Planning ",
        description="  Agenda first.\n",
        now=NOW,
    )

    event.refresh_from_db()
    assert (
        event.organizer_id,
        event.title,
        event.description,
        event.status,
        event.version,
        event.start,
        event.end,
        event.time_zone,
        event.auto_agree,
        event.created_at,
        event.updated_at,
    ) == (
        olga.pk,
        "Planning",
        "Agenda first.",
        PROPOSED,
        1,
        None,
        None,
        "Europe/Berlin",
        False,
        NOW,
        NOW,
    )
    bob = User.objects.get(email="bob@example.com")
    assert (bob.is_active, bob.has_usable_password()) == (False, False)
    assert User.objects.count() == users_before + 1  # Ann was linked, not created
    assert list(
        Participant.objects.filter(event=event).values_list("user__email", "role", "rsvp")
    ) == [
        ("olga@example.com", ORGANIZER, "YES"),
        ("ann@example.com", PARTY, "UNDECIDED"),
        ("bob@example.com", PARTY, "UNDECIDED"),
    ]
    assert list(CandidateSlot.objects.filter(event=event).values_list("start", "end")) == [
        (at(8, 9), at(8, 10)),
        (at(8, 10), at(8, 11)),
        (at(9, 14), at(9, 14, 30)),
    ]
    assert audit_trail() == [("event.propose", "event", event.pk, "USER")]
    entry = AuditEntry.objects.get()
    assert (entry.actor_user_id, entry.at) == (olga.pk, NOW)
    assert entry.changes == {
        "title": "Planning",
        "parties": ["ann@example.com", "bob@example.com"],
        "auto_agree": False,
        "version": 1,
        "slots": spans(at(8, 9), at(8, 10)) + spans(at(9, 14), minutes=30),
    }
    # Proposing sends nothing by itself: notifying is a separate, explicit step.
    assert (EventAccessToken.objects.count(), Notification.objects.count()) == (0, 0)
    assert ProcrastinateJob.objects.count() == 0


def test_a_party_without_an_account_stays_one_inactive_user_across_events(
    olga: User, ann: User
) -> None:
    first = propose(olga, "bob@example.com")
    second = propose(ann, "BOB@example.com", "olga@example.com")

    bob = User.objects.get(email="bob@example.com")
    assert bob.is_active is False
    assert Participant.objects.filter(user=bob).count() == 2
    assert [p.user_id for p in second.participants.all()] == [ann.pk, bob.pk, olga.pk]
    assert first.participants.get(user=bob).role == PARTY


@pytest.mark.parametrize("title", [None, "", "   "])
def test_an_event_without_a_title_gets_a_pronounceable_one(olga: User, title: str | None) -> None:
    event = propose(olga, "ann@example.com", title=title)

    consonant, vowel = "[bdfgklmnprstvz]", "[aeiou]"
    word = f"{consonant}{vowel}"
    assert re.fullmatch(
        f"(?i:{consonant}){vowel}{word} (?i:{consonant}){vowel}{word}{word}", event.title
    )
    assert event.title[0].isupper()
    assert event.title.split()[1][0].isupper()
    assert changes_of("event.propose")[0]["title"] == event.title


def test_propose_needs_another_party_and_at_most_fifty(olga: User) -> None:
    with refused(ErrorCode.INVALID_INPUT):
        propose(olga)
    with refused(ErrorCode.INVALID_INPUT):
        propose(olga, "olga@example.com", " OLGA@example.com")  # only herself
    with refused(ErrorCode.INVALID_INPUT) as info:
        propose(olga, "ann@example.com", "not an address")
    assert info.value.message_dict == {"parties": ["Not an e-mail address: 'not an address'."]}
    with refused(ErrorCode.INVALID_INPUT):
        propose(olga, *(f"p{n}@example.com" for n in range(51)))

    # Fifty others (her own address does not count) is fine.
    event = propose(olga, "olga@example.com", *(f"p{n}@example.com" for n in range(50)))
    assert event.participants.filter(role=PARTY).count() == 50


def test_propose_needs_a_signed_in_organizer(olga: User, event: Event, ann: User) -> None:
    with refused(ErrorCode.UNAUTHENTICATED):
        event_propose(
            actor=ANONYMOUS, parties=["ann@example.com"], slots=[slot_in(at(8, 9))], now=NOW
        )
    link = link_actor(event, ann)
    with refused(ErrorCode.PERMISSION_DENIED):  # a link grants its own event only
        event_propose(
            actor=link,
            parties=["olga@example.com"],
            slots=[slot_in(at(8, 9))],
            now=NOW,
        )


@pytest.mark.parametrize(
    ("slots", "code"),
    [
        ([], ErrorCode.INVALID_INPUT),
        ([slot_in(datetime(2030, 1, 8, 9))], ErrorCode.NAIVE_DATETIME),  # noqa: DTZ001
        ([slot_in(NOW - MINUTE)], ErrorCode.IN_THE_PAST),
        ([slot_in(at(8, 9), 0)], ErrorCode.INVALID_TIME_RANGE),
        ([slot_in(at(8, 9), -30)], ErrorCode.INVALID_TIME_RANGE),
        ([slot_in(at(8, 9), MAX_SLOT_MINUTES + 1)], ErrorCode.INVALID_TIME_RANGE),
        ([slot_in(at(8, 9)), slot_in(NOW - MINUTE)], ErrorCode.IN_THE_PAST),
        ([slot_in(at(8, 0) + n * HOUR) for n in range(101)], ErrorCode.INVALID_INPUT),
    ],
    ids=["none", "naive", "past", "zero", "negative", "too-long", "one-past", "101"],
)
def test_propose_rejects_bad_slots(olga: User, slots: list[SlotInput], code: ErrorCode) -> None:
    with refused(code):
        event_propose(actor=actor_for(olga), parties=["ann@example.com"], slots=slots, now=NOW)


def test_the_near_misses_of_the_slot_limits_pass(olga: User) -> None:
    event = event_propose(
        actor=actor_for(olga),
        parties=["ann@example.com"],
        slots=[slot_in(NOW, 1), slot_in(NOW + HOUR, MAX_SLOT_MINUTES)]
        + [slot_in(at(9, 0) + n * HOUR) for n in range(98)],
        now=NOW,
    )

    assert CandidateSlot.objects.filter(event=event).count() == 100
    first, second = CandidateSlot.objects.filter(event=event)[:2]
    assert (first.start, first.end) == (NOW, NOW + MINUTE)
    assert second.end == NOW + HOUR + timedelta(days=7)


def test_propose_limits_title_and_description(olga: User) -> None:
    with refused(ErrorCode.INVALID_INPUT):
        propose(olga, "ann@example.com", title="t" * 201)
    with refused(ErrorCode.INVALID_INPUT):
        propose(olga, "ann@example.com", description="d" * 5001)
    with refused(ErrorCode.INVALID_INPUT) as info:  # it goes into every mail's Subject:
        propose(olga, "ann@example.com", title="Planning\nBcc: everyone@example.com")
    assert info.value.message_dict == {"title": ["title must be one line of text."]}

    event = propose(olga, "ann@example.com", title="t" * 200, description=" " + "d" * 5000 + " ")
    assert (len(event.title), event.description) == (200, "d" * 5000)


# --- event_narrow --------------------------------------------------------------------------


def test_a_party_narrows_and_the_votes_on_dropped_candidates_go(
    event: Event, ann: User, bob: User
) -> None:
    first, second, third = candidate_ids(event)
    vote(actor_for(ann), event, [(first, "YES"), (second, "NO")])

    narrowed = event_narrow(
        actor=actor_for(ann),
        event_id=event.pk,
        keep_slot_ids=[third, first, first],
        expected_version=1,
        now=LATER,
    )

    assert state(narrowed) == (PROPOSED, 2, None, None, LATER)
    assert candidate_ids(event) == [first, third]
    assert list(Vote.objects.values_list("candidate_id", "answer")) == [(first, "YES")]
    assert audit_trail()[-1] == ("event.narrow", "event", event.pk, "USER")
    assert changes_of("event.narrow") == [
        {"version": 2, "before": spans(*STARTS), "slots": spans(STARTS[0], STARTS[2])}
    ]


def test_a_party_narrows_through_a_link(event: Event, bob: User) -> None:
    actor = link_actor(event, bob)
    third = candidate_ids(event)[2]

    event_narrow(
        actor=actor, event_id=event.pk, keep_slot_ids=[third], expected_version=1, now=LATER
    )

    entry = AuditEntry.objects.get(action="event.narrow")
    assert (entry.actor_kind, entry.actor_user_id, entry.actor_access_token_id) == (
        "TOKEN",
        bob.pk,
        actor.access_token.pk,
    )
    assert entry.changes["slots"] == spans(STARTS[2])
    assert state(event)[:2] == (PROPOSED, 2)  # one left, but no auto-agree


def test_narrow_checks_the_version_and_the_ids(olga: User, event: Event, ann: User) -> None:
    first, second, third = candidate_ids(event)
    foreign = candidate_ids(propose(olga, "ann@example.com"))[0]
    narrow(actor_for(olga), event, [first, second], 1, now=NOW)

    with refused(ErrorCode.STALE_VERSION):  # Ann has not seen Olga's narrowing
        narrow(actor_for(ann), event, [first], 1, now=LATER)
    with refused(ErrorCode.NOT_A_CANDIDATE):
        narrow(actor_for(ann), event, [first, foreign], 2)
    with refused(ErrorCode.NOT_A_CANDIDATE):  # narrowed away already
        narrow(actor_for(ann), event, [first, third], 2)
    with refused(ErrorCode.INVALID_INPUT):
        narrow(actor_for(ann), event, [], 2)

    narrow(actor_for(ann), event, [first], 2, now=LATER)
    assert (state(event)[:2], candidate_ids(event)) == ((PROPOSED, 3), [first])


def test_with_auto_agree_narrowing_to_one_schedules_the_event(olga: User, ann: User) -> None:
    event = propose(olga, "ann@example.com", "bob@example.com", auto_agree=True)
    first, _, third = candidate_ids(event)
    narrow(actor_for(ann), event, [first, third], 1, now=NOW)
    assert state(event)[:2] == (PROPOSED, 2)  # two left: nothing agreed yet

    narrow(actor_for(ann), event, [third], 2, now=LATER)

    assert state(event) == (SCHEDULED, 4, at(9, 14), at(9, 15), LATER)
    assert audit_trail()[1:] == [
        ("event.narrow", "event", event.pk, "USER"),
        ("event.narrow", "event", event.pk, "USER"),
        ("event.agree", "event", event.pk, "SYSTEM"),
        ("event.notify", "event", event.pk, "SYSTEM"),
        ("event.notify", "event", event.pk, "SYSTEM"),
    ]
    assert changes_of("event.agree") == [
        {
            "version": 4,
            "start": json_time(at(9, 14)),
            "end": json_time(at(9, 15)),
            "slots": spans(at(9, 14)),
        }
    ]
    assert list(Notification.objects.order_by("id").values_list("kind", "recipient__email")) == [
        ("EVENT_SCHEDULED", "ann@example.com"),
        ("EVENT_SCHEDULED", "bob@example.com"),
    ]
    assert ProcrastinateJob.objects.count() == 2


def test_narrow_is_for_parties_of_a_proposed_event(olga: User, event: Event, ann: User) -> None:
    first = candidate_ids(event)[0]
    stranger, staff = make_user(), make_staff()

    with refused(ErrorCode.UNAUTHENTICATED):
        narrow(ANONYMOUS, event, [first], 1)
    with refused(ErrorCode.NOT_FOUND):
        narrow(actor_for(stranger), event, [first], 1)
    with refused(ErrorCode.PERMISSION_DENIED):
        narrow(actor_for(staff), event, [first], 1)
    with refused(ErrorCode.NOT_FOUND):
        event_narrow(actor=actor_for(ann), event_id=0, keep_slot_ids=[first], expected_version=1)

    agree(actor_for(olga), event, first, 1)
    with refused(ErrorCode.EVENT_NOT_PROPOSED):
        narrow(actor_for(ann), event, [first], 2)
    event_cancel(actor=actor_for(olga), event_id=event.pk, now=NOW)
    with refused(ErrorCode.EVENT_CANCELLED):
        narrow(actor_for(ann), event, [first], 3)


# --- event_extend --------------------------------------------------------------------------


def test_the_organizer_extends_and_known_candidates_are_ignored(olga: User, event: Event) -> None:
    before = candidate_ids(event)

    extend(actor_for(olga), event, [at(8, 9), at(8, 12), at(8, 12), at(9, 14)], 1, now=LATER)

    assert state(event) == (PROPOSED, 2, None, None, LATER)
    assert list(CandidateSlot.objects.filter(event=event).values_list("start", flat=True)) == [
        at(8, 9),
        at(8, 10),
        at(8, 12),
        at(9, 14),
    ]
    assert set(before) < set(candidate_ids(event))  # the old ones keep their ids (and votes)
    assert audit_trail()[-1] == ("event.extend", "event", event.pk, "USER")
    assert changes_of("event.extend") == [
        {
            "version": 2,
            "before": spans(*STARTS),
            "slots": spans(at(8, 9), at(8, 10), at(8, 12), at(9, 14)),
        }
    ]


def test_only_the_signed_in_organizer_extends(olga: User, event: Event, ann: User) -> None:
    anns_link, olgas_link = link_actor(event, ann), link_actor(event, olga)
    stranger = make_user()
    with refused(ErrorCode.PERMISSION_DENIED):
        extend(actor_for(ann), event, [at(8, 12)], 1)
    with refused(ErrorCode.PERMISSION_DENIED):  # a party's link
        extend(anns_link, event, [at(8, 12)], 1)
    with refused(ErrorCode.PERMISSION_DENIED):  # even the organizer's own link
        extend(olgas_link, event, [at(8, 12)], 1)
    with refused(ErrorCode.NOT_FOUND):
        extend(actor_for(stranger), event, [at(8, 12)], 1)


def test_extend_checks_version_slots_and_the_limit(olga: User, event: Event) -> None:
    with refused(ErrorCode.STALE_VERSION):
        extend(actor_for(olga), event, [at(8, 12)], 2)
    with refused(ErrorCode.IN_THE_PAST):
        extend(actor_for(olga), event, [NOW - MINUTE], 1)
    with refused(ErrorCode.INVALID_INPUT):  # 3 + 98 > 100
        extend(actor_for(olga), event, [at(10, 0) + n * HOUR for n in range(98)], 1)

    extend(actor_for(olga), event, [at(10, 0) + n * HOUR for n in range(97)], 1)
    assert CandidateSlot.objects.filter(event=event).count() == 100
    extend(actor_for(olga), event, [at(8, 9)], 2)  # known ones don't count
    agree(actor_for(olga), event, candidate_ids(event)[0], 3)
    with refused(ErrorCode.EVENT_NOT_PROPOSED):
        extend(actor_for(olga), event, [at(8, 12)], 4)


# --- event_vote and event_tallies ----------------------------------------------------------


def test_a_vote_replaces_the_partys_previous_votes_only(event: Event, ann: User, bob: User) -> None:
    first, second, third = candidate_ids(event)
    vote(link_actor(event, bob), event, [(first, "NO")])
    vote(actor_for(ann), event, [(first, "YES"), (second, "NO")], now=NOW)

    vote(actor_for(ann), event, [(third, "IF_NEED_BE"), (second, "YES")], now=LATER)

    assert votes_of(ann) == [(second, "YES"), (third, "IF_NEED_BE")]
    assert votes_of(bob) == [(first, "NO")]
    assert state(event) == (PROPOSED, 1, None, None, LATER)  # votes leave the version alone
    assert [kind for *_, kind in audit_trail()] == ["USER", "TOKEN", "USER", "USER"]
    assert changes_of("event.vote")[1:] == [
        {"votes": {str(first): "YES", str(second): "NO"}, "version": 1, "slots": spans(*STARTS)},
        {
            "votes": {str(second): "YES", str(third): "IF_NEED_BE"},
            "version": 1,
            "slots": spans(*STARTS),
        },
    ]


def test_votes_are_checked_before_anything_is_replaced(olga: User, event: Event, ann: User) -> None:
    first, second, _ = candidate_ids(event)
    foreign = candidate_ids(propose(olga, "ann@example.com"))[0]
    vote(actor_for(ann), event, [(first, "YES")])
    stranger = make_user()

    with refused(ErrorCode.NOT_A_CANDIDATE):
        vote(actor_for(ann), event, [(second, "YES"), (foreign, "NO")])
    with refused(ErrorCode.INVALID_INPUT):
        vote(actor_for(ann), event, [(second, "MAYBE")])
    with refused(ErrorCode.INVALID_INPUT):
        vote(actor_for(ann), event, [(second, "YES"), (second, "NO")])
    with refused(ErrorCode.NOT_FOUND):
        vote(actor_for(stranger), event, [(first, "YES")])

    agree(actor_for(olga), event, first, 1)
    with refused(ErrorCode.EVENT_NOT_PROPOSED):
        vote(actor_for(ann), event, [(first, "NO")])
    assert votes_of(ann) == [(first, "YES")]


def test_tallies_count_each_answer_per_candidate_in_one_query(
    event: Event, olga: User, ann: User, bob: User, django_assert_num_queries: Any
) -> None:
    first, second, third = candidate_ids(event)
    vote(actor_for(olga), event, [(first, "YES"), (second, "YES")])
    vote(actor_for(ann), event, [(first, "YES"), (second, "IF_NEED_BE"), (third, "NO")])
    vote(link_actor(event, bob), event, [(first, "NO")])

    with django_assert_num_queries(1):
        tallies = event_tallies(event=event)

    assert [(t.candidate.pk, t.yes, t.if_need_be, t.no) for t in tallies] == [
        (first, 2, 0, 1),
        (second, 1, 1, 0),
        (third, 0, 0, 1),
    ]


# --- event_agree ---------------------------------------------------------------------------


def test_the_organizer_agrees_and_parties_are_asked_to_rsvp(
    olga: User, event: Event, ann: User, bob: User
) -> None:
    second = candidate_ids(event)[1]
    Participant.objects.filter(user=ann).update(rsvp=Participant.Rsvp.NO)

    agree(actor_for(olga), event, second, 1, now=LATER)

    assert state(event) == (SCHEDULED, 2, at(8, 10), at(8, 11), LATER)
    assert list(event.participants.values_list("user_id", "rsvp")) == [
        (olga.pk, "YES"),
        (ann.pk, "UNDECIDED"),
        (bob.pk, "UNDECIDED"),
    ]
    assert audit_trail()[1:] == [
        ("event.agree", "event", event.pk, "USER"),
        ("event.notify", "event", event.pk, "SYSTEM"),
        ("event.notify", "event", event.pk, "SYSTEM"),
    ]
    assert changes_of("event.agree") == [
        {
            "version": 2,
            "start": json_time(at(8, 10)),
            "end": json_time(at(8, 11)),
            "slots": spans(*STARTS),
        }
    ]
    notifications = Notification.objects.order_by("id")
    assert changes_of("event.notify") == [
        {
            "recipient": n.recipient.email,
            "notification": n.pk,
            "token": n.access_token_id,
            "kind": "EVENT_SCHEDULED",
            "version": 2,
            "slots": spans(*STARTS),
        }
        for n in notifications
    ]
    # Each mail carries its person's answer links: a live token of that person on the event.
    assert [
        (n.kind, n.recipient_id, n.access_token.user_id, n.access_token.event_id)
        for n in notifications
    ] == [
        ("EVENT_SCHEDULED", ann.pk, ann.pk, event.pk),
        ("EVENT_SCHEDULED", bob.pk, bob.pk, event.pk),
    ]
    # By number: as text, notification 100 would sort before 99.
    jobs = ProcrastinateJob.objects.values_list("args", flat=True)
    assert sorted(jobs, key=lambda args: args["notification_id"]) == [
        {"notification_id": n.pk} for n in notifications
    ]


def test_only_the_organizer_agrees_on_the_current_list(olga: User, event: Event, ann: User) -> None:
    first, _, third = candidate_ids(event)
    narrow(actor_for(ann), event, [first], 1)
    olgas_link = link_actor(event, olga)

    with refused(ErrorCode.PERMISSION_DENIED):
        agree(actor_for(ann), event, first, 2)
    with refused(ErrorCode.PERMISSION_DENIED):
        agree(olgas_link, event, first, 2)
    with refused(ErrorCode.STALE_VERSION):
        agree(actor_for(olga), event, first, 1)
    with refused(ErrorCode.NOT_A_CANDIDATE):
        agree(actor_for(olga), event, third, 2)

    agree(actor_for(olga), event, first, 2)
    with refused(ErrorCode.EVENT_NOT_PROPOSED):
        agree(actor_for(olga), event, first, 3)


# --- event_cancel --------------------------------------------------------------------------


def test_cancelling_tells_the_parties_and_twice_is_harmless(
    olga: User, event: Event, ann: User
) -> None:
    first = candidate_ids(event)[0]
    agree(actor_for(olga), event, first, 1)

    event_cancel(actor=actor_for(olga), event_id=event.pk, reason="  Snowed in. ", now=LATER)

    assert state(event) == (CANCELLED, 3, at(8, 9), at(8, 10), LATER)
    assert event.cancel_reason == "Snowed in."
    assert changes_of("event.cancel") == [
        {
            "status": ["SCHEDULED", "CANCELLED"],
            "reason": "Snowed in.",
            "version": 3,
            "slots": spans(*STARTS),
        }
    ]
    assert list(
        Notification.objects.filter(kind="EVENT_CANCELLED")
        .order_by("id")
        .values_list("recipient__email", flat=True)
    ) == ["ann@example.com", "bob@example.com"]
    before = event_rows()

    again = event_cancel(actor=actor_for(olga), event_id=event.pk, reason="Other", now=LATER + HOUR)

    assert (again.status, again.cancel_reason) == (CANCELLED, "Snowed in.")
    assert event_rows() == before


def test_only_the_organizer_cancels(olga: User, event: Event, ann: User) -> None:
    olgas_link = link_actor(event, olga)
    with refused(ErrorCode.PERMISSION_DENIED):
        event_cancel(actor=actor_for(ann), event_id=event.pk)
    with refused(ErrorCode.PERMISSION_DENIED):
        event_cancel(actor=olgas_link, event_id=event.pk)
    with refused(ErrorCode.INVALID_INPUT):
        event_cancel(actor=actor_for(olga), event_id=event.pk, reason="r" * 501)

    event_cancel(actor=actor_for(olga), event_id=event.pk, reason="r" * 500, now=NOW)
    assert changes_of("event.cancel")[0]["status"] == ["PROPOSED", "CANCELLED"]
