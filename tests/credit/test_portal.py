"""The credit pages: reporters record and look up payments and resolve disputes for their
own organization only; residents at the kiosk see their own score, records and reports;
anyone verifies a report. Bad input changes nothing; list pages take a fixed number of
queries."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from citychain import roles
from credit import selectors, services
from credit.models import BureauConsent, CreditReport, Dispute, PaymentRecord, ShareLink
from identity import cityid
from identity import services as identity
from ledger import services as ledger
from ledger.models import Entry
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

HOME = reverse("credit:reporter_home")
NEW = reverse("credit:record_new")
LOOKUP = reverse("credit:resident_lookup")
MINE = reverse("credit:my_credit")


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"credit-portal-{time.monotonic_ns()}",
        }
    }


def city_id_of(resident) -> str:
    return cityid.display(identity.active_card(resident).city_id)


def month_start(months_back: int) -> date:
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def pay(resident, reporter, months_back: int, *, late: int = 0, paid: bool = True, kind="rent"):
    due = month_start(months_back)
    return services.record_payment(
        reporter=reporter,
        resident=resident,
        kind=kind,
        account_reference=f"{kind}-{resident.pk}",
        reference=f"{kind}-{resident.pk}-{due:%Y-%m}",
        due_date=due,
        amount_due_cents=95_000,
        paid_on=due + timedelta(days=late) if paid else None,
        amount_paid_cents=95_000 if paid else 0,
    )


def history(resident, reporter, months: int = 8, **kwargs) -> list[PaymentRecord]:
    return [pay(resident, reporter, back, **kwargs) for back in range(months, 0, -1)]


@pytest.fixture
def staff_client(client, reporter):
    client.login(username=reporter.username, password=PASSWORD)
    return client


@pytest.fixture
def kiosk(client):
    """A browser signed in at the kiosk as the given resident."""

    def sign_in(resident):
        session = client.session
        session["kiosk_resident"] = resident.pk
        session["kiosk_seen"] = int(time.time())
        session.save()
        return client

    return sign_in


def form_data(resident, **overrides) -> dict:
    data = {
        "city_id": city_id_of(resident),
        "kind": "rent",
        "account_reference": "LEASE-12",
        "reference": "LEASE-12-2026-03",
        "due_date": "2026-03-01",
        "amount_due": "1,250.00",
        "paid_on": "2026-03-01",
        "amount_paid": "$1250",
    }
    data.update(overrides)
    return data


# --- reporters: recording --------------------------------------------------------------------


def test_a_reporter_records_a_payment_attested_on_the_ledger(staff_client, resident, landlord):
    entries = Entry.objects.count()
    response = staff_client.post(NEW, form_data(resident))
    record = PaymentRecord.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("credit:record_detail", args=[record.public_id])
    assert (record.reporter, record.resident) == (landlord, resident)
    assert (record.amount_due_cents, record.amount_paid_cents) == (125_000, 125_000)
    assert record.ledger_entry is not None
    assert Entry.objects.count() == entries + 1
    # The city ID is in no URL and not on the ledger.
    canonical = identity.active_card(resident).city_id
    assert canonical not in response["Location"]
    assert canonical not in bytes(record.ledger_entry.leaf_data).decode()
    page = staff_client.get(response["Location"])
    assert "LEASE-12-2026-03" in page.content.decode()
    assert "Paid on time" in page.content.decode()


def test_recording_the_same_payment_twice_stores_it_once(staff_client, resident):
    staff_client.post(NEW, form_data(resident))
    entries = Entry.objects.count()
    response = staff_client.post(NEW, form_data(resident))
    assert response.status_code == 302
    assert PaymentRecord.objects.count() == 1
    assert Entry.objects.count() == entries


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"city_id": "7K3M-Q9XA-2FX"}, "This city ID does not look right"),
        ({"amount_due": "-5"}, "greater than or equal to 0"),
        ({"amount_due": "lots"}, "Enter a number."),
        ({"due_date": "2026-02-30"}, "Enter a valid date."),
        ({"paid_on": "", "amount_paid": "100"}, "Enter the date it was paid."),
        ({"paid_on": "2999-01-01"}, "A payment cannot be dated in the future."),
        ({"kind": "mortgage"}, "Select a valid choice."),
        ({"reference": ""}, "This field is required."),
    ],
)
def test_bad_input_stores_nothing(staff_client, resident, overrides, message):
    entries = Entry.objects.count()
    response = staff_client.post(NEW, form_data(resident, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert PaymentRecord.objects.count() == 0
    assert Entry.objects.count() == entries


def test_an_unknown_city_id_or_a_conflicting_reference_stores_nothing(
    staff_client, resident, enroll
):
    other = enroll(first="Luis", last="Ortega", ssn="287-65-4321")
    staff_client.post(NEW, form_data(resident))
    entries = Entry.objects.count()
    conflict = staff_client.post(NEW, form_data(resident, amount_paid="1000"))
    assert conflict.status_code == 400
    assert "already recorded with other values" in conflict.content.decode()
    owner = staff_client.post(NEW, form_data(other, reference="OTHER-1"))
    assert owner.status_code == 400
    assert "belongs to another resident" in owner.content.decode()
    assert PaymentRecord.objects.count() == 1
    assert Entry.objects.count() == entries
    unknown = cityid.generate()
    response = staff_client.post(NEW, form_data(resident, city_id=unknown, reference="X-9"))
    assert response.status_code == 400
    assert "No resident has this city ID" in response.content.decode()


def test_a_reporter_marks_an_unpaid_bill_paid(staff_client, resident, landlord):
    record = pay(resident, landlord, 1, paid=False)
    url = reverse("credit:record_mark_paid", args=[record.public_id])
    bad = staff_client.post(url, {"paid_on": "2999-01-01", "amount_paid": "950"})
    assert bad.status_code == 400
    record.refresh_from_db()
    assert record.paid_on is None
    paid_on = record.due_date + timedelta(days=3)
    response = staff_client.post(url, {"paid_on": paid_on.isoformat(), "amount_paid": "950"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.paid_on, record.amount_paid_cents) == (paid_on, 95_000)


# --- reporters: finding and listing ----------------------------------------------------------


def test_a_resident_is_found_by_city_id_posted_never_in_a_url(
    staff_client, resident, landlord, utility
):
    pay(resident, landlord, 2)
    pay(resident, utility, 2, kind="utility")
    assert staff_client.get(LOOKUP).status_code == 405
    response = staff_client.post(LOOKUP, {"city_id": city_id_of(resident)})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Records of Ana García" in page
    assert f"rent-{resident.pk}-" in page
    assert f"utility-{resident.pk}-" not in page  # another organization's record
    missing = staff_client.post(LOOKUP, {"city_id": cityid.generate()})
    assert missing.status_code == 400


def test_the_list_shows_only_the_reporters_own_records_filtered(
    staff_client, resident, landlord, utility
):
    pay(resident, landlord, 3)
    pay(resident, landlord, 2, late=12)
    pay(resident, utility, 2, kind="utility")
    page = staff_client.get(HOME).content.decode()
    assert f"rent-{resident.pk}-" in page
    assert f"utility-{resident.pk}-" not in page
    assert "Ana" not in page  # no names on the list page
    late = staff_client.get(HOME, {"state": "late"}).content.decode()
    assert f"rent-{resident.pk}-{month_start(2):%Y-%m}" in late
    assert f"rent-{resident.pk}-{month_start(3):%Y-%m}" not in late
    assert "Bills by due month and how they were paid" in page  # the chart


def test_list_pages_take_a_fixed_number_of_queries(
    staff_client, enroll, landlord, django_assert_max_num_queries
):
    for n in range(3):
        resident = enroll(first=f"P{n}", ssn=f"123-45-67{n:02d}")
        history(resident, landlord, 10)
        services.dispute_open(payment=resident.credit_payments.first(), reason="Paid on time.")
    with django_assert_max_num_queries(12):
        assert staff_client.get(HOME).status_code == 200
    with django_assert_max_num_queries(12):
        assert staff_client.get(reverse("credit:disputes"), {"status": "all"}).status_code == 200
    for n in range(3, 9):
        resident = enroll(first=f"P{n}", ssn=f"123-45-67{n:02d}")
        history(resident, landlord, 10)
        services.dispute_open(payment=resident.credit_payments.first(), reason="Paid on time.")
    with django_assert_max_num_queries(12):
        assert staff_client.get(HOME).status_code == 200
    with django_assert_max_num_queries(12):
        assert staff_client.get(reverse("credit:disputes"), {"status": "all"}).status_code == 200


# --- reporters: permissions ------------------------------------------------------------------


def test_another_organization_cannot_see_or_change_these_records(
    client, resident, landlord, utility
):
    record = pay(resident, landlord, 2, paid=False)
    dispute = services.dispute_open(payment=pay(resident, landlord, 3), reason="It was on time.")
    other = UserFactory(username="cwp", organization=utility, role=roles.CREDIT_REPORTER)
    client.login(username=other.username, password=PASSWORD)
    assert client.get(reverse("credit:record_detail", args=[record.public_id])).status_code == 404
    paid = client.post(
        reverse("credit:record_mark_paid", args=[record.public_id]),
        {"paid_on": record.due_date.isoformat(), "amount_paid": "950"},
    )
    assert paid.status_code == 404
    assert client.get(reverse("credit:dispute_detail", args=[dispute.public_id])).status_code == 404
    resolve = client.post(
        reverse("credit:dispute_resolve", args=[dispute.public_id]),
        {"outcome": "deleted", "note": "Not ours."},
    )
    assert resolve.status_code == 404
    record.refresh_from_db()
    dispute.refresh_from_db()
    assert record.paid_on is None and dispute.is_open
    assert "rent-" not in client.get(HOME).content.decode()


def test_staff_without_the_role_or_a_reporting_organization_are_refused(
    client, caseworker, city_admin
):
    assert client.get(HOME).status_code == 302  # to the sign-in page
    client.login(username=caseworker.username, password=PASSWORD)
    assert client.get(HOME).status_code == 403
    assert client.get(NEW).status_code == 403
    client.logout()
    client.login(username=city_admin.username, password=PASSWORD)  # no organization
    assert client.get(HOME).status_code == 403


def test_circle_pages_are_only_for_the_fund(staff_client, client, fund, fund_staff, enroll):
    members = [enroll(first=f"M{n}", ssn=f"555-12-00{n:02d}") for n in range(3)]
    circle = services.circle_create(
        organization=fund,
        name="Spring circle",
        monthly_contribution_cents=10_000,
        first_due_date=month_start(1),
    )
    for member in members:
        services.circle_add_member(circle=circle, resident=member)
    services.circle_start(circle=circle)
    url = reverse("credit:circle_detail", args=[circle.public_id])
    assert staff_client.get(url).status_code == 404  # the landlord's reporter
    assert staff_client.get(reverse("credit:circles")).status_code == 404
    staff_client.logout()
    client.login(username=fund_staff.username, password=PASSWORD)
    page = client.get(url).content.decode()
    assert "M0 García" in page and "Round 1" in page
    member = circle.members.get(payout_position=2)
    bad = client.post(
        reverse("credit:circle_contribution", args=[circle.public_id]),
        {"member": member.pk, "round": 9, "paid_on": month_start(1).isoformat()},
    )
    assert bad.status_code == 400
    response = client.post(
        reverse("credit:circle_contribution", args=[circle.public_id]),
        {"member": member.pk, "round": 1, "paid_on": month_start(1).isoformat()},
    )
    assert response.status_code == 302
    contribution = member.contributions.get(round=1)
    assert contribution.payment.is_paid
    payout = client.post(
        reverse("credit:circle_payout", args=[circle.public_id]),
        {"round": 1, "paid_on": month_start(1).isoformat()},
    )
    assert payout.status_code == 302
    assert circle.payouts.get().member.payout_position == 1
    assert "Paid on time" in client.get(url).content.decode()


# --- disputes --------------------------------------------------------------------------------


def test_a_resident_disputes_and_the_reporter_resolves(staff_client, client, resident, landlord):
    record = pay(resident, landlord, 2, late=40)
    staff_client.logout()
    session = client.session
    session["kiosk_resident"] = resident.pk
    session["kiosk_seen"] = int(time.time())
    session.save()
    url = reverse("credit:my_dispute", args=[record.public_id])
    short = client.post(url, {"reason": "no"})
    assert short.status_code == 400
    assert not Dispute.objects.exists()
    response = client.post(url, {"reason": "I paid on the due date in cash; I have a receipt."})
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    record.refresh_from_db()
    assert record.in_dispute

    client.logout()
    client.login(username="reporter", password=PASSWORD)
    page = client.get(reverse("credit:dispute_detail", args=[dispute.public_id])).content.decode()
    assert "I paid on the due date in cash" in page
    resolve = reverse("credit:dispute_resolve", args=[dispute.public_id])
    missing = client.post(resolve, {"outcome": "corrected", "note": "Receipt seen."})
    assert missing.status_code == 400
    dispute.refresh_from_db()
    assert dispute.is_open
    done = client.post(
        resolve,
        {"outcome": "corrected", "note": "Receipt seen.", "paid_on": record.due_date.isoformat()},
    )
    assert done.status_code == 302
    dispute.refresh_from_db()
    record.refresh_from_db()
    assert (dispute.status, dispute.outcome) == ("resolved", "corrected")
    assert record.paid_on == record.due_date and not record.in_dispute
    assert dispute.resolution_entry is not None


# --- residents -------------------------------------------------------------------------------


def test_my_credit_needs_a_kiosk_sign_in(client):
    assert client.get(MINE)["Location"] == reverse("identity:kiosk")


def test_a_resident_sees_the_score_its_factors_and_a_chart(kiosk, resident, landlord):
    history(resident, landlord, 8)
    pay(resident, landlord, 9, late=45)
    page = kiosk(resident).get(MINE).content.decode()
    result = selectors.resident_score(resident)
    assert result.score is not None
    assert f'<p class="score-number">{result.score} ' in page
    assert "out of 100" in page
    assert "citychain payment score" in page
    assert "not a FICO® Score" in page
    assert "FICO score" not in page.replace("FICO® Score or", "")
    for factor in result.key_factors:
        assert factor.text.replace("'", "&#x27;") in page
    assert "What would raise it" in page
    assert "Your score, month by month" in page
    assert page.count('class="state-late"') >= 1


def test_too_little_history_says_so(kiosk, resident, landlord):
    history(resident, landlord, 3)
    page = kiosk(resident).get(MINE).content.decode()
    assert "Not enough history yet" in page
    assert "score-number" not in page


def test_a_resident_sees_and_disputes_only_their_own_records(kiosk, enroll, landlord):
    ana, luis = enroll(), enroll(first="Luis", last="Ortega", ssn="287-65-4321")
    theirs = pay(luis, landlord, 2)
    pay(ana, landlord, 2)
    client = kiosk(ana)
    page = client.get(MINE).content.decode()
    assert str(theirs.public_id) not in page
    url = reverse("credit:my_dispute", args=[theirs.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "Not mine at all, really."}).status_code == 404
    assert not Dispute.objects.exists()
    report = services.report_issue(resident=luis)
    assert client.get(reverse("credit:my_report", args=[report.public_id])).status_code == 404
    assert client.get(reverse("credit:my_report_json", args=[report.public_id])).status_code == 404
    link, _token = services.share_link_create(report=report, days=7)
    revoke = client.post(reverse("credit:my_share_revoke", args=[link.public_id]))
    assert revoke.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_the_resident_page_takes_a_fixed_number_of_queries(
    kiosk, resident, landlord, utility, django_assert_max_num_queries
):
    history(resident, landlord, 6)
    client = kiosk(resident)
    with django_assert_max_num_queries(16):
        assert client.get(MINE).status_code == 200
    history(resident, utility, 12, kind="utility")
    services.report_issue(resident=resident)
    services.report_issue(resident=resident)
    with django_assert_max_num_queries(16):
        assert client.get(MINE).status_code == 200


def test_bureau_opt_in_and_out(kiosk, resident):
    client = kiosk(resident)
    url = reverse("credit:my_bureau")
    bad = client.post(url, {"address_line_1": "12 Elm St", "city": "Springfield",
                            "state": "Illinois", "zip_code": "6270"})  # fmt: skip
    assert bad.status_code == 400
    assert not BureauConsent.objects.exists()
    good = client.post(url, {"address_line_1": "12 Elm St", "city": "Springfield",
                             "state": "il", "zip_code": "62701"})  # fmt: skip
    assert good.status_code == 302
    assert selectors.bureau_consent(resident).state == "IL"
    assert "You opted in" in client.get(MINE).content.decode()
    client.post(reverse("credit:my_bureau_stop"))
    assert selectors.bureau_consent(resident) is None


# --- reports, verification and share links ---------------------------------------------------


@pytest.fixture
def issued(kiosk, resident, landlord):
    history(resident, landlord, 8)
    client = kiosk(resident)
    response = client.post(reverse("credit:my_report_issue"))
    report = CreditReport.objects.get()
    assert response["Location"] == reverse("credit:my_report", args=[report.public_id])
    return client, report


def verify_path(report, sha256=None) -> str:
    url = reverse("credit:verify_report", args=[report.public_id])
    return f"{url}?sha256={sha256 or report.sha256}"


def test_a_printed_report_has_a_qr_code_to_its_verification(issued):
    client, report = issued
    page = client.get(reverse("credit:my_report", args=[report.public_id])).content.decode()
    assert "Payment history report" in page
    assert 'class="qr"' in page
    assert report.sha256 in page
    download = client.get(reverse("credit:my_report_json", args=[report.public_id]))
    assert download.content == report.content.encode()
    assert json.loads(download.content)["report"] == str(report.public_id)


def test_an_issued_report_verifies_and_a_tampered_one_does_not(issued, client):
    _kiosk, report = issued
    pending = client.get(verify_path(report))
    assert "Issued, not yet sealed" in pending.content.decode()
    ledger.seal_all()
    page = client.get(verify_path(report)).content.decode()
    assert "Authentic: the city issued this report" in page
    assert "Ana García" in page and "latest report." in page
    assert 'id="audit-path"' in page
    by_hash = client.get(reverse("credit:verify_report", args=[report.sha256]))
    assert "Authentic" in by_hash.content.decode()
    # A wrong fingerprint (the QR code of an altered report) fails.
    wrong = client.get(verify_path(report, sha256="0" * 64)).content.decode()
    assert "NOT authentic" in wrong
    assert "Ana García" not in wrong
    # An edited machine-readable copy fails; the original matches.
    edited = json.loads(report.content)
    edited["score"]["value"] = 99
    upload = SimpleUploadedFile("report.json", json.dumps(edited).encode())
    changed = client.post(verify_path(report), {"copy": upload}).content.decode()
    assert "This copy was changed" in changed
    original = SimpleUploadedFile("report.json", report.content.encode())
    same = client.post(verify_path(report), {"copy": original}).content.decode()
    assert "This copy matches the report the city issued" in same
    # Our own stored copy edited in the database fails too.
    CreditReport.objects.filter(pk=report.pk).update(
        content=report.content.replace('"value":', '"value": 1, "x":', 1)
    )
    assert "NOT authentic" in client.get(verify_path(report)).content.decode()


def test_unknown_reports_and_codes(client):
    assert client.get(reverse("credit:verify_report", args=["f" * 64])).status_code == 404
    assert client.get(reverse("credit:verify_report", args=["not-a-code"])).status_code == 404
    start = reverse("credit:verify_start")
    assert client.get(start).status_code == 200
    assert client.get(start, {"code": "nonsense"}).status_code == 400
    code = "1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
    assert client.get(start, {"code": code})["Location"] == reverse(
        "credit:verify_report", args=[code.lower()]
    )


def test_a_newer_report_is_announced(issued, client, resident):
    _kiosk, report = issued
    services.report_issue(resident=resident)
    ledger.seal_all()
    page = client.get(verify_path(report)).content.decode()
    assert "A newer report was issued for the same person" in page


def test_a_share_link_works_until_revoked_or_expired(issued, client):
    kiosk_client, report = issued
    bad = kiosk_client.post(
        reverse("credit:my_share_create", args=[report.public_id]), {"days": 365}
    )
    assert bad.status_code == 400
    assert not ShareLink.objects.exists()
    response = kiosk_client.post(
        reverse("credit:my_share_create", args=[report.public_id]), {"days": 7}
    )
    page = response.content.decode()
    assert "Your link is ready" in page
    link = ShareLink.objects.get()
    start = page.index("/credit/shared/")
    shared_path = page[start : page.index("<", start)]
    shared = client.get(shared_path)
    assert shared.status_code == 200
    assert "Payment history report" in shared.content.decode()
    assert shared["X-Robots-Tag"] == "noindex, nofollow"
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(shared_path).status_code == 410
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(days=1))
    assert client.get(shared_path).status_code == 200
    kiosk_client.post(reverse("credit:my_share_revoke", args=[link.public_id]))
    gone = client.get(shared_path)
    assert gone.status_code == 410
    assert "stopped the link" in gone.content.decode()
    assert client.get(shared_path[:-5] + "xxxx/").status_code == 404


def test_the_pages_render_in_spanish(issued, client, settings, landlord):
    kiosk_client, report = issued
    kiosk_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    for url in (MINE, reverse("credit:my_report", args=[report.public_id]),
                reverse("credit:my_bureau"), verify_path(report)):  # fmt: skip
        response = kiosk_client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="es">' in response.content.decode()


def test_a_fund_starts_a_circle_from_its_pages(client, fund_staff, enroll):
    client.login(username=fund_staff.username, password=PASSWORD)
    members = [enroll(first=f"M{n}", ssn=f"555-12-00{n:02d}") for n in range(2)]
    next_month = month_start(-1).isoformat()
    bad = client.post(
        reverse("credit:circle_new"),
        {"name": "Fall circle", "monthly_contribution": "0", "first_due_date": next_month},
    )
    assert bad.status_code == 400
    response = client.post(
        reverse("credit:circle_new"),
        {"name": "Fall circle", "monthly_contribution": "50", "first_due_date": next_month},
    )
    circle = fund_staff.organization.lending_circles.get()
    assert response["Location"] == reverse("credit:circle_detail", args=[circle.public_id])
    add = reverse("credit:circle_member_add", args=[circle.public_id])
    start = reverse("credit:circle_start", args=[circle.public_id])
    client.post(add, {"city_id": city_id_of(members[0])})
    client.post(start)  # one member: refused, nothing scheduled
    circle.refresh_from_db()
    assert circle.status == "forming" and not PaymentRecord.objects.exists()
    again = client.post(add, {"city_id": city_id_of(members[0])})
    assert again.status_code == 400 and circle.members.count() == 1
    client.post(add, {"city_id": city_id_of(members[1])})
    client.post(start)
    circle.refresh_from_db()
    assert circle.status == "active"
    assert PaymentRecord.objects.filter(kind="lending_circle").count() == 4  # 2 x 2 rounds
    page = client.get(reverse("credit:circle_detail", args=[circle.public_id])).content.decode()
    assert "M1 García" in page and "Not due yet" in page


def test_circle_pages_take_a_fixed_number_of_queries(
    client, fund, fund_staff, enroll, django_assert_max_num_queries
):
    client.login(username=fund_staff.username, password=PASSWORD)

    def circle_of(size: int, name: str):
        circle = services.circle_create(
            organization=fund, name=name, monthly_contribution_cents=5_000,
            first_due_date=month_start(2),
        )  # fmt: skip
        for n in range(size):
            member = enroll(first=f"{name}{n}", ssn=f"555-{size:02d}-{n:04d}")
            services.circle_add_member(circle=circle, resident=member)
        services.circle_start(circle=circle)
        return reverse("credit:circle_detail", args=[circle.public_id])

    small, large = circle_of(3, "Small"), circle_of(7, "Large")
    for url in (small, large, reverse("credit:circles")):
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200
