from typing import Annotated

import strawberry

from api.context import Info, actor_of
from api.ids import split_id
from api.pagination import keyset_connection
from reservation.errors import NotFound
from reservation.selectors.reservations import audit_entries_for

from .types import AuditEntryType, AuditOrder

# GraphQL type name -> audit subject type (the model name)
AUDITED = {
    "Reservation": "reservation",
    "Provider": "provider",
    "User": "user",
    "ApiToken": "apitoken",
}


@strawberry.type
class AuditQuery:
    @keyset_connection(
        AuditEntryType,
        description="The history of a reservation, provider (availability), user (working "
        "hours, time off) or API token, oldest first unless orderBy says otherwise; only for "
        "the people involved.",
    )
    def audit_log(
        self,
        info: Info,
        subject_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="A Reservation, Provider, User or ApiToken ID."),
        ],
        order_by: Annotated[
            AuditOrder,  # type: ignore[valid-type]
            strawberry.argument(description="The order (the ID breaks ties)."),
        ] = AuditOrder.AT_ASC,  # type: ignore[attr-defined]
    ) -> list[AuditEntryType]:
        user = actor_of(info).require_user()
        type_name, pk = split_id(subject_id, what="audited object")
        subject_type = AUDITED.get(type_name)
        if subject_type is None:
            raise NotFound("No such audited object.")
        found = audit_entries_for(user=user, subject_type=subject_type, subject_id=pk)
        return order_by.apply(found)  # type: ignore[return-value]
