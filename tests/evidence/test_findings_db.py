"""Extracted studies in the database become synthesis records, pages and API results (both DBs).

The studies here are written the way the extraction form writes them: a split-face study of
microneedling against fractional CO2 laser with PIH stated as percentages (as PMID 39640445's
abstract states it), and a study of a citation marked retracted.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from evidence import findings, findings_db
from evidence.db import session_scope
from evidence.models import (
    Citation,
    Indication,
    MeasureDirection,
    MeasureKind,
    OutcomeMeasure,
    OutcomeMeasurement,
    PublishedMetaAnalysis,
    PublishedPooledResult,
    StudyAdverseEvent,
    StudyArm,
    StudyDesign,
    Treatment,
    utcnow,
)
from evidence.models import Study as StudyRow

NAMES = {"microneedling": "Microneedling", "fractional-co2-laser": "Fractional CO2 laser"}


def _ids(session: Session) -> tuple[int, int, int, list[int]]:
    """Return the ids of acne scars, microneedling, CO2 laser and two citations."""
    acne = session.exec(select(Indication).where(Indication.slug == "acne-scars")).one()
    mn = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
    co2 = session.exec(select(Treatment).where(Treatment.slug == "fractional-co2-laser")).one()
    citations = [c.id for c in session.exec(select(Citation).order_by(Citation.id).limit(2))]
    assert acne.id and mn.id and co2.id and all(citations)
    return acne.id, mn.id, co2.id, citations  # type: ignore[return-value]


def add_split_face_study(
    session: Session, *, citation_id: int, pih: tuple[float, float], verified: bool = False
) -> int:
    """Add a split-face microneedling vs CO2 study with PIH percentages and grades per side."""
    acne, mn, co2, _ = _ids(session)
    grade = session.exec(
        select(OutcomeMeasure).where(OutcomeMeasure.slug == "goodman-baron-qualitative")
    ).first() or OutcomeMeasure(
        slug="goodman-baron-qualitative",
        name="Goodman-Baron qualitative grade",
        kind=MeasureKind.CONTINUOUS,
        direction=MeasureDirection.LOWER_IS_BETTER,
    )
    session.add(grade)
    study = StudyRow(
        citation_id=citation_id,
        design=StudyDesign.NON_RANDOMIZED_COMPARATIVE,
        split_face=True,
        indication_id=acne,
        n_enrolled=30,
        verified_at=utcnow() if verified else None,
    )
    session.add(study)
    session.flush()
    assert study.id is not None and grade.id is not None
    arms = [
        StudyArm(study_id=study.id, position=0, treatment_id=co2, sessions=4),
        StudyArm(study_id=study.id, position=1, treatment_id=mn, sessions=4),
    ]
    session.add_all(arms)
    session.flush()
    for arm, percent, final in zip(arms, pih, (2.37, 3.2), strict=True):
        session.add(
            StudyAdverseEvent(study_id=study.id, arm_id=arm.id, event="pih", percent=percent)
        )
        session.add(
            OutcomeMeasurement(
                study_id=study.id,
                arm_id=arm.id,
                measure_id=grade.id,
                measure_as_stated="Goodman-Baron qualitative grade",
                timepoint="end of study",
                baseline=3.53,
                final=final,
            )
        )
    return study.id


def test_loader_reads_studies_and_marks_retracted(any_app: Flask) -> None:
    """The loader gives arms by slug, percentages as stated, and marks retraction and checks."""
    with any_app.app_context(), session_scope() as session:
        _acne, _mn, _co2, (first, second) = _ids(session)
        add_split_face_study(session, citation_id=first, pih=(30.0, 6.67))
        add_split_face_study(session, citation_id=second, pih=(90.0, 3.33), verified=True)
        retracted = session.get(Citation, second)
        assert retracted is not None
        retracted.retraction_status = "retracted"
        session.add(retracted)
    with any_app.app_context(), session_scope() as session:
        studies, _published = findings_db.load(session, indication="acne-scars")
        assert len(studies) == 2
        kept = next(s for s in studies if not s.retracted)
        assert [a.treatment for a in kept.arms] == ["fractional-co2-laser", "microneedling"]
        assert kept.split_face and not kept.randomized and not kept.verified
        assert kept.participants == 30
        pih = next(o for o in kept.outcomes if o.measure == "pih")
        assert pih.adverse and [v.percent for v in pih.values] == [30.0, 6.67]
        assert any(s.retracted and s.verified for s in studies)
        result = findings.study_findings(
            studies, slugs=list(NAMES), names=NAMES, indication="acne-scars"
        )
    (pair,) = result.pairs
    rr = next(f for f in pair.findings if f.measure == "pih")
    # 2/30 (6.67%) with microneedling against 9/30 (30%) with CO2: RR 0.22; the retracted
    # study (1/30 against 27/30) is left out and the result says so.
    assert findings.effect_text(rr) == "RR 0.22 (0.05 to 0.94)"
    assert any("Retracted, left out" in n for n in rr.notes)
    assert result.retracted == 1 and result.unverified == 1
    grade = next(f for f in pair.findings if f.measure == "goodman-baron-qualitative")
    assert findings.effect_text(grade).startswith("MD +0.83, no interval")


def test_published_results_name_their_treatments(any_app: Flask) -> None:
    """A published review's stated comparison is matched to catalogue slugs, numbers as printed."""
    with any_app.app_context(), session_scope() as session:
        review = PublishedMetaAnalysis(
            pmid="35237616",
            title="Combined Effect of Microneedling and Platelet-Rich Plasma for Acne Scars",
            year=2022,
            comparison_as_stated="microneedling-prp vs microneedling",
        )
        session.add(review)
        session.flush()
        assert review.id is not None
        session.add(
            PublishedPooledResult(
                meta_analysis_id=review.id,
                measure_as_stated="mean Goodman qualitative score",
                effect_type="MD",
                estimate=-0.32,
                ci_low=-0.44,
                ci_high=-0.2,
                i2=0,
            )
        )
    with any_app.app_context(), session_scope() as session:
        _studies, published = findings_db.load(session, indication=None)
    (result,) = published
    assert result.treatments == ("microneedling-prp", "microneedling")
    assert (result.estimate, result.ci_low, result.ci_high) == (-0.32, -0.44, -0.2)
    assert findings.matching_published(published, ("microneedling", "microneedling-prp"), None)


