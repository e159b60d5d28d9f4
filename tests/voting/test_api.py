"""The public voting API: elections, the bulletin board, casting and its refusals, results,
tracking, the throttle and the schema. Data is set up through voting.services."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from ledger import merkle
from ledger.models import Entry
from ledger.services import seal_all
from tests.factories import UserFactory
from voting import credentials as codes
from voting import services
from voting.models import Ballot, Election, Voter

pytestmark = pytest.mark.django_db

API = "/api/voting"


@dataclass
class Setup:
    """An election with one contest of each method, and its choice ids by name."""

    election: Election
    mayor: int
    council: int
    parks: int
    measure: int
    ids: dict[str, int]

    @property
    def url(self) -> str:
        return f"{API}/elections/{self.election.pk}/"


def make_election(
    *, title: str = "City election 2025", results_live: bool = False, rcv_rules=None
) -> Setup:
    """A draft: Mayor (plurality), Council (approval, 2), Parks (ranked, 3), Measure A."""
    official = UserFactory(username="clerk")
    election = services.election_create(
        acting_user=official, title=title, results_live=results_live, rcv_rules=rcv_rules
    )
    mayor = services.contest_add(election, title="Mayor", method="plurality")
    council = services.contest_add(election, title="Council", method="approval", seats=2)
    parks = services.contest_add(election, title="Parks director", method="ranked", seats=3)
    measure = services.contest_add(election, title="Measure A", method="referendum")
    for contest, names in (
        (mayor, ("Rivera", "Chen", "Okafor")),
        (council, ("Ito", "Lopez", "Nguyen")),
        (parks, ("Ada", "Bo", "Cy", "Di")),
    ):
        for name in names:
            services.choice_add(contest, name=name)
    ids = {
        c.name: c.pk for contest in (mayor, council, parks, measure) for c in contest.choices.all()
    }
    return Setup(election, mayor.pk, council.pk, parks.pk, measure.pk, ids)


def open_with_credentials(setup: Setup, voters: int = 8) -> list[str]:
    rows = "".join(f"V{i},Voter {i}\n" for i in range(voters))
    services.roll_import_csv(setup.election, "voter_id,name\n" + rows)
    services.election_open(setup.election)
    return [credential for _voter, credential in services.credentials_issue(setup.election)]


def ballot(setup: Setup, mayor=(), council=(), parks=(), measure=()) -> dict[str, list[int]]:
    """Selections by choice name, keyed as a client sends them."""
    ids = setup.ids
    return {
        str(setup.mayor): [ids[n] for n in mayor],
        str(setup.council): [ids[n] for n in council],
        str(setup.parks): [ids[n] for n in parks],
        str(setup.measure): [ids[n] for n in measure],
    }


# Rivera wins Mayor 3-2-1; Lopez and Ito win Council; Parks takes three rounds (Di, then Cy
# are eliminated, and Cy's ballot gives Bo a majority of 4); Measure A passes 3 to 2.
BALLOTS = [
    {"mayor": ["Rivera"], "council": ["Ito", "Lopez"], "parks": ["Ada", "Bo"], "measure": ["Yes"]},
    {"mayor": ["Rivera"], "council": ["Ito"], "parks": ["Bo"], "measure": ["Yes"]},
    {"mayor": ["Chen"], "council": ["Lopez", "Nguyen"], "parks": ["Bo", "Ada"], "measure": ["No"]},
    {"mayor": ["Rivera"], "council": ["Ito", "Lopez"], "parks": ["Cy", "Bo"], "measure": ["Yes"]},
    {"mayor": ["Okafor"], "council": [], "parks": ["Ada", "Cy", "Di"], "measure": ["No"]},
    {"mayor": [], "council": ["Nguyen"], "parks": ["Ada", "Di"], "measure": []},
    {"mayor": ["Chen"], "council": ["Lopez"], "parks": ["Bo"], "measure": []},
]


def cast_all(setup: Setup, credentials: list[str], ballots=BALLOTS) -> list[Ballot]:
    return [
        services.ballot_cast(
            election_id=setup.election.pk, credential=credential, selections=ballot(setup, **b)
        )
        for credential, b in zip(credentials, ballots, strict=False)
    ]


def use_cast_rate(settings, rate: str) -> None:
    """The cast throttle at `rate`, counting from nothing in a private cache (the file
    cache of a dev checkout would carry throttle counts over)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "voting-api-tests",
        }
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}),
            "voting-cast": rate,
        },
    }
    cache.clear()


