"""Turning holds whose time ran out into EXPIRED: set-based, batched, safe with many workers.

One statement per batch does everything a lapsed hold needs: it locks up to `batch` due holds
in id order (skipping rows another session holds, when sweeping), marks them EXPIRED, writes
their audit entries, renders and records each client's "hold expired" mail, and defers one
Procrastinate job per mail (`procrastinate_defer_jobs_v1`, the function `defer` uses) — or,
for a batch of more than DIRECT_MAIL_JOBS_MAX mails, one job that defers those. No
Python object exists per row, so memory stays flat however many rows there are; each batch
commits on its own, so a sweep stopped half-way (killed, timed out) loses nothing and the next
one continues where it stopped.

Listing and booking never wait for any of this: a HELD row whose `expires_at` has passed is
free already (selectors.booking.active_reservations); booking expires the provider's lapsed
holds itself (`expire_due` with `provider_id`) so the exclusion constraint does not see them.
"""

import json
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction

from reservation.actors import utcnow
from reservation.models import AuditEntry, Notification
from reservation.services.webhooks import webhooks_emit

# Rows per transaction of the sweep: 0.2-0.6 s of work on a busy 2-core machine (1.3 s at
# worst seen), far inside the 5 s statement timeout, and short enough that a booking waiting
# on one of these rows waits little. Half of it is deferring one mail job per row.
SWEEP_BATCH = 2500

# The text of the mail rendered by PostgreSQL, exactly as notify_text.reservation_update
# writes it in Python (a test compares both): times in the client's zone, labelled with it.
# Zones PostgreSQL does not know (none in practice) fall back to UTC, labelled with the
# stored name, as reservation.timezones.zone does.
_EXPIRE_SQL = """
WITH due AS (
    SELECT id FROM reservation_reservation
    WHERE status = 'HELD' AND expires_at <= %(now)s AND id > %(after)s {scope}
    ORDER BY id
    {limit}
    FOR UPDATE {skip_locked}
), expired AS (
    UPDATE reservation_reservation AS r SET status = 'EXPIRED', updated_at = %(now)s
    WHERE r.id = ANY(ARRAY(SELECT id FROM due))  -- by primary key, never a scan of the table
    RETURNING r.id, r.provider_id, r.client_id, r.start, r."end", r.expires_at
), audited AS (
    INSERT INTO "reservation_auditentry"
        (at, actor_kind, action, subject_type, subject_id, changes)
    SELECT %(now)s, %(system)s, 'reservation.expire', 'reservation', e.id,
        jsonb_build_object('status', 'EXPIRED', 'expires_at', {json_expires})
    FROM expired AS e
    RETURNING id, subject_id
), rendered AS (
    SELECT e.id, cu.id AS recipient_id,
        COALESCE(NULLIF(p.display_name, ''), pu.email) AS other,
        e.start, e."end", e.expires_at,
        COALESCE(NULLIF(cu.time_zone, ''), 'UTC') AS label,
        COALESCE(known.name, 'UTC') AS tz
    FROM expired AS e
    JOIN reservation_client AS c ON c.id = e.client_id
    JOIN reservation_user AS cu ON cu.id = c.user_id
    LEFT JOIN unnest(%(zones)s::text[]) AS known (name) ON known.name = cu.time_zone
    JOIN reservation_provider AS p ON p.id = e.provider_id
    JOIN reservation_user AS pu ON pu.id = p.user_id
), texts AS (
    SELECT id, recipient_id, other,
        to_char(start AT TIME ZONE tz, 'Dy DD Mon YYYY, HH24:MI') || ' (' || label || ')' AS at,
        to_char(expires_at AT TIME ZONE tz, 'Dy DD Mon YYYY, HH24:MI') || ' (' || label || ')'
            AS lapsed,
        floor(extract(epoch FROM "end" - start) / 60)::bigint AS minutes
    FROM rendered
), notified AS (
    INSERT INTO "reservation_notification"
        (kind, recipient_id, reservation_id, subject, body, status, attempts, last_error,
         created_at)
    SELECT %(kind)s, recipient_id, id,
        left('Hold expired: ' || other || ', ' || at, 300),
        'Your hold with ' || other || ' expired at ' || lapsed
            || E' before it was confirmed:\\n  ' || at || ', ' || minutes || E' min\\n\\n'
            || E'The time is free again; reserve it again if you still want it.\\n\\n'
            || 'Reference: reservation #' || id || E'\\n',
        %(pending)s, 0, '', %(now)s
    FROM texts
    ORDER BY id
    RETURNING id
), deferred AS (
    SELECT procrastinate_defer_jobs_v1(CASE
        WHEN (SELECT count(*) FROM notified) <= %(direct_max)s THEN ARRAY(
            SELECT ROW(%(queue)s, %(task)s, %(priority)s, NULL, NULL,
                       jsonb_build_object('notification_id', n.id), NULL
                   )::procrastinate_job_to_defer_v1
            FROM notified AS n ORDER BY n.id)
        ELSE ARRAY(
            SELECT ROW(%(queue)s, %(fan_out)s, %(priority)s, NULL, NULL,
                       jsonb_build_object('notification_ids', jsonb_agg(n.id ORDER BY n.id)),
                       NULL
                   )::procrastinate_job_to_defer_v1
            FROM notified AS n)
    END) AS ids
)
SELECT (SELECT count(*) FROM expired), (SELECT coalesce(max(id), 0) FROM due),
    (SELECT coalesce(cardinality(ids), 0) FROM deferred),
    (SELECT coalesce(jsonb_agg(jsonb_build_array(id, subject_id)), '[]') FROM audited)
"""