def test_compare_page_forest_summary_and_api_show_the_same_numbers(app: Flask) -> None:
    """The compare block, the forest plot page, the CSV and the API agree on the pooled PIH."""
    with app.app_context(), session_scope() as session:
        _acne, _mn, _co2, (first, _second) = _ids(session)
        add_split_face_study(session, citation_id=first, pih=(6.67, 30.0))
        pmid = session.get(Citation, first).pmid  # type: ignore[union-attr]
    client = app.test_client()
    # Arms are CO2 first here: microneedling had 30%, CO2 6.67%, so the RR is 4.50 (1.06 to 19.11)
    args = "t=microneedling&t=fractional-co2-laser&indication=acne-scars"
    page = client.get(f"/compare?{args}").get_data(as_text=True)
    assert "What the studies found" in page
    assert "RR 4.50 (1.06 to 19.11)" in page
    assert "favours Fractional CO2 laser" in page
    assert f'href="/citations/{pmid}"' in page and "unverified" in page
    assert "/compare/forest?t=microneedling&amp;t=fractional-co2-laser" in page
    forest = client.get(f"/compare/forest?{args}&outcome=pih")
    assert forest.status_code == 200
    html = forest.get_data(as_text=True)
    assert 'role="img"' in html and "One study only" in html and "Imprecision" in html
    assert "9/30 derived from the stated 30%" in html
    png = client.get(f"/compare/forest.png?{args}&outcome=pih")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get(f"/compare/forest?{args}&outcome=nothing").status_code == 404
    csv_text = client.get(f"/compare/summary.csv?{args}").data.decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("Comparison,Outcome,Studies / participants")
    assert "RR 4.50 (1.06 to 19.11)" in csv_text
    assert client.get(f"/compare/summary?{args}").status_code == 200
    body = client.get(f"/api/v1/synthesis?{args}").get_json()
    rr = next(r for r in body["results"] if r["outcome"] == "pih" and r["head_to_head"])
    assert round(rr["estimate"], 2) == 4.50 and rr["studies"][0]["pmid"] == pmid
    # 9/30 - 2/30 = 0.2333; var 0.3 * 0.7 / 30 + (1/15) * (14/15) / 30
    assert rr["risk_difference"]["estimate"] == pytest.approx(7 / 30)
    assert "RD +0.23 (+0.05 to +0.42)" in page
    assert rr["studies"][0]["verified"] is False and body["unverified"] == 1
    # Without an indication nothing is pooled: conditions are never mixed.
    every = client.get("/compare?t=microneedling&t=fractional-co2-laser").get_data(as_text=True)
    assert "Choose an indication to see" in every and "RR 4.50" not in every
