"""The bundled snapshot: real records, loaded idempotently, with missing fields kept missing."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlmodel import func, select

from evidence import snapshot
from evidence.db import session_scope
from evidence.models import (
    Citation,
    CitationAuthor,
    CitationLink,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    PricePoint,
    Treatment,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


def test_snapshot_matches_the_shared_source_records() -> None:
    bundled = json.loads((snapshot.SNAPSHOT_DIR / "citations.json").read_text())["records"]
    source = json.loads((SHARED / "citations.json").read_text())
    assert {r["pmid"] for r in bundled} == {str(r["pmid"]) for r in source}
    by_pmid = {str(r["pmid"]): r for r in source}
    for rec in bundled:
        assert rec["title"] == by_pmid[rec["pmid"]]["title"]
        assert rec["authors"] == by_pmid[rec["pmid"]]["authors"]


def test_load_twice_adds_nothing(any_app: Flask) -> None:
    with any_app.app_context(), session_scope() as session:
        before = {
            m.__name__: _count(session, m)
            for m in (Treatment, Indication, Citation, CitationLink, OutcomeReport, PricePoint)
        }
        report = snapshot.load(session)
        after = {
            m.__name__: _count(session, m)
            for m in (Treatment, Indication, Citation, CitationLink, OutcomeReport, PricePoint)
        }
    assert report.total() == 0
    assert before == after
    assert after["Citation"] == 55
    assert after["Treatment"] == 6
    assert after["OutcomeReport"] == 3


def test_missing_fields_stay_missing_never_guessed(app: Flask) -> None:
    source = {str(r["pmid"]): r for r in json.loads((SHARED / "citations.json").read_text())}
    with app.app_context(), session_scope() as session:
        for citation in session.exec(select(Citation)):
            rec = source[citation.pmid]
            assert citation.year == rec["year"]
            assert citation.journal == rec["journal"]
            assert citation.abstract is None
            assert citation.complete is False
            n_authors = _count_authors(session, citation.id)
            assert n_authors == len(rec["authors"])


def _count_authors(session, citation_id) -> int:  # type: ignore[no-untyped-def]
    stmt = (
        select(func.count())
        .select_from(CitationAuthor)
        .where(CitationAuthor.citation_id == citation_id)
    )
    return session.exec(stmt).one()


def test_forum_reports_keep_quote_and_source(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        reports = {r.source_key: r for r in session.exec(select(OutcomeReport))}
        donette = reports["thread-donette-perioral-lines"]
        assert donette.improvement == 4
        assert donette.sessions == 6
        assert "mostly gone" in (donette.source_quote or "")
        assert donette.source_commenter == "Donette Smith"
        robert = reports["thread-robertst-five-sessions"]
        assert robert.improvement == 0
        assert robert.indication_id is None
        assert robert.cost_per_course == 2500
        assert "2,000-3,000" in (robert.cost_note or "")
        events = session.exec(
            select(OutcomeAdverseEvent).where(
                OutcomeAdverseEvent.report_id == reports["thread-anon-hematoma"].id
            )
        ).all()
        kinds = sorted(e.event for e in events)
        # Same-day redness is not "erythema > 7 days": it is kept as "other" with its words.
        assert kinds == ["bruising", "other"]
        assert any("same day" in (e.detail or "") for e in events)


def test_multi_treatment_citation_links_each_treatment(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "40568948")).one()
        links = session.exec(select(CitationLink).where(CitationLink.citation_id == cit.id)).all()
        slugs = sorted(session.get(Treatment, link.treatment_id).slug for link in links)
        assert slugs == ["fractional-co2-laser", "microneedling-radiofrequency"]


def test_name_suffix_is_a_suffix_not_a_collective_author(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "34854067")).one()
        first = session.exec(
            select(CitationAuthor).where(
                CitationAuthor.citation_id == cit.id, CitationAuthor.position == 0
            )
        ).one()
    assert (first.last_name, first.initials, first.suffix) == ("English", "RS", "Jr")
    assert first.collective_name is None
    html = app.test_client().get("/treatments/microneedling?q=hair+loss").data.decode()
    assert "English RS Jr" in html
