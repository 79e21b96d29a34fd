"""Content-Security-Policy on every HTML page (GraphiQL, the event pages, the admin, error
pages): scripts only from this origin (no inline script, no CDN), so an injected
`<script>` cannot run. Styles from this origin and inline (the pages carry a `<style>`
block; GraphiQL sets styles from script). The policy is CONTENT_SECURITY_POLICY; a response
that sets its own keeps it."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        content_type = response.get("Content-Type", "")
        if policy and content_type.startswith("text/html") and HEADER not in response:
            response[HEADER] = policy
        return response
