"""Who may open what: every URL in the URLconf, visited with GET as each role, against a
declared table (issue #8 point 2). A URL name missing from the table, or a table row whose
URL is gone, fails the test. Then IDOR checks: a caseworker of another organization never
reads a resident's record, whatever the id they guess.

Outcomes: "ok" 200; "redirect" a 302 into the page's own flow; "login" a 302 to the staff
sign-in; "kiosk" a 302 to the resident kiosk's sign-in; "unauthenticated" 401 (the API);
"bad_request" 400; "forbidden" 403; "not_found" 404 (also what hides a record the role may
not see); "method" 405 (POST-only); "error NNN" anything else (a 500 shows here, not as an
exception).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from citychain import roles
from credit import services as credit
from energy import services as energy
from identity import services as identity
from identity.models import Consent, Encounter, Organization, RecordCategory
from ledger import services as ledger
from tests.energy.test_portal import EXAMPLE, T0, add_member, clear, feed, make_microgrid
from tests.factories import OrganizationFactory, UserFactory
from tests.identity.conftest import resident_data
from tests.identity.test_kiosk import city_id_of, sign_in
from voting import services as voting

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
RESIDENT_NAME = "Zenobia"  # A's resident: a name that appears nowhere else in the pages

ROLES = (
    "anonymous",
    "resident",  # signed in at the identity kiosk
    "caseworker_a",
    "caseworker_b",
    "provider_admin",  # of organization A
    "election_official",
    "grid_operator",
    "credit_reporter",
    "energy_member",
    "city_admin",
)

# Areas the matrix does not visit, with the reason. Every other named URL must be in TABLE.
SKIPPED_NAMESPACES = {
    "admin": "the Django admin: test_admin_is_staff_only",
    "docs": "the static guides built by mkdocs (tests/test_docs.py)",
}
SKIPPED_NAMES = {
    "set_language": "Django's i18n view (POST-only, public)",
    "javascript-catalog": "Django's JavaScript translation catalog (public)",
}


# --- the declared table -----------------------------------------------------------------------


def expect(default: str, **by_role: str) -> dict[str, str]:
    unknown = by_role.keys() - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"
    return {role: by_role.get(role, default) for role in ROLES}


def public(outcome: str = "ok") -> dict[str, str]:
    return expect(outcome)


def staff(default: str = "forbidden", **by_role: str) -> dict[str, str]:
    """Signed-in staff pages: the kiosk's resident is not signed in as staff."""
    return expect(default, anonymous="login", resident="login", **by_role)


def desk(outcome: str = "ok") -> dict[str, str]:
    """The caseworker desk on A's resident: B's caseworker is told it does not exist."""
    b = "not_found" if outcome == "ok" else outcome
    return staff(caseworker_a=outcome, caseworker_b=b, provider_admin=outcome)


def desk_post() -> dict[str, str]:
    return staff(caseworker_a="method", caseworker_b="method", provider_admin="method")


def official(outcome: str = "ok") -> dict[str, str]:
    return staff(election_official=outcome, city_admin=outcome)


def member(outcome: str = "ok") -> dict[str, str]:
    return staff(energy_member=outcome)


def operator(outcome: str = "ok") -> dict[str, str]:
    return staff(grid_operator=outcome, city_admin=outcome)


def reporter(outcome: str = "ok") -> dict[str, str]:
    """City admins pass the role check but belong to no reporting organization: 403."""
    return staff(credit_reporter=outcome)


def kiosk(outcome: str = "ok") -> dict[str, str]:
    """The resident's own pages: anyone else goes to the kiosk's sign-in (staff too)."""
    return expect("kiosk", resident=outcome)


def api(default: str = "forbidden", **by_role: str) -> dict[str, str]:
    """Token or session API: no credentials is 401."""
    return expect(default, anonymous="unauthenticated", resident="unauthenticated", **by_role)


