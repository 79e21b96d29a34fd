"""Reads for seed 002's client pages: providers by public slug, who coaches whom, whether a
client may book a provider, a week of slots, and how far back a client sees their past."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    BooleanField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from reservation import slots
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    BookingPolicy,
    Client,
    CoachAssignment,
    Provider,
    ProviderSlug,
    Reservation,
    User,
)
from reservation.selectors.booking import (
    MAX_SLOT_RANGE,
    MAX_SLOTS_PER_CALL,
    active_provider,
    slot_query,
)
from reservation.slots import Interval
from reservation.timezones import zone
from reservation.validation import require_range


@dataclass(frozen=True, slots=True)
class SlugLookup:
    """The provider a slug names, and the slug to redirect to when it is an old one."""

    provider: Provider
    current_slug: str
    is_current: bool


def provider_by_slug(*, slug: str) -> SlugLookup:
    """The active provider a public slug names (current or old), with their user; NOT_FOUND
    otherwise. One query for a current slug, two for an old one."""
    found = (
        ProviderSlug.objects.select_related("provider__user")
        .filter(slug=slug.lower(), provider__is_active=True)
        .first()
    )
    if found is None:
        raise NotFound("No such coach.")
    if found.is_current:
        return SlugLookup(provider=found.provider, current_slug=found.slug, is_current=True)
    current = current_slug(provider_id=found.provider_id)
    return SlugLookup(provider=found.provider, current_slug=current, is_current=False)


def current_slug(*, provider_id: int) -> str:
    """The provider's current slug (every provider has one: a trigger makes it)."""
    return (
        ProviderSlug.objects.filter(provider_id=provider_id, is_current=True)
        .values_list("slug", flat=True)
        .get()
    )


def _current_slug_subquery() -> Subquery:
    return Subquery(
        ProviderSlug.objects.filter(provider=OuterRef("pk"), is_current=True).values("slug")[:1]
    )


def _restricted_annotation() -> Coalesce:
    """Whether a provider's policy in force restricts booking to assigned clients."""
    own = BookingPolicy.objects.filter(provider=OuterRef("pk")).values(
        "restrict_to_assigned_clients"
    )[:1]
    default = BookingPolicy.objects.filter(provider__isnull=True).values(
        "restrict_to_assigned_clients"
    )[:1]
    return Coalesce(Subquery(own), Subquery(default), Value(False), output_field=BooleanField())


def providers_bookable_by(*, user: User | None) -> QuerySet[Provider]:
    """Active providers the person may see for booking, in a stable order: all that are not
    restricted to their own clients, plus, for a client, the restricted ones coaching them
    (staff: all; a provider: also themselves). Each has `slug` and `is_coach` (coaches this
    person) annotated. One query."""
    qs = Provider.objects.filter(is_active=True).select_related("user")
    assigned = CoachAssignment.objects.filter(
        provider=OuterRef("pk"), client__user_id=user.pk if user is not None else None
    )
    qs = qs.annotate(
        slug=_current_slug_subquery(),
        restricted=_restricted_annotation(),
        is_coach=Exists(assigned) if user is not None else Value(False),
    )
    if user is None or not user.is_staff:
        qs = qs.filter(
            Q(restricted=False) | Q(is_coach=True) | Q(user_id=user.pk if user else None)
        )
    return qs.order_by("id")


def coaches_of(*, user: User) -> QuerySet[Provider]:
    """The active providers coaching this person (as a client), with `slug` annotated."""
    return (
        Provider.objects.filter(is_active=True, assignments__client__user=user)
        .annotate(slug=_current_slug_subquery())
        .order_by("display_name", "id")
    )


def clients_of(*, provider: Provider) -> QuerySet[Client]:
    """The clients a provider coaches, by e-mail address."""
    return (
        Client.objects.filter(assignments__provider=provider)
        .select_related("user")
        .order_by("user__email")
    )


def booking_allowed(*, policy: BookingPolicy, provider_id: int, client_id: int) -> bool:
    """May this client book this provider under the policy in force? No query unless the
    policy restricts booking to assigned clients."""
    if not policy.restrict_to_assigned_clients:
        return True
    return CoachAssignment.objects.filter(provider_id=provider_id, client_id=client_id).exists()


def require_booking_allowed(*, policy: BookingPolicy, provider_id: int, client_id: int) -> None:
    """CLIENT_NOT_ASSIGNED when the provider takes bookings from assigned clients only and
    this client is not one of them. Part of the one validation path: listing and booking
    both call it."""
    if not booking_allowed(policy=policy, provider_id=provider_id, client_id=client_id):
        raise DomainError(
            ErrorCode.CLIENT_NOT_ASSIGNED,
            "This coach takes bookings only from their own clients.",
        )


def require_may_list_slots(*, user: User | None, provider: Provider, policy: BookingPolicy) -> None:
    """Slots of a restricted provider are shown to the provider, staff and assigned clients
    only (CLIENT_NOT_ASSIGNED for everyone else, signed in or not). One query, and only when
    the policy restricts."""
    if not policy.restrict_to_assigned_clients:
        return
    if user is not None and (user.is_staff or user.pk == provider.user_id):
        return
    if (
        user is None
        or not CoachAssignment.objects.filter(
            provider_id=provider.pk, client__user_id=user.pk
        ).exists()
    ):
        raise DomainError(
            ErrorCode.CLIENT_NOT_ASSIGNED, "This coach takes bookings only from their own clients."
        )


