"""The read API: every response validated against the OpenAPI document it serves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate as validate_spec
from sqlmodel import select
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from evidence import queries
from evidence.db import session_scope
from evidence.models import ApiToken, OutcomeReport, User
from evidence.web import api
from tests.conftest import csrf_token


def bearer(app: Flask, email: str, role: str = "practitioner") -> dict[str, str]:
    """Return an Authorization header with a new token for a new account."""
    return {"Authorization": f"Bearer {make_token(app, make_user(app, email, role))}"}


pytestmark = pytest.mark.filterwarnings(
    # openapi-core's own dependencies warn about their internals.
    "ignore::DeprecationWarning:openapi_core.*",
    "ignore::DeprecationWarning:jsonschema_path.*",
    "ignore::DeprecationWarning:openapi_spec_validator.*",
)


@cache
def _openapi(text: str) -> OpenAPI:
    """Check the served document is valid OpenAPI and build a validator (once per document)."""
    document = json.loads(text)
    validate_spec(document)
    return OpenAPI.from_dict(document)


class CheckedClient:
    """A test client that validates each API response against the served OpenAPI document."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        served = client.get("/api/v1/openapi.json")
        self.document = served.get_json()
        self.openapi = _openapi(served.get_data(as_text=True))
        self.seen: set[tuple[str, str, str]] = set()

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """Send a request and validate the response (status, headers, body schema)."""
        response = self.client.open(url, method=method, **kwargs)
        assert response.mimetype == "application/json", (url, response.data[:200])
        # The sent request rebuilt: the client's own copy has had its body read by the app.
        sent = Request(EnvironBuilder(url, method=method, **kwargs).get_environ())
        request = WerkzeugOpenAPIRequest(sent)
        self.openapi.validate_response(request, WerkzeugOpenAPIResponse(response))
        path = self._template(response.request.path)
        self.seen.add((path, method.lower(), str(response.status_code)))
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        """GET and validate."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        """POST and validate."""
        return self.request("POST", url, **kwargs)

    def _template(self, path: str) -> str:
        """Return the documented path template a concrete path matches."""
        for template in self.document["paths"]:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
            if re.match(pattern, path):
                return str(template)
        raise AssertionError(f"{path} is not in the OpenAPI document")

    def documented(self) -> set[tuple[str, str, str]]:
        """Return every (path, method, status) the document promises."""
        return {
            (path, method, status)
            for path, item in self.document["paths"].items()
            for method, op in item.items()
            for status in op["responses"]
        }


@pytest.fixture
def checked(client: FlaskClient) -> CheckedClient:
    """A validating client on the snapshot app."""
    return CheckedClient(client)


def make_user(app: Flask, email: str, role: str) -> int:
    """Create an account directly (the accounts area's own tests cover registration)."""
    from evidence.web.auth import create_user, find_user

    with app.app_context(), session_scope() as session:
        user = find_user(session, email) or create_user(
            session, email=email, password="correct horse battery", role=role
        )
        assert user.id is not None
        return user.id


def make_token(app: Flask, user_id: int) -> str:
    """Create a token for a user, as the token page does."""
    with app.app_context(), session_scope() as session:
        user = session.get(User, user_id)
        assert user is not None
        _row, raw = api.create_token(session, user=user, name="script")
    return raw


def login(client: FlaskClient, email: str) -> None:
    """Log in through the login form."""
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": email, "password": "correct horse battery", "csrf_token": csrf_token(page)},
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]


def all_pages(checked: CheckedClient, url: str) -> Iterator[dict[str, Any]]:
    """Follow next_cursor through every page of a list."""
    cursor: str | None = None
    while True:
        sep = "&" if "?" in url else "?"
        page = checked.get(url + (f"{sep}cursor={cursor}" if cursor else "")).get_json()
        yield from page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def test_document_is_valid_openapi_31(checked: CheckedClient) -> None:
    assert checked.get("/api/v1/openapi.json").get_json()["openapi"].startswith("3.1")
    index = checked.get("/api/v1/").get_json()
    assert index["openapi"] == "/api/v1/openapi.json"


def test_treatments_and_indications(checked: CheckedClient) -> None:
    treatments = checked.get("/api/v1/treatments").get_json()["data"]
    assert [t["slug"] for t in treatments][:2] == ["microneedling", "fractional-co2-laser"]
    micro = checked.get("/api/v1/treatments/microneedling").get_json()
    assert micro["citations"] == 28 and micro["reports"] == 3
    assert sum(micro["citations_by_level"].values()) == 28
    missing = checked.get("/api/v1/treatments/lipo-laser")
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "No treatment is called 'lipo-laser'."
    indications = checked.get("/api/v1/indications").get_json()["data"]
    assert "acne-scars" in [i["slug"] for i in indications]
    assert checked.get("/api/v1/indications/acne-scars").get_json()["name"]
    assert checked.get("/api/v1/indications/nope").status_code == 404


