"""reservation.querycache: a compiled query answers exactly what its queryset answers."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from reservation.models import ApiToken, Provider, User
from reservation.querycache import CompiledQuery
from reservation.services.accounts import api_token_create
from reservation.tests.factories import NOW, make_client, make_provider, make_user

pytestmark = pytest.mark.django_db

TOKEN = CompiledQuery(
    lambda digest: ApiToken.objects.select_related("user", "user__provider", "user__client").filter(
        digest=digest, revoked_at__isnull=True, user__is_active=True
    )[:1],
    digest=str,
)
PROVIDER_LOCK = CompiledQuery(
    lambda pk: (
        Provider.objects.select_for_update(of=("self",)).select_related("user").filter(pk=pk)
    ),
    pk=int,
)


def _token_of(user: User) -> ApiToken:
    from reservation.actors import Actor

    token, _ = api_token_create(actor=Actor(user=user), name="t", now=NOW)
    return token


def _as_orm(digest: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user", "user__provider", "user__client")
        .filter(digest=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def _fields(obj: object) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_same_objects_and_related_caches_as_the_queryset():
    provider_user = make_provider().user
    client_user = make_client().user
    plain = make_user()
    for user in (provider_user, client_user, plain):
        digest = _token_of(user).digest
        expected, found = _as_orm(digest), TOKEN.first(digest=digest)
        assert _fields(found) == _fields(expected)
        assert _fields(found.user) == _fields(expected.user)
        with CaptureQueriesContext(connection) as queries:
            # select_related filled both profiles (or their absence) in: no query.
            assert hasattr(found.user, "provider") == hasattr(expected.user, "provider")
            assert hasattr(found.user, "client") == hasattr(expected.user, "client")
        assert len(queries) == 0
        assert found._state.adding is False
        assert found._state.db == "default"


def test_other_values_reuse_the_sql_and_miss_like_the_queryset():
    user = make_user()
    token = _token_of(user)
    assert TOKEN.first(digest="no such digest") is None
    with CaptureQueriesContext(connection) as queries:
        assert TOKEN.first(digest=token.digest).pk == token.pk
    assert len(queries) == 1
    sql, params = TOKEN.sql_with_params(digest=token.digest)
    assert queries[0]["sql"] == connection.ops.compose_sql(sql, params)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert TOKEN.first(digest=token.digest) is None  # the queryset's filters still apply


@pytest.mark.django_db(transaction=True)
def test_lock_takes_the_row_lock_in_a_transaction_only():
    provider = make_provider()
    with pytest.raises(TransactionManagementError):
        PROVIDER_LOCK.get(pk=provider.pk)
    with transaction.atomic():
        locked = PROVIDER_LOCK.get(pk=provider.pk)
        assert (locked.pk, locked.user.email) == (provider.pk, provider.user.email)
        assert "FOR UPDATE OF" in PROVIDER_LOCK.sql_with_params(pk=provider.pk)[0]
        with pytest.raises(Provider.DoesNotExist):
            PROVIDER_LOCK.get(pk=provider.pk + 1000)


def test_a_parameter_that_does_not_reach_the_sql_as_given_is_refused():
    # The value is changed before it reaches the SQL: the compiled SQL could not take others.
    shouted = CompiledQuery(lambda email: User.objects.filter(email=email.upper()), email=str)
    with pytest.raises(ImproperlyConfigured):
        shouted.all(email="a@example.com")
    with pytest.raises(TypeError):
        TOKEN.first(other="x")
