"""Documents: upload and download at the desk, and the public verification page."""

import hashlib
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from identity import services
from identity.models import AccessEvent, Document, DocumentAttestation, Organization
from ledger import services as ledger
from ledger.models import Entry
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% BIRTH-CERTIFICATE-OF-ANA\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def upload_url(resident):
    return reverse("identity:document_upload", args=[resident.public_id])


def post_upload(client, resident, content, *, name="file.pdf", category="identity", title="ID"):
    return client.post(
        upload_url(resident),
        {"file": SimpleUploadedFile(name, content), "category": category, "title": title},
    )


def upload(caseworker, resident, content=PDF, category="identity", title="Birth certificate"):
    return services.document_upload(
        acting_user=caseworker, resident=resident, content=content, category=category, title=title
    )


def verify(client, sha256):
    return client.post(reverse("identity:document_verify"), {"sha256": sha256})


# --- upload -------------------------------------------------------------------------


def test_upload_stores_the_file_and_attests_its_fingerprint(client, caseworker, enroll):
    resident = enroll()
    client.force_login(caseworker)
    response = post_upload(client, resident, PDF, name="birth.pdf", title="Birth certificate")

    assert response.status_code == 302
    assert response["Location"] == reverse("identity:resident", args=[resident.public_id])
    document = Document.objects.get()
    digest = hashlib.sha256(PDF).hexdigest()
    assert (document.content_type, document.sha256, bytes(document.content)) == (
        "application/pdf",
        digest,
        PDF,
    )
    assert (document.resident, document.organization, document.category) == (
        resident,
        caseworker.organization,
        "identity",
    )
    attestation = DocumentAttestation.objects.get(sha256=digest)
    assert attestation.organization == caseworker.organization
    assert attestation.ledger_entry.kind == "identity.document_attested"
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        f"Uploaded. Fingerprint SHA-256 {digest} attested on the ledger by Harbor Light Shelter."
    )


def test_upload_form_offers_only_the_categories_the_consent_allows(client, caseworker, enroll):
    resident = enroll()  # consent: identity, housing, case notes
    client.force_login(caseworker)
    response = client.get(upload_url(resident))
    assert response.status_code == 200
    select = re.search(r'<select name="category".*?</select>', response.content.decode(), re.S)
    options = re.findall(r'<option value="([a-z_]+)"', select.group(0))
    assert options == ["identity", "housing", "case_notes"]
    assert b'enctype="multipart/form-data"' in response.content


def test_a_category_the_consent_does_not_allow_is_refused(client, caseworker, enroll):
    resident = enroll()
    client.force_login(caseworker)
    response = post_upload(client, resident, PDF, category="medical")
    assert response.status_code == 400
    assert Document.objects.count() == DocumentAttestation.objects.count() == 0


def test_type_is_decided_by_content_not_by_name(client, caseworker, enroll):
    resident = enroll()
    client.force_login(caseworker)
    response = post_upload(client, resident, PNG, name="scan.pdf")
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.content_type == "image/png"

    download = client.get(reverse("identity:document_download", args=[document.pk]))
    assert download["Content-Type"] == "image/png"
    assert download["Content-Disposition"] == f'attachment; filename="document-{document.pk}.png"'


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (EXE, "Only PDF, JPEG and PNG files can be uploaded."),
        (b"%PDF-" + b"0" * services.MAX_DOCUMENT_BYTES, "The file is larger than 10 MB."),
    ],
    ids=["exe-renamed-pdf", "over-size"],
)
def test_bad_files_are_refused_and_nothing_is_stored(client, caseworker, enroll, content, error):
    resident = enroll()
    client.force_login(caseworker)
    entries = Entry.objects.count()
    response = post_upload(client, resident, content, name="setup.pdf")
    assert response.status_code == 400
    assert error in response.content.decode()
    assert Document.objects.count() == DocumentAttestation.objects.count() == 0
    assert Entry.objects.count() == entries


def test_upload_for_a_resident_of_another_organization_is_not_found(
    client, other_caseworker, enroll
):
    resident = enroll()
    client.force_login(other_caseworker)
    assert client.get(upload_url(resident)).status_code == 404
    assert post_upload(client, resident, PDF).status_code == 404
    assert Document.objects.count() == 0


def test_upload_needs_a_desk_role(client, enroll):
    resident = enroll()
    assert client.get(upload_url(resident)).status_code == 302  # to the sign-in page
    client.force_login(UserFactory(username="voter-official", role="election_official"))
    assert client.get(upload_url(resident)).status_code == 403


def test_stored_bytes_are_encrypted(caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident, title="Ana's birth certificate")
    with connection.cursor() as cursor:
        cursor.execute("SELECT content, title FROM identity_document WHERE id = %s", [document.pk])
        content, title = (bytes(value) for value in cursor.fetchone())
    assert b"BIRTH-CERTIFICATE-OF-ANA" not in content
    assert b"%PDF" not in content
    assert b"birth certificate" not in title


# --- download -----------------------------------------------------------------------


def test_download_returns_the_file_safely_and_is_audited(client, caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident, title="Ana birth certificate")
    client.force_login(caseworker)
    response = client.get(reverse("identity:document_download", args=[document.pk]))

    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="document-{document.pk}.pdf"'
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    event = AccessEvent.objects.get(action=AccessEvent.Action.DOWNLOAD)
    assert (event.actor, event.organization, event.subject, event.detail) == (
        caseworker,
        caseworker.organization,
        resident.ledger_subject,
        f"document {document.pk}",
    )


