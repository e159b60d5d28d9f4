"""The database's own guarantees: constraints hold even if code outside the services writes."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from django.db import IntegrityError, transaction

from credit import services
from credit.models import BureauConsent, Dispute, PaymentRecord

pytestmark = pytest.mark.django_db

DIGEST = hashlib.sha256(b"x").hexdigest()


@pytest.fixture
def payment(landlord, resident):
    return services.record_payment(
        reporter=landlord, resident=resident, kind="rent", account_reference="A",
        reference="p1", due_date=date(2025, 1, 1), amount_due_cents=100,
        paid_on=date(2025, 1, 1), amount_paid_cents=100,
    )  # fmt: skip


def _violates(**changes):
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentRecord.objects.filter(pk=changes.pop("pk")).update(**changes)


def test_payment_constraints(payment):
    _violates(pk=payment.pk, amount_due_cents=-1)
    _violates(pk=payment.pk, paid_on=None)  # an amount paid needs its date
    _violates(pk=payment.pk, kind="mortgage")
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentRecord.objects.create(
            account=payment.account, reporter=payment.reporter, resident=payment.resident,
            kind="rent", reference="p1", due_date=date(2025, 2, 1), amount_due_cents=1,
            reported_digest=DIGEST, digest=DIGEST,
        )  # fmt: skip


def test_one_open_dispute_per_payment_and_outcome_only_when_resolved(payment):
    services.dispute_open(payment=payment, reason="wrong")
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(payment=payment, resident=payment.resident, reason="again")
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.filter(payment=payment).update(outcome="upheld")


def test_one_active_bureau_consent(resident):
    services.bureau_consent_grant(
        resident=resident, address_line_1="1 A St", city="X", state="IL", zip_code="60601"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BureauConsent.objects.create(
            resident=resident, address_line_1="2", city="Y", state="IL", zip_code="60601"
        )
    again = services.bureau_consent_grant(
        resident=resident, address_line_1="9 B St", city="X", state="IL", zip_code="60601-1234"
    )
    assert BureauConsent.objects.filter(resident=resident, revoked_at__isnull=True).get() == again
    assert again.zip_code == "606011234"


def test_bureau_consent_validation(resident):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.bureau_consent_grant(
            resident=resident, address_line_1=" ", city="", state="ZZ", zip_code="123"
        )
    assert set(exc.value.message_dict) == {"address_line_1", "city", "state", "zip_code"}
    assert not BureauConsent.objects.exists()


def test_reporter_policy_rules(landlord, caseworker, reporter, utility):
    from django.core.exceptions import PermissionDenied, ValidationError

    policy = services.reporter_policy_set(
        organization=landlord, policy="full_file", furnisher_id="abc123", acting_user=reporter
    )
    assert policy.furnisher_id == "ABC123" and policy.updated_by == reporter
    with pytest.raises(ValidationError):
        services.reporter_policy_set(organization=landlord, policy="everything")
    with pytest.raises(ValidationError):
        services.reporter_policy_set(organization=landlord, policy="full_file", furnisher_id="A B")
    with pytest.raises(ValidationError):
        services.reporter_policy_set(organization=caseworker.organization, policy="full_file")
    with pytest.raises(PermissionDenied):
        services.reporter_policy_set(organization=utility, policy="full_file", acting_user=reporter)


def test_admin_pages_load_and_show_no_personal_data(client, city_admin, payment, resident):
    from django.urls import reverse

    from tests.factories import PASSWORD

    services.dispute_open(payment=payment, reason="My landlord mixed me up with Ana Lopez")
    services.bureau_consent_grant(
        resident=resident, address_line_1="77 Secret Lane", city="X", state="IL", zip_code="60601"
    )
    services.report_issue(resident=resident)
    client.login(username=city_admin.username, password=PASSWORD)
    for model in (
        "account", "paymentrecord", "dispute", "lendingcircle", "circlepayout",
        "reporterpolicy", "bureauconsent", "creditreport", "sharelink",
    ):  # fmt: skip
        response = client.get(reverse(f"admin:credit_{model}_changelist"))
        assert response.status_code == 200, model
        body = response.content.decode()
        for personal in ("García", "Garc&#237;a", "Ana Lopez", "77 Secret Lane", "LEASE"):
            assert personal not in body, (model, personal)
    dispute = Dispute.objects.get()
    response = client.get(reverse("admin:credit_dispute_change", args=[dispute.pk]))
    assert response.status_code == 200
    assert "Ana Lopez" not in response.content.decode()
