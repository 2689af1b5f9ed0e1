"""The OpenAPI document says what the API accepts: treatment slugs, lengths, limit 1-500."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from evidence.catalogue import TREATMENTS


def _param(operation: dict[str, Any], name: str) -> dict[str, Any]:
    """Return one parameter of an operation."""
    return next(p for p in operation["parameters"] if p["name"] == name)


def test_document_lists_slugs_lengths_and_the_limit_range(client: FlaskClient) -> None:
    """Clients can read the treatment slugs, string lengths and page-size range."""
    doc = client.get("/api/v1/openapi.json").get_json()
    slugs = [t["slug"] for t in TREATMENTS]
    report_input = doc["components"]["schemas"]["ReportInput"]["properties"]
    assert report_input["treatment"]["enum"] == slugs
    assert report_input["notes"]["maxLength"] == 5000
    assert report_input["device"]["maxLength"] == 200
    assert report_input["energy"]["maxLength"] == 100
    citations = doc["paths"]["/api/v1/citations"]["get"]
    limit = _param(citations, "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 500)
    assert _param(citations, "treatment")["schema"]["enum"] == slugs
    assert _param(doc["paths"]["/api/v1/reports"]["get"], "skin")["schema"]["enum"][:6] == list(
        "123456"
    )
    treatment = doc["paths"]["/api/v1/treatments/{slug}"]["get"]
    assert _param(treatment, "slug")["schema"]["enum"] == slugs
