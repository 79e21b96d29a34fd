"""The GraphQL context: the request, and who is asking."""

from dataclasses import dataclass

from strawberry.django.context import StrawberryDjangoContext
from strawberry.types import Info as StrawberryInfo

from reservation.actors import ANONYMOUS, Actor


@dataclass
class Context(StrawberryDjangoContext):
    actor: Actor = ANONYMOUS


Info = StrawberryInfo[Context, None]


def actor_of(info: Info) -> Actor:
    return info.context.actor
