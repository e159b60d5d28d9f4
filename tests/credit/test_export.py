"""export_metro2: opted-in residents' rent and lending-circle tradelines, per-reporter
policy, validation, atomic write, clear errors."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from credit import metro2, services
from credit.models import Account

pytestmark = pytest.mark.django_db

AS_OF = "2025-09-30"
FURNISHER = ["--furnisher-name", "Citychain Credit", "--furnisher-address", "1 City Hall Sq"]


def rent(landlord, resident, *, account="LEASE-1", late=(), unpaid=()):
    for month in range(1, 10):
        due = date(2025, month, 1)
        paid = None if month in unpaid else date(2025, month, 25 if month in late else 1)
        services.record_payment(
            reporter=landlord, resident=resident, kind="rent", account_reference=account,
            reference=f"{account}-{month}", due_date=due, amount_due_cents=100_000,
            paid_on=paid, amount_paid_cents=100_000 if paid else 0,
        )  # fmt: skip


def opt_in(resident):
    return services.bureau_consent_grant(
        resident=resident, address_line_1="12 Elm St", city="Springfield", state="IL",
        zip_code="62701",
    )  # fmt: skip


def export(tmp_path, *extra):
    path = tmp_path / "metro2.dat"
    out = StringIO()
    call_command("export_metro2", "--output", str(path), "--as-of", AS_OF, *FURNISHER, *extra,
                 stdout=out)  # fmt: skip
    return path, out.getvalue()


def records(path):
    data = path.read_bytes()
    assert len(data) % metro2.RECORD_LENGTH == 0
    return [data[i : i + 426].decode() for i in range(0, len(data), 426)]


@pytest.fixture
def policy(landlord):
    return services.reporter_policy_set(
        organization=landlord, policy="full_file", furnisher_id="CITY0001"
    )


def test_exports_opted_in_rent_tradelines(tmp_path, landlord, resident, enroll, policy):
    rent(landlord, resident)
    opt_in(resident)
    other = enroll(first="Ben", last="Okafor", dob=date(1975, 2, 3), ssn="")
    rent(landlord, other, account="LEASE-2")  # not opted in
    path, out = export(tmp_path)
    header, base, trailer = records(path)
    assert header[4:10] == "HEADER" and trailer[4:11] == "TRAILER"
    assert base[72:75] == "O29"  # portfolio O, account type 29
    assert base[123:125] == "11"  # current
    assert base[126:150].startswith("00000000")  # Aug back to Jan: on time
    assert base[231:256].rstrip() == "GARCIA" and base[297:306] == "123456789"
    assert base[425] == "R"
    assert trailer[11:20] == "000000001"
    assert "Wrote" in out and "GARCIA" not in out.upper().replace("GARCÍA", "")
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert Account.objects.get(reference="LEASE-1").first_furnished_at is not None


def test_late_rent_is_reported_under_full_file_and_held_under_positive_only(
    tmp_path, landlord, resident, policy
):
    rent(landlord, resident, unpaid=(7, 8))  # July and August unpaid by Sep 30
    opt_in(resident)
    path, _out = export(tmp_path)
    base = records(path)[1]
    assert base[123:125] == "80"  # July 1 -> Sep 30: 91 days past due
    assert base[154:163] == "000002000"  # balance: July and August, $2,000
    assert base[163:172] == "000002000"  # both 30+ days past due
    assert base[189:197] == "07312025"  # first delinquency: 30 days after July 1
    assert base[126:128] == "21"  # August: 60 days late as of Aug 31; July: 30
    services.reporter_policy_set(
        organization=landlord, policy="positive_only", furnisher_id="CITY0001"
    )
    Account.objects.update(first_furnished_at=None)
    path, out = export(tmp_path)
    assert len(records(path)) == 2  # header and trailer only
    assert "held back by positive-only policies: 1" in out


def test_lending_circle_members_are_installment_accounts(tmp_path, fund, fund_staff, enroll):
    services.reporter_policy_set(organization=fund, policy="full_file", furnisher_id="FUND01")
    people = [
        enroll(first=n, last="Member", dob=date(1990, 1, i + 1), ssn="") for i, n in enumerate("AB")
    ]
    circle = services.circle_create(
        organization=fund, name="C", monthly_contribution_cents=5_000,
        first_due_date=date(2025, 7, 5), acting_user=fund_staff,
    )  # fmt: skip
    for person in people:
        services.circle_add_member(circle=circle, resident=person, acting_user=fund_staff)
        opt_in(person)
    services.circle_start(circle=circle, acting_user=fund_staff)
    member = circle.members.get(payout_position=1)
    services.circle_record_contribution(member=member, round_number=1, paid_on=date(2025, 7, 5))
    path, _out = export(tmp_path)
    bases = records(path)[1:-1]
    assert len(bases) == 2
    statuses = sorted(b[123:125] for b in bases)
    assert all(b[72:75] == "I01" and b[101:104] == "002" for b in bases)
    # Member 1 paid round 1 but not round 2 (Aug 5: 56 days); member 2 neither (87 days).
    assert statuses == ["71", "78"]


def test_invalid_data_refuses_the_whole_file_and_writes_nothing(
    tmp_path, landlord, resident, enroll, policy
):
    rent(landlord, resident)
    opt_in(resident)
    nobody = enroll(first="No", last="Ids", dob=None, ssn="")
    rent(landlord, nobody, account="LEASE-9")
    opt_in(nobody)
    with pytest.raises(CommandError, match="date_of_birth: required"):
        export(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_clear_errors(tmp_path, landlord):
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "export_metro2", "--output", str(tmp_path / "f"), "--as-of", "June", *FURNISHER
        )
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_metro2", "--output", str(tmp_path / "no" / "f"), *FURNISHER)
    with pytest.raises(CommandError, match="no bureau reporting policy"):
        call_command(
            "export_metro2",
            "--output",
            str(tmp_path / "f"),
            "--reporter",
            str(landlord.pk),
            *FURNISHER,
        )
    with pytest.raises(CommandError, match="furnisher's name and address"):
        call_command("export_metro2", "--output", str(tmp_path / "f"))


def test_vawa_and_revoked_consent_are_never_furnished(tmp_path, landlord, resident, policy):
    rent(landlord, resident)
    opt_in(resident)
    services.bureau_consent_revoke(resident=resident)
    path, out = export(tmp_path)
    assert len(records(path)) == 2
    opt_in(resident)
    resident.vawa_protected = True
    resident.save()
    path, out = export(tmp_path)
    assert len(records(path)) == 2 and "VAWA" in out


def test_disputes_are_flagged_xb_while_open_and_xh_in_the_month_they_end(
    tmp_path, landlord, reporter, resident, policy
):
    from django.utils import timezone

    from credit.models import PaymentRecord

    rent(landlord, resident)
    opt_in(resident)
    dispute = services.dispute_open(
        payment=PaymentRecord.objects.get(reference="LEASE-1-3"), reason="paid on time"
    )
    path, _out = export(tmp_path)
    assert records(path)[1][152:154] == "XB"
    services.dispute_resolve(dispute=dispute, outcome="upheld", note="n", acting_user=reporter)
    today = timezone.localdate().isoformat()
    out = tmp_path / "now.dat"
    call_command("export_metro2", "--output", str(out), "--as-of", today, *FURNISHER,
                 stdout=StringIO())  # fmt: skip
    assert records(out)[1][152:154] == "XH"
    path, _out = export(tmp_path)  # September 2025: before the dispute ended
    assert records(path)[1][152:154] == "  "
