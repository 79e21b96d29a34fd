import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.pagination import keyset_connection
from reservation.selectors.accounts import api_tokens_of

from .types import ApiTokenType, UserType


@strawberry.type
class AccountQuery:
    @strawberry_django.field(description="The signed-in user, or null.")
    def me(self, info: Info) -> UserType | None:
        actor = actor_of(info)
        return actor.user if actor.is_authenticated else None  # type: ignore[return-value]

    @keyset_connection(ApiTokenType, description="Your API tokens, newest first.")
    def api_tokens(self, info: Info) -> list[ApiTokenType]:
        user = actor_of(info).require_user()
        return api_tokens_of(user=user)  # type: ignore[return-value]
