"""Connected calendars: connect, choose, sync and disconnect, and confirmed bookings written
back to the provider's calendar.

Network I/O never happens inside a transaction: a sync reads the other side first, then
applies what it found in one short transaction (so a failed or slow server holds no lock and
leaves the last good copy as it was). Syncs and write-backs are Procrastinate jobs, deferred
in the transaction of the change that causes them.
"""

import contextlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from procrastinate.exceptions import AlreadyEnqueued

from reservation import channels, crypto
from reservation import external_calendars as remote
from reservation.actors import Actor, utcnow
from reservation.errors import DomainError, ErrorCode, NotFound
from reservation.models import (
    BookingPolicy,
    CalendarConnection,
    CalendarWriteback,
    ConnectionKind,
    ExternalBusy,
    ExternalCalendar,
    ExternalObject,
    Reservation,
    ReservationStatus,
    SyncState,
    User,
    WritebackState,
)
from reservation.services.audit import audit_record
from reservation.timezones import zone

logger = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_USER = 10
# Busy time is kept from a day ago to this far ahead, or the longest booking horizon if that
# is further: what listings, bookings and freeTime can ask about.
SYNC_AHEAD = timedelta(days=180)


def _defer_sync(connection_id: int) -> None:
    from reservation.tasks import calendar_sync  # tasks import services: import late

    # One queued sync per connection is enough; the savepoint keeps the caller's transaction
    # usable when one is queued already.
    with contextlib.suppress(AlreadyEnqueued), transaction.atomic():
        calendar_sync.configure(queueing_lock=f"calendar_sync:{connection_id}").defer(
            connection_id=connection_id
        )


def _defer_writeback(reservation_id: int) -> None:
    from reservation.tasks import calendar_writeback

    calendar_writeback.defer(reservation_id=reservation_id)


def _own_connection(*, actor: Actor, connection_id: int, lock: bool = False) -> CalendarConnection:
    user = actor.require_user()
    qs = CalendarConnection.objects.filter(pk=connection_id, user=user)
    connection = (qs.select_for_update() if lock else qs).first()
    if connection is None:
        raise NotFound("No such calendar connection.")
    return connection


def _check_url(url: str) -> str:
    url = url.strip()
    if url.startswith("webcal://"):
        url = "https://" + url.removeprefix("webcal://")
    try:
        channels.check_user_url(url)
    except channels.ChannelError as exc:
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"Not a usable calendar URL: {exc}", field="url"
        ) from exc
    return url


def calendar_connection_create(
    *,
    actor: Actor,
    kind: str,
    url: str,
    username: str = "",
    password: str = "",
    now: datetime | None = None,
) -> CalendarConnection:
    """Connect a CalDAV account (its calendars discovered through the principal's
    calendar-home-set, so a wrong password or URL is refused now with CALENDAR_UNREACHABLE)
    or an .ics subscription URL; every calendar is a busy source until deselected, and a
    first sync is queued. The password is stored encrypted and never returned."""
    now = now or utcnow()
    user = actor.require_user()
    if kind not in ConnectionKind.values:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown calendar kind.", field="kind")
    url = _check_url(url)
    username = username.strip()
    if kind == ConnectionKind.CALDAV:
        if not username or not password:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "A CalDAV account needs a user name and an (app) password.",
                field="password",
            )
        try:
            found = remote.CaldavAccount(url=url, username=username, password=password).calendars()
        except remote.CalendarError as exc:
            raise DomainError(ErrorCode.CALENDAR_UNREACHABLE, f"Could not connect: {exc}") from exc
        if not found:
            raise DomainError(ErrorCode.CALENDAR_UNREACHABLE, "The account has no calendars.")
    else:
        found = [(url, "")]
        username, password = "", ""
    with transaction.atomic(durable=True):
        # Lock the user row so two connects cannot both pass the count.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if CalendarConnection.objects.filter(user=user).count() >= MAX_CONNECTIONS_PER_USER:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_CONNECTIONS_PER_USER} calendar connections per person.",
            )
        try:
            connection = CalendarConnection.objects.create(
                user=user,
                kind=kind,
                url=url,
                username=username,
                secret=crypto.encrypt(password) if password else "",
            )
        except IntegrityError as exc:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "This calendar is connected already.", field="url"
            ) from exc
        ExternalCalendar.objects.bulk_create(
            ExternalCalendar(connection=connection, user=user, href=href, name=name[:200])
            for href, name in found
        )
        audit_record(
            actor=actor,
            action="calendar_connection.create",
            subject=connection,
            changes={"kind": kind, "url": url, "calendars": len(found)},
            at=now,
        )
        _defer_sync(connection.pk)
    return connection


