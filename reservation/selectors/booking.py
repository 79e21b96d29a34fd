"""Reads for booking: the policy in force, a provider's availability and busy time, and the
bookable slots. `available_slots` is the single validation path: reservation services accept
a start exactly when it would list it."""

import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import Q, QuerySet

from reservation import slots
from reservation.actors import utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    AvailabilityWindow,
    BookingPolicy,
    Provider,
    ReservationStatus,
)
from reservation.slots import Interval, SlotRules, WeeklyHours
from reservation.timezones import zone
from reservation.validation import require_aware, require_range

MAX_SLOT_RANGE = timedelta(days=62)
MAX_SLOTS_PER_CALL = 1000


def policy_for(*, provider: Provider) -> BookingPolicy:
    """The provider's own policy, else the global default row, else built-in defaults."""
    policy = (
        BookingPolicy.objects.filter(Q(provider=provider) | Q(provider__isnull=True))
        .order_by("provider_id")  # NULLs sort last: the override wins
        .first()
    )
    return policy or BookingPolicy()


def slot_rules(policy: BookingPolicy) -> SlotRules:
    return SlotRules(
        slot_length=policy.slot_length,
        step=policy.step,
        min_notice=policy.min_notice,
        horizon=policy.horizon,
        buffer_before=policy.buffer_before,
        buffer_after=policy.buffer_after,
    )


def availability_span(
    *, provider: Provider, policy: BookingPolicy, now: datetime
) -> tuple[datetime, datetime]:
    """The fixed span over which availability is computed at `now`.

    It depends only on `now` and the policy, never on the range a client asks about, so the
    slot grid (anchored at each availability interval's start) is the same for a listing and
    for the check of a single reservation. It starts at the provider's local midnight of the
    day before, so round-the-clock availability anchors at a midnight, not at `now`.
    """
    tz = zone(provider.user.time_zone)
    local_day = (now - timedelta(days=1)).astimezone(tz).date()
    span_start = datetime.combine(local_day, time(0), tzinfo=tz).astimezone(now.tzinfo)
    span_end = now + policy.horizon + policy.slot_length + timedelta(days=1)
    return span_start, span_end


def active_reservations(*, now: datetime) -> Q:
    """Reservations that block time at `now`: confirmed, or held and not yet expired."""
    return Q(status=ReservationStatus.CONFIRMED) | Q(
        status=ReservationStatus.HELD, expires_at__gt=now
    )


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """Everything the pure slot function needs, gathered in one SQL statement; for a booking
    also what the checks of the client need."""

    availability: list[Interval]
    busy: list[Interval]
    rules: SlotRules
    policy: BookingPolicy
    lapsed: int = 0  # lapsed holds near the range, still HELD (not busy)
    client_holds: int = 0  # the booking client's live holds
    earlier_id: int | None = None  # their reservation made with the same idempotency key
    # For a booking: which of reservation.created / .expired some active webhook hears, so a
    # booking with no webhook listening spends no statement on them.
    listening: frozenset[str] = frozenset()


