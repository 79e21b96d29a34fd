"""Your free/busy sharing setting: who may ask `freeTime` about you (see
reservation.selectors.sharing)."""

from typing import Annotated

import strawberry
import strawberry_django

from api.context import Info, actor_of
from api.enums import described_enum
from api.payloads import payload
from reservation.models import FreeBusySharing as FreeBusySharingChoices
from reservation.services import sharing as sharing_service

FreeBusySharing = described_enum(
    FreeBusySharingChoices,
    name="FreeBusySharing",
    description="Who may see when you are free or busy (freeTime) besides you: CONTACTS "
    "(people you share an event or a booking with; the default), EVERYONE (any signed-in "
    "user) or NOBODY.",
    values={
        "CONTACTS": "People you share a live event or a booking with (the default).",
        "EVERYONE": "Any signed-in user.",
        "NOBODY": "Nobody but you.",
    },
)


@strawberry.type(description="Your free/busy sharing setting.")
class FreeBusySharingResult:
    sharing: FreeBusySharing = strawberry.field(description="Who may see your free/busy time.")


@strawberry.type
class SharingQuery:
    @strawberry.field(description="Who may see your free/busy time (freeTime) besides you.")
    def free_busy_sharing(self, info: Info) -> FreeBusySharing:
        return FreeBusySharingChoices(actor_of(info).require_user().free_busy_sharing)


@strawberry.type
class SharingMutation:
    @strawberry_django.mutation(
        description="Choose who may see your free/busy time (freeTime); an address you hide "
        "from answers NOT_FOUND, exactly like one with no account."
    )
    def free_busy_sharing_set(
        self,
        info: Info,
        sharing: Annotated[
            FreeBusySharing, strawberry.argument(description="CONTACTS, EVERYONE or NOBODY.")
        ],
    ) -> payload(
        "FreeBusySharingSetPayload", FreeBusySharingResult, "The new setting, or why not."
    ):
        user = sharing_service.free_busy_sharing_set(
            actor=actor_of(info), sharing=FreeBusySharingChoices(sharing).value
        )
        return FreeBusySharingResult(sharing=FreeBusySharingChoices(user.free_busy_sharing))
