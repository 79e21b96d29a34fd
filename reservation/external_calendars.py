"""Talking to calendars outside Rendezvous: a CalDAV account (python-caldav) or an iCalendar
subscription URL, and turning what they hold into busy intervals (icalendar +
recurring-ical-events). No ORM: the services decide what to store.

Every URL here is a user's, so it gets the reminders' SSRF guard (reservation.channels): the
host is resolved once, refused unless every address is public (or
REMINDER_ALLOW_PRIVATE_NETWORKS), and the connection is pinned to the vetted addresses (a
name re-pointed between the check and the request gains nothing). No proxy from the
environment, no redirect, a timeout on every request and a size cap on what is read.
"""

import contextlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import caldav
import icalendar
import niquests
import recurring_ical_events
from caldav.elements import dav
from caldav.lib import error as caldav_error
from django.conf import settings

from reservation import channels
from reservation.slots import Interval

# Write-back events carry this UID prefix, so a sync never counts our own booking as the
# owner's busy time (it would block its own reschedule) and can tell it apart.
WRITEBACK_UID_PREFIX = "rendezvous-reservation-"
# Far beyond any real calendar: a rule that expands past this in the window is refused.
MAX_INTERVALS_PER_OBJECT = 5000


class CalendarError(Exception):
    """The other side refused, could not be reached, or sent something unusable; the message
    says which, in words fit for the user (no secrets)."""


class AuthenticationFailed(CalendarError):
    pass


@dataclass(frozen=True, slots=True)
class BusyRules:
    """Whose busy time this is: their addresses (to see their own declines) and zone (for
    all-day events)."""

    emails: frozenset[str]
    tz: ZoneInfo


# --- parsing --------------------------------------------------------------------------------


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=tz)
    return datetime.combine(value, time(0), tzinfo=tz)  # all-day: the owner's local midnight


def _declined(component: icalendar.cal.Component, emails: frozenset[str]) -> bool:
    attendees = component.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        address = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:").lower()
        if address in emails and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def _blocks(component: icalendar.cal.Component, rules: BusyRules) -> bool:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return False
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return False
    return not _declined(component, rules.emails)


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    try:
        return icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarError(f"not an iCalendar file: {str(exc)[:200]}") from exc


def busy_of(
    calendar: icalendar.Calendar, *, start: datetime, end: datetime, rules: BusyRules
) -> dict[str, list[Interval]]:
    """{UID: busy intervals in [start, end)} of the VEVENTs of `calendar`: recurrences
    expanded (RRULE, RDATE, EXDATE, overridden instances), cancelled, transparent and declined
    ones left out, our own write-back events left out, all-day days in the owner's zone."""
    busy: dict[str, list[Interval]] = {}
    try:
        occurrences = recurring_ical_events.of(calendar, components=["VEVENT"]).between(start, end)
    except Exception as exc:
        raise CalendarError(f"an event could not be expanded: {str(exc)[:200]}") from exc
    for occurrence in occurrences:
        uid = str(occurrence.get("UID", ""))
        if uid.startswith(WRITEBACK_UID_PREFIX) or not _blocks(occurrence, rules):
            continue
        dtstart = occurrence.get("DTSTART")
        if dtstart is None:
            continue
        s = _aware(dtstart.dt, rules.tz)
        dtend = occurrence.get("DTEND")
        if dtend is not None:
            e = _aware(dtend.dt, rules.tz)
        elif occurrence.get("DURATION") is not None:
            e = s + occurrence["DURATION"].dt
        elif isinstance(dtstart.dt, datetime):
            e = s  # RFC 5545: a DATE-TIME start with no end takes no time
        else:
            e = _aware(dtstart.dt + timedelta(days=1), rules.tz)
        if e <= s:
            continue
        intervals = busy.setdefault(uid, [])
        intervals.append((max(s, start), min(e, end)))
        if len(intervals) > MAX_INTERVALS_PER_OBJECT:
            raise CalendarError(f"event {uid[:80]} repeats too often to be used as busy time")
    return busy


