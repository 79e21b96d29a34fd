from django.contrib.postgres.fields import ArrayField
from django.db import models


class EventStatus(models.TextChoices):
    PROPOSED = "PROPOSED", "Proposed"
    SCHEDULED = "SCHEDULED", "Scheduled"
    CANCELLED = "CANCELLED", "Cancelled"


class Event(models.Model):
    """Something several people attend: proposed with candidate slots, then scheduled at one
    agreed time (or created scheduled, by the calendar), or cancelled.

    `version` grows with every change of the candidate list or the status; writers send the
    version they have seen, so nobody narrows a list they have not seen.
    """

    organizer = models.ForeignKey(
        "reservation.User", on_delete=models.PROTECT, related_name="organized_events"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.PROPOSED
    )
    version = models.PositiveIntegerField(default=1)
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    auto_agree = models.BooleanField(
        default=False, help_text="Schedule automatically when a narrow leaves one candidate."
    )
    recurrence = models.CharField(
        max_length=500,
        blank=True,
        help_text="RFC 5545 RRULE (without 'RRULE:'), expanded in time_zone from start; "
        "empty for a single occurrence.",
    )
    extra_starts = ArrayField(
        models.DateTimeField(),
        default=list,
        blank=True,
        help_text="RDATE: starts (UTC) added to the rule's, each lasting end - start.",
    )
    cancel_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organizer", "status"], name="event_organizer_status")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="SCHEDULED")
                | models.Q(start__isnull=False, end__isnull=False, end__gt=models.F("start")),
                name="event_scheduled_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=EventStatus.values), name="event_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="event_version_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(extra_starts__len__lte=100), name="event_extra_starts_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.status}]"


class Participant(models.Model):
    """A person on an event: its organizer or a party. The list is fixed at creation, so the
    log stays unambiguous. `rsvp` is their answer once the event is scheduled."""

    class Role(models.TextChoices):
        ORGANIZER = "ORGANIZER", "Organizer"
        PARTY = "PARTY", "Party"

    class Rsvp(models.TextChoices):
        UNDECIDED = "UNDECIDED", "Undecided"
        YES = "YES", "Yes"
        MAYBE = "MAYBE", "Maybe"
        NO = "NO", "No"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        "reservation.User", on_delete=models.PROTECT, related_name="participations"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PARTY)
    rsvp = models.CharField(max_length=16, choices=Rsvp.choices, default=Rsvp.UNDECIDED)

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="participant_once_per_event"),
            models.UniqueConstraint(
                fields=["event"],
                condition=models.Q(role="ORGANIZER"),
                name="participant_one_organizer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.event_id} ({self.role}, {self.rsvp})"


class CandidateSlot(models.Model):
    """A time proposed for an event. Narrowing deletes candidates (and their votes); the audit
    log keeps every list that ever was."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="candidates")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start", "end", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="candidate_end_after_start"
            ),
            models.UniqueConstraint(
                fields=["event", "start", "end"], name="candidate_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


class Vote(models.Model):
    """A party's answer for one candidate."""

    class Answer(models.TextChoices):
        YES = "YES", "Yes"
        IF_NEED_BE = "IF_NEED_BE", "If need be"
        NO = "NO", "No"

    candidate = models.ForeignKey(CandidateSlot, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    answer = models.CharField(max_length=16, choices=Answer.choices)

    class Meta:
        ordering = ["candidate", "participant"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "participant"], name="vote_once_per_candidate"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.answer} {self.candidate_id}"


class EventAccessToken(models.Model):
    """A link's key: lets one person view, narrow, vote and notify on one event, until it
    expires or is revoked. Only the SHA-256 digest is stored."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="access_tokens")
    user = models.ForeignKey(
        "reservation.User", on_delete=models.CASCADE, related_name="event_access_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["event", "user"], name="access_token_event_user")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="access_token_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"token {self.pk} for {self.user} on event {self.event_id}"
