"""Hostile input gets a clear 400 or 404, never a 500, on SQLite and PostgreSQL (issue 15)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask

from tests.conftest import csrf_token
from tests.evidence.practice.test_reports import REPORT, account
from tests.evidence.web.test_api import make_token, make_user

API_REPORT = {"treatment": "microneedling", "improvement": 2, "notes": "Faded by week 6."}


def _url_for_rule(rule: Any, text: str) -> str:
    """Build a URL for a rule, using `text` for string arguments and 1 for ids."""
    url = rule.rule
    for name in rule.arguments:
        converter = rule._converters[name]
        value = "1" if type(converter).__name__ == "BoundedIntConverter" else text
        for spelling in (f"<{name}>", f"<int:{name}>", f"<path:{name}>", f"<string:{name}>"):
            url = url.replace(spelling, value)
    return url


def get_routes(app: Flask) -> list[Any]:
    """Every GET route of the app."""
    return [r for r in app.url_map.iter_rules() if "GET" in (r.methods or ())]


def test_every_get_route_refuses_a_nul_byte(any_app: Flask) -> None:
    """A NUL byte in a path or query parameter answers 400 with a message on every GET route."""
    client = any_app.test_client()
    routes = get_routes(any_app)
    assert len(routes) > 20
    for rule in routes:
        with_query = _url_for_rule(rule, "a") + "?q=a%00b&treatments=a%00b&t=a%00b"
        response = client.get(with_query)
        assert response.status_code == 400, (with_query, response.status_code)
        assert "NUL character" in response.text
        if any(type(rule._converters[n]).__name__ != "BoundedIntConverter" for n in rule.arguments):
            in_path = _url_for_rule(rule, "a%00b")
            response = client.get(in_path)
            assert response.status_code == 400, (in_path, response.status_code)


def test_the_issues_nul_urls(any_app: Flask) -> None:
    """The three addresses the issue names."""
    client = any_app.test_client()
    for url in ("/citations?q=a%00b", "/treatments/a%00b", "/api/v1/compare?treatments=a%00b"):
        response = client.get(url)
        assert response.status_code == 400 and "NUL character" in response.text, url


@pytest.mark.parametrize(
    "url",
    [
        "/reports/2147483648",
        "/reports/99999999999999999999999",
        "/api/v1/reports/2147483648",
        "/api/v1/reports/99999999999999999999999",
        "/searches/jobs/2147483648",
        "/searches/jobs/99999999999999999999999",
        "/searches/jobs/99999999999999999999999.json",
        "/reports/" + "9" * 5000,
    ],
)
def test_huge_ids_are_not_found(any_app: Flask, url: str) -> None:
    """Ids beyond PostgreSQL's INTEGER and beyond 64 bits answer 404."""
    assert any_app.test_client().get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/citations?year_from=99999999999999999999999",
        "/api/v1/citations?level=abc",
        "/api/v1/citations?status=bogus",
        "/api/v1/reports?skin=7",
        "/api/v1/reports?date_from=2024-13-45",
        "/api/v1/reports?ids=1,99999999999999999999999",
        "/api/v1/reports?cursor=" + "YWZ0ZXI6OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
    ],
)
def test_api_refuses_unusable_filters_with_400(any_app: Flask, url: str) -> None:
    """Invalid filters are not silently ignored by the API: 400 with what was wrong."""
    response = any_app.test_client().get(url)
    assert response.status_code == 400, response.text
    assert response.json is not None and response.json["message"]


def test_pages_say_which_filters_were_ignored(any_app: Flask) -> None:
    """Pages apply the usable filters and say, above the content, what they ignored."""
    client = any_app.test_client()
    for url, expected in (
        ("/citations?level=abc&year_from=99999999999999999999", "level=&#39;abc&#39; was ignored"),
        ("/citations?year_from=99999999999999999999", "give a whole number from 1000 to 9999"),
        ("/treatments/microneedling?year_to=x", "year_to=&#39;x&#39; was ignored"),
        ("/treatments/microneedling?rep_skin=7", "rep_skin=&#39;7&#39; was ignored"),
        ("/reports?status=ok&skin=7&date_to=yesterday", "date_to=&#39;yesterday&#39; was ignored"),
        ("/exports?status=bogus", "status=&#39;bogus&#39; was ignored"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Some filters could not be used and were ignored" in response.text, url
        assert expected in response.text, (url, expected)
    assert "were ignored" not in client.get("/citations?level=1&year_from=2015").text


def _post_report(app: Flask, body: Any, raw: str | None = None) -> Any:
    """Send a report to the API with a practitioner's token."""
    token = make_token(app, make_user(app, "doc@example.org", "practitioner"))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = raw if raw is not None else json.dumps(body)
    return app.test_client().post("/api/v1/reports", data=data, headers=headers)


def test_api_text_longer_than_its_column_is_refused(any_app: Flask) -> None:
    """Too-long text names the field and its limit, the same on SQLite and PostgreSQL."""
    response = _post_report(any_app, {**API_REPORT, "device": "d" * 201, "notes": "n" * 5001})
    assert response.status_code == 422
    assert response.json is not None
    assert response.json["fields"]["device"] == ["Use at most 200 characters (this has 201)."]
    assert response.json["fields"]["notes"] == ["Use at most 5,000 characters (this has 5,001)."]
    long_slug = _post_report(any_app, {**API_REPORT, "treatment": "t" * 300})
    assert long_slug.status_code == 422
    assert long_slug.json is not None and "at most 80" in long_slug.json["fields"]["treatment"][0]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('{"treatment": "microneedling", "improvement": 2, "notes": "\\ud800"}', "surrogate"),
        ('{"treatment": "microneedling", "improvement": 2, "notes": "a\\u0000b"}', "NUL"),
        ("[" * 100_000 + "]" * 100_000, "nests deeper"),
        ('{"treatment": "microneedling", "improvement": 2, "interval_weeks": NaN}', "NaN"),
    ],
)
def test_hostile_json_is_a_clear_400(any_app: Flask, raw: str, expected: str) -> None:
    """Lone surrogates, NUL bytes, deep nesting and NaN in request JSON answer 400."""
    response = _post_report(any_app, None, raw=raw)
    assert response.status_code == 400, response.text
    assert response.json is not None and expected in response.json["message"]


