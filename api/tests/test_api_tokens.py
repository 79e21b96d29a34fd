"""API tokens without a browser (apiTokenObtain) and token scopes (READ_ONLY runs no mutation)."""

from typing import Any

from django.conf import settings
from django.test import override_settings

from api.schema import schema
from api.scopes import ReadOnlyTokenGuard
from api.tests.conftest import GraphQL, gid
from reservation.models import ApiToken, AuditEntry, TokenScope, User
from reservation.services.accounts import api_token_create
from reservation.tests.factories import PASSWORD, actor_for, make_user

OBTAIN = """
mutation Obtain($email: String!, $password: String!, $name: String!, $scope: TokenScope!) {
  apiTokenObtain(email: $email, password: $password, name: $name, scope: $scope) {
    ... on ApiTokenCreated { secret token { name scope } }
    ... on OperationInfo { messages { code errorCode field } }
  }
}
"""

CREATE = """
mutation Create($name: String!, $scope: TokenScope!) {
  apiTokenCreate(name: $name, scope: $scope) {
    ... on ApiTokenCreated { secret token { name scope } }
    ... on OperationInfo { messages { kind code errorCode } }
  }
}
"""

REVOKE = """
mutation Revoke($id: ID!) {
  apiTokenRevoke(id: $id) {
    ... on ApiToken { revokedAt }
    ... on OperationInfo { messages { kind code errorCode } }
  }
}
"""

TOKENS = "{ apiTokens { edges { node { name scope } } } }"


def obtain(gql: GraphQL, password: str = PASSWORD, **more: Any) -> dict[str, Any]:
    variables = {"email": "cleo@example.com", "password": password, "name": "phone"}
    return gql(OBTAIN, variables | {"scope": "FULL"} | more).json()


def test_an_app_trades_email_and_password_for_a_token_that_works(gql: GraphQL) -> None:
    # Given Cleo's account
    cleo = make_user(email="cleo@example.com")

    # When her phone app asks for a read-only token with her e-mail (any case) and password
    answer = obtain(gql, email=" Cleo@Example.com", scope="READ_ONLY")

    # Then it gets the token once, stored as read-only and recorded in her token's history
    created = answer["data"]["apiTokenObtain"]
    assert created["token"] == {"name": "phone", "scope": "READ_ONLY"}
    token = ApiToken.objects.get(user=cleo)
    assert created["secret"].startswith("rdv_")
    assert created["secret"][:10] == token.prefix
    assert token.scope == TokenScope.READ_ONLY
    entry = AuditEntry.objects.get(subject_type="apitoken", subject_id=token.pk)
    assert (entry.action, entry.actor_user_id) == ("api_token.obtain", cleo.pk)
    assert entry.changes == {"name": "phone", "prefix": token.prefix, "scope": "READ_ONLY"}

    # And the secret signs in as Cleo
    me = gql("{ me { email } }", token=created["secret"]).json()
    assert me == {"data": {"me": {"email": "cleo@example.com"}}}


def test_a_wrong_password_or_an_inactive_account_gets_no_token(gql: GraphQL) -> None:
    # Given Cleo, and Ivy whose account is deactivated
    make_user(email="cleo@example.com")
    make_user(email="ivy@example.com", is_active=False)
    refused = {
        "data": {
            "apiTokenObtain": {
                "messages": [
                    {
                        "code": "INVALID_CREDENTIALS",
                        "errorCode": "INVALID_CREDENTIALS",
                        "field": None,
                    }
                ]
            }
        }
    }

    # When the wrong password is sent, an unknown address, and Ivy's right password
    wrong = obtain(gql, password="guess")
    unknown = obtain(gql, email="nobody@example.com")
    inactive = obtain(gql, email="ivy@example.com")

    # Then each is refused alike, and no token exists
    assert wrong == unknown == inactive == refused
    assert not ApiToken.objects.exists()