TABLE: dict[str, dict[str, str]] = {
    # site
    "home": public(),
    "dashboard": staff("ok"),
    "status": staff(city_admin="ok"),
    "healthz": public(),
    "login": expect("redirect", anonymous="ok", resident="ok"),  # signed in: onwards
    "logout": public("method"),
    "password_change": staff("ok"),
    "password_change_done": staff("ok"),
    "password_reset": public(),
    "password_reset_done": public(),
    "password_reset_confirm": public(),  # a bad link: the page says so
    "password_reset_complete": public(),
    # ledger explorer, public
    "ledger:explorer": public(),
    "ledger:block": public(),
    "ledger:entry": public(),
    # identity: the desk
    "identity:home": staff(caseworker_a="ok", caseworker_b="ok", provider_admin="ok"),
    "identity:enroll": staff(caseworker_a="ok", caseworker_b="ok", provider_admin="ok"),
    "identity:request_access": staff(caseworker_a="ok", caseworker_b="ok", provider_admin="ok"),
    "identity:resident": desk(),
    "identity:ssn_reveal": desk_post(),
    "identity:card": desk(),
    "identity:card_reissue": desk_post(),
    "identity:photo": desk("not_found"),  # the resident has no photo
    "identity:consent_new": desk(),
    "identity:consent_print": desk(),
    "identity:consent_revoke": desk_post(),
    "identity:encounter_new": desk(),
    "identity:referral_new": desk(),
    "identity:referral_status": desk_post(),
    "identity:link": desk_post(),
    "identity:unlink": desk_post(),
    "identity:erase": staff(city_admin="ok"),
    "identity:document_upload": desk(),
    "identity:document_download": desk(),
    "identity:document_verify": public(),
    "identity:hmis_export": staff(provider_admin="ok", city_admin="ok"),
    # identity: the kiosk
    "identity:kiosk": expect("ok", resident="redirect"),  # signed in: to one's own page
    "identity:kiosk_home": kiosk(),
    "identity:kiosk_document": kiosk(),
    "identity:kiosk_revoke": kiosk("method"),
    "identity:kiosk_signout": public("method"),
    # voting: the voter's pages, public; the steps need a credential in the session first
    "voting:enter": public(),
    "voting:track": public(),
    "voting:credential": public(),
    "voting:ballot": public("redirect"),
    "voting:review": public("redirect"),
    "voting:receipt": public("redirect"),
    "voting:results": public(),
    # voting: officials (GET on a transition asks to confirm)
    "voting-official:elections": official(),
    "voting-official:election_new": official(),
    "voting-official:election": official(),
    "voting-official:contest_add": official("method"),
    "voting-official:choice_add": official("method"),
    "voting-official:open": official(),
    "voting-official:close": official(),
    "voting-official:certify": official(),
    "voting-official:roll": official(),
    "voting-official:roll_upload": official("method"),
    "voting-official:roll_residents": official("method"),
    "voting-official:credentials": official(),
    "voting-official:results": official(),
    "voting-official:ties_decide": official("method"),
    # energy: members, operators; a bill or interval for its member and its grid's operator
    "energy:home": member(),
    "energy:upload": member(),
    "energy:preferences": member(),
    "energy:orders": member(),
    "energy:order_cancel": public("method"),
    "energy:bill": staff("not_found", energy_member="ok", grid_operator="ok", city_admin="ok"),
    "energy:bill_paid": public("method"),
    "energy:operator": operator(),
    "energy:operator_mode": public("method"),
    "energy:operator_bills": operator(),
    "energy:interval": staff("not_found", energy_member="ok", grid_operator="ok", city_admin="ok"),
    # credit: reporters (of the fund that reported A's resident)
    "credit:reporter_home": reporter(),
    "credit:resident_lookup": reporter("method"),
    "credit:record_new": reporter(),
    "credit:record_detail": reporter(),
    "credit:record_mark_paid": reporter("method"),
    "credit:disputes": reporter(),
    "credit:dispute_detail": reporter(),
    "credit:dispute_investigate": reporter("method"),
    "credit:dispute_resolve": reporter("method"),
    "credit:circles": reporter(),
    "credit:circle_new": reporter("method"),
    "credit:circle_detail": reporter(),
    "credit:circle_member_add": reporter("method"),
    "credit:circle_start": reporter("method"),
    "credit:circle_contribution": reporter("method"),
    "credit:circle_payout": reporter("method"),
    # credit: the resident at the kiosk
    "credit:my_credit": kiosk(),
    "credit:my_dispute": kiosk(),
    "credit:my_bureau": kiosk(),
    "credit:my_bureau_stop": kiosk("method"),
    "credit:my_report_issue": kiosk("method"),
    "credit:my_report": kiosk(),
    "credit:my_report_json": kiosk(),
    "credit:my_share_create": kiosk("method"),
    "credit:my_share_revoke": kiosk("method"),
    # credit: public verification
    "credit:verify_start": public(),
    "credit:verify_report": public(),
    "credit:shared_report": public(),
    # identity API: desk staff, organization-scoped
    "identity-api:lookup": api(
        caseworker_a="method", caseworker_b="method", provider_admin="method"
    ),
    "identity-api:resident-encounters": api(
        caseworker_a="method", caseworker_b="method", provider_admin="method"
    ),
    "identity-api:resident-documents": api(
        caseworker_a="ok", caseworker_b="not_found", provider_admin="ok"
    ),
    # voting API: public; an open election's board and results are not shown yet
    "voting-api:elections": public(),
    "voting-api:election": public(),
    "voting-api:ballots": public("forbidden"),
    "voting-api:results": public("forbidden"),
    "voting-api:track": public(),
    # energy API: meters (their own token only) and operators
    "energy-api:meter-readings": public("unauthenticated"),
    "energy-api:meter-token": api(grid_operator="method"),
    "energy-api:readings-upload": api(grid_operator="method"),
    "energy-api:market": api(grid_operator="ok"),
    "energy-api:intervals": api(grid_operator="ok"),
    "energy-api:interval-book": api(grid_operator="ok"),
    # credit API: reporters
    "credit-api:payments": api(credit_reporter="ok"),
    "credit-api:payment": api(credit_reporter="ok"),
    "credit-api:payment-paid": api(credit_reporter="method"),
    "credit-api:disputes": api(credit_reporter="ok"),
    "credit-api:report-verify": public("method"),
    # ledger API, public
    "ledger-api:head": public(),
    "ledger-api:blocks": public(),
    "ledger-api:block": public(),
    "ledger-api:entry": public(),
    "ledger-api:proof": public(),
    "ledger-api:consistency": public("bad_request"),  # needs first= and second=
    "ledger-api:key": public(),
    "ledger-api:checkpoint": public(),
    # the API's schema and reference
    "api-schema": public(),
    "api-docs": public(),
    "api-redoc": public(),
    "api-redoc-bundle": public(),
}


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Throttles (kiosk sign-in, APIs) count in the cache: an empty one per test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"permission-matrix-{time.monotonic_ns()}",
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}),
            "identity-api": "100000/minute",
        },
    }


