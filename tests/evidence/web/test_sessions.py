"""Logging out ends the session on the server: a captured cookie replayed afterwards fails."""

from __future__ import annotations

from flask import Flask
from sqlmodel import func, select

from evidence.db import session_scope
from evidence.models import OutcomeReport
from tests.conftest import csrf_token
from tests.evidence.practice.test_reports import REPORT
from tests.evidence.web.test_auth import login, make_user


def count_reports(app: Flask) -> int:
    """Count every report row."""
    with app.app_context(), session_scope() as session:
        return int(session.exec(select(func.count()).select_from(OutcomeReport)).one())


def test_cookie_replayed_after_logout_is_refused(any_app: Flask) -> None:
    """A session cookie copied before logging out cannot create a report afterwards."""
    make_user(any_app, "doc@example.org", "practitioner")
    victim = any_app.test_client()
    assert login(victim, "doc@example.org").status_code == 302
    form_page = victim.get("/reports/new")
    assert form_page.status_code == 200
    token = csrf_token(form_page.text)
    cookie = victim.get_cookie("session")
    assert cookie is not None
    captured = cookie.value

    # The cookie works for an attacker while the victim is logged in...
    attacker = any_app.test_client()
    attacker.set_cookie("session", captured)
    assert attacker.get("/reports/new").status_code == 200

    victim.post("/logout", data={"csrf_token": csrf_token(victim.get("/").text)})
    before = count_reports(any_app)

    # ...and not once the victim has logged out.
    replay = any_app.test_client()
    replay.set_cookie("session", captured)
    assert replay.get("/reports/new").status_code == 302
    response = replay.post("/reports/new", data={**REPORT, "csrf_token": token})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_reports(any_app) == before
    assert "doc@example.org" not in replay.get("/").text


def test_logging_in_again_works_after_logout(app: Flask) -> None:
    """Logging out does not lock the account: a new login gets a working session."""
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    login(client, "doc@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert login(client, "doc@example.org").status_code == 302
    assert client.get("/reports/new").status_code == 200
