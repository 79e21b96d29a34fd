"""Turning holds whose time ran out into EXPIRED: set-based, batched, safe with many workers.

One statement per batch does everything a lapsed hold needs: it locks up to `batch` due holds
in id order (skipping rows another session holds, when sweeping), marks them EXPIRED, writes
their audit entries, renders and records each client's "hold expired" mail, records a
delivery for each webhook that hears of it, and defers one Procrastinate job per mail and per
delivery (`procrastinate_defer_jobs_v1`, the function `defer` uses) — or, for a batch of
more than DIRECT_MAIL_JOBS_MAX of them, one job that defers those. No Python object exists
per row, so memory stays flat however many rows there are; each batch
commits on its own, so a sweep stopped half-way (killed, timed out) loses nothing and the next
one continues where it stopped.

Listing and booking never wait for any of this: a HELD row whose `expires_at` has passed is
free already (selectors.booking.active_reservations); booking expires the provider's lapsed
holds itself (`expire_due` with `provider_id`) so the exclusion constraint does not see them.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction

from reservation.actors import utcnow
from reservation.models import AuditEntry, Notification, WebhookDelivery, WebhookEventType

# Rows per transaction of the sweep. Each batch is one statement plus its commit (where the
# deferred foreign-key checks of its rows run): about 0.2 s on a quiet 2-core machine, 1 s
# on a busy one (devops/bench/sweep.py prints the slowest), far inside the 5 s statement
# timeout, and short enough that a booking waiting on one of these rows waits little.
SWEEP_BATCH = 2500

# Up to this many mails (webhook deliveries) a batch defers their jobs itself; above it, one
# fan-out job (tasks.defer_notification_sends, tasks.defer_webhook_deliveries) defers them
# from a worker. Each job insert fires Procrastinate's per-row triggers: half a big batch's
# time would go into them, and a sweep of a big backlog should not wait on queue bookkeeping.
DIRECT_MAIL_JOBS_MAX = 100
DIRECT_WEBHOOK_JOBS_MAX = 100

# The statement is built from named parts (WITH <part>, <part>, ...), each one step of what a
# lapsed hold needs; the webhook parts only when some webhook may hear of expiries.
_DUE = """due AS (
    SELECT id FROM reservation_reservation
    WHERE status = 'HELD' AND expires_at <= %(now)s AND id > %(after)s {scope}
    ORDER BY id
    {limit}
    FOR UPDATE {skip_locked}  -- in id order: every sweep and booking locks in one order
)"""

# Not HOT (status is in the partial indexes' predicates), but the new row versions enter only
# the indexes without a HELD predicate: the primary key and the provider's and client's
# (provider, start) / (client, start) ones (see migration 0015 for the ones dropped).
_EXPIRED = """expired AS (
    UPDATE reservation_reservation AS r SET status = 'EXPIRED', updated_at = %(now)s
    WHERE r.id = ANY(ARRAY(SELECT id FROM due))  -- by primary key, never a scan of the table
    RETURNING r.id, r.provider_id, r.client_id, r.start, r."end", r.expires_at
)"""

# DjangoJSONEncoder's form of a UTC datetime (milliseconds only when there are microseconds),
# so an entry written here reads exactly like one written by services.audit.
_AUDITED = """audited AS (
    INSERT INTO "reservation_auditentry"
        (at, actor_kind, action, subject_type, subject_id, changes)
    SELECT %(now)s, %(system)s, 'reservation.expire', 'reservation', e.id,
        jsonb_build_object('status', 'EXPIRED', 'expires_at',
            to_char(e.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN extract(microseconds FROM e.expires_at)::bigint %% 1000000 = 0 THEN ''
                    ELSE to_char(e.expires_at AT TIME ZONE 'UTC', '.MS') END
            || 'Z')
    FROM expired AS e
    ORDER BY e.id
    RETURNING id, subject_id
)"""

# The text of the mail rendered by PostgreSQL, exactly as notify_text.reservation_update
# writes it in Python (a test compares both): times in the client's zone, labelled with it.
# Zones PostgreSQL does not know (none in practice) fall back to UTC, labelled with the
# stored name, as reservation.timezones.zone does.
_RENDERED = """rendered AS (
    SELECT e.id, cu.id AS recipient_id, pu.id AS provider_user_id,
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
)"""

_NOTIFIED = """notified AS (
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
)"""

# Who hears of an expiry: every active webhook subscribed to it that is global or belongs to
# the hold's client or provider (services.webhooks._audiences), one delivery per (change,
# webhook) in that order, as webhooks_emit writes them.
_DELIVERED = """hooks AS (
    SELECT id, owner_id, is_global FROM reservation_webhook
    WHERE is_active AND %(event_type)s = ANY(events)
), delivered AS (
    INSERT INTO reservation_webhookdelivery
        (webhook_id, audit_entry_id, event_type, subject_type, subject_id, occurred_at, body,
         status, attempts, created_at)
    SELECT h.id, a.id, %(event_type)s, 'reservation', a.subject_id, %(now)s, '',
        %(delivery_pending)s, 0, %(now)s
    FROM audited AS a
    JOIN rendered AS r ON r.id = a.subject_id
    JOIN hooks AS h ON h.is_global OR h.owner_id IN (r.recipient_id, r.provider_user_id)
    ORDER BY a.id, h.id
    RETURNING id
)"""


# One job per row of `rows` (its ids as `arg`), in one call of procrastinate_defer_jobs_v1
# (the function Procrastinate's own defer uses); above `<job>_max` rows one fan-out job
# instead, with all the ids as `<arg>s`.
_DEFERRED = """{name} AS (
    SELECT procrastinate_defer_jobs_v1(CASE
        WHEN (SELECT count(*) FROM {rows}) <= %({job}_max)s THEN ARRAY(
            SELECT ROW(%({job}_queue)s, %({job}_task)s, %({job}_priority)s, NULL, NULL,
                       jsonb_build_object('{arg}', x.id), NULL
                   )::procrastinate_job_to_defer_v1
            FROM {rows} AS x ORDER BY x.id)
        ELSE ARRAY(
            SELECT ROW(%({job}_queue)s, %({job}_fan_out)s, %({job}_priority)s, NULL, NULL,
                       jsonb_build_object('{arg}s', jsonb_agg(x.id ORDER BY x.id)), NULL
                   )::procrastinate_job_to_defer_v1
            FROM {rows} AS x)
    END) AS ids
)"""

_MAILED = _DEFERRED.format(name="mailed", rows="notified", job="mail", arg="notification_id")
_HOOKED = _DEFERRED.format(name="hooked", rows="delivered", job="hook", arg="delivery_id")

_STATEMENT = """WITH {parts}
SELECT (SELECT count(*) FROM expired), (SELECT coalesce(max(id), 0) FROM due),
    (SELECT cardinality(ids) FROM mailed), {hooked}"""


@lru_cache(maxsize=8)
def _statement(*, scope: str, limit: bool, skip_locked: bool, emit: bool) -> str:
    """The batch statement for one shape of call (a handful of shapes per process)."""
    parts = [
        _DUE.format(
            scope=scope,
            limit="LIMIT %(limit)s" if limit else "",
            skip_locked="SKIP LOCKED" if skip_locked else "",
        ),
        _EXPIRED,
        _AUDITED,
        _RENDERED,
        _NOTIFIED,
        _MAILED,
    ]
    if emit:
        parts += [_DELIVERED, _HOOKED]
    return _STATEMENT.format(
        parts=",\n".join(parts),
        hooked="(SELECT cardinality(ids) FROM hooked)" if emit else "0",
    )


@lru_cache(maxsize=1)
def _jobs() -> dict[str, object]:
    """The queue, task names and priority of the jobs a batch defers (read once)."""
    from reservation.tasks import (  # tasks import services: import late
        defer_notification_sends,
        defer_webhook_deliveries,
        deliver_webhook,
        send_notification,
    )

    mail, hook = send_notification.configure().job, deliver_webhook.configure().job
    return {
        "mail_queue": mail.queue,
        "mail_task": mail.task_name,
        "mail_fan_out": defer_notification_sends.name,
        "mail_priority": mail.priority,
        "hook_queue": hook.queue,
        "hook_task": hook.task_name,
        "hook_fan_out": defer_webhook_deliveries.name,
        "hook_priority": hook.priority,
    }


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
    """One statement: lock, mark, audit, record the mails and the webhook deliveries and defer
    their jobs, for due holds with an id above `after`. Returns (holds expired, the last id
    the batch locked). Runs in the caller's transaction. `emit`: write the webhook deliveries
    of the expiries (False: the caller knows no webhook listens)."""
    scope = ""
    params: dict[str, object] = {}
    if provider_id is not None:
        scope += " AND provider_id = %(provider)s"
        params["provider"] = provider_id
    if reservation_id is not None:
        scope += " AND id = %(reservation)s"
        params["reservation"] = reservation_id
    params |= _jobs()
    params |= {
        "now": now,
        "after": after,
        "limit": limit,
        "system": AuditEntry.ActorKind.SYSTEM,
        "kind": Notification.Kind.RESERVATION_EXPIRED,
        "pending": Notification.Status.PENDING,
        "zones": _pg_zones(),
        "mail_max": DIRECT_MAIL_JOBS_MAX,
        "hook_max": DIRECT_WEBHOOK_JOBS_MAX,
        "event_type": WebhookEventType.RESERVATION_EXPIRED,
        "delivery_pending": WebhookDelivery.Status.PENDING,
    }
    sql = _statement(scope=scope, limit=limit is not None, skip_locked=skip_locked, emit=emit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expired, last_id, _mail_jobs, _hook_jobs = cursor.fetchone()
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
    statement, in the caller's transaction or its own."""
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


def _sweep_loop(
    *, now: datetime, batch: int, started: float, max_seconds: float | None
) -> SweepResult:
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


def expire_sweep(
    *,
    now: datetime | None = None,
    batch: int = SWEEP_BATCH,
    max_seconds: float | None = None,
    workers: int = 1,
) -> SweepResult:
    """Expire every hold lapsed at `now`, `batch` rows per transaction in id order. Rows
    another session has locked (a booking expiring them, another sweep) are skipped, so
    several workers share the work without waiting on each other; stopping at any point
    (`max_seconds`, a kill) keeps every finished batch, and the next sweep resumes.
    `workers` > 1: when the first batch finds a backlog (a full batch), that many sweeps in
    all share it, each in a thread with its own connection (the database does the work, so
    the sweep uses as many cores as it is given)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if workers < 1:
        raise ValueError("workers must be at least 1")
    now = now or utcnow()
    started = time.monotonic()
    first = _sweep_loop(now=now, batch=batch, started=started, max_seconds=0)
    if first.finished or max_seconds == 0:
        return first
    if workers == 1:
        rest = _sweep_loop(now=now, batch=batch, started=started, max_seconds=max_seconds)
        return _sum([first, rest])
    results: list[SweepResult] = []
    failures: list[BaseException] = []

    def helper() -> None:
        try:
            results.append(
                _sweep_loop(now=now, batch=batch, started=started, max_seconds=max_seconds)
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            failures.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=helper) for _ in range(workers - 1)]
    for thread in threads:
        thread.start()
    try:
        mine = _sweep_loop(now=now, batch=batch, started=started, max_seconds=max_seconds)
    finally:
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    return _sum([first, mine, *results])


def _sum(results: list[SweepResult]) -> SweepResult:
    return SweepResult(
        expired=sum(r.expired for r in results),
        batches=sum(r.batches for r in results),
        finished=all(r.finished for r in results[1:]),
    )


FAN_OUT_CHUNK = 500

_FAN_OUT_SQL = """
SELECT coalesce(cardinality(procrastinate_defer_jobs_v1(ARRAY(
    SELECT ROW(%(queue)s, %(task)s, %(priority)s, NULL, NULL,
               jsonb_build_object('{arg}', pending.id), NULL
           )::procrastinate_job_to_defer_v1
    FROM unnest(%(ids)s::bigint[]) AS wanted (id)
    -- One primary-key probe per id (OFFSET 0 keeps it a probe), never a scan of the table.
    CROSS JOIN LATERAL (
        SELECT t.id FROM {table} AS t
        WHERE t.id = wanted.id AND t.status = %(pending)s OFFSET 0
    ) AS pending
    ORDER BY pending.id
))), 0)
"""


def _fan_out(*, ids: list[int], table: str, arg: str, job: str, pending: str) -> int:
    jobs = _jobs()
    sql = _FAN_OUT_SQL.format(table=table, arg=arg)
    deferred = 0
    # In chunks, each its own transaction: a retry after a failure repeats little.
    for begin in range(0, len(ids), FAN_OUT_CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                sql,
                {
                    "queue": jobs[f"{job}_queue"],
                    "task": jobs[f"{job}_task"],
                    "priority": jobs[f"{job}_priority"],
                    "ids": ids[begin : begin + FAN_OUT_CHUNK],
                    "pending": pending,
                },
            )
            deferred += cursor.fetchone()[0]
    return deferred


def expiry_mails_defer(*, notification_ids: list[int]) -> int:
    """Defer one send job per notification of `notification_ids` still PENDING, in one
    statement per chunk (the fan-out of a big sweep batch). Running it twice only adds jobs
    that find their mail SENT and skip it (services.mail locks and checks the row)."""
    return _fan_out(
        ids=notification_ids,
        table="reservation_notification",
        arg="notification_id",
        job="mail",
        pending=Notification.Status.PENDING,
    )


def expiry_webhooks_defer(*, delivery_ids: list[int]) -> int:
    """Defer one delivery job per webhook delivery of `delivery_ids` still PENDING (the
    fan-out of a big sweep batch). Running it twice only adds jobs that find their delivery
    done and skip it (services.webhooks.webhook_deliver locks and checks the row)."""
    return _fan_out(
        ids=delivery_ids,
        table="reservation_webhookdelivery",
        arg="delivery_id",
        job="hook",
        pending=WebhookDelivery.Status.PENDING,
    )
