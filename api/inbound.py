"""POST /inbound/mail: the raw RFC 822 message of an inbound mail, as providers' inbound
webhooks deliver it (the body itself with any content type, e.g. message/rfc822, or a form
field `email` / `body-mime` as SendGrid and Mailgun send it), authenticated by the shared
secret INBOUND_MAIL_SECRET in `Authorization: Bearer <secret>`. iMIP REPLYs in it are applied
(reservation.services.imip); the answer lists what became of each.

200 with the outcomes (a mail with nothing to apply is not an error: the provider must not
retry it), 401 without the right secret, 404 while no secret is configured, 413 for more
than a mail's worth of bytes.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from reservation.services.imip import MAX_MESSAGE_BYTES, imip_message_apply


def _authorized(request: HttpRequest) -> bool:
    secret = settings.INBOUND_MAIL_SECRET
    given = request.headers.get("Authorization", "")
    return given.startswith("Bearer ") and hmac.compare_digest(
        given.removeprefix("Bearer ").encode(), secret.encode()
    )


def _raw(request: HttpRequest) -> bytes:
    content_type = request.content_type or ""
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for field in ("email", "body-mime"):
            if field in request.POST:
                return request.POST[field].encode()
            if field in request.FILES:
                return request.FILES[field].read(MAX_MESSAGE_BYTES + 1)
        return b""
    return request.body


@csrf_exempt  # a server-to-server call authenticated by its secret, never by a cookie
@require_POST
def inbound_mail(request: HttpRequest) -> HttpResponse:
    """Apply the iMIP REPLYs of one inbound mail."""
    if not settings.INBOUND_MAIL_SECRET:
        return JsonResponse({"error": "NOT_FOUND"}, status=404)
    if not _authorized(request):
        return JsonResponse({"error": "UNAUTHENTICATED"}, status=401)
    if int(request.headers.get("Content-Length") or 0) > 2 * MAX_MESSAGE_BYTES:
        return JsonResponse({"error": "TOO_LARGE"}, status=413)
    raw = _raw(request)
    try:
        outcomes = imip_message_apply(raw=raw, via="imip-http")
    except ValueError:
        return JsonResponse({"error": "TOO_LARGE"}, status=413)
    return JsonResponse(
        {
            "replies": [
                {
                    "uid": o.uid,
                    "attendee": o.attendee,
                    "outcome": o.outcome,
                    "decision": o.decision,
                }
                for o in outcomes
            ]
        }
    )