# The policy, the availability inputs and the busy time in one round trip: a booking runs
# this under the provider's lock, and every statement there is time the lock is held.
# Rows: P (the policy as JSON), W (window), H (weekly hours), O (time off), B (busy: live
# reservations), X (the connected calendars' busy time, as one text of ISO timestamps), L (a
# lapsed hold in the range: not busy, but in the exclusion constraint's way until expired),
# and for a booking C: the client's live holds and the reservation of their idempotency key,
# and K: the webhook event types of a booking that some active webhook hears.
# The busy part is written to use the exclusion constraint's GiST index
# (reservation_no_overlap: provider as a one-point int8range, and the period), so a
# provider's years of history are never read: only rows whose period meets the range.
_SLOT_DATA_SQL = """
WITH pol AS (
    SELECT * FROM reservation_bookingpolicy
    WHERE provider_id = %(provider)s OR provider_id IS NULL
    ORDER BY provider_id NULLS LAST
    LIMIT 1
), bounds AS (
    SELECT
        %(now)s::timestamptz + make_interval(
            days => coalesce((SELECT horizon_days FROM pol), %(horizon_days)s) + 1,
            mins => coalesce((SELECT slot_length_minutes FROM pol), %(slot_minutes)s)
        ) AS span_end,
        make_interval(mins => coalesce(
            (SELECT slot_length_minutes + buffer_before_minutes + buffer_after_minutes FROM pol),
            %(margin_minutes)s
        )) AS margin
)
SELECT 'P', NULL::timestamptz, NULL::timestamptz, NULL::integer, NULL::time, NULL::time,
    row_to_json(pol)::text
FROM pol
UNION ALL
SELECT 'W', w.start, w."end", NULL, NULL, NULL, NULL
FROM reservation_availabilitywindow AS w, bounds
WHERE w.provider_id = %(provider)s AND w."end" > %(span_start)s AND w.start < bounds.span_end
UNION ALL
SELECT 'H', NULL, NULL, h.weekday, h.start, h."end", NULL
FROM reservation_workinghours AS h
WHERE h.user_id = %(user)s
UNION ALL
SELECT 'O', t.start, t."end", NULL, NULL, NULL, NULL
FROM reservation_timeoff AS t, bounds
WHERE t.user_id = %(user)s AND t."end" > %(span_start)s AND t.start < bounds.span_end
UNION ALL
SELECT CASE WHEN r.status = 'CONFIRMED' OR r.expires_at > %(now)s THEN 'B' ELSE 'L' END,
    r.start, r."end", NULL, NULL, NULL, NULL
FROM reservation_reservation AS r, bounds
WHERE int8range(r.provider_id, r.provider_id, '[]') = int8range(%(provider)s, %(provider)s, '[]')
    AND tstzrange(r.start, r."end", '[)')
        && tstzrange(%(start)s - bounds.margin, %(end)s + bounds.margin, '[)')
    AND r.status IN ('HELD', 'CONFIRMED')
    AND r.id <> %(exclude)s
UNION ALL
SELECT 'X', NULL, NULL, NULL, NULL, NULL,
    string_agg(x.start::text || ',' || x."end"::text, ',')
FROM reservation_externalbusy AS x, bounds
WHERE x.user_id = %(user)s
    AND x."end" > %(start)s - bounds.margin AND x.start < %(end)s + bounds.margin
HAVING count(*) > 0
UNION ALL
SELECT 'K', NULL, NULL, NULL, NULL, NULL,
    (SELECT string_agg(DISTINCT e, ',') FROM reservation_webhook AS wh, unnest(wh.events) AS e
     WHERE wh.is_active AND e IN ('reservation.created', 'reservation.expired'))
WHERE %(client)s::bigint IS NOT NULL
UNION ALL
SELECT 'C', NULL, NULL,
    (SELECT count(*) FROM reservation_reservation
     WHERE client_id = %(client)s AND status = 'HELD' AND expires_at > %(now)s)::integer,
    NULL, NULL,
    (SELECT id::text FROM reservation_reservation
     WHERE client_id = %(client)s AND idempotency_key = %(key)s AND idempotency_key <> '')
WHERE %(client)s::bigint IS NOT NULL
"""

_POLICY_FIELDS = frozenset(
    f.attname for f in BookingPolicy._meta.concrete_fields if f.attname != "updated_at"
)


def _text_intervals(text: str) -> list[Interval]:
    """Busy intervals sent as "start,end,start,end,..." in PostgreSQL's own text form of
    timestamptz (ISO, in the connection's UTC, exact to the microsecond): a connected calendar
    can hold hundreds in a month, and `datetime.fromisoformat` reads that text about four
    times as fast as building each from a number."""
    values = list(map(datetime.fromisoformat, text.split(",")))
    return list(zip(values[0::2], values[1::2], strict=True))


