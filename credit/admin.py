"""The credit admin: the shape of the data for city admins, never a resident's personal
data (names, addresses, dispute explanations and report contents are encrypted and not
shown). Payment records, disputes, reports and circle history are read-only here: they
change only through the services, which put every change on the ledger. Reporter
policies are editable, through the service's rules."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from credit import services
from credit.models import (
    Account,
    BureauConsent,
    CircleMember,
    CirclePayout,
    CreditReport,
    Dispute,
    LendingCircle,
    PaymentRecord,
    ReporterPolicy,
    ShareLink,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History that changes only through the services: shown, never edited here."""

    def get_fields(self, request, obj=None):
        return self.list_display

    def get_readonly_fields(self, request, obj=None):
        return self.list_display

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "reporter",
        "kind",
        "opened_on",
        "closed_on",
        "terms_months",
        "scheduled_payment_cents",
        "first_furnished_at",
    )
    list_filter = ("kind", "reporter", "closed_on")
    search_fields = ("public_id",)
    list_select_related = ("reporter",)
    date_hierarchy = "opened_on"


@admin.register(PaymentRecord)
class PaymentRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "reporter",
        "kind",
        "due_date",
        "amount_due_cents",
        "paid_on",
        "amount_paid_cents",
        "status",
        "in_dispute",
        "recorded_at",
    )
    list_filter = ("kind", "status", "in_dispute", "reporter")
    search_fields = ("public_id", "digest")
    list_select_related = ("reporter",)
    date_hierarchy = "due_date"


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "status",
        "outcome",
        "opened_at",
        "investigating_at",
        "resolved_at",
    )
    list_filter = ("status", "outcome")
    search_fields = ("public_id",)
    date_hierarchy = "opened_at"


class CircleMemberInline(admin.TabularInline):
    model = CircleMember
    fields = ("payout_position", "joined_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LendingCircle)
class LendingCircleAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "organization",
        "status",
        "monthly_contribution_cents",
        "first_due_date",
        "started_at",
    )
    list_filter = ("status", "organization")
    search_fields = ("name",)
    inlines = [CircleMemberInline]


@admin.register(CirclePayout)
class CirclePayoutAdmin(ReadOnlyAdmin):
    list_display = ("circle", "round", "amount_cents", "paid_on", "recorded_at")
    list_filter = ("circle",)


@admin.register(ReporterPolicy)
class ReporterPolicyAdmin(admin.ModelAdmin):
    list_display = ("organization", "policy", "furnisher_id", "updated_at", "updated_by")
    list_filter = ("policy",)
    search_fields = ("organization__name", "furnisher_id")
    fields = ("organization", "policy", "furnisher_id")
    readonly_fields = ("updated_at", "updated_by")
    list_select_related = ("organization", "updated_by")

    def save_model(self, request, obj, form, change):
        # Through the service, so its rules (reporting organizations, ID format) hold.
        try:
            services.reporter_policy_set(
                organization=obj.organization,
                policy=obj.policy,
                furnisher_id=obj.furnisher_id,
                acting_user=request.user,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BureauConsent)
class BureauConsentAdmin(ReadOnlyAdmin):
    list_display = ("id", "granted_at", "revoked_at")
    list_filter = ("revoked_at",)
    date_hierarchy = "granted_at"


@admin.register(CreditReport)
class CreditReportAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "issued_at", "as_of", "sha256", "superseded_at")
    list_filter = ("superseded_at",)
    search_fields = ("public_id", "sha256")
    date_hierarchy = "issued_at"


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    actions = ["revoke"]

    @admin.action(description=_("Revoke the selected share links"))
    def revoke(self, request, queryset):
        for link in queryset:
            services.share_link_revoke(link=link)
        self.message_user(request, _("Revoked."))