def test_citations_filter_like_the_table_and_page_with_cursors(
    app: Flask, checked: CheckedClient
) -> None:
    pmids = [
        c["pmid"] for c in all_pages(checked, "/api/v1/citations?treatment=microneedling&limit=5")
    ]
    assert len(pmids) == len(set(pmids)) == 28
    with app.app_context(), session_scope() as session:
        flt = queries.CitationFilter(treatment="microneedling", level="2")
        table = {c.pmid for c in queries.citation_rows(session, flt, limit=100)}
    level2 = checked.get("/api/v1/citations?treatment=microneedling&level=2").get_json()
    assert {c["pmid"] for c in level2["data"]} == table
    assert level2["total"] == len(table) and level2["next_cursor"] is None
    assert all(c["evidence_level"] == 2 for c in level2["data"])
    assert all(any(t["slug"] == "microneedling" for t in c["treatments"]) for c in level2["data"])


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("limit=0", 400, "limit must be"),
        ("limit=501", 400, "limit must be"),
        ("cursor=not-a-cursor", 400, "cursor"),
        ("treatment=nope", 404, "No treatment is called 'nope'."),
        ("indication=nope", 404, "No indication is called 'nope'."),
    ],
)
def test_bad_list_requests_answer_json_errors(
    checked: CheckedClient, query: str, status: int, message: str
) -> None:
    response = checked.get("/api/v1/citations?" + query)
    assert response.status_code == status
    assert message in response.get_json()["message"]


def test_one_citation(checked: CheckedClient) -> None:
    record = checked.get("/api/v1/citations/24919799").get_json()
    assert record["evidence_level"] == 2
    assert record["doi"] == "10.1001/jamadermatol.2013.8687"
    assert any(link["status"] == "included" for link in record["links"])
    assert checked.get("/api/v1/citations/1").status_code == 404


def test_reports_list_one_and_hidden_ones_stay_hidden(app: Flask, checked: CheckedClient) -> None:
    with app.app_context(), session_scope() as session:
        first = session.exec(select(OutcomeReport).order_by(OutcomeReport.id)).first()
        assert first is not None and first.id is not None
        first.hidden = True
        hidden_id = first.id
    reports = list(all_pages(checked, "/api/v1/reports?limit=1"))
    assert hidden_id not in [r["id"] for r in reports]
    assert reports and all(r["reported_by"] == "quoted source" for r in reports)
    assert reports[0]["quoted_source"]["quote"]
    micro = checked.get("/api/v1/reports?treatment=microneedling").get_json()
    assert micro["total"] == 2 and {r["treatment"]["slug"] for r in micro["data"]} == {
        "microneedling"
    }
    assert checked.get(f"/api/v1/reports/{reports[0]['id']}").get_json() == reports[0]
    assert checked.get(f"/api/v1/reports/{hidden_id}").status_code == 404
    assert checked.get("/api/v1/reports?cursor=%%%").status_code == 400
    assert checked.get("/api/v1/reports?indication=nope").status_code == 404


def test_comparison_of_treatments(checked: CheckedClient) -> None:
    body = checked.get("/api/v1/compare?treatments=microneedling,fractional-co2-laser").get_json()
    assert [t["slug"] for t in body["treatments"]] == ["microneedling", "fractional-co2-laser"]
    micro, co2 = body["literature"]
    assert micro["counted"] + micro["flagged"] == 28
    assert co2["counted"] + co2["flagged"] == 17
    practice = body["practice"][0]["overall"]
    # Three quoted reports: shown, and marked as too few, never as a bare rate.
    assert practice["n"] == 3 and practice["too_few_reports"] is True
    assert practice["responders"]["too_few"] is True
    scoped = checked.get("/api/v1/compare?treatments=microneedling&indication=acne-scars")
    assert scoped.get_json()["indication"]["slug"] == "acne-scars"
    assert checked.get("/api/v1/compare").status_code == 400
    five = "microneedling,fractional-co2-laser,fractional-erbium-laser,microneedling-prp,x"
    assert checked.get("/api/v1/compare?treatments=" + five).status_code == 400
    missing = checked.get("/api/v1/compare?treatments=microneedling,lipo-laser")
    assert missing.status_code == 404 and "lipo-laser" in missing.get_json()["message"]


