import strawberry
import strawberry_django
from django.contrib import auth
from strawberry import relay

from api.context import Info, actor_of
from api.ids import decode_id
from reservation.errors import AccessDenied, DomainError, ErrorCode
from reservation.services import accounts

from .types import ApiTokenCreated, ApiTokenType, LogoutResult, UserType


@strawberry.type
class AccountMutation:
    @strawberry_django.mutation(description="Create a client account (and sign in).")
    def account_register(
        self, info: Info, email: str, password: str, name: str = "", time_zone: str = "UTC"
    ) -> UserType:
        user = accounts.account_register(
            email=email, password=password, name=name, time_zone=time_zone
        )
        request = info.context.request
        if not getattr(request, "bearer_secret", None):
            auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return user  # type: ignore[return-value]

    @strawberry_django.mutation(
        description="Sign in with a session cookie (for GraphiQL and "
        "browsers; CSRF applies). API clients use tokens instead."
    )
    def login(self, info: Info, email: str, password: str) -> UserType:
        request = info.context.request
        if getattr(request, "bearer_secret", None):
            raise AccessDenied("Requests with a Bearer token cannot open a session.")
        user = auth.authenticate(request, username=email.strip().lower(), password=password)
        if user is None:
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Wrong e-mail or password.")
        auth.login(request, user)
        return user  # type: ignore[return-value]

    @strawberry_django.mutation(description="End the session.")
    def logout(self, info: Info) -> LogoutResult:
        auth.logout(info.context.request)
        return LogoutResult(ok=True)

    @strawberry_django.mutation(
        description="Create a personal API token; its secret is returned once."
    )
    def api_token_create(self, info: Info, name: str) -> ApiTokenCreated:
        token, secret = accounts.api_token_create(actor=actor_of(info), name=name)
        return ApiTokenCreated(token=token, secret=secret)  # type: ignore[arg-type]

    @strawberry_django.mutation(description="Revoke one of your API tokens (idempotent).")
    def api_token_revoke(self, info: Info, id: relay.GlobalID) -> ApiTokenType:
        token = accounts.api_token_revoke(actor=actor_of(info), token_id=decode_id(id, "ApiToken"))
        return token  # type: ignore[return-value]