def external_calendar_update(
    *,
    actor: Actor,
    calendar_id: int,
    busy: bool | None = None,
    write_back: bool | None = None,
    now: datetime | None = None,
) -> ExternalCalendar:
    """Choose whether a connected calendar blocks your time (`busy`) and whether your
    confirmed bookings are written to it (`write_back`: one CalDAV calendar at most; choosing
    one unchooses the other)."""
    now = now or utcnow()
    user = actor.require_user()
    with transaction.atomic(durable=True):
        calendar = (
            ExternalCalendar.objects.select_for_update()
            .select_related("connection")
            .filter(pk=calendar_id, user=user)
            .first()
        )
        if calendar is None:
            raise NotFound("No such calendar.")
        changes: dict[str, bool] = {}
        if busy is not None and busy != calendar.busy:
            calendar.busy = busy
            changes["busy"] = busy
            if not busy:
                ExternalBusy.objects.filter(object__calendar=calendar).delete()
        if write_back is not None and write_back != calendar.write_back:
            if write_back and calendar.connection.kind != ConnectionKind.CALDAV:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "Bookings can only be written to a CalDAV calendar, not a subscription.",
                    field="writeBack",
                )
            if write_back:
                ExternalCalendar.objects.filter(user=user, write_back=True).update(write_back=False)
            calendar.write_back = write_back
            changes["write_back"] = write_back
        if changes:
            if calendar.busy or calendar.write_back:
                calendar.sync_token = ""  # re-read in full: busy rows may be missing
            calendar.save()
            audit_record(
                actor=actor,
                action="external_calendar.update",
                subject=calendar,
                changes=changes,
                at=now,
            )
            _defer_sync(calendar.connection_id)
    return calendar


def calendar_connection_delete(
    *, actor: Actor, connection_id: int, now: datetime | None = None
) -> CalendarConnection:
    """Disconnect: its calendars, copied busy time and write-back records are deleted (the
    events already written stay in that calendar)."""
    now = now or utcnow()
    with transaction.atomic(durable=True):
        connection = _own_connection(actor=actor, connection_id=connection_id, lock=True)
        audit_record(
            actor=actor,
            action="calendar_connection.delete",
            subject=connection,
            changes={"url": connection.url},
            at=now,
        )
        pk = connection.pk
        connection.delete()
        connection.pk = pk
    return connection


def calendar_connection_sync_request(*, actor: Actor, connection_id: int) -> CalendarConnection:
    """Sync now (in the background; `calendarConnections` shows the outcome)."""
    with transaction.atomic(durable=True):
        connection = _own_connection(actor=actor, connection_id=connection_id)
        _defer_sync(connection.pk)
    return connection


def calendar_syncs_due(*, now: datetime) -> int:
    """Queue a sync of every connection not tried for CALENDAR_SYNC_INTERVAL_MINUTES."""
    due = now - timedelta(minutes=settings.CALENDAR_SYNC_INTERVAL_MINUTES)
    ids = list(
        CalendarConnection.objects.filter(
            Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=due)
        ).values_list("id", flat=True)
    )
    with transaction.atomic():
        for pk in ids:
            _defer_sync(pk)
    return len(ids)


# --- sync -------------------------------------------------------------------------------------


def _window(*, user_id: int, now: datetime) -> tuple[datetime, datetime]:
    horizons = BookingPolicy.objects.filter(
        Q(provider__user_id=user_id) | Q(provider__isnull=True)
    ).values_list("horizon_days", flat=True)
    ahead = max([SYNC_AHEAD, *(timedelta(days=days) for days in horizons)])
    return now - timedelta(days=1), now + ahead


def _rules(user: User) -> remote.BusyRules:
    return remote.BusyRules(emails=frozenset({user.email.lower()}), tz=zone(user.time_zone))


def _replace_objects(
    *,
    calendar: ExternalCalendar,
    objects: list[remote.RemoteObject],
    deleted: list[str],
    full: bool,
    start: datetime,
    end: datetime,
    rules: remote.BusyRules,
) -> None:
    """Apply a sync's findings to the local copy (caller's transaction): set-based deletes,
    one INSERT for the objects and one for their busy rows."""
    parsed = []
    for obj in objects:
        if obj.data is None:
            continue
        busy = remote.busy_of(remote.parse_calendar(obj.data), start=start, end=end, rules=rules)
        parsed.append((obj, remote.flatten(busy.values())))
    stale = ExternalObject.objects.filter(calendar=calendar)
    if not full:
        stale = stale.filter(href__in=[o.href for o in objects] + deleted)
    stale.delete()
    created = ExternalObject.objects.bulk_create(
        ExternalObject(calendar=calendar, href=obj.href[:1000], etag=obj.etag[:500])
        for obj, _ in parsed
    )
    if calendar.busy:
        ExternalBusy.objects.bulk_create(
            (
                ExternalBusy(object=row, user_id=calendar.user_id, start=s, end=e)
                for row, (_, intervals) in zip(created, parsed, strict=True)
                for s, e in intervals
            ),
            batch_size=2000,
        )


