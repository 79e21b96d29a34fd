"""The app's URLs plus /bench/slots: a plain Django JSON view over the same selector as the
availableSlots query (provider_slots), to measure what the GraphQL layer costs."""

from datetime import datetime

from django.http import HttpRequest, JsonResponse
from django.urls import path

from api.urls import urlpatterns as app_urlpatterns
from reservation.selectors.booking import provider_slots


def bare_slots(request: HttpRequest) -> JsonResponse:
    found = provider_slots(
        provider_id=int(request.GET["provider"]),
        start=datetime.fromisoformat(request.GET["start"]),
        end=datetime.fromisoformat(request.GET["end"]),
    )
    return JsonResponse(
        {
            "data": {
                "availableSlots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in found]
            }
        }
    )


urlpatterns = [path("bench/slots", bare_slots), *app_urlpatterns]
