"""Who may see whose free/busy (reservation.selectors.sharing), and the text rules of
reservation.validation that every string from outside goes through."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import FreeBusySharing, ReservationStatus, User
from reservation.selectors.sharing import contacts_among, require_free_busy_shared
from reservation.services.events import SlotInput, event_propose
from reservation.services.sharing import free_busy_sharing_set
from reservation.tests.factories import (
    actor_for,
    at,
    make_client,
    make_provider,
    make_reservation,
    make_user,
)
from reservation.validation import forbidden_character, hidden_character, require_clean_text

pytestmark = pytest.mark.django_db


def test_contacts_are_found_in_one_query(django_assert_num_queries) -> None:
    olga, pia, sam = (make_user(email=f"{n}@example.com") for n in ("olga", "pia", "sam"))
    provider = make_provider(email="pat@example.com")
    client = make_client(email="cleo@example.com")
    event_propose(
        actor=actor_for(olga),
        parties=[pia.email],
        slots=[SlotInput(start=at(20, 9), duration_minutes=60)],
    )
    make_reservation(provider=provider, client=client, start=at(8, 9))
    cancelled = make_client(email="carl@example.com")
    make_reservation(
        provider=provider, client=cancelled, start=at(8, 11), status=ReservationStatus.CANCELLED
    )

    with django_assert_num_queries(1):
        olgas = contacts_among(viewer=olga, user_ids=[pia.pk, sam.pk, client.user.pk])
    pats = contacts_among(
        viewer=provider.user, user_ids=[client.user.pk, cancelled.user.pk, olga.pk]
    )

    assert olgas == {pia.pk}
    assert pats == {client.user.pk}


def test_no_query_when_nobody_needs_checking(django_assert_num_queries) -> None:
    viewer = make_user(email="v@example.com")
    open_one = make_user(email="o@example.com")
    User.objects.filter(pk=open_one.pk).update(free_busy_sharing=FreeBusySharing.EVERYONE)
    open_one.refresh_from_db()
    closed = make_user(email="c@example.com")
    User.objects.filter(pk=closed.pk).update(free_busy_sharing=FreeBusySharing.NOBODY)
    closed.refresh_from_db()

    with django_assert_num_queries(0):
        require_free_busy_shared(viewer=viewer, users=[viewer, open_one])
        with pytest.raises(NotFound, match=r"No such user\."):
            require_free_busy_shared(viewer=viewer, users=[closed])


def test_the_setting_is_checked_and_audited() -> None:
    user = make_user(email="u@example.com")

    with pytest.raises(DomainError) as info:
        free_busy_sharing_set(actor=actor_for(user), sharing="FRIENDS")
    free_busy_sharing_set(actor=actor_for(user), sharing="NOBODY")

    assert info.value.error_code == ErrorCode.INVALID_INPUT
    assert User.objects.get(pk=user.pk).free_busy_sharing == "NOBODY"


# --- the text rules ------------------------------------------------------------------------


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"))))
def test_text_without_controls_passes(text: str) -> None:
    clean = "".join(c for c in text if c not in "\ufffe\uffff")
    assert forbidden_character(clean) is None
    assert require_clean_text(clean, field="x") == clean


@given(st.text(), st.sampled_from(["\x00", "\x01", "\x1f", "\x7f", "\x80", "\x9f", "\ud800"]))
def test_any_control_character_is_found(text: str, control: str) -> None:
    assert forbidden_character(text + control) is not None
    with pytest.raises(DomainError) as info:
        require_clean_text(control + text, field="reason")
    assert info.value.error_code == ErrorCode.INVALID_CHARACTERS


@pytest.mark.parametrize("text", ["tab\t", "line\nbreak", "cr\r"])
def test_tab_newline_and_carriage_return_are_text(text: str) -> None:
    assert forbidden_character(text) is None


@pytest.mark.parametrize(
    ("name", "hidden"),
    [
        ("Ann\u202egpj.exe", "\u202e"),
        ("\u200bAnn", "\u200b"),
        ("Ann\u00adMarie", "\u00ad"),
        ("Ann\u200d", "\u200d"),
        ("Ann\u200c Bob", "\u200c"),
        ("می\u200cخواهم", None),
        ("Ann-Marie", None),
    ],
)
def test_hidden_characters_in_names(name: str, hidden: str | None) -> None:
    assert hidden_character(name) == hidden
