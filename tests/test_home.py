"""The landing page's demo tour (citychain.views.home): shown only in development with the
demo accounts, with a ballot link that still opens a ballot and a resident to sign in as."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from citychain import roles
from credit import services as credit
from identity import cityid
from identity import services as identity
from identity.models import Organization
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data
from voting import demo as voting_demo
from voting import services as voting

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    """Demo accounts, an open election whose credentials are in a demo CSV, one resident
    with a payment record."""
    settings.DEBUG = True
    shelter = OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)
    caseworker = UserFactory(username="caseworker", organization=shelter, role=roles.CASEWORKER)
    UserFactory(username="official", role=roles.ELECTION_OFFICIAL)

    election = voting.election_create(acting_user=None, title="Neighborhood budget 2026")
    contest = voting.contest_add(election, title="Park", method="plurality")
    voting.choice_add(contest, name="Playground")
    voting.roll_import_csv(election, "voter_id,name\nV1,Voter One\nV2,Voter Two\n")
    voting.election_open(election)
    issued = voting.credentials_issue(election)
    path = tmp_path / "demo-credentials.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["voter_id", "name", "email", "credential", "url"])
        for voter, credential in issued:
            writer.writerow(
                [voter.pk, "Voter", "", credential,
                 f"http://127.0.0.1:8000/vote/{election.pk}/#c={credential.replace('-', '')}"]
            )  # fmt: skip
    monkeypatch.setattr(voting_demo, "credentials_file", lambda: path)

    resident = identity.resident_enroll(
        acting_user=caseworker, data=resident_data(), pin="2468",
        consent_categories=["identity"],
    )  # fmt: skip
    landlord = OrganizationFactory(name="Riverside Housing Co-op", kind=Organization.Kind.LANDLORD)
    credit.record_payment(
        reporter=landlord, resident=resident, kind="rent", account_reference="lease-1",
        reference="rent-1", due_date=date(2026, 1, 1), amount_due_cents=90_000,
        paid_on=date(2026, 1, 1), amount_paid_cents=90_000,
    )  # fmt: skip
    return election, [credential for _voter, credential in issued], resident


def test_the_tour_links_a_ballot_that_still_opens_and_names_a_kiosk_resident(client, demo):
    election, (first, second), resident = demo
    voting.ballot_cast(election_id=election.pk, credential=first, selections={})

    body = client.get("/").content.decode()
    assert "Try this" in body
    assert f'href="/vote/{election.pk}/#c={second.replace("-", "")}"' in body
    assert first.replace("-", "") not in body  # used up: not offered
    city_id = cityid.display(identity.active_card(resident).city_id)
    assert f"<code>{city_id}</code>" in body

    # The link's credential opens the ballot, as the tour says.
    response = client.post(f"/vote/{election.pk}/", {"credential": second})
    assert response.status_code == 302
    assert response["Location"] == f"/vote/{election.pk}/ballot/"


def test_without_an_unused_credential_the_tour_points_to_the_csv(client, demo):
    election, credentials, _resident = demo
    for credential in credentials:
        voting.ballot_cast(election_id=election.pk, credential=credential, selections={})
    body = client.get("/").content.decode()
    assert "var/demo-credentials.csv" in body
    assert "#c=" not in body


def test_no_tour_outside_development(client, demo, settings):
    settings.DEBUG = False
    body = client.get("/").content.decode()
    assert "City services for every resident" in body
    assert "Try this" not in body and "citychain-demo" not in body and "#c=" not in body


def test_the_public_services_are_linked_for_everyone(client):
    body = client.get("/").content.decode()
    for href in ("/vote/", "/vote/track/", "/identity/documents/verify/", "/credit/verify/",
                 "/ledger/", "/identity/kiosk/", "/docs/"):  # fmt: skip
        assert f'href="{href}"' in body, href
