from datetime import datetime

import strawberry_django
from strawberry import relay
from strawberry.scalars import JSON

from api.accounts.types import UserType
from api.enums import described_enum
from api.pagination import Order
from reservation import models

ActorKind = described_enum(
    models.AuditEntry.ActorKind,
    name="ActorKind",
    description="USER (signed in with a session), TOKEN (a personal API token or an e-mailed "
    "event link) or SYSTEM (a job or an automatic step).",
    values={
        "USER": "A person signed in with a session.",
        "TOKEN": "A personal API token or an e-mailed event link.",
        "SYSTEM": "A background job or an automatic step.",
    },
)


class AuditOrderBy(Order):
    AT_ASC = ("at", "id")
    AT_DESC = ("-at", "-id")


AuditOrder = described_enum(
    AuditOrderBy,
    name="AuditOrder",
    description="The order of a history (audit entries).",
    values={"AT_ASC": "Oldest first.", "AT_DESC": "Newest first."},
)


@strawberry_django.type(
    models.AuditEntry, name="AuditEntry", description="One recorded change or access."
)
class AuditEntryType(relay.Node):
    at: datetime = strawberry_django.field(description="When (UTC).")
    actor_kind: ActorKind = strawberry_django.field(description="How the actor acted.")
    actor_user: UserType | None = strawberry_django.field(
        description="Who acted (null for the system or a deleted user)."
    )
    action: str = strawberry_django.field(description="What happened, e.g. reservation.confirm.")
    changes: JSON = strawberry_django.field(description="The values changed or shown.")