REPORT = {
    "treatment": "microneedling",
    "indication": "acne-scars",
    "sessions": 3,
    "fitzpatrick": 4,
    "improvement": 2,
    "adverse_events": ["pih"],
    "downtime_days": 2.5,
    "cost_per_session": 300,
    "currency": "USD",
}


def test_practitioner_token_writes_a_report(app: Flask, checked: CheckedClient) -> None:
    token = make_token(app, make_user(app, "doc@example.org", "practitioner"))
    response = checked.post(
        "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    assert saved["reported_by"] == "practitioner" and saved["improvement"] == 2
    assert [e["event"] for e in saved["adverse_events"]] == ["pih"]
    assert "doc@example.org" not in response.get_data(as_text=True)
    assert response.headers["Location"] == f"/api/v1/reports/{saved['id']}"
    assert checked.get(f"/api/v1/reports/{saved['id']}").get_json() == saved


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REPORT, "improvement": 7}, "improvement"),
        ({**REPORT, "treatment": "lipo-laser"}, "treatment"),
        ({**REPORT, "notes": "Patient Jane Doe, phone +1 555 123 4567"}, "notes"),
        ({**REPORT, "sessions": "three"}, "sessions"),
        ({**REPORT, "patient_name": "Jane"}, "patient_name"),
        # Strict types: no boolean, numeric string or float is taken for a number or a count.
        ({**REPORT, "sessions": True}, "sessions"),
        ({**REPORT, "fitzpatrick": 4.0}, "fitzpatrick"),
        ({**REPORT, "downtime_days": "2"}, "downtime_days"),
        ({**REPORT, "adverse_events": "pih"}, "adverse_events"),
        ({**REPORT, "adverse_events": ["pih", "lycanthropy"]}, "adverse_events"),
        # null means "not given": an unknown field stays unknown, a required one missing.
        ({**REPORT, "patient_name": None}, "patient_name"),
        ({**REPORT, "improvement": None}, "improvement"),
        ({key: value for key, value in REPORT.items() if key != "treatment"}, "treatment"),
    ],
)
def test_invalid_reports_are_refused_with_field_messages(
    app: Flask, checked: CheckedClient, body: dict[str, Any], field: str
) -> None:
    token = make_token(app, make_user(app, "doc@example.org", "practitioner"))
    response = checked.post(
        "/api/v1/reports", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    assert field in response.get_json()["fields"]
    with app.app_context(), session_scope() as session:
        assert (
            session.exec(
                select(OutcomeReport).where(OutcomeReport.reporter_id.is_not(None))
            ).first()
            is None
        )  # type: ignore[union-attr]


def test_writes_need_a_live_practitioner_token(app: Flask, checked: CheckedClient) -> None:
    assert checked.post("/api/v1/reports", json=REPORT).status_code == 401
    bad = checked.post("/api/v1/reports", json=REPORT, headers={"Authorization": "Bearer evt_x"})
    assert bad.status_code == 401
    viewer = make_token(app, make_user(app, "viewer@example.org", "viewer"))
    refused = checked.post(
        "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {viewer}"}
    )
    assert refused.status_code == 403
    token = make_token(app, make_user(app, "doc@example.org", "practitioner"))
    with app.app_context(), session_scope() as session:
        row = session.exec(
            select(ApiToken).where(ApiToken.token_hash == api.hash_token(token))
        ).one()
        assert row.id is not None
        assert api.revoke_token(session, token_id=row.id, user_id=row.user_id)
    revoked = checked.post(
        "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401
    assert "revoked" in revoked.get_json()["message"]
    not_json = checked.post(
        "/api/v1/reports",
        data="improvement=2",
        headers=bearer(app, "b@example.org"),
    )
    assert not_json.status_code == 400


def test_synthesis_names_the_selection_and_refuses_bad_requests(checked: CheckedClient) -> None:
    """/api/v1/synthesis answers the selection, and JSON errors for missing or unknown names."""
    url = "/api/v1/synthesis?t=microneedling&t=fractional-co2-laser&indication=acne-scars"
    body = checked.get(url).get_json()
    assert [t["slug"] for t in body["treatments"]] == ["microneedling", "fractional-co2-laser"]
    assert body["indication"]["slug"] == "acne-scars"
    missing = checked.get("/api/v1/synthesis")
    assert missing.status_code == 400 and "?t=" in missing.get_json()["message"]
    assert checked.get("/api/v1/synthesis?t=nothing&indication=acne-scars").status_code == 404
    no_indication = checked.get("/api/v1/synthesis?t=microneedling")
    assert no_indication.status_code == 400 and "indication" in no_indication.get_json()["message"]
    assert checked.get("/api/v1/synthesis?t=microneedling&indication=nope").status_code == 404


def test_every_documented_response_is_produced(app: Flask, checked: CheckedClient) -> None:
    """Each status the document promises for each operation is answered to one request here.

    The table must name exactly the documented (path, method, status) triples, so a response
    added to the document without a request that produces it, or one dropped from it, fails;
    every answer is validated against the document as it is checked for its status.
    """
    practitioner = bearer(app, "doc@example.org")
    viewer = bearer(app, "viewer@example.org", "viewer")
    first_report = checked.get("/api/v1/reports?limit=1").get_json()["data"][0]["id"]
    pair = "t=microneedling&t=fractional-co2-laser&indication=acne-scars"
    examples: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {
        ("/api/v1/", "get", "200"): ("/api/v1/", {}),
        ("/api/v1/openapi.json", "get", "200"): ("/api/v1/openapi.json", {}),
        ("/api/v1/treatments", "get", "200"): ("/api/v1/treatments", {}),
        ("/api/v1/treatments/{slug}", "get", "200"): ("/api/v1/treatments/microneedling", {}),
        ("/api/v1/treatments/{slug}", "get", "404"): ("/api/v1/treatments/lipo-laser", {}),
        ("/api/v1/indications", "get", "200"): ("/api/v1/indications", {}),
        ("/api/v1/indications/{slug}", "get", "200"): ("/api/v1/indications/acne-scars", {}),
        ("/api/v1/indications/{slug}", "get", "404"): ("/api/v1/indications/nope", {}),
        ("/api/v1/citations", "get", "200"): ("/api/v1/citations?level=2&limit=3", {}),
        ("/api/v1/citations", "get", "400"): ("/api/v1/citations?limit=0", {}),
        ("/api/v1/citations", "get", "404"): ("/api/v1/citations?treatment=nope", {}),
        ("/api/v1/citations/{pmid}", "get", "200"): ("/api/v1/citations/24919799", {}),
        ("/api/v1/citations/{pmid}", "get", "404"): ("/api/v1/citations/1", {}),
        ("/api/v1/reports", "get", "200"): ("/api/v1/reports?treatment=microneedling", {}),
        ("/api/v1/reports", "get", "400"): ("/api/v1/reports?cursor=%25%25", {}),
        ("/api/v1/reports", "get", "404"): ("/api/v1/reports?indication=nope", {}),
        ("/api/v1/reports/{report_id}", "get", "200"): (f"/api/v1/reports/{first_report}", {}),
        ("/api/v1/reports/{report_id}", "get", "404"): ("/api/v1/reports/999999", {}),
        ("/api/v1/reports", "post", "201"): (
            "/api/v1/reports",
            {"json": REPORT, "headers": practitioner},
        ),
        ("/api/v1/reports", "post", "400"): (
            "/api/v1/reports",
            {"data": "improvement=2", "headers": practitioner},
        ),
        ("/api/v1/reports", "post", "401"): ("/api/v1/reports", {"json": REPORT}),
        ("/api/v1/reports", "post", "403"): (
            "/api/v1/reports",
            {"json": REPORT, "headers": viewer},
        ),
        ("/api/v1/reports", "post", "422"): (
            "/api/v1/reports",
            {"json": {**REPORT, "improvement": 9}, "headers": practitioner},
        ),
        ("/api/v1/compare", "get", "200"): ("/api/v1/compare?treatments=microneedling", {}),
        ("/api/v1/compare", "get", "400"): ("/api/v1/compare", {}),
        ("/api/v1/compare", "get", "404"): ("/api/v1/compare?treatments=lipo-laser", {}),
        ("/api/v1/synthesis", "get", "200"): ("/api/v1/synthesis?" + pair, {}),
        ("/api/v1/synthesis", "get", "400"): ("/api/v1/synthesis?t=microneedling", {}),
        ("/api/v1/synthesis", "get", "404"): ("/api/v1/synthesis?t=x&indication=acne-scars", {}),
    }
    assert set(examples) == checked.documented()
    for (path, method, status), (url, kwargs) in examples.items():
        response = checked.request(method.upper(), url, **kwargs)
        assert str(response.status_code) == status, (path, method, url, response.get_json())
    assert checked.seen == checked.documented()


def test_every_api_route_is_documented(app: Flask, checked: CheckedClient) -> None:
    """Each route the app serves under /api/v1/ is an operation of the document."""
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
    }
    assert served == {(path, method) for path, method, _ in checked.documented()}


