"""Calendars that live outside Rendezvous (a CalDAV account, an iCalendar subscription URL),
the busy time copied from them, and the bookings written back to them."""

from django.db import models


class ConnectionKind(models.TextChoices):
    CALDAV = "CALDAV", "CalDAV account"
    ICS = "ICS", "iCalendar subscription URL"


class SyncState(models.TextChoices):
    PENDING = "PENDING", "Not synced yet"
    OK = "OK", "Last sync succeeded"
    ERROR = "ERROR", "Last sync failed (the last good copy is kept)"


class CalendarConnection(models.Model):
    """One account or subscription of a user. The password is stored encrypted
    (reservation.crypto) and never shown again."""

    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="calendar_connections"
    )
    kind = models.CharField(max_length=8, choices=ConnectionKind.choices)
    url = models.CharField(max_length=1000)
    username = models.CharField(max_length=200, blank=True)
    secret = models.TextField(blank=True, help_text="Encrypted password (Fernet token).")
    state = models.CharField(max_length=8, choices=SyncState.choices, default=SyncState.PENDING)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ConnectionKind.values),
                name="calendar_connection_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=SyncState.values),
                name="calendar_connection_state_valid",
            ),
            models.UniqueConstraint(
                fields=["user", "kind", "url", "username"], name="calendar_connection_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.url} ({self.user})"


class ExternalCalendar(models.Model):
    """One calendar of a connection (an .ics subscription has exactly one). `busy`: its events
    block the owner's time; `write_back`: confirmed bookings of the owner (as a provider) are
    written to it (one per user at most)."""

    connection = models.ForeignKey(
        CalendarConnection, on_delete=models.CASCADE, related_name="calendars"
    )
    user = models.ForeignKey("reservation.User", on_delete=models.CASCADE, related_name="+")
    href = models.CharField(max_length=1000, help_text="The calendar's URL on its server.")
    name = models.CharField(max_length=200, blank=True)
    busy = models.BooleanField(default=True)
    write_back = models.BooleanField(default=False)
    # CalDAV sync-collection (RFC 6578) token; ETag / Last-Modified of an .ics URL.
    sync_token = models.CharField(max_length=500, blank=True)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["connection", "id"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "href"], name="external_calendar_once"),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(write_back=True),
                name="external_calendar_one_write_back",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.href


class ExternalObject(models.Model):
    """One calendar object resource (an .ics file on the server, or one UID of a subscription)
    with the ETag it was read at, so an incremental sync replaces exactly what changed."""

    calendar = models.ForeignKey(
        ExternalCalendar, on_delete=models.CASCADE, related_name="objects_synced"
    )
    href = models.CharField(max_length=1000)
    etag = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "href"], name="external_object_once"),
        ]

    def __str__(self) -> str:
        return self.href


class ExternalBusy(models.Model):
    """A busy interval of an external calendar, expanded (recurrences included) over the
    calendar's sync window. No title or description is kept: only the time is needed."""

    object = models.ForeignKey(ExternalObject, on_delete=models.CASCADE, related_name="busy")
    user = models.ForeignKey("reservation.User", on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "start"], name="external_busy_user_start")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="external_busy_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} busy {self.start}–{self.end}"


class WritebackState(models.TextChoices):
    OK = "OK", "In the calendar as booked"
    CHANGED = "CHANGED", "Edited in the calendar by its owner"
    MISSING = "MISSING", "Deleted from the calendar by its owner"
    ERROR = "ERROR", "Could not be written"


class CalendarWriteback(models.Model):
    """Where a reservation was written in its provider's calendar, and what we wrote, so a
    later write updates or removes it and an edit made there is noticed."""

    reservation = models.OneToOneField(
        "reservation.Reservation", on_delete=models.CASCADE, related_name="writeback"
    )
    calendar = models.ForeignKey(
        ExternalCalendar, on_delete=models.CASCADE, related_name="writebacks"
    )
    uid = models.CharField(max_length=200, unique=True)
    href = models.CharField(max_length=1000, blank=True)
    etag = models.CharField(max_length=500, blank=True)
    start = models.DateTimeField(null=True, blank=True, help_text="What was written.")
    end = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=WritebackState.choices)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=WritebackState.values),
                name="calendar_writeback_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.uid} [{self.state}]"
