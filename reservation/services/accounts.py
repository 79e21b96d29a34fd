"""Accounts, profiles and personal API tokens."""

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from reservation.actors import Actor, utcnow
from reservation.errors import AccessDenied, DomainError, ErrorCode, NotFound
from reservation.models import ApiToken, Client, Provider, TokenScope, User
from reservation.querycache import CompiledQuery
from reservation.services.audit import audit_record
from reservation.timezones import is_time_zone
from reservation.validation import require_one_line

TOKEN_PREFIX = "rdv_"


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed address, or INVALID_INPUT."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Enter a valid e-mail address.", field="email"
        ) from exc
    return email


def _check_time_zone(time_zone: str) -> None:
    if not is_time_zone(time_zone):
        raise DomainError(
            ErrorCode.INVALID_TIME_ZONE,
            f"{time_zone!r} is not an IANA time zone (e.g. Europe/Berlin).",
            field="timeZone",
        )


def account_register(
    *,
    email: str,
    password: str,
    name: str = "",
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> User:
    """Create an active user with a client profile; EMAIL_TAKEN if the address is in use."""
    now = now or utcnow()
    email = normalize_email(email)
    _check_time_zone(time_zone)
    name = require_one_line(name, field="name", max_length=200)
    candidate = User(email=email, name=name)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as exc:
        raise DomainError(
            ErrorCode.WEAK_PASSWORD, " ".join(exc.messages), field="password"
        ) from exc
    try:
        with transaction.atomic(durable=True):
            user = User.objects.create_user(email, password, name=name, time_zone=time_zone)
            Client.objects.create(user=user)
            audit_record(
                actor=Actor(user=user),
                action="account.register",
                subject=user,
                changes={"email": email},
                at=now,
            )
    except IntegrityError as exc:
        invited = User.objects.filter(email=email, is_active=False, password__startswith="!")  # noqa: S106 - unusable-password marker
        message = (
            "This address was invited to an event: open the link in the invitation e-mail and "
            "activate the account with it (accountActivate)."
            if invited.exists()
            else "An account with this e-mail already exists."
        )
        raise DomainError(ErrorCode.EMAIL_TAKEN, message, field="email") from exc
    return user


def account_activate(
    *,
    actor: Actor,
    password: str,
    name: str = "",
    time_zone: str = "UTC",
    now: datetime | None = None,
) -> User:
    """Turn an invited-only address into a client account, through one of its event links:
    holding the link proves the address is theirs (the invitation went to it)."""
    now = now or utcnow()
    link = actor.access_token
    if link is None:
        raise AccessDenied("Open the link from your invitation e-mail to activate an account.")
    _check_time_zone(time_zone)
    name = require_one_line(name, field="name", max_length=200)
    with transaction.atomic(durable=True):
        user = User.objects.select_for_update().get(pk=link.user_id)
        if user.is_active or user.has_usable_password():
            raise AccessDenied("This account is already active: sign in instead.")
        user.name = name
        try:
            password_validation.validate_password(password, user=user)
        except ValidationError as exc:
            raise DomainError(
                ErrorCode.WEAK_PASSWORD, " ".join(exc.messages), field="password"
            ) from exc
        user.set_password(password)
        user.time_zone = time_zone
        user.is_active = True
        user.save(update_fields=["name", "password", "time_zone", "is_active"])
        Client.objects.get_or_create(user=user)
        audit_record(
            actor=actor,
            action="account.activate",
            subject=user,
            at=now,
            changes={"email": user.email, "time_zone": time_zone},
        )
    return user


def provider_create(
    *,
    email: str,
    name: str = "",
    time_zone: str = "UTC",
    password: str | None = None,
    actor: Actor,
    now: datetime | None = None,
) -> Provider:
    """Make `email` a provider (creating the user if needed; an existing user takes the given
    zone and non-empty name). Staff or the system only."""
    now = now or utcnow()
    if not actor.system:
        actor.require_user()  # nobody signed in: UNAUTHENTICATED, like every other service
        if not actor.is_staff:
            raise AccessDenied("Only staff can create providers.")
    email = normalize_email(email)
    _check_time_zone(time_zone)
    name = require_one_line(name, field="name", max_length=200)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, password, name=name, time_zone=time_zone)
        else:
            changed: dict[str, list[str]] = {}
            if user.time_zone != time_zone:
                changed["time_zone"] = [user.time_zone, time_zone]
                user.time_zone = time_zone
            if name and user.name != name:
                changed["name"] = [user.name, name]
                user.name = name
            if changed:
                user.save(update_fields=["time_zone", "name"])
                # Every state change is audited, an existing account's too.
                audit_record(
                    actor=actor,
                    action="user.update",
                    subject=user,
                    changes=dict(sorted(changed.items())),
                    at=now,
                )
        provider, created = Provider.objects.get_or_create(
            user=user, defaults={"display_name": name}
        )
        if created:
            audit_record(
                actor=actor,
                action="provider.create",
                subject=provider,
                changes={"email": email, "time_zone": time_zone},
                at=now,
            )
    return provider


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_create(
    *, actor: Actor, name: str, scope: str = TokenScope.FULL, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a personal token for the acting user; returns (token, secret). The secret is not
    stored and cannot be shown again. A READ_ONLY token runs queries only."""
    now = now or utcnow()
    user = actor.require_user()
    return _token_issue(
        actor=actor, user=user, name=name, scope=scope, action="api_token.create", now=now
    )


def api_token_obtain(
    *,
    email: str,
    password: str,
    name: str,
    scope: str = TokenScope.FULL,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Trade an e-mail address and password for a new personal token (an app without a
    browser); INVALID_CREDENTIALS for a wrong pair or an inactive account. Returns (token,
    secret)."""
    now = now or utcnow()
    name = _token_name(name)
    _token_scope(scope)
    user = authenticate(None, username=email.strip().lower(), password=password)
    if user is None:
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, "Wrong e-mail or password.")
    return _token_issue(
        actor=Actor(user=user),
        user=user,
        name=name,
        scope=scope,
        action="api_token.obtain",
        now=now,
    )