@pytest.fixture(autouse=True)
def api_settings(settings):
    use_cast_rate(settings, "1000/minute")
    return settings


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def setup() -> Setup:
    return make_election()


def stored() -> tuple[int, int, int]:
    """Ballots, ballot ledger entries, and voters marked as having voted."""
    return (
        Ballot.objects.count(),
        Entry.objects.filter(kind="voting.ballot_cast").count(),
        Voter.objects.filter(has_voted=True).count(),
    )


def post_ballot(client: APIClient, setup: Setup, credential: str, selections, **extra):
    body = {"credential": credential, "selections": selections}
    return client.post(f"{setup.url}ballots/", body, format="json", **extra)


# --- elections ---------------------------------------------------------------------------


def test_elections_are_published_once_open_and_a_draft_is_not_found(
    client, setup, django_assert_num_queries
):
    draft = make_election(title="Still a draft")
    open_with_credentials(setup)

    with django_assert_num_queries(4):  # count, elections, contests, choices
        listed = client.get(f"{API}/elections/")
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["results"]] == [setup.election.pk]

    detail = client.get(setup.url).json()
    assert detail["id"] == setup.election.pk
    assert detail["title"] == "City election 2025" and detail["status"] == "open"
    assert detail["results_live"] is False and len(detail["definition_sha256"]) == 64
    assert detail["rcv_rules"]["tiebreak"] == "stopCountingAndAsk"
    mayor, council, parks, measure = detail["contests"]
    assert mayor == {
        "id": setup.mayor,
        "title": "Mayor",
        "method": "plurality",
        "seats": 1,
        "choices": [
            {"id": setup.ids["Rivera"], "name": "Rivera"},
            {"id": setup.ids["Chen"], "name": "Chen"},
            {"id": setup.ids["Okafor"], "name": "Okafor"},
        ],
        "tie_decisions": [],
    }
    assert (council["method"], council["seats"]) == ("approval", 2)
    assert (parks["method"], parks["seats"]) == ("ranked", 3)
    assert measure["method"] == "referendum"
    assert [c["name"] for c in measure["choices"]] == ["Yes", "No"]

    for url in (
        f"{API}/elections/{draft.election.pk}/",
        f"{API}/elections/{draft.election.pk}/ballots/",
        f"{API}/elections/{draft.election.pk}/results/",
        f"{API}/elections/999999/",
        f"{API}/elections/not-a-number/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "There is no published election with this id."}


# --- casting -----------------------------------------------------------------------------


def test_a_ballot_is_cast_with_a_credential_and_tracked_to_its_signed_block(client, setup):
    credentials = open_with_credentials(setup)
    selections = ballot(setup, mayor=["Chen"], council=["Ito", "Nguyen"], parks=["Di", "Ada"])
    # The credential as a voter may type it: lower case, spaces for dashes.
    typed = credentials[0].lower().replace("-", " ")

    response = post_ballot(client, setup, typed, selections)

    assert response.status_code == 201, response.json()
    body = response.json()
    code = body["tracking_code"]
    assert body == {
        "tracking_code": code,
        "election": setup.election.pk,
        "selections": {**selections, str(setup.measure): []},
        "leaf_index": None,
        "status": "pending",
    }
    assert response["Location"].endswith(f"{API}/track/{code}/")
    assert Ballot.objects.get().selections == body["selections"]
    assert stored() == (1, 1, 1)

    pending = client.get(f"{API}/track/{code}/").json()
    assert pending["status"] == "pending" and pending["leaf_index"] is None
    assert pending["selections"] is None and pending["inclusion_proof"] is None

    seal_all()
    # Any case, with the receipt's dashes.
    sealed = client.get(f"{API}/track/{codes.format_tracking_code(code).lower()}/").json()
    assert sealed["status"] == "sealed"
    assert sealed["tracking_code"] == code and sealed["election"] == setup.election.pk
    assert sealed["selections"] == body["selections"]
    entry = sealed["entry"]
    assert entry["kind"] == "voting.ballot_cast"
    assert entry["data"] == {
        "election": setup.election.pk,
        "tracking_code": code,
        "selections": body["selections"],
    }
    import rfc8785

    leaf = merkle.leaf_hash(rfc8785.dumps(entry))
    assert leaf.hex() == sealed["leaf_hash"]
    proof = sealed["inclusion_proof"]
    block = client.get(f"/api/ledger/blocks/{proof['block_height']}/").json()
    assert (proof["tree_size"], proof["root_hash"]) == (block["tree_size"], block["root_hash"])
    assert merkle.verify_inclusion(
        leaf,
        sealed["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(proof["root_hash"]),
    )


def test_the_same_refusal_for_an_unknown_and_a_used_credential(client, setup):
    credentials = open_with_credentials(setup)
    selections = ballot(setup, mayor=["Rivera"])
    assert post_ballot(client, setup, credentials[0], selections).status_code == 201
    before = stored()

    used = post_ballot(client, setup, credentials[0], selections)
    unknown = post_ballot(client, setup, codes.new_credential(), selections)

    assert used.status_code == unknown.status_code == 403
    assert used.json() == unknown.json()
    assert "cannot be used" in used.json()["detail"]
    assert stored() == before


def mistyped(credential: str) -> str:
    canonical = codes.normalize(credential)
    return canonical[:5] + ("A" if canonical[5] != "A" else "B") + canonical[6:]


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("mistyped credential", 400, "This credential has a typo"),
        ("overvote", 400, "Mayor: you may mark 1 choice; this ballot marks 2."),
        ("approval overvote", 400, "Council: you may mark up to 2 choices; this ballot marks 3."),
        ("duplicate rank", 400, "Parks director: Bo is ranked more than once"),
        ("unknown contest", 400, "There is no contest 999999 on this ballot."),
        ("unknown choice", 400, "Mayor: 999999 is not a choice in this contest."),
        ("superscript digit as contest", 400, "There is no contest \u00b2 on this ballot."),
        ("superscript digit as choice", 400, "Mayor: \u00b2 is not a choice in this contest."),
        ("selections not an object", 400, "must map each contest"),
        ("no credential", 400, "credential: This field is required."),
        ("no selections", 400, "selections: This field is required."),
    ],
)
def test_an_invalid_cast_is_refused_saying_why_and_stores_nothing(
    client, setup, case, status, says
):
    credentials = open_with_credentials(setup)
    ids = setup.ids
    good = ballot(setup, mayor=["Rivera"])
    body = {"credential": credentials[0], "selections": good}
    if case == "mistyped credential":
        body["credential"] = mistyped(credentials[0])
    elif case == "overvote":
        body["selections"] = {str(setup.mayor): [ids["Rivera"], ids["Chen"]]}
    elif case == "approval overvote":
        body["selections"] = {str(setup.council): [ids["Ito"], ids["Lopez"], ids["Nguyen"]]}
    elif case == "duplicate rank":
        body["selections"] = {str(setup.parks): [ids["Bo"], ids["Ada"], ids["Bo"]]}
    elif case == "unknown contest":
        body["selections"] = {**good, "999999": [1]}
    elif case == "unknown choice":
        body["selections"] = {str(setup.mayor): [999999]}
    elif case == "superscript digit as contest":  # a digit to str.isdigit, not to int()
        body["selections"] = {**good, "\u00b2": []}
    elif case == "superscript digit as choice":
        body["selections"] = {str(setup.mayor): ["\u00b2"]}
    elif case == "selections not an object":
        body["selections"] = [ids["Rivera"]]
    elif case == "no credential":
        del body["credential"]
    elif case == "no selections":
        del body["selections"]

    response = client.post(f"{setup.url}ballots/", body, format="json")

    assert response.status_code == status, response.json()
    assert says in response.json()["detail"]
    assert stored() == (0, 0, 0)
    # The credential still works: a refusal spent nothing.
    assert post_ballot(client, setup, credentials[0], good).status_code == 201