def _sync_ics(calendar: ExternalCalendar, *, now: datetime) -> None:
    start, end = _window(user_id=calendar.user_id, now=now)
    fetched = remote.fetch_ics(
        calendar.href,
        etag=calendar.etag,
        last_modified=calendar.last_modified,
    )
    if fetched.body is None:
        return
    parsed = remote.parse_calendar(fetched.body)
    busy = remote.busy_of(parsed, start=start, end=end, rules=_rules(calendar.user))
    with transaction.atomic():
        ExternalObject.objects.filter(calendar=calendar).delete()
        # One object per UID (a subscription has no per-event URLs).
        created = ExternalObject.objects.bulk_create(
            ExternalObject(calendar=calendar, href=uid[:1000]) for uid in busy
        )
        if calendar.busy:
            ExternalBusy.objects.bulk_create(
                (
                    ExternalBusy(object=row, user_id=calendar.user_id, start=s, end=e)
                    for row, intervals in zip(created, busy.values(), strict=True)
                    for s, e in intervals
                ),
                batch_size=2000,
            )
        ExternalCalendar.objects.filter(pk=calendar.pk).update(
            etag=fetched.etag[:500],
            last_modified=fetched.last_modified[:100],
            window_start=start,
            window_end=end,
        )


def _sync_caldav(
    calendar: ExternalCalendar, *, account: remote.CaldavAccount, now: datetime
) -> None:
    start, end = _window(user_id=calendar.user_id, now=now)
    # The window moves with the clock: once a day re-read everything, so occurrences that
    # came into the window of an unchanged recurring event are counted.
    stale_window = calendar.window_end is None or calendar.window_end < end - timedelta(days=1)
    token = "" if stale_window else calendar.sync_token
    changes = account.changes(href=calendar.href, token=token, start=start, end=end)
    with transaction.atomic():
        _replace_objects(
            calendar=calendar,
            objects=changes.changed,
            deleted=changes.deleted,
            full=changes.full,
            start=start,
            end=end,
            rules=_rules(calendar.user),
        )
        fields = {"sync_token": changes.token[:500]}
        if changes.full:
            fields |= {"window_start": start, "window_end": end}
        ExternalCalendar.objects.filter(pk=calendar.pk).update(**fields)
        if calendar.write_back:
            _check_writebacks(calendar=calendar, changes=changes)


def _check_writebacks(*, calendar: ExternalCalendar, changes: remote.Changes) -> None:
    """Notice the owner's own edits to the bookings we wrote: moved (CHANGED) or deleted
    (MISSING) there. The booking itself stands; the state is shown to the provider."""
    ours = {
        remote.same_resource(w.href): w
        for w in CalendarWriteback.objects.filter(
            calendar=calendar, reservation__status=ReservationStatus.CONFIRMED
        )
    }
    seen = {}
    deleted = {remote.same_resource(href) for href in changes.deleted}
    for obj in changes.changed:
        key = remote.same_resource(obj.href)
        if key in ours and obj.data is not None:
            seen[key] = remote.times_of(obj.data)
    for href, writeback in ours.items():
        if href in seen:
            state = (
                WritebackState.OK
                if seen[href] == (writeback.start, writeback.end)
                else WritebackState.CHANGED
            )
        elif href in deleted or (changes.full and href not in seen):
            state = WritebackState.MISSING
        else:
            continue
        if state != writeback.state:
            CalendarWriteback.objects.filter(pk=writeback.pk).update(
                state=state,
                last_error="" if state == WritebackState.OK else "changed in the calendar",
            )


def calendar_connection_sync(*, connection_id: int, now: datetime | None = None) -> str:
    """Sync every chosen calendar of a connection; the outcome (OK, or ERROR with the reason
    and the last good copy kept) is recorded on the connection. Returns the state."""
    now = now or utcnow()
    connection = CalendarConnection.objects.select_related("user").filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    CalendarConnection.objects.filter(pk=connection.pk).update(last_attempt_at=now)
    calendars = list(
        ExternalCalendar.objects.select_related("user")
        .filter(connection=connection)
        .filter(Q(busy=True) | Q(write_back=True))
    )
    try:
        if connection.kind == ConnectionKind.ICS:
            for calendar in calendars:
                _sync_ics(calendar, now=now)
        else:
            account = remote.CaldavAccount(
                url=connection.url,
                username=connection.username,
                password=crypto.decrypt(connection.secret),
            )
            for calendar in calendars:
                _sync_caldav(calendar, account=account, now=now)
    except (remote.CalendarError, crypto.UnreadableSecret) as exc:
        message = str(exc)[:500]
        CalendarConnection.objects.filter(pk=connection.pk).update(
            state=SyncState.ERROR, last_error=message
        )
        logger.warning("calendar sync failed", extra={"connection_id": connection.pk})
        return SyncState.ERROR
    CalendarConnection.objects.filter(pk=connection.pk).update(
        state=SyncState.OK, last_error="", last_synced_at=now
    )
    return SyncState.OK


