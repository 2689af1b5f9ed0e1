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
    CitationFieldSource,
    CitationLink,
    Indication,
    OutcomeAdverseEvent,
    OutcomeMeasure,
    OutcomeMeasurement,
    OutcomeReport,
    PricePoint,
    PublishedMetaAnalysis,
    PublishedPooledResult,
    Study,
    StudyAdverseEvent,
    StudyArm,
    Treatment,
)

# The repository's own committed copies of the inputs: no test reads outside the repository.
SOURCES = snapshot.SOURCES_DIR


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(model)).one()


def test_rebuilding_from_the_committed_sources_reproduces_the_snapshot(tmp_path: Path) -> None:
    counts = snapshot.build_from_sources(SOURCES, tmp_path)
    assert counts == {"citations": 63, "reports": 3, "studies": 42, "meta_analyses": 4}
    for name in ("citations.json", "forum.json", "studies.json", "meta-analyses.json"):
        assert (tmp_path / name).read_bytes() == (snapshot.SNAPSHOT_DIR / name).read_bytes(), name
    manifest = json.loads((snapshot.SNAPSHOT_DIR / "manifest.json").read_text())
    for rel, digest in manifest["sources"].items():
        assert snapshot.sha256_of(snapshot.SNAPSHOT_DIR / rel) == digest, rel
    assert (tmp_path / "manifest.json").read_bytes() == (
        snapshot.SNAPSHOT_DIR / "manifest.json"
    ).read_bytes()


def test_snapshot_matches_the_source_records() -> None:
    bundled = json.loads((snapshot.SNAPSHOT_DIR / "citations.json").read_text())["records"]
    source = json.loads((SOURCES / "citations.json").read_text())
    extra = {str(r["pmid"]): r for r in json.loads((SOURCES / "citations-extra.json").read_text())}
    assert {r["pmid"] for r in bundled} == {str(r["pmid"]) for r in source} | set(extra)
    by_pmid = {str(r["pmid"]): r for r in source}
    for rec in bundled:
        if rec["pmid"] not in by_pmid:
            assert rec["title"] == extra[rec["pmid"]]["title"]
            continue
        assert rec["title"] == by_pmid[rec["pmid"]]["title"]
        # Authors are citations.json's, or citations-extra.json's fuller byline that starts
        # with them.
        mine = by_pmid[rec["pmid"]]["authors"]
        assert rec["authors"][: len(mine)] == mine


def test_disagreeing_years_are_both_kept_and_labelled(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "31592915")).one()
        facts = session.exec(
            select(CitationFieldSource).where(CitationFieldSource.citation_id == cit.id)
        ).all()
    assert cit.year == 2019
    years = {f.value: f for f in facts if f.field == "year"}
    assert set(years) == {"2019", "2020"}
    assert "print issue 2020" in (years["2020"].label or "")
    assert years["2020"].source_url and "31592915" in years["2020"].source_url
    html = app.test_client().get("/citations/31592915").data.decode()
    assert "print issue 2020" in html


def test_studies_keep_their_numbers_and_sources(any_app: Flask) -> None:
    with any_app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "39640445")).one()
        study = session.exec(select(Study).where(Study.citation_id == cit.id)).one()
        arms = session.exec(
            select(StudyArm).where(StudyArm.study_id == study.id).order_by(StudyArm.position)
        ).all()
        rows = session.exec(
            select(OutcomeMeasurement, OutcomeMeasure)
            .join(OutcomeMeasure)
            .where(OutcomeMeasurement.study_id == study.id)
        ).all()
        pih = session.exec(
            select(StudyAdverseEvent).where(StudyAdverseEvent.study_id == study.id)
        ).all()
        metas = _count(session, PublishedMetaAnalysis)
        pooled = session.exec(
            select(PublishedPooledResult).where(PublishedPooledResult.effect_type == "OR")
        ).all()
    assert study.design == "non-randomized comparative"
    assert study.split_face is True
    assert study.randomised is None  # "randomization not stated"
    assert study.n_enrolled == 30 and study.n_analysed is None
    assert study.source_url == "https://api-pubmed-ncbi.laibokeji.com/39640445"
    assert str(study.checked_on) == "2026-12-02"
    assert study.verified_at is None
    assert [a.n for a in arms] == [None, None]
    gb = [m for m, measure in rows if measure.slug == "goodman-baron-qualitative"]
    assert sorted((m.baseline, m.final, m.percent_improvement) for m in gb) == [
        (3.53, 2.37, 32.9),
        (3.53, 3.2, 9.3),
    ]
    assert all(m.sd is None and m.mean_change is None for m in gb)
    # A stated name outside the vocabulary keeps its words with the generic measure.
    other = [m for m, measure in rows if measure.slug == "as-stated"]
    assert {m.measure_as_stated for m in other} >= {"patient subjective score"}
    assert sorted((e.event, e.percent, e.events, e.n) for e in pih) == [
        ("pih", 6.67, None, None),
        ("pih", 30.0, None, None),
    ]
    assert metas == 4
    assert {(p.estimate, p.ci_low, p.ci_high) for p in pooled} >= {(2.97, 1.96, 4.51)}


def test_load_twice_adds_nothing(any_app: Flask) -> None:
    with any_app.app_context(), session_scope() as session:
        before = {
            m.__name__: _count(session, m)
            for m in (Treatment, Indication, Citation, CitationLink, OutcomeReport, PricePoint)
        }
        studies_before = _count(session, Study), _count(session, OutcomeMeasurement)
        report = snapshot.load(session)
        after = {
            m.__name__: _count(session, m)
            for m in (Treatment, Indication, Citation, CitationLink, OutcomeReport, PricePoint)
        }
        studies_after = _count(session, Study), _count(session, OutcomeMeasurement)
    assert studies_before == studies_after
    assert studies_after[0] == 42
    assert report.total() == 0
    assert before == after
    assert after["Citation"] == 63
    assert after["Treatment"] == 6
    assert after["OutcomeReport"] == 3


def test_missing_fields_stay_missing_never_guessed(app: Flask) -> None:
    bundled = json.loads((snapshot.SNAPSHOT_DIR / "citations.json").read_text())["records"]
    source = {r["pmid"]: r for r in bundled}
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