def test_json_nested_too_deeply_is_refused_as_unreadable(client, setup):
    credentials = open_with_credentials(setup)
    body = b'{"credential": "%s", "selections": %s%s}' % (
        credentials[0].encode(),
        b"[" * 5000,
        b"]" * 5000,
    )
    response = client.post(
        f"{setup.url}ballots/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Error al analizar JSON: anidado a demasiada profundidad."
    assert stored() == (0, 0, 0)


def test_an_invalid_ballot_lists_every_problem(client, setup):
    credentials = open_with_credentials(setup)
    ids = setup.ids
    selections = {
        str(setup.mayor): [ids["Rivera"], ids["Chen"]],
        str(setup.parks): [ids["Ada"], ids["Ada"]],
    }

    response = post_ballot(client, setup, credentials[0], selections)

    assert response.status_code == 400
    assert response.json()["problems"] == [
        "Mayor: you may mark 1 choice; this ballot marks 2.",
        "Parks director: Ada is ranked more than once; rank each choice once.",
    ]
    assert stored() == (0, 0, 0)


def test_casting_in_a_closed_election_is_refused_and_a_draft_is_not_found(client, setup):
    credentials = open_with_credentials(setup)
    services.election_close(setup.election)
    draft = make_election(title="Next year")

    closed = post_ballot(client, setup, credentials[0], ballot(setup, mayor=["Chen"]))
    in_draft = post_ballot(client, draft, credentials[1], {})

    assert closed.status_code == 403
    assert closed.json() == {"detail": "Voting in this election has closed."}
    assert in_draft.status_code == 404
    assert stored() == (0, 0, 0)


def test_cast_attempts_are_throttled_per_address_and_reads_are_not(client, setup, api_settings):
    api_settings.REST_FRAMEWORK = {
        **api_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"voting-cast": "2/minute"},
    }
    credentials = open_with_credentials(setup)
    for _ in range(2):
        assert post_ballot(client, setup, codes.new_credential(), {}).status_code == 403

    throttled = post_ballot(client, setup, credentials[0], ballot(setup, mayor=["Chen"]))
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"]
    assert stored() == (0, 0, 0)
    # Another address has its own allowance; reading is never throttled.
    other = post_ballot(
        client, setup, credentials[0], ballot(setup, mayor=["Chen"]), REMOTE_ADDR="10.9.8.7"
    )
    assert other.status_code == 201
    for _ in range(3):
        assert client.get(setup.url).status_code == 200


