from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction

from reservation import models
from reservation.actors import Actor, utcnow
from reservation.services.audit import audit_record


class AuditedAdmin(admin.ModelAdmin):
    """Edits made in the admin are audited like every other change: who (the staff member),
    what (old and new value of each changed field), in the same transaction as the write."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        changes = {
            name: [form.initial.get(name), form.cleaned_data.get(name)]
            for name in form.changed_data
            if name not in {"password", "password1", "password2"}
        }
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            action = "admin_update" if change else "admin_create"
            audit_record(
                actor=Actor(user=request.user),
                action=f"{obj._meta.model_name}.{action}",
                subject=obj,
                changes={k: [str(v) for v in pair] for k, pair in changes.items()},
                at=utcnow(),
            )

    def delete_model(self, request: Any, obj: Any) -> None:
        with transaction.atomic():
            audit_record(
                actor=Actor(user=request.user),
                action=f"{obj._meta.model_name}.admin_delete",
                subject=obj,
                changes={"was": str(obj)},
                at=utcnow(),
            )
            super().delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that change only through the services (which lock and audit): shown, never
    edited here."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(models.User)
class UserAdmin(AuditedAdmin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "time_zone", "is_active", "is_staff"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "time_zone")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "time_zone", "password1", "password2"),
            },
        ),
    )


@admin.register(models.Provider)
class ProviderAdmin(AuditedAdmin):
    list_display = ["__str__", "user", "is_active", "created_at"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(models.Client)
class ClientAdmin(AuditedAdmin):
    list_display = ["user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user"]


@admin.register(models.BookingPolicy)
class BookingPolicyAdmin(AuditedAdmin):
    list_display = [
        "__str__",
        "slot_length_minutes",
        "step_minutes",
        "min_notice_minutes",
        "horizon_days",
        "hold_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "max_active_holds",
        "updated_at",
    ]
    list_select_related = ["provider__user"]
    autocomplete_fields = ["provider"]


@admin.register(models.Reservation)
class ReservationAdmin(admin.ModelAdmin):
    """Read-mostly: state changes go through the API's services, which lock and audit."""

    list_display = ["id", "provider", "client", "start", "end", "status", "expires_at"]
    list_filter = ["status"]
    list_select_related = ["provider__user", "client__user"]
    search_fields = ["provider__user__email", "client__user__email"]
    date_hierarchy = "start"
    readonly_fields = [f.name for f in models.Reservation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.AvailabilityWindow)
class AvailabilityWindowAdmin(ReadOnlyAdmin):
    list_display = ["provider", "start", "end"]
    list_select_related = ["provider__user"]


@admin.register(models.WorkingHours)
class WorkingHoursAdmin(ReadOnlyAdmin):
    list_display = ["user", "weekday", "start", "end"]
    list_select_related = ["user"]


@admin.register(models.TimeOff)
class TimeOffAdmin(ReadOnlyAdmin):
    list_display = ["user", "start", "end", "reason"]
    list_select_related = ["user"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Staff can revoke a token (audited); nothing else changes here."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "digest", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is append-only: the admin shows it and changes nothing."""

    list_display = ["at", "action", "subject_type", "subject_id", "actor_kind", "actor_user"]
    list_filter = ["action", "actor_kind", "subject_type"]
    list_select_related = ["actor_user"]
    search_fields = ["action", "subject_id"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ParticipantInline(admin.TabularInline):
    model = models.Participant
    extra = 0
    fields = ["user", "role", "rsvp"]
    readonly_fields = ["user", "role", "rsvp"]
    can_delete = False


class CandidateInline(admin.TabularInline):
    model = models.CandidateSlot
    extra = 0
    fields = ["start", "end"]
    readonly_fields = ["start", "end"]
    can_delete = False


@admin.register(models.Event)
class EventAdmin(admin.ModelAdmin):
    """Events change through the API's services (versions, audit, mail); the admin reads."""

    list_display = ["title", "organizer", "status", "start", "version", "created_at"]
    list_filter = ["status"]
    list_select_related = ["organizer"]
    search_fields = ["title", "organizer__email"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in models.Event._meta.fields]
    inlines = [ParticipantInline, CandidateInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox: what was (or will be) mailed, and how each attempt went."""

    list_display = ["created_at", "kind", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["recipient"]
    search_fields = ["recipient__email", "subject"]
    # Every field, body included: an invitation's secret is never stored (the body has a
    # placeholder where the mail's link goes; see services.mail.notification_send).
    readonly_fields = [f.name for f in models.Notification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.EventAccessToken)
class EventAccessTokenAdmin(AuditedAdmin):
    """Staff can revoke a link (audited); nothing else changes here."""

    list_display = ["event", "user", "created_at", "expires_at", "revoked_at"]
    list_select_related = ["event", "user"]
    readonly_fields = ["event", "user", "digest", "created_at", "expires_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.ReminderDelivery)
class ReminderDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "reminder", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["reminder", "recipient"]
    readonly_fields = [f.name for f in models.ReminderDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.CalendarConnection)
class CalendarConnectionAdmin(ReadOnlyAdmin):
    """Connected calendars and their sync state; the encrypted password is never shown."""

    list_display = ("user", "kind", "url", "state", "last_synced_at", "last_error")
    list_filter = ("kind", "state")
    search_fields = ("user__email", "url")
    exclude = ("secret",)


@admin.register(models.CalendarWriteback)
class CalendarWritebackAdmin(ReadOnlyAdmin):
    list_display = ("reservation", "calendar", "uid", "state", "updated_at")
    list_filter = ("state",)