# --- the URLconf ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    route: str  # "identity/r/<uuid:public_id>/"
    params: tuple[str, ...]  # the kwargs reverse() needs


def _walk(patterns, namespace: str = "", prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, full_ns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            params = tuple(
                p for p in pattern.pattern.regex.groupindex if p not in pattern.default_args
            )
            yield name, pattern, Route(name or "", prefix + str(pattern.pattern), params)


def url_routes() -> tuple[dict[str, Route], list[str]]:
    """Every named URL (first wins, as reverse() does) and the routes that have no name."""
    routes: dict[str, Route] = {}
    unnamed: list[str] = []
    for name, _pattern, route in _walk(get_resolver().url_patterns):
        top = name.split(":")[0] if name and ":" in name else ""
        if top in SKIPPED_NAMESPACES or route.route.startswith(tuple(SKIPPED_NAMESPACES)):
            continue
        if not name:
            unnamed.append(route.route)
        elif name not in SKIPPED_NAMES:
            routes.setdefault(name, route)
    return routes, unnamed


# --- the world the roles visit ---------------------------------------------------------------


def build_people() -> SimpleNamespace:
    """The organizations, a user per role, and organization A's resident (consent to A)."""
    w = SimpleNamespace()
    org_a = OrganizationFactory(name="Harbor Light Shelter", kind=Organization.Kind.SHELTER)
    org_b = OrganizationFactory(name="Eastside Clinic", kind=Organization.Kind.CLINIC)
    org_c = OrganizationFactory(name="Northside Outreach", kind=Organization.Kind.OUTREACH)
    fund = OrganizationFactory(
        name="Neighbors Lending Circle Fund", kind=Organization.Kind.LENDING_CIRCLE
    )
    grid = make_microgrid()
    w.org_a, w.org_b, w.org_c, w.fund, w.grid = org_a, org_b, org_c, fund, grid
    w.users = {
        "caseworker_a": UserFactory(username="cw-a", organization=org_a, role=roles.CASEWORKER),
        "caseworker_b": UserFactory(username="cw-b", organization=org_b, role=roles.CASEWORKER),
        "provider_admin": UserFactory(
            username="pa-a", organization=org_a, role=roles.PROVIDER_ADMIN
        ),
        "election_official": UserFactory(
            username="official", organization=None, role=roles.ELECTION_OFFICIAL
        ),
        "grid_operator": UserFactory(
            username="operator", organization=grid, role=roles.GRID_OPERATOR
        ),
        "credit_reporter": UserFactory(
            username="reporter", organization=fund, role=roles.CREDIT_REPORTER
        ),
        "city_admin": UserFactory(username="admin", organization=None, role=roles.CITY_ADMIN),
    }
    w.members = {
        "ann": add_member(grid, "Ann Solar", username="member"),
        "bea": add_member(grid, "Bea Solar"),
        "cal": add_member(grid, "Cal Buyer"),
        "dov": add_member(grid, "Dov Buyer"),
    }
    w.users["energy_member"] = w.members["ann"].user
    w.resident = identity.resident_enroll(
        acting_user=w.users["caseworker_a"],
        data=resident_data(legal_first_name=RESIDENT_NAME, preferred_name=""),
        pin="2468",
        consent_categories=["identity", "housing", "case_notes"],
    )
    return w


def add_identity_records(w: SimpleNamespace) -> None:
    """A's resident's consent, a second record of theirs (linked), a referral to C (who
    has consent), and a document."""
    cw_a = w.users["caseworker_a"]
    w.twin = identity.resident_enroll(
        acting_user=cw_a, data=resident_data(legal_first_name="Zenobie"), pin="1357"
    )
    w.consent = w.resident.consents.get(organization=w.org_a)
    identity.consent_record(
        resident=w.resident,
        organization=w.org_c,
        categories=[RecordCategory.IDENTITY],
        status=Consent.Status.GRANTED,
        acting_user=cw_a,
    )
    w.referral = identity.referral_send(
        acting_user=cw_a, resident=w.resident, to_organization=w.org_c, service="Food"
    )
    w.link = identity.resident_link(acting_user=cw_a, a=w.resident, b=w.twin, reason="same")
    w.document = identity.document_upload(
        acting_user=cw_a, resident=w.resident, content=PDF, category="housing", title="Lease"
    )


def build_world() -> SimpleNamespace:
    """build_people(), and one of everything each URL names. Object URLs point at
    organization A's objects (and the fund's, the microgrid's for credit and energy)."""
    w = build_people()
    fund, grid, members = w.fund, w.grid, w.members

    add_identity_records(w)

    # voting: an open election, one ballot cast
    w.election = voting.election_create(acting_user=None, title="City election")
    w.contest = voting.contest_add(w.election, title="Mayor", method="plurality")
    voting.choice_add(w.contest, name="Rivera")
    voting.choice_add(w.contest, name="Chen")
    voting.roll_import_csv(w.election, "voter_id,name\nV1,Voter 1\nV2,Voter 2\n")
    voting.election_open(w.election)
    credentials = [c for _voter, c in voting.credentials_issue(w.election)]
    w.ballot = voting.ballot_cast(
        election_id=w.election.pk, credential=credentials[0], selections={}
    )

    # energy: one cleared interval, June's bills
    feed(members, T0, EXAMPLE)
    w.interval = clear(grid, T0)
    w.meter = members["ann"].meters.get()
    bills = energy.bills_make_month(microgrid=grid, year=2026, month=6)
    w.bill = next(b for b in bills if b.member == members["ann"])

    # credit: the fund reports a payment of A's resident, who disputes it; a circle; a report
    due = timezone.localdate().replace(day=1) - timedelta(days=62)
    w.payment = credit.record_payment(
        reporter=fund,
        resident=w.resident,
        kind="lending_circle",
        account_reference="LC-1",
        reference="LC-1-1",
        due_date=due,
        amount_due_cents=10_000,
        paid_on=due,
        amount_paid_cents=10_000,
    )
    w.dispute = credit.dispute_open(payment=w.payment, reason="I paid on time.")
    w.circle = credit.circle_create(
        organization=fund,
        name="Spring circle",
        monthly_contribution_cents=10_000,
        first_due_date=timezone.localdate() + timedelta(days=30),
        acting_user=w.users["credit_reporter"],
    )
    w.report = credit.report_issue(resident=w.resident)
    w.share_link, w.share_token = credit.share_link_create(report=w.report)

    ledger.seal_all()
    return w


def url_kwargs(w: SimpleNamespace) -> dict[str, dict]:
    """The kwargs of each URL with parameters: A's objects."""
    resident = {"public_id": w.resident.public_id}
    election = {"election_id": w.election.pk}
    official = {"pk": w.election.pk}
    return {
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
        "ledger:block": {"height": 0},
        "ledger:entry": {"leaf_index": 0},
        **{
            f"identity:{name}": resident
            for name in (
                "resident",
                "ssn_reveal",
                "card",
                "card_reissue",
                "photo",
                "consent_new",
                "consent_print",
                "encounter_new",
                "referral_new",
                "link",
                "erase",
                "document_upload",
            )
        },
        "identity:consent_revoke": {"pk": w.consent.pk},
        "identity:referral_status": {"pk": w.referral.pk},
        "identity:unlink": {**resident, "pk": w.link.pk},
        "identity:document_download": {"pk": w.document.pk},
        "identity:kiosk_document": {"pk": w.document.pk},
        "identity:kiosk_revoke": {"pk": w.consent.pk},
        **{
            f"voting:{name}": election
            for name in ("credential", "ballot", "review", "receipt", "results")
        },
        **{
            f"voting-official:{name}": official
            for name in (
                "election",
                "contest_add",
                "open",
                "close",
                "certify",
                "roll",
                "roll_upload",
                "roll_residents",
                "credentials",
                "results",
            )
        },
        "voting-official:choice_add": {**official, "contest_pk": w.contest.pk},
        "voting-official:ties_decide": {**official, "contest_pk": w.contest.pk},
        "energy:order_cancel": {"public_id": uuid.uuid4()},  # POST-only: no order needed
        "energy:bill": {"public_id": w.bill.public_id},
        "energy:bill_paid": {"public_id": w.bill.public_id},
        "energy:interval": {"pk": w.interval.pk},
        "credit:record_detail": {"public_id": w.payment.public_id},
        "credit:record_mark_paid": {"public_id": w.payment.public_id},
        **{
            f"credit:{name}": {"public_id": w.dispute.public_id}
            for name in ("dispute_detail", "dispute_investigate", "dispute_resolve")
        },
        **{
            f"credit:{name}": {"public_id": w.circle.public_id}
            for name in (
                "circle_detail",
                "circle_member_add",
                "circle_start",
                "circle_contribution",
                "circle_payout",
            )
        },
        "credit:my_dispute": {"public_id": w.payment.public_id},
        **{
            f"credit:{name}": {"public_id": w.report.public_id}
            for name in ("my_report", "my_report_json", "my_share_create")
        },
        "credit:my_share_revoke": {"public_id": w.share_link.public_id},
        "credit:verify_report": {"code": w.report.sha256},
        "credit:shared_report": {"token": w.share_token},
        "identity-api:resident-encounters": resident,
        "identity-api:resident-documents": resident,
        **{
            f"voting-api:{name}": {"election_id": str(w.election.pk)}
            for name in ("election", "ballots", "results")
        },
        "voting-api:track": {"tracking_code": w.ballot.tracking_code},
        "energy-api:meter-readings": {"meter_id": w.meter.meter_id},
        "energy-api:meter-token": {"meter_id": w.meter.meter_id},
        "energy-api:interval-book": {"pk": w.interval.pk},
        "credit-api:payment": {"public_id": w.payment.public_id},
        "credit-api:payment-paid": {"public_id": w.payment.public_id},
        "ledger-api:block": {"height": "0"},
        "ledger-api:entry": {"leaf_index": "0"},
        "ledger-api:proof": {"leaf_index": "0"},
    }


def clients_for(w: SimpleNamespace) -> dict[str, Client]:
    """One browser per role: staff signed in, the resident signed in at the kiosk."""
    clients = {}
    for role in ROLES:
        client = Client(raise_request_exception=False)
        if role == "resident":
            response = sign_in(client, city_id_of(w.resident))
            assert response.status_code == 302, response.content[:500]
        elif role != "anonymous":
            client.force_login(w.users[role])
        clients[role] = client
    return clients


LOGIN = reverse("login")
KIOSK = reverse("identity:kiosk")


def outcome(response) -> str:
    code = response.status_code
    if code in (301, 302, 303):
        location = response["Location"]
        if location.startswith(LOGIN):
            return "login"
        if location.split("?")[0] == KIOSK:
            return "kiosk"
        return "redirect"
    return {
        200: "ok",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        400: "bad_request",
        405: "method",
    }.get(code, f"error {code}")


def visit_all(w, routes: dict[str, Route]) -> dict[tuple[str, str], str]:
    kwargs = url_kwargs(w)
    clients = clients_for(w)
    urls = {name: reverse(name, kwargs=kwargs.get(name) or None) for name in routes}
    actual = {}
    for role, client in clients.items():
        for name, url in urls.items():
            actual[name, role] = outcome(client.get(url))
    return actual


# --- the tests --------------------------------------------------------------------------------


class Anything:
    """Stands for any object of the world: every attribute is a value."""

    def __getattr__(self, name):
        return 1


WORLD_ATTRIBUTES = (
    "resident", "election", "contest", "consent", "referral", "link", "document", "bill",
    "interval", "payment", "dispute", "circle", "report", "share_link", "share_token", "ballot",
    "meter",
)  # fmt: skip


def test_the_table_names_every_url_and_only_those():
    routes, unnamed = url_routes()
    missing = sorted(routes.keys() - TABLE.keys())
    stale = sorted(TABLE.keys() - routes.keys())
    assert not missing, "URLs with no row in TABLE (declare who may open them):\n" + "\n".join(
        f"  {name}  /{routes[name].route}" for name in missing
    )
    assert not stale, "TABLE rows for URLs the URLconf no longer has:\n" + "\n".join(
        f"  {name}" for name in stale
    )
    assert not unnamed, f"URLs with no name cannot be in the table: {unnamed}"
    kwargs = url_kwargs(SimpleNamespace(**dict.fromkeys(WORLD_ATTRIBUTES, Anything())))
    no_kwargs = sorted(n for n, r in routes.items() if r.params and n not in kwargs)
    assert not no_kwargs, f"URLs with parameters that url_kwargs() does not fill: {no_kwargs}"


def test_each_role_gets_what_the_table_says():
    routes, _unnamed = url_routes()
    w = build_world()
    actual = visit_all(w, routes)
    diff = [
        f"  {name:36} {role:18} expected {TABLE[name][role]:16} got {got}"
        for (name, role), got in actual.items()
        if name in TABLE and TABLE[name][role] != got
    ]
    assert not diff, f"{len(diff)} of {len(actual)} visits differ from TABLE:\n" + "\n".join(diff)
    # GET changed nothing: the election is open, the consent active, the report current.
    w.election.refresh_from_db()
    w.consent.refresh_from_db()
    w.report.refresh_from_db()
    w.share_link.refresh_from_db()
    assert w.election.status == "open"
    assert w.consent.is_active()
    assert w.report.superseded_at is None and w.share_link.revoked_at is None
    assert identity.active_card(w.resident) is not None


ADMIN_LOGIN = reverse("admin:login")


def admin_urls() -> list[str]:
    """The admin's pages without parameters: its index, each app's and model's list, add."""
    return [
        reverse(name)
        for name, _pattern, route in _walk(admin.site.urls[0], "admin")
        if not route.params and name not in ("admin:login", "admin:logout")
    ]


def test_admin_is_staff_only():
    """Only city admins are staff; everyone else, whatever their role, is sent to sign in."""
    w = build_people()
    urls = admin_urls()
    assert len(urls) > 20  # the index, and the models' lists and add pages
    for role, client in clients_for(w).items():
        if role == "city_admin":
            assert client.get(reverse("admin:index")).status_code == 200
            continue
        let_in = {}
        for url in urls:
            response = client.get(url)
            if not (response.status_code == 302 and response["Location"].startswith(ADMIN_LOGIN)):
                let_in[url] = response.status_code
        assert not let_in, f"{role} was not sent to the admin's sign-in: {let_in}"


# --- IDOR: organization B guesses its way to A's resident -------------------------------------

DESK_RESIDENT_PAGES = (
    "identity:resident", "identity:card", "identity:photo", "identity:consent_new",
    "identity:consent_print", "identity:encounter_new", "identity:referral_new",
    "identity:document_upload",
)  # fmt: skip
DESK_RESIDENT_POSTS = ("identity:ssn_reveal", "identity:card_reissue", "identity:link")
HIDDEN = (403, 404)
SSN = "123-45-6789"


def guessed_uuids(rng: random.Random, n: int) -> list[uuid.UUID]:
    """Random ones, and the "sequential" ones a script would try first."""
    return [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(n)] + [
        uuid.UUID(int=k) for k in range(1, n + 1)
    ]


def guessed_pks(real: int, n: int = 12) -> list[int]:
    return sorted({real - 1, real, real + 1, *range(1, n + 1)} - {0})


def assert_hidden(response, what: str) -> None:
    body = response.content.decode(errors="replace")
    assert response.status_code in HIDDEN, f"{what}: {response.status_code}"
    assert RESIDENT_NAME not in body and SSN not in body, f"{what}: the resident's data shows"


@pytest.fixture
def idor_world():
    w = build_people()
    add_identity_records(w)
    # B's own resident: shows that B's pages do show names, so their absence means something.
    w.own_b = identity.resident_enroll(
        acting_user=w.users["caseworker_b"],
        data=resident_data(
            legal_first_name="Bartholomew", legal_last_name="Okafor", preferred_name=""
        ),
    )
    return w


def test_a_caseworker_of_b_reads_none_of_a_residents_pages(idor_world):
    w = idor_world
    client = Client(raise_request_exception=False)
    client.force_login(w.users["caseworker_b"])
    own = client.get(reverse("identity:resident", args=[w.own_b.public_id]))
    assert own.status_code == 200 and "Bartholomew" in own.content.decode()

    rng = random.Random(8)
    ids = [w.resident.public_id, w.twin.public_id, *guessed_uuids(rng, 5)]
    for public_id in ids:
        for name in DESK_RESIDENT_PAGES:
            url = reverse(name, args=[public_id])
            assert_hidden(client.get(url), f"GET {url}")
        for name in DESK_RESIDENT_POSTS:
            url = reverse(name, args=[public_id])
            assert_hidden(client.post(url, {"reason": "lost"}), f"POST {url}")
    for pk in guessed_pks(w.document.pk):
        url = reverse("identity:document_download", args=[pk])
        assert_hidden(client.get(url), f"GET {url}")
    # POSTs on A's consent, referral and link by number: refused, and nothing changes.
    own_consents = set(Consent.objects.filter(organization=w.org_b).values_list("pk", flat=True))
    for pk in set(guessed_pks(w.consent.pk)) - own_consents:
        url = reverse("identity:consent_revoke", args=[pk])
        assert_hidden(client.post(url), f"POST {url}")
    for pk in guessed_pks(w.referral.pk):
        url = reverse("identity:referral_status", args=[pk])
        assert_hidden(client.post(url, {"status": "declined"}), f"POST {url}")
    for pk in guessed_pks(w.link.pk):
        url = reverse("identity:unlink", args=[w.resident.public_id, pk])
        assert_hidden(client.post(url), f"POST {url}")
    w.consent.refresh_from_db()
    w.referral.refresh_from_db()
    w.link.refresh_from_db()
    assert w.consent.is_active() and w.referral.status == "sent" and w.link.unlinked_at is None

    # Searching by name, SSN or city ID finds nothing of A's; a wrong birth date neither.
    city_id = city_id_of(w.resident)
    for query in (RESIDENT_NAME, "6789", city_id, f"{RESIDENT_NAME} 05/17/1980"):
        response = client.post(reverse("identity:home"), {"q": query})
        body = response.content.decode()
        assert response.status_code in (200, *HIDDEN), query
        found = {r.pk for r in response.context.get("results") or []}
        assert not found & {w.resident.pk, w.twin.pk}, f"search {query!r} finds A's resident"
        # The page echoes the query, so look for what only a result would show.
        for resident in (w.resident, w.twin):
            assert str(resident.public_id) not in body, f"search {query!r} links to A's"
        assert "García" not in body, f"search {query!r} shows A's resident's last name"
    for dob in ("1980-05-18", "1979-05-17"):
        response = client.post(reverse("identity:request_access"), {"city_id": city_id, "dob": dob})
        assert_hidden(response, f"request access with dob {dob}")


def test_the_identity_api_hides_a_residents_from_b(idor_world):
    w = idor_world
    api = APIClient()
    token, _created = Token.objects.get_or_create(user=w.users["caseworker_b"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    own = api.get(f"/api/identity/residents/{w.own_b.public_id}/documents/")
    assert own.status_code == 200

    encounters = Encounter.objects.count()
    rng = random.Random(8)
    for public_id in [w.resident.public_id, w.twin.public_id, *guessed_uuids(rng, 5)]:
        documents = reverse("identity-api:resident-documents", args=[public_id])
        encounter = reverse("identity-api:resident-encounters", args=[public_id])
        for response in (
            api.get(documents),
            api.post(encounter, {"kind": "meal", "date": "2026-01-02"}, format="json"),
        ):
            assert response.status_code == 404, (public_id, response.status_code)
            assert response.json() == {"detail": "No resident found."}
    assert Encounter.objects.count() == encounters
    for city_id in (city_id_of(w.resident), city_id_of(w.twin)):
        response = api.post(reverse("identity-api:lookup"), {"city_id": city_id}, format="json")
        assert response.status_code == 404
        assert RESIDENT_NAME not in response.content.decode()


def test_a_resident_at_the_kiosk_opens_only_their_own_documents(idor_world):
    w = idor_world
    theirs = identity.document_upload(
        acting_user=w.users["caseworker_a"],
        resident=w.twin,
        content=PDF,
        category="housing",
        title="Someone else's lease",
    )
    client = Client(raise_request_exception=False)
    assert sign_in(client, city_id_of(w.resident)).status_code == 302
    assert client.get(reverse("identity:kiosk_document", args=[w.document.pk])).status_code == 200
    for pk in guessed_pks(theirs.pk):
        if pk != w.document.pk:
            response = client.get(reverse("identity:kiosk_document", args=[pk]))
            assert response.status_code == 404, pk
