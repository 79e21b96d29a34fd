"""Accounts, providers and API tokens, through the services (database-backed)."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from pytest_django import DjangoAssertNumQueries

from reservation.actors import ANONYMOUS, SYSTEM, Actor
from reservation.errors import ErrorCode
from reservation.models import ApiToken, AuditEntry, Client, Provider, User
from reservation.services.accounts import (
    account_register,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    provider_create,
)
from reservation.tests.factories import (
    NOW,
    PASSWORD,
    actor_for,
    audit_trail,
    make_client,
    make_staff,
    make_user,
    rejected,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)


# --- account_register ----------------------------------------------------------------------


def test_register_creates_an_active_user_with_a_client_profile() -> None:
    user = account_register(
        email="  Alice.Liddell@Example.COM ",
        password=PASSWORD,
        name="  Alice  ",
        time_zone="Europe/Berlin",
        now=NOW,
    )

    user.refresh_from_db()
    assert (user.email, user.name, user.time_zone) == (
        "alice.liddell@example.com",
        "Alice",
        "Europe/Berlin",
    )
    assert user.is_active is True
    assert user.is_staff is False
    assert user.check_password(PASSWORD) is True
    assert Client.objects.filter(user=user).count() == 1
    assert not Provider.objects.filter(user=user).exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.subject_type, entry.subject_id) == (
        "account.register",
        "user",
        user.pk,
    )
    assert (entry.actor_kind, entry.actor_user_id, entry.at) == ("USER", user.pk, NOW)
    assert entry.changes == {"email": "alice.liddell@example.com"}


@pytest.mark.parametrize(
    "spelling", ["alice@example.com", "ALICE@Example.com", " Alice@EXAMPLE.COM"]
)
def test_register_rejects_an_address_in_use_whatever_its_case(spelling: str) -> None:
    make_user(email="alice@example.com")

    with rejected(ErrorCode.EMAIL_TAKEN):
        account_register(email=spelling, password=PASSWORD, now=NOW)


def test_register_near_miss_a_similar_address_is_free() -> None:
    make_user(email="alice@example.com")

    user = account_register(email="alice@example.org", password=PASSWORD, now=NOW)

    assert user.email == "alice@example.org"
    assert User.objects.filter(email__startswith="alice@").count() == 2


@pytest.mark.parametrize(
    "password",
    [
        "short",  # too short
        "password1234",  # too common
        "8305829475628",  # all digits
        "alice.wonderland",  # too close to the address
    ],
)
def test_register_rejects_a_weak_password(password: str) -> None:
    with rejected(ErrorCode.WEAK_PASSWORD):
        account_register(email="alice.wonderland@example.com", password=password, now=NOW)


@pytest.mark.parametrize("time_zone", ["Mars/Olympus_Mons", "", "europe/berlin", "CET+1"])
def test_register_rejects_an_unknown_time_zone(time_zone: str) -> None:
    with rejected(ErrorCode.INVALID_TIME_ZONE):
        account_register(email="alice@example.com", password=PASSWORD, time_zone=time_zone, now=NOW)


@pytest.mark.parametrize("email", ["", "alice", "alice@", "@example.com", "a b@example.com"])
def test_register_rejects_a_malformed_address(email: str) -> None:
    with rejected(ErrorCode.INVALID_INPUT):
        account_register(email=email, password=PASSWORD, now=NOW)


def test_register_rejects_a_name_over_200_characters_but_takes_200() -> None:
    with rejected(ErrorCode.INVALID_INPUT):
        account_register(email="a@example.com", password=PASSWORD, name="x" * 201, now=NOW)

    user = account_register(email="a@example.com", password=PASSWORD, name="x" * 200, now=NOW)
    assert user.name == "x" * 200


# --- provider_create -----------------------------------------------------------------------


def test_staff_creates_a_provider_with_a_new_user() -> None:
    staff = make_staff()

    provider = provider_create(
        email="Dr.Who@Example.com",
        name="Dr Who",
        time_zone="Europe/London",
        actor=actor_for(staff),
        now=NOW,
    )

    provider.refresh_from_db()
    assert (provider.display_name, provider.is_active) == ("Dr Who", True)
    assert (provider.user.email, provider.user.name, provider.user.time_zone) == (
        "dr.who@example.com",
        "Dr Who",
        "Europe/London",
    )
    assert provider.user.has_usable_password() is False
    assert audit_trail() == [("provider.create", "provider", provider.pk, "USER")]
    entry = AuditEntry.objects.get()
    assert entry.actor_user_id == staff.pk
    assert entry.changes == {"email": "dr.who@example.com", "time_zone": "Europe/London"}


def test_the_system_creates_a_provider_for_an_existing_client() -> None:
    client = make_client(email="carol@example.com")

    provider = provider_create(email="carol@example.com", actor=SYSTEM, now=NOW)

    assert provider.user_id == client.user_id
    assert provider.user.check_password(PASSWORD) is True  # the existing password is kept
    assert Client.objects.filter(user_id=client.user_id).exists()
    assert audit_trail() == [("provider.create", "provider", provider.pk, "SYSTEM")]
    assert AuditEntry.objects.get().actor_user_id is None


def test_provider_create_twice_makes_one_provider() -> None:
    first = provider_create(email="p@example.com", actor=SYSTEM, now=NOW)

    again = provider_create(email="p@example.com", actor=SYSTEM, now=NOW)

    assert again.pk == first.pk
    assert Provider.objects.count() == 1
    assert audit_trail() == [("provider.create", "provider", first.pk, "SYSTEM")]


def test_provider_create_audits_a_change_to_an_existing_users_zone_and_name() -> None:
    provider = provider_create(email="p@example.com", name="P", actor=SYSTEM, now=NOW)

    provider_create(
        email="p@example.com", name="Pat", time_zone="Asia/Tokyo", actor=SYSTEM, now=NOW
    )

    provider.user.refresh_from_db()
    assert (provider.user.name, provider.user.time_zone) == ("Pat", "Asia/Tokyo")
    assert audit_trail() == [
        ("provider.create", "provider", provider.pk, "SYSTEM"),
        ("user.update", "user", provider.user_id, "SYSTEM"),
    ]
    assert AuditEntry.objects.last().changes == {
        "name": ["P", "Pat"],
        "time_zone": ["UTC", "Asia/Tokyo"],
    }


def test_only_staff_or_the_system_create_providers() -> None:
    client = make_client()
    inactive_staff = make_staff(is_active=False)

    with rejected(ErrorCode.PERMISSION_DENIED):
        provider_create(email="p@example.com", actor=actor_for(client), now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        provider_create(email="p@example.com", actor=ANONYMOUS, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        provider_create(email="p@example.com", actor=actor_for(inactive_staff), now=NOW)
    with rejected(ErrorCode.PERMISSION_DENIED):
        # Making oneself a provider is no exception.
        provider_create(email=client.user.email, actor=actor_for(client), now=NOW)


def test_provider_create_rejects_an_unknown_time_zone() -> None:
    with rejected(ErrorCode.INVALID_TIME_ZONE):
        provider_create(email="p@example.com", time_zone="Nowhere/Special", actor=SYSTEM, now=NOW)


# --- API tokens ----------------------------------------------------------------------------


def test_token_create_stores_only_the_digest_and_shows_the_secret_once() -> None:
    user = make_user()

    token, secret = api_token_create(actor=actor_for(user), name="  laptop ", now=NOW)

    token.refresh_from_db()
    assert secret.startswith("rdv_")
    assert len(secret) == len("rdv_") + 43  # 32 random bytes, URL-safe base64
    assert (token.user_id, token.name, token.prefix) == (user.pk, "laptop", secret[:10])
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert (token.last_used_at, token.revoked_at) == (None, None)
    # The secret is nowhere in the database: not in the token row, not in the audit trail.
    stored = json.dumps(
        [
            list(ApiToken.objects.values()),
            list(AuditEntry.objects.values("changes")),
        ],
        default=str,
    )
    assert secret not in stored
    assert secret[10:] not in stored
    assert audit_trail() == [("api_token.create", "apitoken", token.pk, "USER")]
    assert AuditEntry.objects.get().changes == {
        "name": "laptop",
        "prefix": secret[:10],
        "scope": "FULL",
    }


def test_each_token_gets_its_own_secret() -> None:
    actor = actor_for(make_user())

    (first, first_secret), (second, second_secret) = (
        api_token_create(actor=actor, name="a", now=NOW),
        api_token_create(actor=actor, name="a", now=NOW),
    )

    assert first_secret != second_secret
    assert first.digest != second.digest


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_token_create_needs_a_name_of_1_to_100_characters(name: str) -> None:
    actor = actor_for(make_user())

    with rejected(ErrorCode.INVALID_INPUT):
        api_token_create(actor=actor, name=name, now=NOW)

    token, _ = api_token_create(actor=actor, name="x" * 100, now=NOW)
    assert token.name == "x" * 100


def test_token_create_needs_a_signed_in_user() -> None:
    with rejected(ErrorCode.UNAUTHENTICATED):
        api_token_create(actor=ANONYMOUS, name="laptop", now=NOW)


def test_authenticate_finds_the_live_token_of_a_secret() -> None:
    user = make_user()
    token, secret = api_token_create(actor=actor_for(user), name="laptop", now=NOW)
    api_token_create(actor=actor_for(user), name="other", now=NOW)

    found = api_token_authenticate(secret=secret, now=NOW)

    assert found is not None
    assert (found.pk, found.user_id) == (token.pk, user.pk)
    token.refresh_from_db()
    assert token.last_used_at == NOW


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s + "x",
        lambda s: s[:-1],
        lambda s: s.upper(),
        lambda s: s.removeprefix("rdv_"),
        lambda s: "",
        lambda s: "rdv_",
    ],
    ids=["suffixed", "truncated", "upper-cased", "unprefixed", "empty", "prefix-only"],
)
def test_authenticate_rejects_a_wrong_secret(mangle: Callable[[str], str]) -> None:
    _, secret = api_token_create(actor=actor_for(make_user()), name="laptop", now=NOW)

    assert api_token_authenticate(secret=mangle(secret), now=NOW) is None
    assert ApiToken.objects.get().last_used_at is None


def test_a_revoked_token_no_longer_authenticates_but_its_sibling_does() -> None:
    actor = actor_for(make_user())
    revoked, revoked_secret = api_token_create(actor=actor, name="old", now=NOW)
    kept, kept_secret = api_token_create(actor=actor, name="new", now=NOW)

    api_token_revoke(actor=actor, token_id=revoked.pk, now=NOW + SECOND)

    assert api_token_authenticate(secret=revoked_secret, now=NOW + 2 * SECOND) is None
    found = api_token_authenticate(secret=kept_secret, now=NOW + 2 * SECOND)
    assert found is not None
    assert found.pk == kept.pk


def test_the_token_of_an_inactive_user_does_not_authenticate() -> None:
    user = make_user()
    _, secret = api_token_create(actor=actor_for(user), name="laptop", now=NOW)
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert api_token_authenticate(secret=secret, now=NOW) is None

    User.objects.filter(pk=user.pk).update(is_active=True)
    assert api_token_authenticate(secret=secret, now=NOW) is not None


def test_authenticate_records_last_use_at_most_once_a_minute(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    token, secret = api_token_create(actor=actor_for(make_user()), name="laptop", now=NOW)
    api_token_authenticate(secret=secret, now=NOW)

    with django_assert_num_queries(1):  # the look-up only: no write
        found = api_token_authenticate(secret=secret, now=NOW + 59 * SECOND)
    assert found is not None
    assert found.last_used_at == NOW
    token.refresh_from_db()
    assert token.last_used_at == NOW

    with django_assert_num_queries(2):  # the look-up and one UPDATE
        found = api_token_authenticate(secret=secret, now=NOW + 61 * SECOND)
    assert found is not None
    assert found.last_used_at == NOW + 61 * SECOND
    token.refresh_from_db()
    assert token.last_used_at == NOW + 61 * SECOND


def test_revoke_is_idempotent_and_audited_once() -> None:
    actor = actor_for(make_user())
    token, _ = api_token_create(actor=actor, name="laptop", now=NOW)

    api_token_revoke(actor=actor, token_id=token.pk, now=NOW + SECOND)
    again = api_token_revoke(actor=actor, token_id=token.pk, now=NOW + 2 * SECOND)

    assert again.revoked_at == NOW + SECOND
    token.refresh_from_db()
    assert token.revoked_at == NOW + SECOND
    assert audit_trail() == [
        ("api_token.create", "apitoken", token.pk, "USER"),
        ("api_token.revoke", "apitoken", token.pk, "USER"),
    ]


def test_revoking_someone_elses_token_is_not_found() -> None:
    owner = make_user()
    token, secret = api_token_create(actor=actor_for(owner), name="laptop", now=NOW)
    stranger = make_staff()  # even staff revoke only their own

    with rejected(ErrorCode.NOT_FOUND):
        api_token_revoke(actor=actor_for(stranger), token_id=token.pk, now=NOW)
    with rejected(ErrorCode.NOT_FOUND):
        api_token_revoke(actor=actor_for(owner), token_id=token.pk + 1000, now=NOW)
    with rejected(ErrorCode.UNAUTHENTICATED):
        api_token_revoke(actor=ANONYMOUS, token_id=token.pk, now=NOW)

    token.refresh_from_db()
    assert token.revoked_at is None
    assert api_token_authenticate(secret=secret, now=NOW) is not None


def test_a_token_actor_is_audited_as_a_token() -> None:
    user = make_user()
    token, _ = api_token_create(actor=actor_for(user), name="laptop", now=NOW)
    by_token = Actor(user=user, api_token=token)

    second, _ = api_token_create(actor=by_token, name="ci", now=NOW)

    entry = AuditEntry.objects.get(subject_id=second.pk, action="api_token.create")
    assert (entry.actor_kind, entry.actor_user_id, entry.actor_token_id) == (
        "TOKEN",
        user.pk,
        token.pk,
    )