def test_bad_name_or_scope_is_refused_before_the_password_is_checked(gql: GraphQL) -> None:
    make_user(email="cleo@example.com")

    nameless = obtain(gql, name="  ")
    assert nameless["data"]["apiTokenObtain"]["messages"] == [
        {"code": "INVALID_INPUT", "errorCode": "INVALID_INPUT", "field": "name"}
    ]
    unknown_scope = obtain(gql, scope="ADMIN")
    assert unknown_scope["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert not ApiToken.objects.exists()


def test_obtaining_shares_the_login_rate_limit(gql: GraphQL) -> None:
    # Given Cleo, and a limit of three password tries an hour
    make_user(email="cleo@example.com")
    login = """mutation { login(email: "cleo@example.com", password: "guess") {
        ... on OperationInfo { messages { code } } } }"""
    with override_settings(RATE_LIMITS={**settings.RATE_LIMITS, "login": (3, 3600)}):
        # When two guesses go to login and one to apiTokenObtain
        assert gql(login).json()["data"]["login"]["messages"] == [{"code": "INVALID_CREDENTIALS"}]
        assert gql(login).json()["data"]["login"]["messages"] == [{"code": "INVALID_CREDENTIALS"}]
        third = obtain(gql, password="guess")

        # Then the next try, even with the right password, is refused without a token
        fourth = obtain(gql)

    assert third["data"]["apiTokenObtain"]["messages"][0]["code"] == "INVALID_CREDENTIALS"
    assert fourth["data"]["apiTokenObtain"]["messages"] == [
        {"code": "RATE_LIMITED", "errorCode": "RATE_LIMITED", "field": None}
    ]
    assert not ApiToken.objects.exists()


def test_a_read_only_token_reads_but_runs_no_mutation(gql: GraphQL) -> None:
    # Given Cleo's read-only token
    cleo = make_user(email="cleo@example.com")
    token, secret = api_token_create(actor=actor_for(cleo), name="dashboard", scope="READ_ONLY")
    read_only_answer = {
        "messages": [
            {"kind": "PERMISSION", "code": "READ_ONLY_TOKEN", "errorCode": "READ_ONLY_TOKEN"}
        ]
    }

    # When it reads her tokens, then tries to make a token and to revoke itself
    listed = gql(TOKENS, token=secret).json()
    created = gql(CREATE, {"name": "more", "scope": "FULL"}, token=secret).json()
    revoked = gql(REVOKE, {"id": gid("ApiToken", token.pk)}, token=secret).json()

    # Then the read works, and both mutations are refused with the stable code, changing nothing
    assert listed == {
        "data": {"apiTokens": {"edges": [{"node": {"name": "dashboard", "scope": "READ_ONLY"}}]}}
    }
    assert created == {"data": {"apiTokenCreate": read_only_answer}}
    assert revoked == {"data": {"apiTokenRevoke": read_only_answer}}
    assert list(ApiToken.objects.values_list("name", "revoked_at")) == [("dashboard", None)]


def test_a_full_token_makes_a_read_only_one_and_old_tokens_are_full(gql: GraphQL) -> None:
    # Given Cleo's token made without a scope (as before scopes existed)
    cleo = make_user(email="cleo@example.com")
    _, secret = api_token_create(actor=actor_for(cleo), name="laptop")

    # When it makes a read-only token
    created = gql(CREATE, {"name": "tv", "scope": "READ_ONLY"}, token=secret).json()

    # Then the new one is READ_ONLY and the first FULL
    assert created["data"]["apiTokenCreate"]["token"] == {"name": "tv", "scope": "READ_ONLY"}
    scopes = dict(User.objects.get(pk=cleo.pk).api_tokens.values_list("name", "scope"))
    assert scopes == {"laptop": "FULL", "tv": "READ_ONLY"}


def test_every_mutation_of_the_schema_is_guarded() -> None:
    definition = schema.mutation.__strawberry_definition__  # type: ignore[union-attr]

    unguarded = [
        field.name
        for field in definition.fields
        if not any(isinstance(e, ReadOnlyTokenGuard) for e in field.extensions)
    ]

    assert len(definition.fields) > 30
    assert unguarded == []
