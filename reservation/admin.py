from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from reservation import models


@admin.register(models.User)
class UserAdmin(BaseUserAdmin):
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
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "is_active", "created_at"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__email"]
    autocomplete_fields = ["user"]


@admin.register(models.Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    autocomplete_fields = ["user"]


@admin.register(models.BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
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
class AvailabilityWindowAdmin(admin.ModelAdmin):
    list_display = ["provider", "start", "end"]
    list_select_related = ["provider__user"]
    readonly_fields = ["provider", "start", "end", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["user", "weekday", "start", "end"]
    list_select_related = ["user"]


@admin.register(models.TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["user", "start", "end", "reason"]
    list_select_related = ["user"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
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
    readonly_fields = ["user", "role"]
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
    readonly_fields = [f.name for f in models.Notification._meta.fields if f.name != "link"]
    exclude = ["link"]  # may still hold a link's secret until sent

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.EventAccessToken)
class EventAccessTokenAdmin(admin.ModelAdmin):
    list_display = ["event", "user", "created_at", "expires_at", "revoked_at"]
    list_select_related = ["event", "user"]
    readonly_fields = ["event", "user", "digest", "created_at", "expires_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.ReminderDelivery)
class ReminderDeliveryAdmin(admin.ModelAdmin):
    list_display = ["due_at", "reminder", "recipient", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["reminder", "recipient"]
    readonly_fields = [f.name for f in models.ReminderDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
