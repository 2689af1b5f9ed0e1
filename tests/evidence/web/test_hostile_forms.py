"""Forms under hypothesis: hostile values never cause a 500, never render unescaped, and
exports never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token
from tests.evidence.literature.test_import_upload import _curator_client, _upload
from tests.evidence.practice.test_reports import REPORT, account

HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            '=HYPERLINK("http://attacker.example","click")',
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\u202eevil\u202c",
            "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓ مرحبا",
            "'; DROP TABLE outcome_report; --",
            "x" * 5000,
        ]
    ),
    st.text(max_size=300).filter(lambda s: "\x00" not in s),
)
HOSTILE_NUMBER = st.one_of(
    st.sampled_from(["-1", "0", "1e308", "NaN", "inf", "-0", "3.5", "1,5", "<b>2</b>", ""]),
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
)
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAYLOAD = re.compile(r"<script>alert|<img src=x onerror", re.IGNORECASE)


def _post_report(client: FlaskClient, values: dict[str, Any]) -> Any:
    page = client.get("/reports/new")
    return client.post(
        "/reports/new", data={**REPORT, **values, "csrf_token": csrf_token(page.text)}
    )


@given(
    notes=HOSTILE_TEXT,
    device=HOSTILE_TEXT,
    settings_text=HOSTILE_TEXT,
    sessions=HOSTILE_NUMBER,
    cost=HOSTILE_NUMBER,
    downtime=HOSTILE_NUMBER,
)
@SETTINGS
def test_report_form_under_hostile_values(
    app: Flask,
    notes: str,
    device: str,
    settings_text: str,
    sessions: str,
    cost: str,
    downtime: str,
) -> None:
    if "_hostile_client" not in app.extensions:
        app.extensions["_hostile_client"] = account(app, "doc@clinic.example", "practitioner")
    client = app.extensions["_hostile_client"]
    values = {
        "notes": notes,
        "device": device,
        "settings": settings_text,
        "sessions": sessions,
        "cost_per_session": cost,
        "downtime_days": downtime,
    }
    response = _post_report(client, values)
    assert response.status_code in (200, 302, 400), response.status_code
    html = response.get_data(as_text=True)
    if response.status_code == 302:
        html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert not PAYLOAD.search(html), "a payload rendered unescaped"
    listing = client.get("/reports").get_data(as_text=True)
    assert not PAYLOAD.search(listing)


def test_stored_formula_text_is_neutralised_in_the_reports_csv(app: Flask) -> None:
    client = account(app, "doc@clinic.example", "practitioner")
    formula = '=HYPERLINK("http://attacker.example","click")'
    response = _post_report(client, {"notes": formula, "device": "+1+1"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "=HYPERLINK(&#34;http://attacker.example&#34;" in page  # shown as typed, escaped
    rows = list(csv.DictReader(io.StringIO(client.get("/exports/reports.csv").text)))
    mine = [r for r in rows if "attacker" in r["notes"]]
    assert [r["notes"] for r in mine] == ["'" + formula]
    assert mine[0]["device"] == "'+1+1"
    # Plain numbers stay numbers.
    assert all(not r["sessions"].startswith("'") for r in rows)


@given(email=HOSTILE_TEXT, name=HOSTILE_TEXT, password=HOSTILE_TEXT)
@SETTINGS
def test_registration_under_hostile_values(
    app: Flask, email: str, name: str, password: str
) -> None:
    client = app.test_client()
    page = client.get("/register")
    response = client.post(
        "/register",
        data={
            "email": email,
            "name": name,
            "password": password,
            "confirm": password,
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code in (200, 302, 400, 429), response.status_code
    assert not PAYLOAD.search(response.get_data(as_text=True))


@given(name=HOSTILE_TEXT, body=st.binary(max_size=2000))
@SETTINGS
def test_import_upload_under_hostile_names_and_bodies(app: Flask, name: str, body: bytes) -> None:
    if "_hostile_curator" not in app.extensions:
        app.extensions["_hostile_curator"] = _curator_client(app)
    client = app.extensions["_hostile_curator"]
    response = _upload(app, client, name or "x.xml", body)
    assert response.status_code in (302, 400, 413), response.status_code
    html = response.get_data(as_text=True)
    assert not PAYLOAD.search(html)
    if response.status_code == 302:
        status = client.get(response.headers["Location"] + ".json")
        assert status.status_code == 200 and status.get_json()["state"] in ("done", "failed")