def test_api_errors_are_json_even_for_unknown_paths_and_methods(client: FlaskClient) -> None:
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "not found"
    wrong = client.delete("/api/v1/treatments")
    assert wrong.status_code == 405 and "message" in wrong.get_json()


def test_docs_page_links_the_document(client: FlaskClient) -> None:
    page = client.get("/api/").get_data(as_text=True)
    assert 'href="/api/v1/openapi.json"' in page
    assert "/api/v1/citations/{pmid}" in page
    home = client.get("/").get_data(as_text=True)
    assert 'href="/api/">API</a>' in home


def test_token_page_creates_shows_once_and_revokes(app: Flask, client: FlaskClient) -> None:
    make_user(app, "doc@example.org", "practitioner")
    login(client, "doc@example.org")
    page = client.get("/account/tokens").get_data(as_text=True)
    created = client.post(
        "/account/tokens", data={"name": "clinic laptop", "csrf_token": csrf_token(page)}
    )
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    token = re.search(r'id="new-token" class="token">(evt_[^<]+)<', html)
    assert token is not None
    with app.app_context(), session_scope() as session:
        row = session.exec(select(ApiToken)).one()
        assert row.token_hash == api.hash_token(token.group(1))
        assert token.group(1) not in row.token_hash
    again = client.get("/account/tokens").get_data(as_text=True)
    assert token.group(1) not in again and "clinic laptop" in again
    assert (
        client.post(
            "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 201
    )
    revoke_url = re.search(r'action="(/account/tokens/\d+/revoke)"', again)
    assert revoke_url is not None
    done = client.post(revoke_url.group(1), data={"csrf_token": csrf_token(again)})
    assert done.status_code == 302
    assert "revoked" in client.get("/account/tokens").get_data(as_text=True)
    assert (
        client.post(
            "/api/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {token.group(1)}"}
        ).status_code
        == 401
    )