# --- the bulletin board and results --------------------------------------------------------


def test_board_and_results_are_hidden_while_open_unless_live(client, setup):
    credentials = open_with_credentials(setup)
    cast_all(setup, credentials)

    board = client.get(f"{setup.url}ballots/")
    results = client.get(f"{setup.url}results/")
    assert board.status_code == results.status_code == 403
    assert "published on the bulletin board when voting closes" in board.json()["detail"]
    assert "results of this election are published when voting closes" in results.json()["detail"]

    live = make_election(title="Park names poll", results_live=True)
    live_credentials = open_with_credentials(live)
    cast_all(live, live_credentials[:2])
    assert client.get(f"{live.url}ballots/").status_code == 200
    shown = client.get(f"{live.url}results/").json()
    assert shown["status"] == "open" and shown["final"] is False
    assert shown["turnout"]["ballots"] == 2

    services.election_close(setup.election)
    assert client.get(f"{setup.url}ballots/").status_code == 200
    assert client.get(f"{setup.url}results/").json()["final"] is True
    services.election_certify(setup.election)
    assert client.get(f"{setup.url}results/").json()["status"] == "certified"


def test_the_board_pages_through_every_ballot_by_tracking_code(
    client, setup, django_assert_num_queries
):
    credentials = open_with_credentials(setup)
    cast = cast_all(setup, credentials)
    services.election_close(setup.election)

    url = f"{setup.url}ballots/?page_size=3"
    pages = []
    while url:
        with django_assert_num_queries(2):  # the election, one page of ballots
            page = client.get(url).json()
        pages.append(page["results"])
        url = page["next"]

    assert [len(p) for p in pages] == [3, 3, 1]
    listed = [b for p in pages for b in p]
    codes_listed = [b["tracking_code"] for b in listed]
    assert codes_listed == sorted(b.tracking_code for b in cast)
    assert all(b["leaf_index"] is None for b in listed)  # not sealed yet
    by_code = {b.tracking_code: b for b in cast}
    assert all(b["selections"] == by_code[b["tracking_code"]].selections for b in listed)

    seal_all()
    sealed = client.get(f"{setup.url}ballots/").json()["results"]
    leaves = {
        b.tracking_code: b.ledger_entry.leaf_index
        for b in Ballot.objects.select_related("ledger_entry")
    }
    assert [b["leaf_index"] for b in sealed] == [leaves[c] for c in codes_listed]


