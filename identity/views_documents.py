"""Documents: upload and download at the desk, and the public "verify a document" page.

Uploaded files live only in the encrypted `Document.content` column; they are served by
`document_download` alone, after the same visibility and consent checks as the resident
page, never from a guessable public URL. The public page answers from
`DocumentAttestation` alone: which organization attested a fingerprint and when.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from identity import selectors, services
from identity.models import (
    AccessEvent,
    Document,
    DocumentAttestation,
    Organization,
    RecordCategory,
)
from identity.permissions import desk_required

EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "A PDF, JPEG or PNG file of up to 10 MB. A photo of a paper document works."
        ),
        widget=forms.FileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )
    category = forms.ChoiceField(
        label=gettext_lazy("Kind of record"),
        help_text=gettext_lazy(
            "Only the kinds of record this resident agreed to share with your organization."
        ),
    )
    title = forms.CharField(
        label=gettext_lazy("Title"),
        max_length=200,
        help_text=gettext_lazy(
            "A short name staff will recognize, for example “Birth certificate”."
        ),
    )

    def __init__(self, *args, categories: frozenset[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [
            (value, label) for value, label in RecordCategory.choices if value in categories
        ]


class DocumentVerifyForm(forms.Form):
    sha256 = forms.CharField(
        label=gettext_lazy("SHA-256 fingerprint"),
        max_length=200,
        help_text=gettext_lazy(
            "64 characters, digits 0-9 and letters a-f. Filled in for you when you choose a "
            "file above; you can also type or paste it."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "mono"}
        ),
    )

    def clean_sha256(self) -> str:
        value = "".join(self.cleaned_data["sha256"].split()).lower()
        if not SHA256_HEX.match(value):
            raise ValidationError(
                _("A SHA-256 fingerprint is 64 characters: the digits 0-9 and the letters a-f.")
            )
        return value


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError onto the form, on its field when the form has one."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            for message in errors:
                form.add_error(name if name in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


@desk_required
@require_http_methods(["GET", "POST"])
def document_upload(request: HttpRequest, public_id) -> HttpResponse:
    resident = selectors.resident_for(request.user, public_id)
    if resident is None:
        raise Http404
    access = selectors.access_for(resident, request.user.organization)
    form = DocumentUploadForm(
        request.POST or None, request.FILES or None, categories=access.categories
    )
    if request.method == "POST" and form.is_valid():
        # Never read more than the limit (+1, so the service sees it is too big).
        content = form.cleaned_data["file"].read(services.MAX_DOCUMENT_BYTES + 1)
        try:
            document = services.document_upload(
                acting_user=request.user,
                resident=resident,
                content=content,
                category=form.cleaned_data["category"],
                title=form.cleaned_data["title"],
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            if resident.vawa_protected:
                text = _(
                    "Uploaded. Fingerprint SHA-256 %(sha256)s. It is not on the public ledger: "
                    "this resident is protected by VAWA."
                )
            else:
                text = _(
                    "Uploaded. Fingerprint SHA-256 %(sha256)s attested on the ledger by "
                    "%(organization)s."
                )
            messages.success(
                request, text % {"sha256": document.sha256, "organization": document.organization}
            )
            return redirect("identity:resident", resident.public_id)
    return render(
        request,
        "identity/documents/upload.html",
        {"form": form, "resident": resident, "max_mb": services.MAX_DOCUMENT_BYTES // 2**20},
        status=400 if form.errors else 200,
    )


def document_response(document: Document) -> HttpResponse:
    """The decrypted file as a download that no browser renders inline or caches."""
    extension = EXTENSIONS.get(document.content_type, "bin")
    response = HttpResponse(bytes(document.content), content_type=document.content_type)
    # The title may hold personal data: the file name never does.
    response["Content-Disposition"] = f'attachment; filename="document-{document.pk}.{extension}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@desk_required
@require_http_methods(["GET"])
def document_download(request: HttpRequest, pk: int) -> HttpResponse:
    document = (
        Document.objects.select_related("resident")
        .filter(pk=pk, resident__in=selectors.visible_residents(request.user))
        .first()
    )
    if document is None:
        raise Http404
    access = selectors.access_for(document.resident, request.user.organization)
    if not access.allows(document.category):
        raise Http404
    services.access_log(
        actor=request.user,
        action=AccessEvent.Action.DOWNLOAD,
        resident=document.resident,
        detail=f"document {document.pk}",
    )
    return document_response(document)


def public_attestations(sha256: str) -> QuerySet[DocumentAttestation]:
    """Attestations the public may see. Those with no ledger entry were made for a
    resident protected by VAWA, and a victim-service provider's are never shown either:
    naming such a provider would tell whoever holds a copy of the file where its owner
    is being helped."""
    return (
        DocumentAttestation.objects.filter(sha256=sha256, ledger_entry__isnull=False)
        .exclude(organization__kind=Organization.Kind.VICTIM_SERVICES)
        .select_related("organization", "ledger_entry")
        .order_by("attested_at", "pk")
    )


@never_cache
@require_http_methods(["GET", "POST"])
def document_verify(request: HttpRequest) -> HttpResponse:
    """Public. POST, so fingerprints stay out of URLs, server logs and browser history."""
    form = DocumentVerifyForm(request.POST or None)
    attestations = None
    if request.method == "POST" and form.is_valid():
        attestations = list(public_attestations(form.cleaned_data["sha256"]))
    return render(
        request,
        "identity/documents/verify.html",
        {"form": form, "attestations": attestations},
        status=400 if form.errors else 200,
    )
