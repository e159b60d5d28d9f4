"""The resident kiosk: city ID + PIN sign-in, throttling, one's own record, revoking."""

import time

import pytest
from django.urls import reverse

from identity import cityid, selectors, services
from identity.models import AccessEvent, Consent
from identity.views_kiosk import IDLE_SECONDS, THROTTLE_ATTEMPTS
from ledger.models import Entry
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data

pytestmark = pytest.mark.django_db

WRONG = "The city ID or the PIN is not right. Try again or ask staff."
KIOSK = reverse("identity:kiosk")
HOME = reverse("identity:kiosk_home")


@pytest.fixture(autouse=True)
def private_cache(settings):
    """The sign-in throttle counts in the cache: each test gets an empty one."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"kiosk-test-{time.monotonic_ns()}",
        }
    }


def city_id_of(resident):
    return cityid.display(services.active_card(resident).city_id)


def sign_in(client, city_id, pin="2468", **extra):
    return client.post(KIOSK, {"city_id": city_id, "pin": pin}, **extra)


@pytest.fixture
def signed_in(client, enroll):
    resident = enroll()
    response = sign_in(client, city_id_of(resident))
    assert response.status_code == 302
    return resident


# --- signing in -------------------------------------------------------------------------------


def test_sign_in_keeps_only_the_resident_in_a_new_browser_session(client, enroll):
    resident = enroll()
    leftover = client.session  # whoever used this browser before
    leftover["from_before"] = "something"
    leftover.save()
    before = leftover.session_key
    typed = city_id_of(resident).lower().replace("-", " ")  # as a person might type it
    response = sign_in(client, typed)

    assert response.status_code == 302
    assert response["Location"] == HOME
    session = client.session
    assert session.session_key != before
    assert set(session.keys()) == {"kiosk_resident", "kiosk_seen", "_session_expiry"}
    assert session["kiosk_resident"] == resident.pk
    assert session.get_expire_at_browser_close()
    assert AccessEvent.objects.filter(action="kiosk", subject=resident.ledger_subject).exists()


def test_unknown_id_and_wrong_pin_get_the_same_answer(client, enroll):
    resident = enroll()
    stranger = cityid.generate()  # well formed, belongs to no one
    wrong_pin = sign_in(client, city_id_of(resident), pin="1111")
    unknown_id = sign_in(client, stranger)
    for response in (wrong_pin, unknown_id):
        assert response.status_code == 400
        assert WRONG in response.content.decode()
        assert "kiosk_resident" not in client.session
    assert client.get(HOME)["Location"] == KIOSK


def test_a_mistyped_city_id_gets_a_friendly_hint(client, enroll):
    resident = enroll()
    typed = city_id_of(resident)
    mistyped = typed[:-1] + ("0" if typed[-1] != "0" else "1")
    response = sign_in(client, mistyped)
    assert response.status_code == 400
    assert "a character may be mistyped" in response.content.decode()


def test_a_revoked_card_does_not_open_the_kiosk(client, caseworker, enroll):
    resident = enroll()
    old = city_id_of(resident)
    _card, new = services.card_reissue(resident=resident, acting_user=caseworker, reason="lost")
    assert WRONG in sign_in(client, old).content.decode()
    assert sign_in(client, new).status_code == 302


def test_repeated_wrong_pins_lock_the_kiosk_for_that_resident(client, enroll):
    resident = enroll()
    for _ in range(services.KIOSK_MAX_FAILURES):
        assert sign_in(client, city_id_of(resident), pin="0000").status_code == 400
    response = sign_in(client, city_id_of(resident))  # even the right PIN, now
    assert response.status_code == 429
    assert "Too many tries. Try again after" in response.content.decode()
    assert "or ask staff." in response.content.decode()
    assert "kiosk_resident" not in client.session


def test_sign_in_attempts_are_throttled_per_address(client, enroll):
    resident = enroll()
    for _ in range(THROTTLE_ATTEMPTS):
        assert sign_in(client, cityid.generate()).status_code == 400
    response = sign_in(client, city_id_of(resident))
    assert response.status_code == 429
    assert "Too many tries from this computer" in response.content.decode()
    assert "kiosk_resident" not in client.session
    # Another computer is not held up.
    assert sign_in(client, city_id_of(resident), REMOTE_ADDR="10.0.0.9").status_code == 302


# --- kiosk and staff sessions never mix ----------------------------------------------------------


def test_a_kiosk_session_grants_no_staff_access(client, signed_in):
    url = reverse("identity:document_upload", args=[signed_in.public_id])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_staff_session_grants_no_kiosk_access(client, caseworker, enroll):
    enroll()
    client.force_login(caseworker)
    assert client.get(HOME)["Location"] == KIOSK


def test_staff_signing_in_ends_the_kiosk_session(client, caseworker, signed_in):
    client.force_login(caseworker)
    assert client.get(HOME)["Location"] == KIOSK
    assert "kiosk_resident" not in client.session


def test_kiosk_sign_in_ends_a_staff_session(client, caseworker, enroll):
    resident = enroll()
    client.force_login(caseworker)
    assert sign_in(client, city_id_of(resident)).status_code == 302
    upload = client.get(reverse("identity:document_upload", args=[resident.public_id]))
    assert upload["Location"].startswith(reverse("login"))
    assert client.get(HOME).status_code == 200


def test_the_record_warns_before_the_idle_sign_out_instead_of_cutting_off(client, signed_in):
    page = client.get(HOME).content.decode()
    # No meta refresh (WCAG 2.2.1): kiosk.js warns a minute ahead, with a way to stay.
    assert 'http-equiv="refresh"' not in page
    assert f'data-idle-seconds="{IDLE_SECONDS + 5}"' in page
    assert "Stay signed in" in page and "js/kiosk.js" in page


def test_the_kiosk_signs_out_after_15_idle_minutes(client, signed_in):
    session = client.session
    session["kiosk_seen"] = int(time.time()) - IDLE_SECONDS - 1
    session.save()
    response = client.get(HOME, follow=True)
    assert response.redirect_chain[-1][0] == KIOSK
    assert "signed out after 15 minutes" in response.content.decode()
    assert "kiosk_resident" not in client.session


def test_sign_out(client, signed_in):
    response = client.post(reverse("identity:kiosk_signout"), follow=True)
    assert "You are signed out." in response.content.decode()
    assert "kiosk_resident" not in client.session
    assert client.get(HOME)["Location"] == KIOSK
    assert client.get(reverse("identity:kiosk_signout")).status_code == 405


# --- the resident's own record -------------------------------------------------------------------


def test_home_shows_the_residents_own_record(client, caseworker, other_caseworker, enroll):
    resident = enroll()
    document = services.document_upload(
        acting_user=caseworker,
        resident=resident,
        content=b"%PDF-1.4 test",
        category="housing",
        title="Lease agreement",
    )
    services.consent_record(
        resident=resident,
        organization=other_caseworker.organization,
        categories=["medical", "substance_use"],
        status="verbal",
        acting_user=other_caseworker,
    )
    services.access_log(actor=caseworker, action=AccessEvent.Action.VIEW, resident=resident)
    sign_in(client, city_id_of(resident))

    response = client.get(HOME)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    for shown in (
        "Ana García",
        "Annie",
        "May 17, 1980",
        city_id_of(resident),
        "Lease agreement",
        reverse("identity:kiosk_document", args=[document.pk]),
        "Eastside Clinic",
        "Health records, Drug and alcohol treatment records",
        "Looked at your record",
        "Harbor Light Shelter",
        "Sign out",
    ):
        assert shown in html
    # Organizations, not staff names, in the audit trail.
    assert "Sam Rivera" not in html
    assert "maria" not in html
    assert html.count('action="/identity/kiosk/me/consents/') == 2


def test_home_does_a_fixed_number_of_queries(
    client, caseworker, enroll, django_assert_max_num_queries
):
    resident = enroll()
    for n in range(5):
        services.document_upload(
            acting_user=caseworker,
            resident=resident,
            content=b"%PDF-" + bytes([n]),
            category="identity",
            title=f"Document {n}",
        )
        services.consent_record(
            resident=resident,
            organization=OrganizationFactory(name=f"Org {n}"),
            categories=["housing"],
            status="granted",
            acting_user=caseworker,
        )
        services.access_log(actor=caseworker, action="view", resident=resident)
    sign_in(client, city_id_of(resident))
    with django_assert_max_num_queries(12):
        assert client.get(HOME).status_code == 200


def test_downloading_an_own_document_is_audited_without_a_staff_actor(
    client, caseworker, signed_in
):
    document = services.document_upload(
        acting_user=caseworker,
        resident=signed_in,
        content=b"%PDF-1.4 mine",
        category="substance_use",
        title="Treatment plan",
    )
    response = client.get(reverse("identity:kiosk_document", args=[document.pk]))
    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 mine"
    assert response["Content-Disposition"] == f'attachment; filename="document-{document.pk}.pdf"'
    event = AccessEvent.objects.get(action="download")
    assert (event.actor, event.organization, event.subject, event.detail) == (
        None,
        None,
        signed_in.ledger_subject,
        f"document {document.pk}",
    )
    assert "You, at the kiosk" in client.get(HOME).content.decode()


def test_another_residents_document_is_not_found(client, caseworker, enroll, signed_in):
    other = enroll(legal_first_name="Bea", legal_last_name="Smith", ssn="", ssn_data_quality=99)
    document = services.document_upload(
        acting_user=caseworker, resident=other, content=b"%PDF-x", category="identity", title="x"
    )
    assert client.get(reverse("identity:kiosk_document", args=[document.pk])).status_code == 404
    assert not AccessEvent.objects.filter(action="download").exists()


# --- revoking a consent ------------------------------------------------------------------------


def test_revoking_a_consent_ends_the_organizations_access(client, caseworker, signed_in):
    consent = signed_in.consents.get()
    assert selectors.resident_for(caseworker, signed_in.public_id) == signed_in
    response = client.post(reverse("identity:kiosk_revoke", args=[consent.pk]), follow=True)

    assert response.redirect_chain[-1][0] == HOME
    assert "You stopped sharing your records with Harbor Light Shelter." in (
        response.content.decode()
    )
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED
    assert selectors.resident_for(caseworker, signed_in.public_id) is None
    entry = Entry.objects.filter(kind="identity.consent_recorded").order_by("-id").first()
    assert b'"by":"resident"' in bytes(entry.leaf_data)


def test_another_residents_consent_cannot_be_revoked(client, enroll, signed_in):
    other = enroll(legal_first_name="Bea", legal_last_name="Smith", ssn="", ssn_data_quality=99)
    consent = other.consents.get()
    response = client.post(reverse("identity:kiosk_revoke", args=[consent.pk]))
    assert response.status_code == 404
    consent.refresh_from_db()
    assert consent.status == Consent.Status.GRANTED


def test_revoke_is_post_only_and_needs_a_kiosk_session(client, enroll):
    resident = enroll()
    consent = resident.consents.get()
    url = reverse("identity:kiosk_revoke", args=[consent.pk])
    assert client.post(url)["Location"] == KIOSK  # not signed in
    sign_in(client, city_id_of(resident))
    assert client.get(url).status_code == 405
    consent.refresh_from_db()
    assert consent.status == Consent.Status.GRANTED


def test_staff_cannot_revoke_through_the_kiosk(client, caseworker, enroll):
    resident = enroll()
    consent = resident.consents.get()
    client.force_login(caseworker)
    client.post(reverse("identity:kiosk_revoke", args=[consent.pk]))
    consent.refresh_from_db()
    assert consent.status == Consent.Status.GRANTED


def test_vawa_residents_use_the_kiosk_off_the_ledger(client):
    provider = OrganizationFactory(name="Safe Haven", kind="victim_services")
    advocate = UserFactory(username="advocate", organization=provider, role="caseworker")
    resident = services.resident_enroll(acting_user=advocate, data=resident_data(), pin="1357")
    entries = Entry.objects.count()
    assert sign_in(client, city_id_of(resident), pin="1357").status_code == 302
    consent = resident.consents.get()
    client.post(reverse("identity:kiosk_revoke", args=[consent.pk]))
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED
    assert Entry.objects.count() == entries
