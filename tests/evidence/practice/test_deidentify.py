"""Personal names and titles in report text are refused with what to remove (form, API, CSV)."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evidence.practice.deidentify import find_personal_names
from evidence.practice.reports import find_identifiers
from tests.evidence.practice.test_reports import (
    HEADER,
    account,
    count_reports,
    errors_in,
    submit,
    upload,
)
from tests.evidence.web.test_api import REPORT, make_token, make_user

NOTE = "Mrs Priya Sharma came back after 3 sessions, PIH resolved"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (NOTE, "Mrs Priya Sharma"),
        ("seen with Dr. Okafor at week 6", "Dr Okafor"),
        ("Priya Sharma, Fitzpatrick V", "Priya Sharma"),
        ("per Mr Jones the pain was 3/10", "Mr Jones"),
        ("John Smith had 4 passes", "John Smith"),
    ],
)
def test_names_and_titles_are_found(text: str, shown: str) -> None:
    """A title before a capitalised word, or a known given name before a surname, is a name."""
    problems = find_identifiers(text)
    assert any(f"Remove the name “{shown}”" in p for p in problems), problems


@pytest.mark.parametrize(
    "text",
    [
        "3 sessions with Dermapen 4 at 1.5 mm; PIH in Fitzpatrick V resolved by week 6",
        "Fraxel Restore, 70 mJ, density 5%. Will repeat in 4 weeks.",
        "Eclipse MicroPen with PRP. Patient satisfied. Mark improvement at 3 months.",
        "Treated by the senior practitioner; follow-up at 6 months",
    ],
)
def test_clinical_text_and_devices_are_not_taken_for_names(text: str) -> None:
    """Device names, sentence starts and ordinary notes pass."""
    assert find_personal_names(text) == []


def test_the_name_check_stays_linear_on_long_input() -> None:
    """100,000 capitalised words are read in well under a second (no backtracking)."""
    find_personal_names("warm up")
    text = "Mrs " * 50_000 + "Ab " * 50_000
    start = time.perf_counter()
    find_personal_names(text)
    assert time.perf_counter() - start < 2.0


def test_form_refuses_a_patient_name_and_keeps_the_text(app: Flask) -> None:
    """The form answers 400, names what to remove, keeps the typed notes and saves nothing."""
    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    response = submit(doc, notes=NOTE)
    assert response.status_code == 400
    assert "Remove the name “Mrs Priya Sharma”" in " ".join(errors_in(response.text))
    assert f"{NOTE}</textarea>" in response.text
    assert count_reports(app) == before


def test_api_refuses_a_patient_name(app: Flask, client: FlaskClient) -> None:
    """POST /api/v1/reports answers 422 with the notes field's message."""
    token = make_token(app, make_user(app, "doc@example.org", "practitioner"))
    response = client.post(
        "/api/v1/reports",
        json={**REPORT, "notes": NOTE},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422
    assert any("Mrs Priya Sharma" in m for m in response.get_json()["fields"]["notes"])


def test_csv_upload_refuses_a_patient_name_whole(app: Flask) -> None:
    """One named patient in a CSV row: nothing is imported and the row says what to remove."""
    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    content = "\n".join(
        [
            HEADER,
            "microneedling,acne-scars,V,2,pih,250,USD,",
            f'microneedling,acne-scars,IV,3,,,,"{NOTE}"',
        ]
    ).encode()
    response = upload(doc, content)
    assert response.status_code == 400
    assert "Nothing was imported" in response.text
    assert "Remove the name “Mrs Priya Sharma”" in response.text
    assert count_reports(app) == before