def test_a_400_digit_number_is_refused(any_app: Flask) -> None:
    """A 400-digit integer in a number field is refused with the field's message."""
    huge = "9" * 400
    raw = '{"treatment": "microneedling", "improvement": 2, "interval_weeks": ' + huge + "}"
    response = _post_report(any_app, None, raw=raw)
    assert response.status_code == 422 and response.json is not None
    assert "interval_weeks" in response.json["fields"]
    raw = '{"treatment": "microneedling", "improvement": 2, "sessions": ' + huge + "}"
    response = _post_report(any_app, None, raw=raw)
    assert response.status_code == 422 and response.json is not None
    assert "sessions" in response.json["fields"]


def test_form_refuses_snan_huge_numbers_and_nul_bytes(any_app: Flask) -> None:
    """interval_weeks=sNaN, a 400-digit number and a NUL byte in a field: 400 with a message."""
    client = account(any_app, "doc@example.org", "practitioner")
    for changes, message in (
        ({"interval_weeks": "sNaN"}, "Enter a number, such as 4 or 2.5."),
        ({"interval_weeks": "9" * 400}, "Enter a number, such as 4 or 2.5."),
        ({"sessions": "9" * 400}, "Enter a whole number, such as 3."),
        ({"notes": "fine\x00then"}, "NUL character"),
        ({"device": "pen\x00"}, "NUL character"),
    ):
        token = csrf_token(client.get("/reports/new").text)
        response = client.post("/reports/new", data={**REPORT, **changes, "csrf_token": token})
        assert response.status_code == 400, changes
        assert message in response.text, changes


def upload(client: Any, content: bytes) -> Any:
    """Upload a CSV of reports."""
    token = csrf_token(client.get("/reports/upload").text)
    return client.post(
        "/reports/upload",
        data={"csrf_token": token, "file": (io.BytesIO(content), "reports.csv")},
        content_type="multipart/form-data",
    )


def test_csv_hostile_fields_are_clear_400s(any_app: Flask) -> None:
    """Over-long cells, a cell past csv's 131,072 limit, NUL bytes and sNaN: 400 with the line."""
    client = account(any_app, "doc@example.org", "practitioner")
    head = b"treatment,improvement,interval_weeks,device,notes\n"
    cases = {
        b"microneedling,2,4," + b"d" * 201 + b",ok\n": "Use at most 200 characters",
        b"microneedling,2,4,pen," + b"n" * 140_000 + b"\n": "cannot be read as CSV",
        b"microneedling,2,4,pen,a\x00b\n": "NUL character",
        b"microneedling,2,sNaN,pen,ok\n": "is not a number",
        b"microneedling," + b"9" * 400 + b",4,pen,ok\n": "Enter a value from 0 to 4",
    }
    for row, message in cases.items():
        response = upload(client, head + row)
        assert response.status_code == 400, message
        assert message in response.text, message


def test_405_answers_carry_allow(any_app: Flask) -> None:
    """A wrong method is answered 405 with the Allow header, as JSON under /api/."""
    client = any_app.test_client()
    api = client.post("/api/v1/treatments")
    assert api.status_code == 405 and "GET" in api.headers["Allow"]
    assert api.json is not None and api.json["error"] == "method not allowed"
    page = client.get("/logout")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_non_ascii_upload_names_keep_a_safe_name(app: Flask) -> None:
    """A curator's 微针.xml is imported under that name, not refused as "xml"."""
    from tests.evidence.literature.test_import_upload import DATA, _curator_client, _upload

    client = _curator_client(app)
    body = (DATA / "entrez" / "pubmed4.xml").read_bytes()
    response = _upload(app, client, "微针.xml", body, treatment="microneedling")
    assert response.status_code == 302
    assert "微针.xml is being imported" in client.get(response.headers["Location"]).text
    status = client.get(response.headers["Location"] + ".json").get_json()
    assert status["state"] == "done" and status["added"] == 1
    # A path in the name never leaves the uploads folder.
    from evidence.web.hardening import safe_upload_name

    assert safe_upload_name("../../etc/微针.nbib") == "微针.nbib"
    assert safe_upload_name("..\\..\\x.xml") == "x.xml"