# --- the network ----------------------------------------------------------------------------


def _vetted_host(url: str) -> tuple[urllib.parse.SplitResult, list[str]]:
    """The URL's parts and its host's addresses, after the reminders' SSRF checks."""
    try:
        parts = channels.check_url(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = channels.resolve(parts.hostname or "", port)
    except channels.UnsafeAddress as exc:
        raise CalendarError(str(exc)) from exc
    except OSError as exc:
        raise CalendarError(f"{parts.hostname} does not resolve: {exc}") from exc
    return parts, sorted({str(sockaddr[0]) for *_, sockaddr in infos})


@dataclass
class Fetched:
    """An .ics URL's answer: `body` None when it is unchanged (304)."""

    body: bytes | None
    etag: str = ""
    last_modified: str = ""


def fetch_ics(url: str, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GET an iCalendar subscription, conditionally (If-None-Match / If-Modified-Since), at
    most CALENDAR_MAX_BYTES, through the SSRF guard. webcal:// means https://."""
    if url.startswith("webcal://"):
        url = "https://" + url.removeprefix("webcal://")
    _vetted_host(url)
    headers = {"User-Agent": channels.USER_AGENT, "Accept": "text/calendar"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - checked above
    limit = settings.CALENDAR_MAX_BYTES
    try:
        with channels.guarded_opener().open(
            request, timeout=settings.CALENDAR_HTTP_TIMEOUT
        ) as response:
            body = response.read(limit + 1)
            headers_in = response.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(body=None, etag=etag, last_modified=last_modified)
        if 300 <= exc.code < 400:
            raise CalendarError(f"HTTP {exc.code}: redirects are not followed") from exc
        raise CalendarError(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, channels.ChannelError) as exc:
        raise CalendarError(f"unreachable: {getattr(exc, 'reason', exc)}") from exc
    if len(body) > limit:
        raise CalendarError(f"the calendar is larger than {limit} bytes")
    return Fetched(
        body=body,
        etag=headers_in.get("ETag", ""),
        last_modified=headers_in.get("Last-Modified", ""),
    )


@dataclass
class RemoteObject:
    href: str
    etag: str
    data: str | None = None


@dataclass
class Changes:
    """What a sync found: `full` means `changed` is everything (replace the local copy)."""

    token: str
    full: bool
    changed: list[RemoteObject] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _etag(obj: object) -> str:
    return str(getattr(obj, "props", {}).get("{DAV:}getetag", "") or "")


class CaldavAccount:
    """One CalDAV account, every request pinned to the addresses vetted at construction."""

    def __init__(self, *, url: str, username: str, password: str) -> None:
        parts, addresses = _vetted_host(url)
        host = parts.hostname or ""
        self.client = caldav.DAVClient(
            url=url,
            username=username,
            password=password,
            timeout=settings.CALENDAR_HTTP_TIMEOUT,
            enable_rfc6764=False,
            require_tls=parts.scheme == "https",
            rate_limit_handle=False,
        )
        pins = "&".join(f"hosts={host}:{address}" for address in addresses)
        session = niquests.Session(resolver=f"in-memory://default/?{pins}")
        session.trust_env = False  # no proxy from the environment, no .netrc
        session.max_redirects = 0
        self.client.session = session

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except caldav_error.AuthorizationError as exc:
            raise AuthenticationFailed(
                f"{doing}: the server refused the user name or password"
            ) from exc
        except caldav_error.DAVError as exc:
            raise CalendarError(f"{doing}: {str(exc)[:200]}") from exc
        except niquests.exceptions.RequestException as exc:
            raise CalendarError(f"{doing}: unreachable ({type(exc).__name__})") from exc

    def calendars(self) -> list[tuple[str, str]]:
        """(href, display name) of every calendar in the principal's calendar-home-set that
        can hold events."""
        with self._errors("discovering calendars"):
            found = []
            for calendar in self.client.principal().calendars():
                with contextlib.suppress(caldav_error.DAVError):
                    components = calendar.get_supported_components()
                    if components and "VEVENT" not in components:
                        continue
                found.append((str(calendar.url), calendar.get_display_name() or ""))
            return found

    def _calendar(self, href: str) -> caldav.Calendar:
        return caldav.Calendar(client=self.client, url=href)

    def changes(self, *, href: str, token: str, start: datetime, end: datetime) -> Changes:
        """Objects changed and deleted since `token` (RFC 6578 sync-collection); without a
        token, or one the server no longer knows, or a server without sync-collection:
        everything in [start, end) (a calendar-query time-range REPORT) as a full copy."""
        calendar = self._calendar(href)
        with self._errors("syncing"):
            if token:
                try:
                    collection = calendar.get_objects_by_sync_token(
                        sync_token=token, load_objects=False, disable_fallback=True
                    )
                except (caldav_error.DAVError, caldav_error.ReportError):
                    collection = None
                if collection is not None:
                    deleted = {str(u) for u in collection.deleted_urls}
                    changed = []
                    for obj in collection.objects:
                        if str(obj.url) in deleted:
                            continue
                        try:
                            obj.load()
                        except caldav_error.NotFoundError:
                            deleted.add(str(obj.url))
                            continue
                        changed.append(RemoteObject(str(obj.url), _etag(obj), obj.data))
                    return Changes(
                        token=str(collection.sync_token or ""),
                        full=False,
                        changed=changed,
                        deleted=sorted(deleted),
                    )
            # The collection's current DAV:sync-token (one PROPFIND), read before the
            # REPORT: a change racing the copy is then seen again by the next sync.
            new_token = ""
            with contextlib.suppress(caldav_error.DAVError):
                new_token = str(calendar.get_property(dav.SyncToken()) or "")
            found = calendar.search(start=start, end=end, event=True, expand=False)
            return Changes(
                token=new_token,
                full=True,
                changed=[RemoteObject(str(o.url), _etag(o), o.data) for o in found],
            )

    def put(self, *, href: str, body: str, etag: str = "") -> str:
        """Create (etag empty: If-None-Match *) or replace (If-Match etag) an object; the
        new ETag (may be empty). CalendarError 412 when it changed under us."""
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"
        with self._errors("writing an event"):
            response = self.client.put(href, body, headers)
        if response.status == 412:
            raise CalendarError("412: the event was changed in the calendar")
        if response.status >= 300:
            raise CalendarError(f"writing an event: HTTP {response.status}")
        return str(response.headers.get("ETag", ""))

    def delete(self, href: str) -> None:
        with self._errors("deleting an event"):
            response = self.client.delete(href)
        if response.status not in (200, 204, 404):
            raise CalendarError(f"deleting an event: HTTP {response.status}")


def writeback_ics(
    *, uid: str, start: datetime, end: datetime, summary: str, description: str, stamp: datetime
) -> str:
    """The VEVENT a confirmed booking is written as (UTC times, a stable UID)."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Rendezvous//bookings//EN")
    calendar.add("VERSION", "2.0")
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", stamp.astimezone(UTC))
    event.add("DTSTART", start.astimezone(UTC))
    event.add("DTEND", end.astimezone(UTC))
    event.add("SUMMARY", summary)
    event.add("DESCRIPTION", description)
    event.add("TRANSP", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def times_of(data: str | bytes) -> tuple[datetime, datetime] | None:
    """DTSTART/DTEND (UTC) of the first VEVENT of an object, or None."""
    for component in parse_calendar(data).walk("VEVENT"):
        start, end = component.get("DTSTART"), component.get("DTEND")
        if start is None or end is None:
            return None
        utc = ZoneInfo("UTC")
        return _aware(start.dt, utc), _aware(end.dt, utc)
    return None


def same_resource(href: str) -> str:
    """An object's URL as a comparable key: its path, percent-decoded."""
    return urllib.parse.unquote(urllib.parse.urlsplit(href).path)


def flatten(busy: Iterable[list[Interval]]) -> list[Interval]:
    return [interval for intervals in busy for interval in intervals]