def test_token_page_needs_login_and_practitioners_to_create(
    app: Flask, client: FlaskClient
) -> None:
    assert client.get("/account/tokens").status_code == 302  # to the login page
    make_user(app, "viewer@example.org", "viewer")
    login(client, "viewer@example.org")
    page = client.get("/account/tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Only practitioners can create tokens" in html
    forged = client.post("/account/tokens", data={"name": "x", "csrf_token": csrf_token(html)})
    assert forged.status_code == 403
    no_csrf = client.post("/account/tokens/1/revoke")
    assert no_csrf.status_code == 400


# --- validated scales on reports ---------------------------------------------------------------


def test_report_scales_are_written_and_read_back(app: Flask, checked: CheckedClient) -> None:
    """Goodman-Baron before/after (worse allowed) and GAIS go in and come out, as documented."""
    headers = bearer(app, "doc@example.org")
    body = {**REPORT, "goodman_baron_before": 2, "goodman_baron_after": 3, "gais": 4}
    response = checked.post("/api/v1/reports", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    assert (saved["goodman_baron_before"], saved["goodman_baron_after"], saved["gais"]) == (2, 3, 4)
    assert checked.get(f"/api/v1/reports/{saved['id']}").get_json() == saved
    # A report without the scales reads them as null.
    plain = checked.post("/api/v1/reports", json=REPORT, headers=headers).get_json()
    assert plain["goodman_baron_before"] is None and plain["gais"] is None
    schema = checked.document["components"]["schemas"]["ReportInput"]["properties"]
    assert schema["goodman_baron_before"]["maximum"] == 4 and schema["gais"]["maximum"] == 5


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"indication": "wrinkles", "goodman_baron_before": 3}, "goodman_baron_before", "acne"),
        ({"goodman_baron_after": 5}, "goodman_baron_after", "1 (macular) to 4"),
        ({"gais": 0}, "gais", "1 (exceptional improvement) to 5"),
        ({"gais": "improved"}, "gais", "Wrong type"),
    ],
)
def test_invalid_report_scales_are_refused(
    app: Flask, checked: CheckedClient, changes: dict[str, Any], field: str, words: str
) -> None:
    """A grade for another indication, or out of range, is refused with its field named."""
    response = checked.post(
        "/api/v1/reports", json={**REPORT, **changes}, headers=bearer(app, "doc@example.org")
    )
    assert response.status_code == 422
    assert words in " ".join(response.get_json()["fields"][field])