# --- write-back ---------------------------------------------------------------------------------


def writeback_enqueue(*, reservation: Reservation) -> bool:
    """In the caller's transaction: queue writing `reservation` (confirmed, moved or
    cancelled) to its provider's write-back calendar, if the provider chose one or it was
    written before. One query."""
    wanted = (
        ExternalCalendar.objects.filter(
            user_id=reservation.provider.user_id, write_back=True
        ).exists()
        or CalendarWriteback.objects.filter(reservation=reservation).exists()
    )
    if wanted:
        _defer_writeback(reservation.pk)
    return wanted


def _writeback_text(reservation: Reservation) -> tuple[str, str]:
    client = reservation.client.user
    who = client.name or client.email
    return f"Booking: {who}", f"Booked through Rendezvous by {who} <{client.email}>."


def calendar_writeback(*, reservation_id: int, now: datetime | None = None) -> str:
    """Make the provider's write-back calendar match the reservation: a confirmed one is
    there (created, or moved with If-Match on the ETag we wrote), any other is not. An event
    the owner edited is not overwritten: the record says CHANGED and the booking stands.
    Returns the record's state ("" when nothing is written)."""
    now = now or utcnow()
    reservation = (
        Reservation.objects.select_related("client__user", "provider__user")
        .filter(pk=reservation_id)
        .first()
    )
    if reservation is None:
        return ""
    record = (
        CalendarWriteback.objects.select_related("calendar__connection")
        .filter(reservation=reservation)
        .first()
    )
    target = (
        ExternalCalendar.objects.select_related("connection")
        .filter(user_id=reservation.provider.user_id, write_back=True)
        .first()
    )
    calendar = record.calendar if record is not None else target
    if calendar is None:
        return ""
    connection = calendar.connection
    account = remote.CaldavAccount(
        url=connection.url, username=connection.username, password=crypto.decrypt(connection.secret)
    )
    confirmed = reservation.status == ReservationStatus.CONFIRMED
    if record is None:
        if not confirmed:
            return ""
        # Only URL-safe characters: the UID is also the object's file name on the server.
        uid = f"{remote.WRITEBACK_UID_PREFIX}{reservation.pk}-{secrets.token_hex(8)}"
        record = CalendarWriteback(
            reservation=reservation,
            calendar=calendar,
            uid=uid,
            href=calendar.href.rstrip("/") + f"/{uid}.ics",
            state=WritebackState.OK,
        )
    try:
        if not confirmed:
            if record.pk and record.state != WritebackState.MISSING:
                account.delete(record.href)
            if record.pk:
                record.delete()
            return "REMOVED"
        if record.state in (WritebackState.CHANGED, WritebackState.MISSING):
            return record.state  # the owner's edit stands; the provider sees the state
        summary, description = _writeback_text(reservation)
        body = remote.writeback_ics(
            uid=record.uid,
            start=reservation.start,
            end=reservation.end,
            summary=summary,
            description=description,
            stamp=now,
        )
        try:
            record.etag = account.put(href=record.href, body=body, etag=record.etag)
        except remote.CalendarError as exc:
            if not str(exc).startswith("412"):
                raise
            record.state = WritebackState.CHANGED
            record.last_error = "changed in the calendar; not overwritten"
        else:
            record.start, record.end = reservation.start, reservation.end
            record.state, record.last_error = WritebackState.OK, ""
    except remote.CalendarError as exc:
        record.state = WritebackState.ERROR
        record.last_error = str(exc)[:500]
        if record.pk or confirmed:
            record.save()
        raise
    record.save()
    return record.state


def calendar_credentials_rotate() -> tuple[int, int]:
    """Re-encrypt every stored password with the current key; (rotated, unreadable)."""
    rotated = unreadable = 0
    with transaction.atomic():
        for connection in CalendarConnection.objects.select_for_update().exclude(secret=""):
            try:
                connection.secret = crypto.rotate(connection.secret)
            except crypto.UnreadableSecret:
                unreadable += 1
                continue
            connection.save(update_fields=["secret"])
            rotated += 1
    return rotated, unreadable
