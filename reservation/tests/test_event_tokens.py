"""Links to events: notifying parties issues per-person access tokens, a token acts on its
own event only and stops working when it expires or is revoked. Also the reads: event_view
(audited through a link), event_log and event_list; the audit trail of a whole event, and
what deleting an event leaves of it."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from procrastinate.contrib.django.models import ProcrastinateJob

from reservation.actors import ANONYMOUS, Actor
from reservation.errors import ErrorCode, NotFound
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
from reservation.notify_text import LINK_PLACEHOLDER
from reservation.selectors.events import event_list, event_log
from reservation.services.events import (
    access_token_authenticate,
    access_token_issue,
    access_token_mint,
    access_token_revoke,
    event_cancel,
    event_delete,
    event_link,
    event_notify,
    event_view,
)
from reservation.services.mail import LINK_GONE, message_id, notification_send
from reservation.tests.event_factories import (
    HOUR,
    LATER,
    MINUTE,
    STARTS,
    agree,
    candidate_ids,
    changes_of,
    deliver,
    delivered,
    event_rows,
    extend,
    link_actor,
    narrow,
    propose,
    refused,
    spans,
    state,
    vote,
)
from reservation.tests.factories import NOW, actor_for, at, audit_trail, make_staff, make_user

pytestmark = pytest.mark.django_db


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


def notify(actor: Actor, event: Event, *parties: str, version: int = 1, **kw: object) -> list:
    return event_notify(
        actor=actor,
        event_id=event.pk,
        parties=parties,
        expected_version=version,
        **{"now": NOW, **kw},  # type: ignore[arg-type]
    )


# --- event_notify --------------------------------------------------------------------------


def test_notify_mails_each_party_a_link_with_a_fresh_token(
    olga: User, event: Event, ann: User, bob: User, settings: Any
) -> None:
    settings.ACCESS_TOKEN_TTL_DAYS = 3
    settings.PUBLIC_BASE_URL = "https://rdv.example/"

    sent = notify(actor_for(olga), event, "BOB@example.com", "ann@example.com", message=" Hi! ")

    assert [n.recipient_id for n in sent] == [ann.pk, bob.pk]
    tokens = list(EventAccessToken.objects.order_by("id"))
    for notification, token in zip(sent, tokens, strict=True):
        assert (
            notification.kind,
            notification.status,
            notification.event_id,
            notification.access_token_id,
            notification.created_at,
            notification.subject,
        ) == ("EVENT_INVITATION", "PENDING", event.pk, token.pk, NOW, "Find a time: Planning")
        # The outbox holds no secret: the link is made as the mail goes, into the mail only
        assert "rdve_" not in notification.body
        assert notification.body.count(LINK_PLACEHOLDER) == 1
        assert "Message:\nHi!\n" in notification.body
        assert (token.event_id, token.user_id, token.created_at, token.revoked_at) == (
            event.pk,
            notification.recipient_id,
            NOW,
            None,
        )
        assert token.expires_at == NOW + timedelta(days=3)
        unrevealed = token.digest

        secret = deliver(notification)

        link = f"https://rdv.example/e/{event.pk}/?token={secret}"
        assert link == event_link(event=event, secret=secret)
        assert delivered(notification).body == notification.body.replace(LINK_PLACEHOLDER, link)
        token.refresh_from_db()
        assert token.digest == hashlib.sha256(secret.encode()).hexdigest()  # not the secret
        assert token.digest != unrevealed
        assert access_token_authenticate(secret=secret, now=NOW) == token
        notification.refresh_from_db()
        assert (notification.status, "rdve_" in notification.body) == ("SENT", False)
    assert list(
        ProcrastinateJob.objects.order_by("id").values_list("task_name", "queue_name", "args")
    ) == [("reservation.send_notification", "mail", {"notification_id": n.pk}) for n in sent]
    assert audit_trail()[1:] == [("event.notify", "event", event.pk, "USER")] * 2
    assert changes_of("event.notify") == [
        {
            "recipient": n.recipient.email,
            "token": n.access_token_id,
            "notification": n.pk,
            "version": 1,
            "slots": spans(*STARTS),
        }
        for n in sent
    ]


def test_notifying_again_revokes_the_earlier_link(olga: User, event: Event, ann: User) -> None:
    elsewhere = propose(olga, "ann@example.com")
    other_token = access_token_issue(event=elsewhere, user=ann, now=NOW)
    other_secret = access_token_mint(token=other_token)
    [first] = notify(actor_for(olga), event, "ann@example.com")
    first_secret = deliver(first)

    [second] = notify(actor_for(olga), event, "ann@example.com", now=LATER)

    assert access_token_authenticate(secret=first_secret, now=LATER) is None
    second_secret = deliver(second, now=LATER)
    assert access_token_authenticate(secret=second_secret, now=LATER) == second.access_token
    assert list(EventAccessToken.objects.filter(event=event).values_list("revoked_at")) == [
        (None,),
        (LATER,),
    ]  # newest first
    assert access_token_authenticate(secret=other_secret, now=LATER) == other_token


def test_notify_refuses_non_parties_and_writes_nothing(olga: User, event: Event) -> None:
    make_user(email="sam@example.com")  # has an account, but is not on this event

    for strangers in (["sam@example.com"], ["ann@example.com", "nobody@example.com"]):
        with refused(ErrorCode.NOT_A_PARTY):
            notify(actor_for(olga), event, *strangers)

    assert (EventAccessToken.objects.count(), Notification.objects.count()) == (0, 0)
    assert ProcrastinateJob.objects.count() == 0
    assert not User.objects.filter(email="nobody@example.com").exists()


def test_notify_checks_the_sender_the_version_and_the_input(
    olga: User, event: Event, ann: User
) -> None:
    stranger = make_user()
    with refused(ErrorCode.STALE_VERSION):
        notify(actor_for(olga), event, "ann@example.com", version=2)
    with refused(ErrorCode.INVALID_INPUT):
        notify(actor_for(olga), event)
    with refused(ErrorCode.INVALID_INPUT):
        notify(actor_for(olga), event, "ann@example.com", message="m" * 2001)
    with refused(ErrorCode.NOT_FOUND):
        notify(actor_for(stranger), event, "ann@example.com")
    with refused(ErrorCode.UNAUTHENTICATED):
        notify(ANONYMOUS, event, "ann@example.com")

    assert len(notify(actor_for(ann), event, "olga@example.com", message="m" * 2000)) == 1
    event_cancel(actor=actor_for(olga), event_id=event.pk, now=NOW)
    with refused(ErrorCode.EVENT_CANCELLED):
        notify(actor_for(olga), event, "ann@example.com", version=2)


def stored_text() -> str:
    """Every notification and audit entry, every field, as one string to search."""
    return repr(list(Notification.objects.values_list())) + repr(
        list(AuditEntry.objects.values_list())
    )


def test_no_secret_is_stored_before_or_after_the_mails_go(
    olga: User, event: Event, ann: User, bob: User
) -> None:
    sent = notify(actor_for(olga), event, "ann@example.com", "bob@example.com", message="Hi")
    assert "rdve_" not in stored_text()

    secrets = [deliver(notification) for notification in sent]

    # The people have their links, and they work ...
    for notification, secret in zip(sent, secrets, strict=True):
        assert secret.startswith("rdve_")
        assert f"/e/{event.pk}/?token={secret}\n" in delivered(notification).body
        token = access_token_authenticate(secret=secret, now=NOW)
        assert token == notification.access_token
        event_view(actor=Actor(user=token.user, access_token=token), event_id=event.pk, now=NOW)
    # ... and neither the outbox nor the audit log holds one
    assert list(Notification.objects.order_by("id").values_list("status", flat=True)) == [
        "SENT",
        "SENT",
    ]
    assert not Notification.objects.filter(body__contains="rdve_").exists()
    assert [action for action, *_ in audit_trail()] == [
        "event.propose",
        "event.notify",
        "event.notify",
        "event.view",
        "event.view",
    ]
    assert "rdve_" not in stored_text()


def test_a_superseded_invitation_is_not_sent_and_says_why(
    olga: User, event: Event, ann: User
) -> None:
    [older] = notify(actor_for(olga), event, "ann@example.com")
    [newer] = notify(actor_for(olga), event, "ann@example.com", now=LATER)  # before it went
    older_digest = EventAccessToken.objects.get(pk=older.access_token_id).digest

    assert notification_send(notification_id=older.pk, now=LATER) == "FAILED"
    secret = deliver(newer, now=LATER)
    assert notification_send(notification_id=older.pk, now=LATER) == "FAILED"  # a retried job

    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [message_id(newer)]
    assert list(
        Notification.objects.order_by("id").values_list(
            "pk", "status", "attempts", "last_error", "sent_at"
        )
    ) == [
        (older.pk, "FAILED", 0, LINK_GONE, None),
        (newer.pk, "SENT", 1, "", LATER),
    ]
    assert "link superseded/expired" in LINK_GONE
    assert access_token_authenticate(secret=secret, now=LATER) == newer.access_token
    # The older token got no secret: its digest is still the one never revealed
    assert EventAccessToken.objects.get(pk=older.access_token_id).digest == older_digest


@pytest.mark.parametrize("why", ["revoked", "expired"])
def test_an_invitation_whose_link_was_revoked_or_expired_is_not_sent(
    event: Event, ann: User, why: str
) -> None:
    [invitation] = notify(actor_for(ann), event, "bob@example.com")
    token = invitation.access_token
    when = LATER
    if why == "revoked":
        access_token_revoke(actor=actor_for(event.organizer), token_id=token.pk, now=NOW)
    else:
        when = token.expires_at

    assert notification_send(notification_id=invitation.pk, now=when) == "FAILED"

    assert mail.outbox == []
    invitation.refresh_from_db()
    assert (invitation.status, invitation.attempts, invitation.last_error) == (
        "FAILED",
        0,
        LINK_GONE,
    )
    # Near miss: a moment before it expires, the mail goes
    if why == "expired":
        invitation.refresh_from_db()
        secret = deliver(invitation, now=when - timedelta(microseconds=1))
        assert access_token_authenticate(secret=secret, now=NOW) == token


def test_user_text_cannot_move_or_repeat_the_link(olga: User, ann: User) -> None:
    nested = LINK_PLACEHOLDER[:5] + LINK_PLACEHOLDER + LINK_PLACEHOLDER[5:]
    olga.name = f"Olga {LINK_PLACEHOLDER}"
    olga.save(update_fields=["name"])
    event = propose(olga, "ann@example.com", title=f"Plan {nested}")
    message = f"See {LINK_PLACEHOLDER} or {nested}!"

    [invitation] = notify(actor_for(olga), event, "ann@example.com", message=message)
    secret = deliver(invitation)

    assert invitation.body.count(LINK_PLACEHOLDER) == 1
    body = delivered(invitation).body
    assert body.startswith("Olga  asks you to find a time for: Plan \n")
    assert "Message:\nSee  or !\n" in body
    assert body.count("token=") == 1
    assert (
        "Open this link to see the event, vote, or narrow the candidates:\n"
        f"{event_link(event=event, secret=secret)}\n\nThe link is personal"
    ) in body


def test_a_party_passes_the_link_on_through_their_own_link(
    event: Event, ann: User, bob: User
) -> None:
    actor = link_actor(event, bob)

    [sent] = notify(actor, event, "ann@example.com")

    entry = AuditEntry.objects.get(action="event.notify")
    assert (entry.actor_kind, entry.actor_user_id, entry.actor_access_token_id) == (
        "TOKEN",
        bob.pk,
        actor.access_token.pk,
    )
    assert sent.body.startswith("bob@example.com asks you to find a time for: Planning\n")


# --- tokens --------------------------------------------------------------------------------


def test_a_token_works_until_it_expires_or_is_revoked(
    event: Event, ann: User, settings: Any
) -> None:
    token = access_token_issue(event=event, user=ann, now=NOW)
    secret = access_token_mint(token=token)
    expiry = NOW + timedelta(days=settings.ACCESS_TOKEN_TTL_DAYS)
    assert token.expires_at == expiry

    assert access_token_authenticate(secret=secret, now=expiry - timedelta(microseconds=1)) == token
    assert access_token_authenticate(secret=secret, now=expiry) is None
    assert access_token_authenticate(secret=secret + "x", now=NOW) is None
    assert access_token_authenticate(secret=secret.removeprefix("rdve_"), now=NOW) is None
    assert access_token_authenticate(secret="", now=NOW) is None

    access_token_revoke(actor=actor_for(ann), token_id=token.pk, now=LATER)

    assert access_token_authenticate(secret=secret, now=LATER) is None
    assert access_token_authenticate(secret=secret, now=NOW) is None  # revoked is revoked


def test_a_token_is_revoked_by_its_holder_or_the_organizer_once(
    olga: User, event: Event, ann: User, bob: User
) -> None:
    anns = access_token_issue(event=event, user=ann, now=NOW)
    bobs = access_token_issue(event=event, user=bob, now=NOW)
    bobs_link = Actor(user=bob, access_token=bobs)

    with refused(ErrorCode.NOT_FOUND):  # another party's token
        access_token_revoke(actor=actor_for(ann), token_id=bobs.pk)
    with refused(ErrorCode.PERMISSION_DENIED):  # signing in is needed
        access_token_revoke(actor=bobs_link, token_id=bobs.pk)

    access_token_revoke(actor=actor_for(olga), token_id=bobs.pk, now=LATER)
    access_token_revoke(actor=actor_for(ann), token_id=anns.pk, now=LATER)
    access_token_revoke(actor=actor_for(ann), token_id=anns.pk, now=LATER + HOUR)

    assert list(EventAccessToken.objects.order_by("id").values_list("revoked_at")) == [
        (LATER,),
        (LATER,),
    ]
    assert changes_of("event.token_revoke") == [
        {"token": bobs.pk, "slots": spans(*STARTS)},
        {"token": anns.pk, "slots": spans(*STARTS)},
    ]


ELSEWHERE = {
    "view": lambda link, other, slot_id: event_view(actor=link, event_id=other.pk, now=NOW),
    "narrow": lambda link, other, slot_id: narrow(link, other, [slot_id], 1),
    "vote": lambda link, other, slot_id: vote(link, other, [(slot_id, "YES")]),
    "notify": lambda link, other, slot_id: notify(link, other, "bob@example.com"),
    "extend": lambda link, other, slot_id: extend(link, other, [at(8, 12)], 1),
    "agree": lambda link, other, slot_id: agree(link, other, slot_id, 1),
    "cancel": lambda link, other, slot_id: event_cancel(actor=link, event_id=other.pk, now=NOW),
    "delete": lambda link, other, slot_id: event_delete(actor=link, event_id=other.pk, now=NOW),
    "log": lambda link, other, slot_id: event_log(actor=link, event_id=other.pk),
}


@pytest.mark.parametrize("gone", [False, True], ids=["other", "unknown"])
@pytest.mark.parametrize("action", ELSEWHERE)
def test_a_link_for_one_event_cannot_act_on_another_or_probe_ids(
    olga: User, event: Event, ann: User, action: str, gone: bool
) -> None:
    other = propose(olga, "ann@example.com", "bob@example.com")  # Ann is a party there too
    slot_id = candidate_ids(other)[0]
    link = link_actor(event, ann)
    if gone:  # an ID of no event answers the same, so a link cannot tell them apart
        other.delete()

    with refused(ErrorCode.PERMISSION_DENIED):
        ELSEWHERE[action](link, other, slot_id)


# --- event_view ----------------------------------------------------------------------------


def test_a_view_through_a_link_is_audited(event: Event, bob: User) -> None:
    actor = link_actor(event, bob)

    seen = event_view(actor=actor, event_id=event.pk, now=LATER)

    assert seen.pk == event.pk
    entry = AuditEntry.objects.get(action="event.view")
    assert (entry.at, entry.actor_kind, entry.actor_user_id, entry.actor_access_token_id) == (
        LATER,
        "TOKEN",
        bob.pk,
        actor.access_token.pk,
    )
    assert entry.changes == {"version": 1, "slots": spans(*STARTS)}


def test_signed_in_views_are_not_audited_and_strangers_see_nothing(
    olga: User, event: Event, ann: User
) -> None:
    stranger, staff = make_user(), make_staff()
    before = event_rows()

    for actor in (actor_for(olga), actor_for(ann), actor_for(staff)):
        assert event_view(actor=actor, event_id=event.pk, now=LATER).pk == event.pk

    assert event_rows() == before
    with refused(ErrorCode.NOT_FOUND):
        event_view(actor=actor_for(stranger), event_id=event.pk)
    with refused(ErrorCode.NOT_FOUND):
        event_view(actor=actor_for(ann), event_id=0)
    with refused(ErrorCode.UNAUTHENTICATED):
        event_view(actor=ANONYMOUS, event_id=event.pk)


# --- the audit trail, event_log, and what deleting leaves ----------------------------------


def test_every_entry_records_the_candidates_of_its_moment_and_who_acted(
    olga: User, ann: User
) -> None:
    event = propose(olga, "ann@example.com", "bob@example.com", auto_agree=True)
    bob = User.objects.get(email="bob@example.com")
    extend(actor_for(olga), event, [at(8, 12)], 1)
    [invitation] = notify(actor_for(olga), event, "bob@example.com", version=2)
    link = Actor(user=bob, access_token=invitation.access_token)
    _, tue10, tue12, wed14 = candidate_ids(event)

    event_view(actor=link, event_id=event.pk, now=NOW)
    vote(link, event, [(tue10, "YES"), (tue12, "IF_NEED_BE")])
    narrow(link, event, [tue10, tue12, wed14], 2)
    narrow(actor_for(ann), event, [tue12], 3)

    four = spans(at(8, 9), at(8, 10), at(8, 12), at(9, 14))
    three, one = four[1:], spans(at(8, 12))
    log = event_log(actor=actor_for(ann), event_id=event.pk)
    assert [(e.action, e.actor_kind, e.actor_user_id, e.changes["slots"]) for e in log] == [
        ("event.propose", "USER", olga.pk, spans(*STARTS)),
        ("event.extend", "USER", olga.pk, four),
        ("event.notify", "USER", olga.pk, four),
        ("event.view", "TOKEN", bob.pk, four),
        ("event.vote", "TOKEN", bob.pk, four),
        ("event.narrow", "TOKEN", bob.pk, three),
        ("event.narrow", "USER", ann.pk, one),
        ("event.agree", "SYSTEM", None, one),
        ("event.notify", "SYSTEM", None, one),
        ("event.notify", "SYSTEM", None, one),
    ]
    assert [e.changes["version"] for e in log] == [1, 2, 2, 2, 2, 3, 4, 5, 5, 5]
    assert state(event)[:4] == ("SCHEDULED", 5, at(8, 12), at(8, 13))


def test_the_log_is_for_the_people_on_the_event_and_staff(
    olga: User, event: Event, ann: User, bob: User
) -> None:
    other = propose(olga, "bob@example.com")
    bobs_link = link_actor(event, bob)
    event_view(actor=bobs_link, event_id=event.pk, now=LATER)
    entries = list(AuditEntry.objects.filter(subject_id=event.pk).order_by("at", "id"))
    assert [e.action for e in entries] == ["event.propose", "event.view"]

    for actor in (actor_for(olga), actor_for(ann), bobs_link, actor_for(make_staff())):
        assert list(event_log(actor=actor, event_id=event.pk)) == entries
    with refused(ErrorCode.NOT_FOUND):
        event_log(actor=actor_for(ann), event_id=other.pk)
    with refused(ErrorCode.PERMISSION_DENIED):
        event_log(actor=bobs_link, event_id=other.pk)
    with refused(ErrorCode.UNAUTHENTICATED):
        event_log(actor=ANONYMOUS, event_id=event.pk)


def test_staff_delete_an_event_and_its_history_stays(
    olga: User, event: Event, ann: User, bob: User
) -> None:
    staff = make_staff()
    vote(link_actor(event, bob), event, [(candidate_ids(event)[0], "YES")])
    olgas_link = link_actor(event, olga)

    with refused(ErrorCode.PERMISSION_DENIED):
        event_delete(actor=actor_for(olga), event_id=event.pk)
    with refused(ErrorCode.PERMISSION_DENIED):
        event_delete(actor=olgas_link, event_id=event.pk)
    with refused(ErrorCode.NOT_FOUND):
        event_delete(actor=actor_for(staff), event_id=0)

    event_delete(actor=actor_for(staff), event_id=event.pk, now=LATER)

    assert not Event.objects.filter(pk=event.pk).exists()
    counts = (Participant, CandidateSlot, Vote, EventAccessToken)
    assert [model.objects.count() for model in counts] == [0, 0, 0, 0]
    assert User.objects.filter(pk__in=[olga.pk, ann.pk, bob.pk]).count() == 3
    assert [(action, kind) for action, _, _, kind in audit_trail()] == [
        ("event.propose", "USER"),
        ("event.vote", "TOKEN"),
        ("event.delete", "USER"),
    ]
    assert changes_of("event.delete") == [
        {
            "title": "Planning",
            "status": "PROPOSED",
            "version": 1,
            "parties": ["ann@example.com", "bob@example.com", "olga@example.com"],
            "unsent_notifications_dropped": 0,
            "slots": spans(*STARTS),
        }
    ]
    assert list(event_log(actor=actor_for(staff), event_id=event.pk)) == list(
        AuditEntry.objects.order_by("at", "id")
    )
    with pytest.raises(NotFound):  # her participation went with the event
        event_log(actor=actor_for(olga), event_id=event.pk)


def test_deleting_an_event_drops_its_unsent_mails_and_keeps_the_sent_ones(
    olga: User, event: Event
) -> None:
    sent, pending = notify(actor_for(olga), event, "ann@example.com", "bob@example.com")
    Notification.objects.filter(pk=sent.pk).update(status=Notification.Status.SENT, sent_at=NOW)

    event_delete(actor=actor_for(make_staff()), event_id=event.pk, now=LATER)

    assert list(Notification.objects.values_list("pk", "event")) == [(sent.pk, None)]
    assert changes_of("event.delete")[0]["unsent_notifications_dropped"] == 1
    assert not Notification.objects.filter(pk=pending.pk).exists()


def test_a_deactivated_account_loses_its_links_an_invited_address_keeps_them(
    event: Event, ann: User, bob: User
) -> None:
    anns = access_token_mint(token=access_token_issue(event=event, user=ann, now=NOW))
    bobs = access_token_mint(token=access_token_issue(event=event, user=bob, now=NOW))
    assert (bob.is_active, bob.has_usable_password()) == (False, False)  # invited only

    User.objects.filter(pk=ann.pk).update(is_active=False)

    assert access_token_authenticate(secret=anns, now=NOW) is None
    assert access_token_authenticate(secret=bobs, now=NOW).user == bob


# --- event_list ----------------------------------------------------------------------------


def test_event_list_filters_by_person_status_and_time(olga: User, ann: User) -> None:
    """Proposed events match a range by their candidates; scheduled ones by their own time,
    not by the candidates that were not chosen."""
    proposed = propose(olga, "ann@example.com", starts=(at(8, 9), at(9, 14)))
    scheduled = propose(olga, "bob@example.com", starts=(at(8, 12), at(10, 10)), now=NOW + MINUTE)
    agree(actor_for(olga), scheduled, candidate_ids(scheduled)[1], 1)  # Thu 10:00
    cancelled = propose(olga, "bob@example.com", starts=(at(8, 15),), now=NOW + 2 * MINUTE)
    event_cancel(actor=actor_for(olga), event_id=cancelled.pk, now=NOW)
    propose(ann, "bob@example.com", now=NOW + 3 * MINUTE)  # Ann's, Olga is not on it

    def listed(user: User = olga, **filters: object) -> list[int]:
        return [e.pk for e in event_list(user=user, **filters)]  # type: ignore[arg-type]

    assert listed() == [cancelled.pk, scheduled.pk, proposed.pk]
    assert listed(statuses=["PROPOSED"]) == [proposed.pk]
    assert listed(statuses=["SCHEDULED", "CANCELLED"]) == [cancelled.pk, scheduled.pk]
    assert listed(ann)[1:] == [proposed.pk]
    assert listed(make_user()) == []
    # Tuesday: the candidates of the proposed (and the cancelled proposed) event, not the
    # scheduled event's unchosen Tuesday candidate.
    assert listed(start=at(8, 0), end=at(9, 0)) == [cancelled.pk, proposed.pk]
    assert listed(start=at(10, 0), end=at(11, 0)) == [scheduled.pk]
    # Ranges are half-open: touching is not overlapping.
    assert listed(end=at(8, 9)) == []
    assert listed(start=at(10, 11)) == []
    assert listed(start=at(10, 10, 59)) == [scheduled.pk]
    assert listed(start=at(9, 14, 59), end=at(9, 15), statuses=["PROPOSED"]) == [proposed.pk]
    with refused(ErrorCode.NAIVE_DATETIME):
        event_list(user=olga, start=at(8, 0).replace(tzinfo=None))
