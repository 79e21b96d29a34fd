import strawberry
import strawberry_django
from strawberry import relay
from strawberry_django.relay import DjangoListConnection

from api.context import Info, actor_of
from api.ids import decode_id
from reservation.errors import NotFound
from reservation.selectors.reservations import audit_entries_for

from .types import AuditEntryType

# GraphQL type name -> audit subject type (the model name)
AUDITED = {
    "Reservation": "reservation",
    "Provider": "provider",
    "User": "user",
    "ApiToken": "apitoken",
}


@strawberry.type
class AuditQuery:
    @strawberry_django.connection(
        DjangoListConnection[AuditEntryType],
        description="The history of a reservation, provider (availability), user (working "
        "hours, time off) or API token, oldest first; only for the people involved.",
    )
    def audit_log(self, info: Info, subject_id: relay.GlobalID) -> list[AuditEntryType]:
        user = actor_of(info).require_user()
        subject_type = AUDITED.get(subject_id.type_name)
        if subject_type is None:
            raise NotFound("Nothing audited has this ID.")
        return audit_entries_for(  # type: ignore[return-value]
            user=user,
            subject_type=subject_type,
            subject_id=decode_id(subject_id, subject_id.type_name),
        )
