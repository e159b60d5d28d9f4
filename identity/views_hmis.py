"""The HMIS export download page, for provider admins (their organization) and city
admins (any organization, or all): a form, then a ZIP of the HUD HMIS CSV files.

The files are built in a temporary folder deleted before the response leaves, the
response is never cached, and the export is on the audit trail (counts only).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from citychain import roles
from identity import hmis, hmis_export
from identity.models import Organization

VERSION_CHOICES = [
    ("FY2026", gettext_lazy("FY2026 (in use since October 1, 2025)")),
    ("FY2024", gettext_lazy("FY2024 (for an HMIS that has not been updated yet)")),
]


class HmisExportForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=gettext_lazy("Organization"),
        queryset=Organization.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("All organizations"),
        help_text=gettext_lazy("Export one organization's projects and clients, or everyone's."),
    )
    start = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy(
            "First day of the period. Leave empty to start with the first record."
        ),
    )
    end = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Last day of the period. Leave empty for today."),
    )
    version = forms.ChoiceField(
        label=gettext_lazy("HUD format"),
        choices=VERSION_CHOICES,
        initial=hmis.DEFAULT_VERSION,
        help_text=gettext_lazy(
            "Ask your Continuum of Care which one its HMIS loads. Most use FY2026 now."
        ),
    )

    def __init__(self, *args, city_admin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not city_admin:
            del self.fields["organization"]  # a provider admin exports their own only

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and start > (end or timezone.localdate()):
            self.add_error("start", _("The first day is after the last day."))
        return data


def _export_organization(user) -> tuple[bool, Organization | None]:
    """(is a city admin, the provider admin's own organization); 403 for anyone else."""
    if roles.has_role(user, roles.CITY_ADMIN):
        return True, None
    if roles.has_role(user, roles.PROVIDER_ADMIN) and user.organization is not None:
        return False, user.organization
    raise PermissionDenied(_("Only provider admins and city admins can export HMIS data."))


@login_required
@never_cache
def hmis_export_view(request: HttpRequest) -> HttpResponse:
    city_admin, own_organization = _export_organization(request.user)
    form = HmisExportForm(request.POST or None, city_admin=city_admin)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        organization = data.get("organization") if city_admin else own_organization
        try:
            content, _result = hmis_export.export_zip(
                version=data["version"],
                organization=organization,
                start=data["start"],
                end=data["end"],
                actor=request.user,
            )
        except hmis.HmisError as exc:
            # HUD's format cannot carry a stored value; the message names a column and an
            # opaque PersonalID, never a person.
            form.add_error(
                None,
                _("The export could not be built, so nothing was exported: %(problem)s")
                % {"problem": exc},
            )
        else:
            filename = f"hmis-{data['version']}-{timezone.localdate().isoformat()}.zip"
            response = HttpResponse(content, content_type="application/zip")
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
    return render(
        request,
        "identity/hmis/export.html",
        {
            "form": form,
            "organization": own_organization,
            "coc_code": hmis_export.coc_code(),
            "coc_placeholder": hmis_export.coc_code() == hmis_export.COC_CODE_PLACEHOLDER,
        },
        status=400 if form.errors else 200,
    )
