"""The app's URLs plus two plain Django JSON views over the same domain calls as GraphQL, to
measure what the GraphQL layer costs (mounted only by the benchmarks, never in the app):

- /bench/slots: `provider_slots_for`, the selector behind `availableSlots`;
- /bench/create (POST, Bearer token): `reservation_create`, the service behind
  `reservationCreate`, with the same rate limit. It goes through the same middleware (token
  lookup included), so GraphQL create against it is the GraphQL layer alone; /healthz is
  the floor (middleware and gunicorn, no database).
"""

import json
from datetime import datetime

from django.http import HttpRequest, JsonResponse
from django.urls import path
from strawberry import relay

from api.ids import decode_id
from api.ratelimit import _keys, hit
from api.urls import urlpatterns as app_urlpatterns
from reservation.actors import utcnow
from reservation.errors import DomainError
from reservation.selectors.coaching import provider_slots_for
from reservation.services.reservations import reservation_create


def bare_slots(request: HttpRequest) -> JsonResponse:
    found = provider_slots_for(
        user=None,
        provider_id=int(request.GET["provider"]),
        start=datetime.fromisoformat(request.GET["start"]),
        end=datetime.fromisoformat(request.GET["end"]),
        now=utcnow(),
    )
    return JsonResponse(
        {
            "data": {
                "availableSlots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in found]
            }
        }
    )


def bare_create(request: HttpRequest) -> JsonResponse:
    if hit("reservation_create", _keys(request, ["actor"], {})) is not None:
        return JsonResponse({"error": "RATE_LIMITED"}, status=429)
    body = json.loads(request.body)
    try:
        reservation = reservation_create(
            actor=request.actor,  # type: ignore[attr-defined]
            provider_id=decode_id(body["providerId"], "Provider"),
            start=datetime.fromisoformat(body["start"]),
            idempotency_key=body.get("idempotencyKey", ""),
        )
    except DomainError as exc:
        return JsonResponse({"error": exc.error_code.value}, status=400)
    return JsonResponse(
        {
            "id": str(relay.GlobalID("Reservation", str(reservation.pk))),
            "status": reservation.status,
            "start": reservation.start.isoformat(),
            "end": reservation.end.isoformat(),
            "expiresAt": reservation.expires_at.isoformat(),
        }
    )


urlpatterns = [
    path("bench/slots", bare_slots),
    path("bench/create", bare_create),
    *app_urlpatterns,
]
