"""Read-your-writes across a request: see reservation.dbrouting."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from reservation import dbrouting


class ReadYourWritesMiddleware:
    """Each request starts with no write behind it (so its reads may use a replica) and
    leaves none behind for the next request served by this thread. Placed near the top of
    MIDDLEWARE so that writes made by the middleware below it (sessions) count too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with dbrouting.request_scope():
            return self.get_response(request)
