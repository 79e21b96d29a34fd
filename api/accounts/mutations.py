from typing import Annotated

import strawberry
import strawberry_django
from django.contrib import auth

from api.context import Info, actor_of
from api.ids import decode_id
from api.payloads import payload
from api.ratelimit import rate_limited
from reservation.errors import AccessDenied, DomainError, ErrorCode
from reservation.services import accounts

from .types import ApiTokenCreated, ApiTokenType, LogoutResult, TokenScope, UserType


@strawberry.type
class AccountMutation:
    @strawberry_django.mutation(description="Create a client account (and sign in).")
    @rate_limited("account_register", by=["ip"])
    def account_register(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="Sign-in e-mail address.")],
        password: Annotated[
            str,
            strawberry.argument(description="At least 8 characters; not common, not all digits."),
        ],
        name: Annotated[str, strawberry.argument(description="Display name.")] = "",
        time_zone: Annotated[
            str, strawberry.argument(description="IANA time zone, e.g. Europe/Berlin.")
        ] = "UTC",
    ) -> payload("AccountRegisterPayload", UserType, "The new user, or why not."):
        user = accounts.account_register(
            email=email, password=password, name=name, time_zone=time_zone
        )
        request = info.context.request
        if not getattr(request, "bearer_secret", None):
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return user

    @strawberry_django.mutation(
        description="Activate an invited address as a client account: send the request with "
        "the invitation link's token as `Authorization: Bearer`."
    )
    def account_activate(
        self,
        info: Info,
        password: Annotated[
            str,
            strawberry.argument(description="At least 8 characters; not common, not all digits."),
        ],
        name: Annotated[str, strawberry.argument(description="Display name.")] = "",
        time_zone: Annotated[
            str, strawberry.argument(description="IANA time zone, e.g. Europe/Berlin.")
        ] = "UTC",
    ) -> payload("AccountActivatePayload", UserType, "The activated user, or why not."):
        return accounts.account_activate(
            actor=actor_of(info), password=password, name=name, time_zone=time_zone
        )

    @strawberry_django.mutation(
        description="Sign in with a session cookie (for GraphiQL and "
        "browsers; CSRF applies). API clients use tokens instead."
    )
    @rate_limited("login", by=["ip", "email"])
    def login(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="Sign-in e-mail address.")],
        password: Annotated[str, strawberry.argument(description="The account's password.")],
    ) -> payload("LoginPayload", UserType, "The signed-in user, or why not."):
        request = info.context.request
        if getattr(request, "bearer_secret", None):
            raise AccessDenied("Requests with a Bearer token cannot open a session.")
        user = auth.authenticate(request, username=email.strip().lower(), password=password)
        if user is None:
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Wrong e-mail or password.")
        auth.login(request, user)
        return user

    @strawberry_django.mutation(description="End the session.")
    def logout(self, info: Info) -> payload("LogoutPayload", LogoutResult, "Signed out."):
        request = info.context.request
        if getattr(request, "bearer_secret", None):
            # A Bearer request ignores the session cookie, so it must not end that session.
            raise AccessDenied("Requests with a Bearer token have no session to end.")
        auth.logout(request)
        return LogoutResult(ok=True)

    @strawberry_django.mutation(
        description="Create a personal API token; its secret is returned once."
    )
    def api_token_create(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="What the token is for (1–100).")],
        scope: Annotated[
            TokenScope,  # type: ignore[valid-type]
            strawberry.argument(description="READ_ONLY (queries only) or FULL."),
        ] = TokenScope.FULL,  # type: ignore[attr-defined]
    ) -> payload("ApiTokenCreatePayload", ApiTokenCreated, "The token and its secret, or why not."):
        token, secret = accounts.api_token_create(
            actor=actor_of(info), name=name, scope=scope.value
        )
        return ApiTokenCreated(token=token, secret=secret)  # type: ignore[arg-type]

    @strawberry_django.mutation(
        description="Trade an e-mail address and password for a new API token in one call "
        "(apps without a browser; it opens no session). Rate-limited together "
        "with login: RATE_LIMITED after too many tries. The secret is returned once."
    )
    @rate_limited("login", by=["ip", "email"])
    def api_token_obtain(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="Sign-in e-mail address.")],
        password: Annotated[str, strawberry.argument(description="The account's password.")],
        name: Annotated[
            str, strawberry.argument(description="What the token is for (1–100), e.g. the app.")
        ],
        scope: Annotated[
            TokenScope,  # type: ignore[valid-type]
            strawberry.argument(description="READ_ONLY (queries only) or FULL."),
        ] = TokenScope.FULL,  # type: ignore[attr-defined]
    ) -> payload("ApiTokenObtainPayload", ApiTokenCreated, "The token and its secret, or why not."):
        token, secret = accounts.api_token_obtain(
            email=email, password=password, name=name, scope=scope.value
        )
        return ApiTokenCreated(token=token, secret=secret)  # type: ignore[arg-type]

    @strawberry_django.mutation(description="Revoke one of your API tokens (idempotent).")
    def api_token_revoke(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The token's ID.")],
    ) -> payload("ApiTokenRevokePayload", ApiTokenType, "The revoked token, or why not."):
        return accounts.api_token_revoke(actor=actor_of(info), token_id=decode_id(id, "ApiToken"))
