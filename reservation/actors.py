"""Who is acting: resolved once per request by the API, passed to every service."""

from dataclasses import dataclass
from datetime import UTC, datetime

from reservation.errors import AccessDenied, ErrorCode
from reservation.models import ApiToken, Client, EventAccessToken, Provider, User


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user (by session or API token), someone holding an event link's access
    token, the system itself, or nobody."""

    user: User | None = None
    api_token: ApiToken | None = None
    access_token: EventAccessToken | None = None
    system: bool = False

    @property
    def is_authenticated(self) -> bool:
        """Signed in as an active user. A link's holder is not: the link grants one event."""
        return self.user is not None and self.user.is_active and self.access_token is None

    @property
    def is_staff(self) -> bool:
        return self.is_authenticated and self.user.is_staff  # type: ignore[union-attr]

    def require_user(self) -> User:
        """The acting signed-in user; UNAUTHENTICATED for nobody, PERMISSION_DENIED for a
        link's access token (it grants its own event only)."""
        if self.access_token is not None:
            raise AccessDenied("This link only grants access to its own event.")
        if not self.is_authenticated:
            raise AccessDenied("Sign in first.", code=ErrorCode.UNAUTHENTICATED)
        assert self.user is not None
        return self.user

    def require_provider(self) -> Provider:
        """The acting user's active provider profile, or PERMISSION_DENIED."""
        user = self.require_user()
        provider = getattr(user, "provider", None)
        if provider is None or not provider.is_active:
            raise AccessDenied("Only providers can do this.")
        return provider

    def require_client(self) -> Client:
        """The acting user's client profile, or PERMISSION_DENIED."""
        user = self.require_user()
        client = getattr(user, "client", None)
        if client is None:
            raise AccessDenied("Only clients can do this.")
        return client


SYSTEM = Actor(system=True)
ANONYMOUS = Actor()


def utcnow() -> datetime:
    """The real clock; services take `now=` so tests can inject another."""
    return datetime.now(UTC)
