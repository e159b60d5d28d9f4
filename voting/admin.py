"""The election officials' admin: elections and their ballot, the roll's shape, the ballots.

Lifecycle changes go through admin actions that call the services (which record them on the
ledger); the ballot is editable only while an election is a draft; the roll shows no
personal data; ballots and the roll's marks are read-only history.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from voting import services
from voting.models import Ballot, Choice, Contest, Election, Voter


def _lifecycle_action(service, description):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        for election in queryset:
            try:
                service(election, acting_user=request.user)
            except ValidationError as exc:
                modeladmin.message_user(
                    request, f"{election}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                modeladmin.message_user(request, f"{election}: {election.get_status_display()}")

    action.__name__ = service.__name__
    return action


class EditableWhileDraft:
    """Contests and choices change only while their election is a draft."""

    def _election(self, obj):
        raise NotImplementedError

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._election(obj).status != Election.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._election(obj).status != Election.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)


class ContestInline(EditableWhileDraft, admin.TabularInline):
    model = Contest
    fields = ("position", "title", "method", "seats")
    extra = 0
    show_change_link = True

    def _election(self, obj):
        return obj

    def has_add_permission(self, request, obj=None):
        return obj is None or obj.status == Election.Status.DRAFT


@admin.register(Election)
class ElectionAdmin(admin.ModelAdmin):
    list_display = ("title", "status", "results_live", "opened_at", "closed_at", "certified_at")
    list_filter = ("status", "results_live")
    search_fields = ("title",)
    readonly_fields = (
        "status",
        "created_by",
        "created_at",
        "opened_at",
        "closed_at",
        "certified_at",
        "definition_sha256",
    )
    inlines = [ContestInline]
    actions = [
        _lifecycle_action(services.election_open, _("Open voting")),
        _lifecycle_action(services.election_close, _("Close voting")),
        _lifecycle_action(services.election_certify, _("Certify the results")),
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Election.Status.DRAFT:
            return (*self.readonly_fields, "title", "description", "results_live", "rcv_rules")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        # An election that was ever open is history: its ballots are on the ledger.
        if obj is not None and obj.status != Election.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)


class ChoiceInline(EditableWhileDraft, admin.TabularInline):
    model = Choice
    fields = ("position", "name")
    extra = 0

    def _election(self, obj):
        return obj.election

    def has_add_permission(self, request, obj=None):
        return obj is None or obj.election.status == Election.Status.DRAFT


@admin.register(Contest)
class ContestAdmin(EditableWhileDraft, admin.ModelAdmin):
    list_display = ("title", "election", "method", "seats", "position")
    list_filter = ("method", "election__status")
    list_select_related = ("election",)
    search_fields = ("title", "election__title")
    readonly_fields = ("tie_decisions",)
    inlines = [ChoiceInline]

    def _election(self, obj):
        return obj.election


@admin.register(Voter)
class VoterAdmin(admin.ModelAdmin):
    """The roll's shape only: names and emails are for the letters, not for browsing."""

    list_display = ("id", "election", "has_voted", "credential_issued_at")
    list_filter = ("has_voted", "election")
    list_select_related = ("election",)
    fields = list_display

    def get_readonly_fields(self, request, obj=None):
        return self.list_display

    def has_add_permission(self, request):
        return False  # rolls are imported through the services, all or nothing

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    list_display = ("tracking_code", "election")
    list_filter = ("election",)
    list_select_related = ("election",)
    search_fields = ("tracking_code",)
    fields = ("tracking_code", "election", "selections", "ledger_entry")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
