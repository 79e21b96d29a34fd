"""The object of a webhook delivery, as the API shows it to the webhook's owner: a fixed
GraphQL document per subject type, run through the schema as that owner, so a delivery
carries exactly the fields and permissions of the corresponding query."""

from typing import Any

from django.http import HttpRequest, HttpResponse

from api.context import Context
from reservation.actors import Actor
from reservation.models import User

RESERVATION = """
query WebhookReservation($id: ID!) {
  reservation(id: $id) {
    id status start end expiresAt confirmedAt cancelledAt cancelReason createdAt
    provider { id } client { id }
  }
}
"""

EVENT = """
query WebhookEvent($id: ID!) {
  event(id: $id) {
    id title description status version start end timeZone recurrence autoAgree
    cancelReason createdAt updatedAt
    organizer { id }
    participants { role rsvp user { id } }
    candidates { id start end }
  }
}
"""

DOCUMENTS = {
    "reservation": ("reservation", "Reservation", RESERVATION),
    "event": ("event", "Event", EVENT),
}


def render_as_owner(subject_type: str, subject_id: int, owner: User) -> dict[str, Any] | None:
    """`{<field>: <object>}` as `owner` would read it now, or None if they may not (any more)."""
    from strawberry import relay

    from api.schema import schema

    field, type_name, document = DOCUMENTS[subject_type]
    request = HttpRequest()
    request.user = owner
    context = Context(request=request, response=HttpResponse(), actor=Actor(user=owner))
    result = schema.execute_sync(
        document,
        variable_values={"id": str(relay.GlobalID(type_name, str(subject_id)))},
        context_value=context,
    )
    if result.errors or not result.data or result.data.get(field) is None:
        return None
    return {field: result.data[field]}
