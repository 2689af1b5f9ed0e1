"""Curators extract what a study found: form validation, history, second-curator verification."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import (
    Citation,
    ExtractionRevision,
    OutcomeMeasurement,
    Study,
    StudyAdverseEvent,
    StudyArm,
)
from tests.conftest import csrf_token
from tests.evidence.web.test_auth import login, make_user

PMID = "34854067"  # a snapshot citation with no extracted study


def _curator(app: Flask, email: str) -> FlaskClient:
    make_user(app, email, "curator")
    client = app.test_client()
    login(client, email)
    return client


def _form(**over: Any) -> dict[str, Any]:
    data = {
        "design": "randomized split-face",
        "split_face": "yes",
        "randomised": "yes",
        "blinded": "",
        "indication": "acne-scars",
        "n_enrolled": "20",
        "source_url": "https://pubmed.ncbi.nlm.nih.gov/34854067/",
        "checked_on": "2026-12-02",
        "arms-0-treatment": "microneedling",
        "arms-0-sessions": "3",
        "arms-0-n": "20",
        "arms-1-treatment": "fractional-co2-laser",
        "arms-1-sessions": "3",
        "arms-1-n": "20",
        "outcomes-0-arm": "1",
        "outcomes-0-measure_as_stated": "Goodman-Baron qualitative grade",
        "outcomes-0-timepoint": "3 months",
        "outcomes-0-baseline": "3.4",
        "outcomes-0-final": "2.1",
        "outcomes-0-sd": "0.6",
        "outcomes-0-sd_of": "final",
        "adverse_events-0-arm": "2",
        "adverse_events-0-event": "pih",
        "adverse_events-0-events": "4",
        "adverse_events-0-n": "20",
    }
    data.update(over)
    return data


def _post(client: FlaskClient, data: dict[str, Any], url: str = f"/citations/{PMID}/extraction"):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get(url).data.decode())
    return client.post(url, data={**data, "csrf_token": token})


def _studies(app: Flask) -> list[Study]:
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == PMID)).one()
        return list(session.exec(select(Study).where(Study.citation_id == cit.id)))


def test_invalid_form_keeps_what_was_typed_and_names_each_problem(app: Flask) -> None:
    client = _curator(app, "cur1@example.org")
    resp = _post(
        client,
        _form(
            **{
                "adverse_events-0-events": "25",
                "outcomes-0-sd": "-1",
                "arms-1-treatment": "",
                "arms-0-n": "40",
            }
        ),
    )
    assert resp.status_code == 422
    html = resp.data.decode()
    assert "SD cannot be negative" in html
    assert _studies(app) == []
    # The cross-field checks run once field checks pass.
    resp = _post(client, _form(**{"adverse_events-0-events": "25", "arms-1-treatment": "",
                                   "arms-0-n": "40"}))  # fmt: skip
    html = resp.data.decode()
    assert resp.status_code == 422
    assert "25 events is above n 20" in html
    assert "arm 2 needs a treatment or a comparator label" in html
    assert "n 40 is above 20 enrolled" in html
    assert 'value="25"' in html and 'value="40"' in html and 'value="3.4"' in html
    assert _studies(app) == []


def test_save_shows_unverified_then_second_curator_verifies(app: Flask) -> None:
    first = _curator(app, "cur1@example.org")
    resp = _post(first, _form())
    assert resp.status_code == 302
    (study,) = _studies(app)
    with app.app_context(), session_scope() as session:
        arms = session.exec(select(StudyArm).where(StudyArm.study_id == study.id)).all()
        events = session.exec(
            select(StudyAdverseEvent).where(StudyAdverseEvent.study_id == study.id)
        ).one()
        outcome = session.exec(
            select(OutcomeMeasurement).where(OutcomeMeasurement.study_id == study.id)
        ).one()
        assert [a.n for a in arms] == [20, 20]
        assert (events.event, events.events, events.n, events.arm_id) == ("pih", 4, 20, arms[1].id)
        assert (outcome.baseline, outcome.final, outcome.sd, outcome.sd_of) == (
            3.4,
            2.1,
            0.6,
            "final",
        )
    page = app.test_client().get(f"/citations/{PMID}").data.decode()
    assert "unverified" in page and "Microneedling" in page
    # The extracting curator cannot verify their own work.
    token = csrf_token(first.get(f"/citations/{PMID}").data.decode())
    first.post(f"/citations/{PMID}/extraction/{study.id}/verify", data={"csrf_token": token})
    assert _studies(app)[0].verified_at is None
    msg = first.get(f"/citations/{PMID}").data.decode()
    assert "cannot verify their own extraction" in msg
    second = _curator(app, "cur2@example.org")
    token = csrf_token(second.get(f"/citations/{PMID}").data.decode())
    second.post(f"/citations/{PMID}/extraction/{study.id}/verify", data={"csrf_token": token})
    assert _studies(app)[0].verified_at is not None
    page = app.test_client().get(f"/citations/{PMID}").data.decode()
    assert "badge-verified" in page and "badge-unverified" not in page


def test_edit_records_history_and_clears_verification(app: Flask) -> None:
    first = _curator(app, "cur1@example.org")
    _post(first, _form())
    (study,) = _studies(app)
    second = _curator(app, "cur2@example.org")
    token = csrf_token(second.get(f"/citations/{PMID}").data.decode())
    second.post(f"/citations/{PMID}/extraction/{study.id}/verify", data={"csrf_token": token})
    url = f"/citations/{PMID}/extraction/{study.id}"
    edit_page = first.get(url).data.decode()
    assert 'value="3.4"' in edit_page  # prefilled
    resp = _post(first, _form(n_enrolled="22"), url=url)
    assert resp.status_code == 302
    (study,) = _studies(app)
    assert study.n_enrolled == 22 and study.verified_at is None
    with app.app_context(), session_scope() as session:
        actions = [
            r.action
            for r in session.exec(
                select(ExtractionRevision)
                .where(ExtractionRevision.study_id == study.id)
                .order_by(ExtractionRevision.id)
            )
        ]
    assert actions == ["create", "verify", "edit"]
    page = app.test_client().get(f"/citations/{PMID}").data.decode()
    assert "changed n_enrolled" in page


def test_viewers_cannot_open_the_form(app: Flask) -> None:
    make_user(app, "viewer@example.org", "viewer")
    client = app.test_client()
    login(client, "viewer@example.org")
    assert client.get(f"/citations/{PMID}/extraction").status_code == 403
    assert app.test_client().get(f"/citations/{PMID}/extraction").status_code in (302, 401)
