from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from identity.models import Organization, User


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