def test_download_by_another_organization_is_not_found_until_consent(
    client, caseworker, other_caseworker, enroll
):
    resident = enroll()
    document = upload(caseworker, resident)
    url = reverse("identity:document_download", args=[document.pk])
    client.force_login(other_caseworker)
    assert client.get(url).status_code == 404

    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["housing"],
        status="granted",
        acting_user=other_caseworker,
    )
    assert client.get(url).status_code == 404  # visible now, but not identity documents

    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["identity"],
        status="verbal",
        acting_user=other_caseworker,
    )
    assert client.get(url).status_code == 200
    assert not AccessEvent.objects.filter(
        action=AccessEvent.Action.DOWNLOAD, actor=caseworker
    ).exists()
    assert AccessEvent.objects.filter(action="download", actor=other_caseworker).count() == 1


def test_a_revoked_consent_ends_downloads(client, caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident)
    for consent in resident.consents.all():
        services.consent_revoke(consent=consent, acting_user=caseworker)
    client.force_login(caseworker)
    assert client.get(reverse("identity:document_download", args=[document.pk])).status_code == 404
    assert not AccessEvent.objects.filter(action="download").exists()


def test_part_2_records_download_under_a_consent_that_names_them(client, caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident, category="substance_use")
    url = reverse("identity:document_download", args=[document.pk])
    client.force_login(caseworker)
    assert client.get(url).status_code == 404
    services.consent_record(
        resident=resident,
        organization=caseworker.organization,
        categories=["substance_use"],
        status="granted",
        acting_user=caseworker,
    )
    assert client.get(url).status_code == 200


def test_unknown_document_is_not_found(client, caseworker):
    client.force_login(caseworker)
    assert client.get(reverse("identity:document_download", args=[999])).status_code == 404


# --- the public verification page -----------------------------------------------------------


def test_verify_page_is_public_and_never_uploads_the_file(client):
    response = client.get(reverse("identity:document_verify"))
    assert response.status_code == 200
    html = response.content.decode()
    file_input = re.search(r"<input[^>]*type=\"file\"[^>]*>", html).group(0)
    assert "name=" not in file_input
    assert "multipart" not in html
    assert re.search(r'<form method="post"[^>]*id="verify-document"', html)
    assert 'name="sha256"' in html
    assert "js/verify-document.js" in html


def test_verify_is_in_the_navigation_for_everyone(client):
    html = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("identity:document_verify")}"' in html


def test_verify_answers_with_organization_and_date_only(client, caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident, title="Ana birth certificate")
    response = verify(client, document.sha256.upper())  # any case, spaces ignored

    assert response.status_code == 200
    html = response.content.decode()
    day = date_format(timezone.localtime(document.uploaded_at), "DATE_FORMAT")
    assert f"Attested by Harbor Light Shelter on {day}" in html
    assert "sealing pending" in html
    for secret in (
        "Ana",
        "García",
        "Annie",
        "birth certificate",
        "Identity documents",
        str(resident.public_id),
        services.active_card(resident).city_id,
        reverse("identity:document_download", args=[document.pk]),
    ):
        assert secret not in html
    assert not AccessEvent.objects.filter(action="download").exists()


def test_verify_links_to_the_sealed_ledger_entry(client, caseworker, enroll):
    resident = enroll()
    document = upload(caseworker, resident)
    other = UserFactory(username="james", organization=OrganizationFactory(name="Eastside Clinic"))
    upload(other, resident)  # the same file attested by a second organization
    ledger.seal_all()
    attestation = DocumentAttestation.objects.filter(organization=caseworker.organization).get()
    attestation.ledger_entry.refresh_from_db()
    leaf_index = attestation.ledger_entry.leaf_index

    html = verify(client, document.sha256).content.decode()
    assert "Attested by Eastside Clinic on" in html
    assert "Attested by Harbor Light Shelter on" in html
    assert f'href="{reverse("ledger:entry", args=[leaf_index])}"' in html
    assert "sealing pending" not in html


def test_verify_says_not_found_for_an_unknown_fingerprint(client):
    response = verify(client, hashlib.sha256(b"never uploaded").hexdigest())
    assert response.status_code == 200
    assert "Not found: no organization has attested this document." in response.content.decode()


@pytest.mark.parametrize("value", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_verify_rejects_what_is_not_a_sha256(client, value):
    response = verify(client, value)
    assert response.status_code == 400
    assert "Attested by" not in response.content.decode()
    assert "Not found" not in response.content.decode()


def test_verify_does_not_answer_on_get(client, caseworker, enroll):
    document = upload(caseworker, enroll())
    url = reverse("identity:document_verify")
    html = client.get(url, {"sha256": document.sha256}).content.decode()
    assert "Attested by" not in html


def test_verify_never_names_a_victim_service_provider(client):
    provider = OrganizationFactory(name="Safe Haven", kind=Organization.Kind.VICTIM_SERVICES)
    advocate = UserFactory(username="advocate", organization=provider, role="caseworker")
    from tests.identity.conftest import resident_data

    resident = services.resident_enroll(acting_user=advocate, data=resident_data())
    document = upload(advocate, resident)
    assert DocumentAttestation.objects.filter(sha256=document.sha256).exists()
    html = verify(client, document.sha256).content.decode()
    assert "Safe Haven" not in html
    assert "Not found: no organization has attested this document." in html