def _token_name(name: str) -> str:
    name = require_one_line(name, field="name", max_length=100)
    if not name:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "Give the token a name of 1–100 characters.", field="name"
        )
    return name


def _token_scope(scope: str) -> None:
    if scope not in TokenScope.values:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"A token's scope is one of {', '.join(TokenScope.values)}.",
            field="scope",
        )


def _token_issue(
    *, actor: Actor, user: User, name: str, scope: str, action: str, now: datetime
) -> tuple[ApiToken, str]:
    name = _token_name(name)
    _token_scope(scope)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:10], digest=_digest(secret), scope=scope
        )
        audit_record(
            actor=actor,
            action=action,
            subject=token,
            changes={"name": name, "prefix": token.prefix, "scope": str(scope)},
            at=now,
        )
    return token, secret


def api_token_revoke(*, actor: Actor, token_id: int, now: datetime | None = None) -> ApiToken:
    """Revoke one of the acting user's tokens (idempotent)."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            raise NotFound("No such API token.")
        if token.revoked_at is None:
            token.revoked_at = now
            token.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action="api_token.revoke",
                subject=token,
                changes={"revoked_at": now},
                at=now,
            )
    return token


# Every request with a token starts here: compiled once (reservation.querycache).
_LIVE_TOKEN = CompiledQuery(
    lambda digest: ApiToken.objects.select_related("user", "user__provider", "user__client").filter(
        digest=digest, revoked_at__isnull=True, user__is_active=True
    )[:1],
    digest=str,
)


def api_token_authenticate(*, secret: str, now: datetime | None = None) -> ApiToken | None:
    """The live token for this secret (its user active), or None. Records last use."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    token = _LIVE_TOKEN.first(digest=_digest(secret))
    if token is None:
        return None
    # Touch at most once a minute: a token used in a loop must not write on every request.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