def slot_query(
    *,
    provider: Provider,
    start: datetime,
    end: datetime,
    now: datetime,
    exclude_reservation_id: int | None = None,
    client_id: int | None = None,
    idempotency_key: str = "",
) -> SlotQuery:
    """The policy in force (as policy_for picks it), the availability over the fixed span
    (explicit windows ∪ weekly working hours − time off, merged) and the busy time near
    [start, end) (live reservations, widened by slot length and buffers), in one statement;
    with `client_id`, also that client's live holds and the reservation they made with
    `idempotency_key`. Needs provider.user loaded."""
    defaults = BookingPolicy()
    span_start, _ = availability_span(provider=provider, policy=defaults, now=now)
    params = {
        "provider": provider.pk,
        "user": provider.user_id,
        "now": now,
        "start": start,
        "end": end,
        "span_start": span_start,
        "exclude": exclude_reservation_id or 0,
        "client": client_id,
        "key": idempotency_key,
        "horizon_days": defaults.horizon_days,
        "slot_minutes": defaults.slot_length_minutes,
        "margin_minutes": (
            defaults.slot_length_minutes
            + defaults.buffer_before_minutes
            + defaults.buffer_after_minutes
        ),
    }
    policy = defaults
    windows: list[Interval] = []
    weekly: list[WeeklyHours] = []
    time_off: list[Interval] = []
    busy: list[Interval] = []
    lapsed = client_holds = 0
    earlier_id = None
    listening: frozenset[str] = frozenset()
    with connection.cursor() as cursor:
        cursor.execute(_SLOT_DATA_SQL, params)
        for kind, a, b, weekday, t1, t2, extra in cursor.fetchall():
            if kind == "B":
                busy.append((a, b))
            elif kind == "X":
                busy += _text_intervals(extra)
            elif kind == "W":
                windows.append((a, b))
            elif kind == "O":
                time_off.append((a, b))
            elif kind == "H":
                weekly.append(WeeklyHours(weekday=weekday, start=t1, end=t2))
            elif kind == "L":
                lapsed += 1
            elif kind == "K":
                listening = frozenset(extra.split(",")) if extra else frozenset()
            elif kind == "C":
                client_holds, earlier_id = weekday, int(extra) if extra else None
            else:
                fields = json.loads(extra)
                policy = BookingPolicy(**{k: v for k, v in fields.items() if k in _POLICY_FIELDS})
    span_start, span_end = availability_span(provider=provider, policy=policy, now=now)
    return SlotQuery(
        availability=slots.availability(
            windows=windows,
            weekly=weekly,
            tz=zone(provider.user.time_zone),
            time_off=time_off,
            start=span_start,
            end=span_end,
        ),
        busy=busy,
        rules=slot_rules(policy),
        policy=policy,
        lapsed=lapsed,
        client_holds=client_holds,
        earlier_id=earlier_id,
        listening=listening,
    )


def available_slots(
    *, provider: Provider, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Bookable slots of `provider` lying in [start, end) at `now` (range checked by caller)."""
    query = slot_query(provider=provider, start=start, end=end, now=now)
    return slots.compute_slots(
        availability=query.availability,
        busy=query.busy,
        rules=query.rules,
        now=now,
        start=start,
        end=end,
    )


def active_provider(*, provider_id: int) -> Provider:
    """An active provider with their user loaded, or NOT_FOUND."""
    provider = (
        Provider.objects.select_related("user").filter(pk=provider_id, is_active=True).first()
    )
    if provider is None:
        raise NotFound("No such provider.")
    return provider


def provider_list() -> QuerySet[Provider]:
    """Active providers, in a stable order."""
    return Provider.objects.filter(is_active=True).order_by("id")


def provider_slots(
    *,
    provider_id: int,
    start: datetime,
    end: datetime,
    limit: int = MAX_SLOTS_PER_CALL,
    now: datetime | None = None,
) -> list[Interval]:
    """The first `limit` (1–1000) bookable slots of an active provider in [start, end) (at
    most 62 days) at `now`; ask again from the last one's end for more."""
    now = now or utcnow()
    if not 1 <= limit <= MAX_SLOTS_PER_CALL:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"first must be 1–{MAX_SLOTS_PER_CALL}.", field="first"
        )
    start, end = require_range(start, end, max_length=MAX_SLOT_RANGE)
    found = available_slots(
        provider=active_provider(provider_id=provider_id), start=start, end=end, now=now
    )
    return found[:limit]


def provider_windows(
    *,
    provider: Provider,
    start: datetime | None = None,
    end: datetime | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[AvailabilityWindow]:
    """A provider's explicit windows overlapping [start, end), in order; with
    `updated_since`, only those made at or after it (windows are never edited in place)."""
    qs = AvailabilityWindow.objects.filter(provider=provider)
    if updated_since is not None:
        qs = qs.filter(created_at__gte=require_aware(updated_since, field="updatedSince"))
    if start is not None:
        qs = qs.filter(end__gt=require_aware(start, field="start"))
    if end is not None:
        qs = qs.filter(start__lt=require_aware(end, field="end"))
    return qs.order_by("start", "id")