# DjangoJSONEncoder's form of a UTC datetime (milliseconds only when there are microseconds),
# so an entry written here reads exactly like one written by services.audit.
_JSON_EXPIRES = """
    to_char(e.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM e.expires_at)::bigint %% 1000000 = 0 THEN ''
            ELSE to_char(e.expires_at AT TIME ZONE 'UTC', '.MS') END
    || 'Z'
"""


# Up to this many mails a batch defers their send jobs itself; above it, one fan-out job
# (tasks.defer_notification_sends) defers them from a worker. Half of a full batch's time
# went into those job inserts (each fires Procrastinate's per-row triggers), and a sweep of
# a big backlog should not be held up by the mail queue's bookkeeping.
DIRECT_MAIL_JOBS_MAX = 100


@lru_cache(maxsize=1)
def _mail_job() -> tuple[str, str, str, int]:
    from reservation.tasks import defer_notification_sends, send_notification  # import late

    job = send_notification.configure().job
    return job.queue, job.task_name, defer_notification_sends.name, job.priority


@lru_cache(maxsize=1)
def _pg_zones() -> list[str]:
    """Zone names this PostgreSQL knows (read once per process: they change with upgrades)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT array_agg(name) FROM pg_timezone_names")
        (names,) = cursor.fetchone()
    return names


def _expire_batch(
    *,
    now: datetime,
    limit: int | None,
    skip_locked: bool,
    after: int = 0,
    provider_id: int | None = None,
    reservation_id: int | None = None,
    emit: bool = True,
) -> tuple[int, int]:
    """One statement: lock, mark, audit, record the mails and defer their jobs, for due holds
    with an id above `after`. Returns (holds expired, the last id the batch locked).
    Runs in the caller's transaction. `emit`: queue the webhook deliveries of the expiries,
    as services.audit does for the entries it writes (False: the caller knows none listens)."""
    scope = ""
    params: dict[str, object] = {}
    if provider_id is not None:
        scope += " AND provider_id = %(provider)s"
        params["provider"] = provider_id
    if reservation_id is not None:
        scope += " AND id = %(reservation)s"
        params["reservation"] = reservation_id
    queue, task, fan_out, priority = _mail_job()
    params |= {
        "now": now,
        "after": after,
        "limit": limit,
        "system": AuditEntry.ActorKind.SYSTEM,
        "kind": Notification.Kind.RESERVATION_EXPIRED,
        "pending": Notification.Status.PENDING,
        "zones": _pg_zones(),
        "queue": queue,
        "task": task,
        "fan_out": fan_out,
        "direct_max": DIRECT_MAIL_JOBS_MAX,
        "priority": priority,
    }
    sql = _EXPIRE_SQL.format(
        scope=scope,
        limit="LIMIT %(limit)s" if limit is not None else "",
        skip_locked="SKIP LOCKED" if skip_locked else "",
        json_expires=_JSON_EXPIRES,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expired, last_id, _jobs, audited = cursor.fetchone()
    if emit and audited:
        if isinstance(audited, str):
            audited = json.loads(audited)
        webhooks_emit(
            [
                AuditEntry(
                    pk=entry_id,
                    at=now,
                    action="reservation.expire",
                    subject_type="reservation",
                    subject_id=subject_id,
                )
                for entry_id, subject_id in audited
            ]
        )
    return expired, last_id


def expire_due(
    *,
    now: datetime | None = None,
    provider_id: int | None = None,
    reservation_id: int | None = None,
    emit: bool = True,
) -> int:
    """Expire the lapsed holds of one provider (or one reservation), waiting for rows others
    lock: the caller (a booking, under the provider's lock) needs them all gone. One
    statement, in the caller's transaction or its own (and one more when `emit` and some
    webhook may hear of it)."""
    with transaction.atomic(savepoint=False):  # nothing to undo apart: one statement
        expired, _ = _expire_batch(
            now=now or utcnow(),
            limit=None,
            skip_locked=False,
            provider_id=provider_id,
            reservation_id=reservation_id,
            emit=emit,
        )
    return expired


@dataclass(frozen=True, slots=True)
class SweepResult:
    expired: int
    batches: int
    finished: bool  # False: stopped by the time budget with due holds left


def expire_sweep(
    *,
    now: datetime | None = None,
    batch: int = SWEEP_BATCH,
    max_seconds: float | None = None,
) -> SweepResult:
    """Expire every hold lapsed at `now`, `batch` rows per transaction in id order. Rows
    another session has locked (a booking expiring them, another sweep) are skipped, so
    several workers share the work without waiting on each other; stopping at any point
    (`max_seconds`, a kill) keeps every finished batch, and the next sweep resumes."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = now or utcnow()
    started = time.monotonic()
    total = batches = after = 0
    while True:
        # Its own transaction per batch (a savepoint only when a caller wraps the sweep in
        # one). Each batch starts after the last row of the one before (keyset), so the
        # sweep reads each due row once however long the backlog; rows it skipped as locked
        # are expired by whoever locked them, or by the next sweep.
        with transaction.atomic():
            done, last_id = _expire_batch(now=now, limit=batch, skip_locked=True, after=after)
        total += done
        batches += 1
        after = max(after, last_id)
        if done < batch:
            return SweepResult(expired=total, batches=batches, finished=True)
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            return SweepResult(expired=total, batches=batches, finished=False)


