from datetime import datetime

import strawberry
import strawberry_django
from strawberry import relay

from api.enums import described_enum
from reservation import models

TokenScope = described_enum(
    models.TokenScope,
    name="TokenScope",
    description="What an API token may do: READ_ONLY or FULL.",
    values={
        "READ_ONLY": "Queries only: every mutation answers READ_ONLY_TOKEN.",
        "FULL": "Everything its user may do (tokens made before scopes existed are FULL).",
    },
)


@strawberry_django.type(models.User, name="User", description="A person using Rendezvous.")
class UserType(relay.Node):
    email: str = strawberry_django.field(description="Sign-in e-mail address (lower-case).")
    name: str = strawberry_django.field(description="Display name.")
    time_zone: str = strawberry_django.field(description="IANA time zone, e.g. Europe/Berlin.")

    @strawberry_django.field(
        description="Whether this user is a provider.",
        select_related=["provider"],
        only=["provider__id"],
    )
    def is_provider(self) -> bool:
        return hasattr(self, "provider")

    @strawberry_django.field(
        description="Whether this user is a client.", select_related=["client"], only=["client__id"]
    )
    def is_client(self) -> bool:
        return hasattr(self, "client")


@strawberry_django.type(
    models.ApiToken,
    name="ApiToken",
    description="A personal API token (its secret is never shown again).",
)
class ApiTokenType(relay.Node):
    name: str = strawberry_django.field(description="What the token is for.")
    prefix: str = strawberry_django.field(description="First characters of the secret.")
    created_at: datetime = strawberry_django.field(description="When it was created (UTC).")
    last_used_at: datetime | None = strawberry_django.field(
        description="When it was last used (UTC, minute precision)."
    )
    revoked_at: datetime | None = strawberry_django.field(
        description="When it was revoked (UTC); revoked tokens authenticate nothing."
    )
    scope: TokenScope = strawberry_django.field(  # type: ignore[valid-type]
        description="What it may do: READ_ONLY (queries only) or FULL."
    )


@strawberry.type(description="A new API token and its secret, shown this once.")
class ApiTokenCreated:
    token: ApiTokenType = strawberry.field(description="The stored token.")
    secret: str = strawberry.field(
        description="Send as `Authorization: Bearer <secret>`. Not retrievable later."
    )


@strawberry.type(description="The result of signing out.")
class LogoutResult:
    ok: bool = strawberry.field(description="Always true: the session is gone.")
