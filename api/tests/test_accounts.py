"""Accounts through the API: registration, sessions with CSRF, Bearer tokens, `me`."""

import json

import pytest
from django.test import Client as HttpClient

from api.tests.conftest import GRAPHQL_URL, GraphQL, errors, gid, iso, post_graphql, token_of
from reservation.models import ApiToken, User
from reservation.tests.factories import NOW, PASSWORD, make_user

REGISTER = """
mutation Register($email: String!, $password: String!, $name: String!, $timeZone: String!) {
  accountRegister(email: $email, password: $password, name: $name, timeZone: $timeZone) {
    ... on User { email name timeZone isClient isProvider }
    ... on OperationInfo { messages { code field } }
  }
}
"""

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    ... on User { email }
    ... on OperationInfo { messages { code field } }
  }
}
"""

LOGOUT = """
mutation Logout {
  logout { ... on LogoutResult { ok } }
}
"""

LOGOUT_WITH_CODES = """
mutation Logout {
  logout { ... on LogoutResult { ok } ... on OperationInfo { messages { code } } }
}
"""

ME = """
query Me {
  me { email name timeZone isClient isProvider }
}
"""

TOKEN_CREATE = """
mutation TokenCreate($name: String!) {
  apiTokenCreate(name: $name) {
    ... on ApiTokenCreated { secret token { id name prefix createdAt lastUsedAt revokedAt } }
    ... on OperationInfo { messages { code field } }
  }
}
"""

TOKEN_REVOKE = """
mutation TokenRevoke($id: ID!) {
  apiTokenRevoke(id: $id) {
    ... on ApiToken { name revokedAt }
    ... on OperationInfo { messages { code field } }
  }
}
"""

TOKENS = """
query Tokens {
  apiTokens { totalCount edges { node { name revokedAt } } }
}
"""

PROVIDER_COUNT = """
query ProviderCount {
  providers { totalCount }
}
"""

NEW_ACCOUNT = {
    "email": " New.Person@Example.com ",
    "password": PASSWORD,
    "name": "New Person",
    "timeZone": "Europe/Berlin",
}


def test_register_creates_a_client_and_signs_them_in(gql: GraphQL) -> None:
    # When someone registers from a browser
    response = gql(REGISTER, NEW_ACCOUNT)

    # Then they have a client account (e-mail normalised)...
    assert response.json() == {
        "data": {
            "accountRegister": {
                "email": "new.person@example.com",
                "name": "New Person",
                "timeZone": "Europe/Berlin",
                "isClient": True,
                "isProvider": False,
            }
        }
    }
    # ...and the same browser is signed in
    assert gql(ME).json() == {
        "data": {
            "me": {
                "email": "new.person@example.com",
                "name": "New Person",
                "timeZone": "Europe/Berlin",
                "isClient": True,
                "isProvider": False,
            }
        }
    }


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"email": "cleo@example.com"}, "EMAIL_TAKEN", "email"),
        ({"email": "CLEO@example.com"}, "EMAIL_TAKEN", "email"),
        ({"email": "not-an-address"}, "INVALID_INPUT", "email"),
        ({"password": "12345678"}, "WEAK_PASSWORD", "password"),
        ({"password": "short"}, "WEAK_PASSWORD", "password"),
        ({"timeZone": "Mars/Olympus"}, "INVALID_TIME_ZONE", "timeZone"),
    ],
)
def test_register_rejects_bad_input_and_writes_nothing(
    gql: GraphQL, change: dict[str, str], code: str, field: str
) -> None:
    # Given an existing account
    make_user(email="cleo@example.com")
    users = User.objects.count()

    # When someone registers with one bad value
    response = gql(REGISTER, {**NEW_ACCOUNT, **change})

    # Then they get its code, no account, and no session
    assert response.json() == {
        "data": {"accountRegister": {"messages": [{"code": code, "field": field}]}}
    }
    assert User.objects.count() == users
    assert gql(ME).json() == {"data": {"me": None}}


def test_a_signed_in_browser_posting_without_csrf_token_is_forbidden(
    gql: GraphQL, http: HttpClient, client_profile: object
) -> None:
    # Given a signed-in browser (it carries the session cookie)
    http.force_login(User.objects.get(email="cleo@example.com"))

    # When it posts a mutation without the CSRF token (as a forged cross-site request would)
    response = gql(LOGOUT, csrf=False)

    # Then Django refuses it before GraphQL runs, in the API's JSON shape; the session lives on
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "CSRF_FAILED", "reason": "CSRF cookie not set."}
    assert gql(ME).json()["data"]["me"]["email"] == "cleo@example.com"


def test_a_forged_cross_site_form_cannot_sign_a_browser_in(
    http: HttpClient, client_profile: object
) -> None:
    # When a cross-site form posts a login (a form can send text/plain, never application/json
    # without a CORS preflight) from a browser with no session
    body = json.dumps(
        {"query": LOGIN, "variables": {"email": "cleo@example.com", "password": PASSWORD}}
    )
    response = http.post(GRAPHQL_URL, data=body, content_type="text/plain")

    # Then the endpoint refuses the media type and no session opens
    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert "sessionid" not in http.cookies


def test_post_with_a_wrong_csrf_token_is_forbidden(
    gql: GraphQL, http: HttpClient, client_profile: object
) -> None:
    # Given a signed-in browser with a CSRF cookie
    post_graphql(http, ME)
    http.force_login(User.objects.get(email="cleo@example.com"))

    # When it sends a different token
    response = gql(ME, csrf=False, HTTP_X_CSRFTOKEN="x" * 32)

    # Then it is refused
    assert response.status_code == 403


def test_a_signed_in_browser_cannot_be_made_to_mutate_over_get(
    gql: GraphQL, http: HttpClient, client_profile: object
) -> None:
    # Given a signed-in browser
    http.force_login(User.objects.get(email="cleo@example.com"))

    # When a cross-site page makes it GET a mutation (GET skips the CSRF check)
    response = http.get(GRAPHQL_URL, {"query": LOGOUT})

    # Then the mutation is refused (405, POST only) and the session survives
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert gql(ME).json()["data"]["me"]["email"] == "cleo@example.com"


def test_public_queries_work_over_get_without_csrf(http: HttpClient, provider: object) -> None:
    response = http.get(GRAPHQL_URL, {"query": PROVIDER_COUNT})

    assert response.json() == {"data": {"providers": {"totalCount": 1}}}


def test_login_with_csrf_token_opens_a_session_and_logout_ends_it(
    gql: GraphQL, client_profile: object
) -> None:
    # When a browser signs in with the CSRF token
    login = gql(LOGIN, {"email": " CLEO@example.com", "password": PASSWORD})

    # Then it is signed in
    assert login.json() == {"data": {"login": {"email": "cleo@example.com"}}}
    assert gql(ME).json()["data"]["me"]["email"] == "cleo@example.com"

    # When it signs out (with the token rotated at login)
    logout = gql(LOGOUT)

    # Then the session is gone
    assert logout.json() == {"data": {"logout": {"ok": True}}}
    assert gql(ME).json() == {"data": {"me": None}}


def test_a_bearer_request_cannot_end_the_browsers_session(
    gql: GraphQL, client_profile: object
) -> None:
    # Given a browser signed in with a session, and the same person's API token
    gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD})
    token = token_of(User.objects.get(email="cleo@example.com"))

    # When a request carrying both the session cookie and the token logs out
    logout = gql(LOGOUT_WITH_CODES, token=token)

    # Then it is refused, and the session (which that request ignores) is still there
    assert logout.json() == {"data": {"logout": {"messages": [{"code": "PERMISSION_DENIED"}]}}}
    assert gql(ME).json()["data"]["me"]["email"] == "cleo@example.com"


@pytest.mark.parametrize(
    ("email", "password"),
    [("cleo@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
)
def test_login_with_wrong_credentials_fails(
    gql: GraphQL, client_profile: object, email: str, password: str
) -> None:
    response = gql(LOGIN, {"email": email, "password": password})

    assert response.json() == {
        "data": {"login": {"messages": [{"code": "INVALID_CREDENTIALS", "field": None}]}}
    }
    assert gql(ME).json() == {"data": {"me": None}}


def test_login_of_an_inactive_user_fails(gql: GraphQL) -> None:
    make_user(email="gone@example.com", is_active=False)

    response = gql(LOGIN, {"email": "gone@example.com", "password": PASSWORD})

    assert response.json() == {
        "data": {"login": {"messages": [{"code": "INVALID_CREDENTIALS", "field": None}]}}
    }


def test_a_bearer_request_cannot_open_a_session(gql: GraphQL, client_token: str) -> None:
    response = gql(LOGIN, {"email": "cleo@example.com", "password": PASSWORD}, token=client_token)

    assert response.json() == {
        "data": {"login": {"messages": [{"code": "PERMISSION_DENIED", "field": None}]}}
    }


def test_bearer_token_authenticates_without_csrf(gql: GraphQL, client_token: str) -> None:
    # When an API client sends only its token (the test client enforces CSRF like a browser)
    response = gql(ME, token=client_token)

    # Then it is that user
    assert response.json() == {
        "data": {
            "me": {
                "email": "cleo@example.com",
                "name": "Cleo",
                "timeZone": "UTC",
                "isClient": True,
                "isProvider": False,
            }
        }
    }


def test_bearer_token_ignores_the_session_cookie(
    gql: GraphQL, http: HttpClient, provider: object, client_token: str
) -> None:
    # Given a browser signed in as the provider
    http.force_login(User.objects.get(email="pat@example.com"))
    assert gql(ME).json()["data"]["me"]["email"] == "pat@example.com"

    # When the same browser sends a request with the client's token
    response = gql(ME, token=client_token)

    # Then the token alone decides who is asking
    assert response.json()["data"]["me"]["email"] == "cleo@example.com"


@pytest.mark.parametrize(
    "secret",
    ["rdv_unknown-secret", "not-even-our-prefix", ""],
    ids=["unknown", "foreign", "empty"],
)
def test_an_invalid_bearer_token_is_401_even_with_a_session(
    gql: GraphQL, http: HttpClient, client_profile: object, secret: str
) -> None:
    # Given a browser with a valid session
    http.force_login(User.objects.get(email="cleo@example.com"))

    # When it sends a bad token (CSRF is skipped for Bearer requests, so the session must not
    # be used as a fallback)
    response = gql(ME, token=secret)

    # Then it is rejected outright
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {
        "errors": [
            {
                "message": "The Bearer token is unknown, revoked or expired.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


def test_a_token_of_a_deactivated_user_is_401(gql: GraphQL, client_profile: object) -> None:
    user = User.objects.get(email="cleo@example.com")
    secret = token_of(user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = gql(ME, token=secret)

    assert response.status_code == 401
    assert errors(response) == [{"path": None, "code": "UNAUTHENTICATED"}]


def test_token_create_returns_a_working_secret_once(gql: GraphQL, client_token: str) -> None:
    # When a client creates a token
    response = gql(TOKEN_CREATE, {"name": " laptop "}, token=client_token)

    # Then the secret is in the answer, and only its prefix is kept
    created = response.json()["data"]["apiTokenCreate"]
    secret = created["secret"]
    token = ApiToken.objects.get(name="laptop")
    assert secret.startswith("rdv_")
    assert created == {
        "secret": secret,
        "token": {
            "id": gid("ApiToken", token.pk),
            "name": "laptop",
            "prefix": secret[:10],
            "createdAt": iso(token.created_at),
            "lastUsedAt": None,
            "revokedAt": None,
        },
    }
    assert secret not in str(token.__dict__)

    # And the secret signs the client in; the listing shows tokens without secrets
    assert gql(ME, token=secret).json()["data"]["me"]["email"] == "cleo@example.com"
    assert gql(TOKENS, token=secret).json() == {
        "data": {
            "apiTokens": {
                "totalCount": 2,
                "edges": [
                    {"node": {"name": "laptop", "revokedAt": None}},
                    {"node": {"name": "test", "revokedAt": None}},
                ],
            }
        }
    }


def test_token_create_needs_a_name(gql: GraphQL, client_token: str) -> None:
    tokens = ApiToken.objects.count()

    response = gql(TOKEN_CREATE, {"name": "   "}, token=client_token)

    assert response.json() == {
        "data": {"apiTokenCreate": {"messages": [{"code": "INVALID_INPUT", "field": "name"}]}}
    }
    assert ApiToken.objects.count() == tokens


def test_revoked_token_no_longer_authenticates(gql: GraphQL, client_profile: object) -> None:
    # Given a client with two tokens
    user = User.objects.get(email="cleo@example.com")
    keep, lose = token_of(user), token_of(user)
    lose_id = gid("ApiToken", ApiToken.objects.get(prefix=lose[:10]).pk)

    # When it revokes one (twice: revoking is idempotent)
    first = gql(TOKEN_REVOKE, {"id": lose_id}, token=keep)
    again = gql(TOKEN_REVOKE, {"id": lose_id}, token=keep)

    # Then it is revoked, once, at the time of the first call
    assert first.json() == {"data": {"apiTokenRevoke": {"name": "test", "revokedAt": iso(NOW)}}}
    assert again.json() == first.json()
    # And it is refused from now on, while the other still works
    revoked = gql(ME, token=lose)
    assert revoked.status_code == 401
    assert errors(revoked) == [{"path": None, "code": "UNAUTHENTICATED"}]
    assert gql(ME, token=keep).json()["data"]["me"]["email"] == "cleo@example.com"


def test_a_token_can_revoke_itself(gql: GraphQL, client_token: str) -> None:
    token_id = gid("ApiToken", ApiToken.objects.get(prefix=client_token[:10]).pk)

    assert gql(TOKEN_REVOKE, {"id": token_id}, token=client_token).status_code == 200

    assert gql(ME, token=client_token).status_code == 401


@pytest.mark.parametrize(
    "token_id",
    ["theirs", "unknown", "wrong type", "malformed"],
)
def test_revoking_someone_elses_or_no_token_is_not_found(
    gql: GraphQL, client_token: str, stranger_token: str, token_id: str
) -> None:
    theirs = ApiToken.objects.get(prefix=stranger_token[:10])
    ids = {
        "theirs": gid("ApiToken", theirs.pk),
        "unknown": gid("ApiToken", 987654321),
        "wrong type": gid("User", theirs.user_id),
        "malformed": "not an id",
    }

    response = gql(TOKEN_REVOKE, {"id": ids[token_id]}, token=client_token)

    assert response.json() == {
        "data": {"apiTokenRevoke": {"messages": [{"code": "NOT_FOUND", "field": None}]}}
    }
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert gql(ME, token=stranger_token).status_code == 200


def test_anonymous_me_is_null(gql: GraphQL) -> None:
    assert gql(ME).json() == {"data": {"me": None}}


def test_anonymous_calls_are_unauthenticated(gql: GraphQL, client_profile: object) -> None:
    # Mutations answer with OperationInfo...
    assert gql(TOKEN_CREATE, {"name": "x"}).json() == {
        "data": {"apiTokenCreate": {"messages": [{"code": "UNAUTHENTICATED", "field": None}]}}
    }
    token_id = gid("ApiToken", 1)
    assert gql(TOKEN_REVOKE, {"id": token_id}).json() == {
        "data": {"apiTokenRevoke": {"messages": [{"code": "UNAUTHENTICATED", "field": None}]}}
    }
    # ...and queries with an error
    tokens = gql(TOKENS)
    assert tokens.json()["data"] is None
    assert errors(tokens) == [{"path": ["apiTokens"], "code": "UNAUTHENTICATED"}]
