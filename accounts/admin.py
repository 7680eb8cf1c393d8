from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Agency, AuditLogEntry, Invitation, Membership, User
from accounts.verification import verification_level_of


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["-date_joined"]
    list_display = ["email", "display_name", "country", "verification", "date_joined", "is_staff"]
    list_filter = ["is_staff", "is_active", "country"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login", "verification"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Profile"), {"fields": ["display_name", "country", "preferred_language", "time_zone"]}),
        (
            _("Verification"),
            {"fields": ["verification", "phone_number", "phone_verified_at", "trusted_at", "trusted_by"]},
        ),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    @admin.display(description=_("verification level"))
    def verification(self, user: User) -> str:
        return verification_level_of(user).label


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "verified_at", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]
    actions = ["mark_verified"]

    @admin.action(description=_("Mark selected agencies as verified"))
    def mark_verified(self, request, queryset):
        queryset.filter(verified_at__isnull=True).update(verified_at=timezone.now())


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "agency", "role", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role"]
    readonly_fields = ["token_hash"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, even for operators."""

    list_display = ["created_at", "agency", "actor", "action", "target_type", "target_id", "ip_address"]
    list_filter = ["action", "agency"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