def test_results_count_every_method_with_rounds_and_turnout(client, setup):
    credentials = open_with_credentials(setup)
    cast_all(setup, credentials)
    services.election_close(setup.election)
    ids = setup.ids

    results = client.get(f"{setup.url}results/").json()

    assert results["election"] == setup.election.pk and results["final"] is True
    assert results["turnout"] == {"voters": 8, "voted": 7, "ballots": 7, "percent": 87.5}
    mayor, council, parks, measure = results["contests"]
    assert mayor["id"] == setup.mayor and mayor["method"] == "plurality"
    assert mayor["tally"] == {str(ids["Rivera"]): 3, str(ids["Chen"]): 2, str(ids["Okafor"]): 1}
    assert mayor["winners"] == [ids["Rivera"]] and mayor["blank"] == 1 and mayor["rounds"] == []
    assert council["tally"] == {str(ids["Ito"]): 3, str(ids["Lopez"]): 4, str(ids["Nguyen"]): 2}
    assert sorted(council["winners"]) == sorted([ids["Ito"], ids["Lopez"]])
    assert measure["tally"] == {str(ids["Yes"]): 3, str(ids["No"]): 2}
    assert measure["winners"] == [ids["Yes"]] and measure["passed"] is True
    assert parks["passed"] is None and parks["tie"] is None
    assert parks["tally"] == {
        str(ids["Ada"]): 3,
        str(ids["Bo"]): 3,
        str(ids["Cy"]): 1,
        str(ids["Di"]): 0,
    }
    rounds = parks["rounds"]
    assert [r["eliminated"] for r in rounds] == [[ids["Di"]], [ids["Cy"]], []]
    assert rounds[-1]["tallies"] == {str(ids["Ada"]): 3, str(ids["Bo"]): 4}
    assert rounds[-1]["elected"] == parks["winners"] == [ids["Bo"]]
    assert [r["threshold"] for r in rounds] == [4, 4, 4]


# --- tracking ----------------------------------------------------------------------------


def test_tracking_an_unknown_or_mistyped_code(client):
    unknown = codes.new_tracking_code()
    typo = unknown[:3] + ("A" if unknown[3] != "A" else "B") + unknown[4:]

    missing = client.get(f"{API}/track/{unknown}/")
    mistyped_code = client.get(f"{API}/track/{typo}/")

    assert missing.status_code == 404
    assert missing.json() == {"detail": "No ballot has this tracking code."}
    assert mistyped_code.status_code == 400
    assert "probably mistyped" in mistyped_code.json()["detail"]


# --- schema ------------------------------------------------------------------------------


def test_the_schema_documents_every_voting_path_and_its_errors(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    expected = {
        ("/api/voting/elections/", "get"): {"200", "404"},
        ("/api/voting/elections/{election_id}/", "get"): {"200", "404"},
        ("/api/voting/elections/{election_id}/ballots/", "get"): {"200", "403", "404"},
        ("/api/voting/elections/{election_id}/ballots/", "post"): {
            "201",
            "400",
            "403",
            "404",
            "429",
        },
        ("/api/voting/elections/{election_id}/results/", "get"): {"200", "403", "404"},
        ("/api/voting/track/{tracking_code}/", "get"): {"200", "400", "404"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[path][method]
        assert set(operation["responses"]) == statuses, (path, method)
        for status in statuses - {"200", "201"}:
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"]["$ref"].endswith(("/Error", "/BallotError")), (path, status)
    cast = paths["/api/voting/elections/{election_id}/ballots/"]["post"]
    assert cast["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CastRequest"
    )
    board = paths["/api/voting/elections/{election_id}/ballots/"]["get"]["responses"]["200"]
    assert board["content"]["application/json"]["schema"]["$ref"].endswith("/PaginatedBallotList")