FAN_OUT_CHUNK = 500

_FAN_OUT_SQL = """
SELECT coalesce(cardinality(procrastinate_defer_jobs_v1(ARRAY(
    SELECT ROW(%(queue)s, %(task)s, %(priority)s, NULL, NULL,
               jsonb_build_object('notification_id', pending.id), NULL
           )::procrastinate_job_to_defer_v1
    FROM unnest(%(ids)s::bigint[]) AS wanted (id)
    -- One primary-key probe per id (OFFSET 0 keeps it a probe), never a scan of the table.
    CROSS JOIN LATERAL (
        SELECT n.id FROM reservation_notification AS n
        WHERE n.id = wanted.id AND n.status = %(pending)s OFFSET 0
    ) AS pending
    ORDER BY pending.id
))), 0)
"""


def expiry_mails_defer(*, notification_ids: list[int]) -> int:
    """Defer one send job per notification of `notification_ids` still PENDING, in one
    statement (the fan-out of a big sweep batch). Running it twice only adds jobs that find
    their mail SENT and skip it (services.mail locks and checks the row)."""
    queue, task, _, priority = _mail_job()
    deferred = 0
    # In chunks, each its own transaction: a retry after a failure repeats little.
    for begin in range(0, len(notification_ids), FAN_OUT_CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _FAN_OUT_SQL,
                {
                    "queue": queue,
                    "task": task,
                    "priority": priority,
                    "ids": notification_ids[begin : begin + FAN_OUT_CHUNK],
                    "pending": Notification.Status.PENDING,
                },
            )
            deferred += cursor.fetchone()[0]
    return deferred
