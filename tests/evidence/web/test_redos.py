"""Hostile text from issue 15 is checked in linear time: each input stays under 50 ms."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from evidence.practice.reports import ReportInput, find_identifiers, parse_csv, validate_input
from evidence.web.forms import RegisterForm, ReportForm

LIMIT_SECONDS = 0.050  # the explicit bound for each hostile input


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Return how long one call took (seconds) and what it returned."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


HOSTILE_TEXT = {
    "40,000 x a": "a" * 40_000,
    "record + 1,000 spaces": "record" + " " * 1_000,
    "record + spaces up to the form's 5,000": "record" + " " * 4_994,
    "1 MB": "record " * 150_000,
    "a@ + 40,000 dots + @": "a@" + "." * 40_000 + "@",
    "patient + spaces and a letter": "patient" + " " * 4_900 + "x",
    "pmid + spaces then a long number": "pmid" + " " * 4_000 + "x 12345678",
}


@pytest.mark.parametrize("name", HOSTILE_TEXT)
def test_identifier_check_is_fast_on_hostile_text(name: str) -> None:
    """The patient-identifier check answers in under 50 ms whatever the text."""
    seconds, _problems = timed(lambda: find_identifiers(HOSTILE_TEXT[name]))
    assert seconds < LIMIT_SECONDS, f"{name}: {seconds * 1000:.1f} ms"


def test_record_number_after_spaces_is_still_found() -> None:
    """The linear patterns find what the old ones found."""
    assert find_identifiers("record   12345") == ["Remove the record number “record   12345”."]
    assert find_identifiers("mail josé@clinic.example now") == [
        "Remove the e-mail address “josé@clinic.example”."
    ]
    assert find_identifiers("PMID:   31234567 was followed") == []
    assert "long number" in find_identifiers("ref 31234567 was followed")[0]


def test_overlong_text_is_refused_before_any_pattern() -> None:
    """Past the limit the text is refused with a message, never scanned."""
    assert find_identifiers("a" * 40_000) == ["Shorten this text to at most 10,000 characters."]


def test_api_and_csv_report_text_is_fast_and_refused_when_too_long() -> None:
    """40,000 x a in notes, through the API's validation and a CSV upload: quick and refused."""
    seconds, errors = timed(
        lambda: validate_input(
            ReportInput(treatment="microneedling", improvement=2, notes="a" * 40_000)
        )
    )
    assert seconds < LIMIT_SECONDS
    assert errors["notes"] == ["Use at most 5,000 characters (this has 40,000)."]
    csv_text = "treatment,improvement,notes\nmicroneedling,2," + "a" * 40_000 + "\n"
    seconds, (rows, _errors) = timed(lambda: parse_csv(csv_text.encode()))
    assert seconds < LIMIT_SECONDS
    seconds, errors = timed(lambda: validate_input(rows[0][1]))
    assert seconds < LIMIT_SECONDS and "notes" in errors


def test_forms_are_fast_on_hostile_input(app: Flask) -> None:
    """The registration e-mail and the report notes validate in under 50 ms."""
    email = "a@" + "." * 40_000 + "@"
    with app.test_request_context(
        "/register", method="POST", data={"email": email, "password": "x" * 12, "confirm": "x" * 12}
    ):
        form = RegisterForm(meta={"csrf": False})
        seconds, ok = timed(form.validate)
        assert not ok and seconds < LIMIT_SECONDS, f"{seconds * 1000:.1f} ms"
        assert form.email.errors
    for notes in ("a" * 40_000, "record" + " " * 4_994):
        with app.test_request_context(
            "/reports/new", method="POST", data={"treatment": "microneedling", "notes": notes}
        ):
            report = ReportForm(meta={"csrf": False})
            report.treatment.choices = [("microneedling", "Microneedling")]
            report.indication.choices = [("", "none")]
            seconds, _ok = timed(report.validate)
            assert seconds < LIMIT_SECONDS, f"{seconds * 1000:.1f} ms"


def test_register_with_hostile_email_answers_400(app: Flask) -> None:
    """The anonymous form refuses the address with a message instead of stalling."""
    from tests.conftest import csrf_token

    client = app.test_client()
    token = csrf_token(client.get("/register").text)
    email = "a@" + "." * 40_000 + "@"
    response = client.post(
        "/register",
        data={"csrf_token": token, "email": email, "password": "x" * 12, "confirm": "x" * 12},
    )
    assert response.status_code == 400
    assert "Field cannot be longer than 320 characters." in response.text