# --- the week view --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Week:
    """Monday 00:00 to the next Monday 00:00 in `tz_name`, as UTC instants, and its days."""

    monday: date
    start: datetime
    end: datetime
    tz_name: str


def week_of(*, day: date, tz_name: str) -> Week:
    """The Monday-to-Sunday week holding `day`, in the reader's zone (DST-safe: each bound is
    a local midnight)."""
    tz = zone(tz_name)
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    return Week(monday=monday, start=start, end=end, tz_name=tz_name)


@dataclass(frozen=True, slots=True)
class WeekSlots:
    week: Week
    slots: list[Interval]
    policy: BookingPolicy
    has_previous: bool
    has_next: bool


def week_slots(*, provider: Provider, user: User | None, week: Week, now: datetime) -> WeekSlots:
    """The provider's bookable slots in one week for someone allowed to see them, computed
    exactly as `available_slots` does (slot_query + slots.compute_slots: the single
    validation path that reservation_create checks against). Seven queries whatever the
    history: policy, restriction (only when on), windows, weekly hours, time off, busy."""
    query = slot_query(provider=provider, start=week.start, end=week.end, now=now)
    require_may_list_slots(user=user, provider=provider, policy=query.policy)
    horizon_end = now + query.policy.horizon + query.policy.slot_length
    found = slots.compute_slots(
        availability=query.availability,
        busy=query.busy,
        rules=query.rules,
        now=now,
        start=week.start,
        end=week.end,
    )
    return WeekSlots(
        week=week,
        slots=found,
        policy=query.policy,
        has_previous=week.start > now,
        has_next=week.end < horizon_end,
    )


# --- a client's past ------------------------------------------------------------------------


def client_history_filter(*, user: User, now: datetime) -> Q:
    """Reservations this person may list: every one where they are not the client, and as
    the client only those ending after now minus the provider's `past_weeks_visible`."""
    own = BookingPolicy.objects.filter(provider=OuterRef("provider_id")).values(
        "past_weeks_visible"
    )[:1]
    default = BookingPolicy.objects.filter(provider__isnull=True).values("past_weeks_visible")[:1]
    weeks = Coalesce(Subquery(own), Subquery(default), Value(8))
    back = ExpressionWrapper(
        Value(now) - weeks * Value(timedelta(weeks=1)), output_field=DateTimeField()
    )
    visible = (
        Reservation.objects.filter(client__user=user)
        .annotate(cutoff=back)
        .filter(end__gt=F("cutoff"))
        .values("pk")
    )
    return ~Q(client__user=user) | Q(pk__in=visible)


# --- a client's appointments ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appointments:
    upcoming: list[Reservation]
    past: list[Reservation]


def client_appointments(*, user: User, now: datetime) -> Appointments:
    """A client's own appointments: upcoming (held or confirmed, not over) soonest first,
    then the rest (over, cancelled, expired) newest first, back to each provider's
    `past_weeks_visible`. Two queries."""
    rows = list(
        Reservation.objects.filter(client__user=user)
        .filter(client_history_filter(user=user, now=now))
        .select_related("provider__user", "series_member__series")
        .annotate(provider_slug=_provider_slug_of_reservation())
        .order_by("start", "id")
    )
    live = {"HELD", "CONFIRMED"}
    upcoming = [
        r
        for r in rows
        if r.end > now
        and (r.status == "CONFIRMED" or (r.status == "HELD" and r.expires_at > now))
        and r.status in live
    ]
    chosen = {r.pk for r in upcoming}
    past = sorted((r for r in rows if r.pk not in chosen), key=lambda r: (r.start, r.pk))
    past.reverse()
    return Appointments(upcoming=upcoming, past=past)


def _provider_slug_of_reservation() -> Subquery:
    return Subquery(
        ProviderSlug.objects.filter(provider=OuterRef("provider_id"), is_current=True).values(
            "slug"
        )[:1]
    )


def client_reservation(*, user: User, reservation_id: int) -> Reservation:
    """One of the person's own reservations as a client, with parties and series loaded, or
    NOT_FOUND (also for anyone else's)."""
    found = (
        Reservation.objects.filter(pk=reservation_id, client__user=user)
        .select_related("provider__user", "client__user", "series_member__series")
        .annotate(provider_slug=_provider_slug_of_reservation())
        .first()
    )
    if found is None:
        raise NotFound("No such appointment.")
    return found


def provider_slots_for(
    *,
    user: User | None,
    provider_id: int,
    start: datetime,
    end: datetime,
    limit: int = MAX_SLOTS_PER_CALL,
    now: datetime,
) -> list[Interval]:
    """`provider_slots` for someone who may see them: the same checks (1–1000 slots, at most
    62 days) and the same computation (slot_query + compute_slots), plus the coach-only
    restriction read from the policy that computation loads anyway (no extra query unless the
    policy restricts)."""
    if not 1 <= limit <= MAX_SLOTS_PER_CALL:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be 1–{MAX_SLOTS_PER_CALL}.", field="first"
        )
    start, end = require_range(start, end, max_length=MAX_SLOT_RANGE)
    provider = active_provider(provider_id=provider_id)
    query = slot_query(provider=provider, start=start, end=end, now=now)
    require_may_list_slots(user=user, provider=provider, policy=query.policy)
    found = slots.compute_slots(
        availability=query.availability,
        busy=query.busy,
        rules=query.rules,
        now=now,
        start=start,
        end=end,
    )
    return found[:limit]
