from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from identity.models import (
    AccessEvent,
    CityCard,
    Consent,
    Document,
    DocumentAttestation,
    Encounter,
    Enrollment,
    Organization,
    Project,
    Referral,
    Resident,
    ResidentLink,
    User,
)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "hud_organization_id", "is_active", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "hud_organization_id")


@admin.register(User)
class StaffAdmin(UserAdmin):
    list_display = ("username", "get_full_name", "organization", "roles", "is_active", "last_login")
    list_filter = ("organization", "groups", "is_active", "is_staff")
    search_fields = ("username", "first_name", "last_name", "email", "organization__name")
    list_select_related = ("organization",)
    fieldsets = (
        *UserAdmin.fieldsets,
        (_("Organization"), {"fields": ("organization",)}),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (_("Organization"), {"fields": ("organization", "groups")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all())


# --- residents' records -------------------------------------------------------------
#
# The admin never shows personal data: residents are seen through the caseworker portal,
# under consent and with every view audited. Here a city admin sees the shape of the data
# (who enrolled whom, statuses, dates) and manages projects and enrollments.


class NoPersonalDataAdmin(admin.ModelAdmin):
    """Read-only, and only the columns listed: encrypted fields are never displayed."""

    def get_fields(self, request, obj=None):
        return self.list_display

    def get_readonly_fields(self, request, obj=None):
        return self.list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # erasure goes through the portal, which records it


@admin.register(Resident)
class ResidentAdmin(NoPersonalDataAdmin):
    list_display = ("public_id", "enrolled_by", "vawa_protected", "created_at", "updated_at")
    list_filter = ("enrolled_by", "vawa_protected")
    search_fields = ("=public_id",)
    list_select_related = ("enrolled_by",)


@admin.register(CityCard)
class CityCardAdmin(NoPersonalDataAdmin):
    list_display = ("id", "status", "issued_at", "issued_by", "revoked_at", "revoked_reason")
    list_filter = ("status",)
    list_select_related = ("issued_by",)


@admin.register(Consent)
class ConsentAdmin(NoPersonalDataAdmin):
    list_display = ("id", "organization", "status", "categories", "expires_on", "recorded_at")
    list_filter = ("status", "organization")
    list_select_related = ("organization",)


@admin.register(AccessEvent)
class AccessEventAdmin(NoPersonalDataAdmin):
    list_display = ("at", "actor", "organization", "action", "detail")
    list_filter = ("action", "organization")
    search_fields = ("=subject", "actor__username")
    list_select_related = ("actor", "organization")


@admin.register(Document)
class DocumentAdmin(NoPersonalDataAdmin):
    list_display = ("id", "category", "content_type", "size", "organization", "uploaded_at")
    list_filter = ("category", "content_type", "organization")
    search_fields = ("=sha256",)
    list_select_related = ("organization",)


@admin.register(DocumentAttestation)
class DocumentAttestationAdmin(NoPersonalDataAdmin):
    list_display = ("sha256", "organization", "attested_at")
    search_fields = ("=sha256",)
    list_select_related = ("organization",)


@admin.register(Encounter)
class EncounterAdmin(NoPersonalDataAdmin):
    list_display = ("id", "kind", "date", "organization", "recorded_by")
    list_filter = ("kind", "organization")
    date_hierarchy = "date"
    list_select_related = ("organization", "recorded_by")


@admin.register(Referral)
class ReferralAdmin(NoPersonalDataAdmin):
    list_display = ("id", "from_organization", "to_organization", "service", "status", "created_at")
    list_filter = ("status", "to_organization")
    list_select_related = ("from_organization", "to_organization")


@admin.register(ResidentLink)
class ResidentLinkAdmin(NoPersonalDataAdmin):
    list_display = ("id", "linked_by", "linked_at", "reason", "unlinked_at")
    list_select_related = ("linked_by",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "project_type")
    list_filter = ("organization", "project_type")
    search_fields = ("name",)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    """Entry and exit dates for HMIS; the resident is chosen by public id, never by name."""

    list_display = ("id", "project", "entry_date", "exit_date", "destination")
    list_filter = ("project",)
    raw_id_fields = ("resident",)
    list_select_related = ("project",)
