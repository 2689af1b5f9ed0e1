"""Extracted studies in the database become synthesis records, pages and API results (both DBs).

The studies here are written the way the extraction form writes them: a split-face study of
microneedling against fractional CO2 laser with PIH stated as percentages (as PMID 39640445's
abstract states it), and a study of a citation marked retracted.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlmodel import Session, select

from evidence.db import session_scope
from evidence.models import (
    Citation,
    Indication,
    MeasureDirection,
    MeasureKind,
    OutcomeMeasure,
    OutcomeMeasurement,
    StudyAdverseEvent,
    StudyArm,
    StudyDesign,
    Treatment,
    utcnow,
)
from evidence.models import Study as StudyRow
from evidence.synthesis import findings, findings_db

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


def test_loader_reads_the_snapshot_study_and_marks_retracted(any_app: Flask) -> None:
    """PMID 39640445 (split-face, PIH stated as 30% and 6.67%) loads as extracted; retracting
    its citation leaves it out of the pooling, and the result says so."""
    with any_app.app_context(), session_scope() as session:
        studies, _published = findings_db.load(session, indication="acne-scars")
        study = next(s for s in studies if s.pmid == "39640445")
        assert [a.treatment for a in study.arms] == ["fractional-co2-laser", "microneedling"]
        assert study.split_face and not study.randomized and not study.verified
        assert study.participants == 30
        pih = next(o for o in study.outcomes if o.measure == "pih")
        assert pih.adverse and [v.percent for v in pih.values] == [30.0, 6.67]
        result = findings.study_findings(
            studies, slugs=list(NAMES), names=NAMES, indication="acne-scars"
        )
        (pair,) = result.pairs
        rr = next(f for f in pair.findings if f.measure == "pih")
        # 2/30 (6.67%) with microneedling against 9/30 (30%) with CO2: RR 0.22.
        assert findings.effect_text(rr) == "RR 0.22 (0.05 to 0.94)"
        grade = next(f for f in pair.findings if f.measure == "goodman-baron-qualitative")
        assert findings.effect_text(grade).startswith("MD +0.83, no interval")
        before = result.unverified
        # A second curator verifies it; then its citation is retracted.
        row = session.exec(select(StudyRow).where(StudyRow.citation_id == study.citation_id)).one()
        row.verified_at = utcnow()
        session.add(row)
        citation = session.get(Citation, study.citation_id)
        assert citation is not None
        citation.retraction_status = "retracted"
        session.add(citation)
    with any_app.app_context(), session_scope() as session:
        studies, _published = findings_db.load(session, indication="acne-scars")
        again = next(s for s in studies if s.pmid == "39640445")
        assert again.retracted and again.verified
        result = findings.study_findings(
            studies, slugs=list(NAMES), names=NAMES, indication="acne-scars"
        )
    assert result.pairs == [] and result.retracted == 1 and result.unverified == before - 1
    co2 = next(b for b in result.indirect if b.treatments == ("fractional-co2-laser",))
    pih_rate = next(f for f in co2.findings if f.measure == "pih" and f.group == "all")
    assert "39640445" not in [s.pmid for s in pih_rate.studies]
    assert any("Retracted, left out: PMID 39640445" in n for n in pih_rate.notes)


def test_published_results_name_their_treatments(any_app: Flask) -> None:
    """A published review's stated comparison is matched to catalogue slugs, numbers as printed."""
    with any_app.app_context(), session_scope() as session:
        _studies, published = findings_db.load(session, indication="acne-scars")
    mean_score = next(p for p in published if p.measure == "mean Goodman qualitative score")
    assert mean_score.pmid == "35237616"
    assert mean_score.treatments == ("microneedling-prp", "microneedling")
    assert (mean_score.estimate, mean_score.ci_low, mean_score.ci_high) == (-0.32, -0.44, -0.2)
    assert findings.matching_published(published, ("microneedling", "microneedling-prp"), None)
    # "fractional radiofrequency vs fractional laser" and "microneedling or subcision + PRP vs
    # without PRP" name no catalogue treatment: shown under neither.
    assert not findings.matching_published(published, ("microneedling-radiofrequency",), None)
    assert not findings.matching_published(published, ("microneedling",), None)
    assert findings_db.comparison_slugs(
        "fractional-co2-laser (ultra-pulse) vs other methods", {"fractional-co2-laser"}
    ) == ("fractional-co2-laser",)


def test_published_review_shows_where_no_extracted_study_compares(app: Flask) -> None:
    """With no head-to-head extraction, the pair's published pooled results still show."""
    client = app.test_client()
    page = client.get("/compare?t=microneedling-prp&t=microneedling&indication=acne-scars")
    html = page.get_data(as_text=True)
    assert "No head-to-head study of Microneedling with platelet-rich plasma" in html
    assert "MD -0.32 (-0.44 to -0.2), I² 0" in html
    assert 'href="/citations/35237616"' in html
    body = client.get(
        "/api/v1/synthesis?t=microneedling-prp&t=microneedling&indication=acne-scars"
    ).get_json()
    assert any(p["pmid"] == "35237616" and p["estimate"] == -0.32 for p in body["published"])


def test_compare_page_forest_summary_and_api_show_the_same_numbers(app: Flask) -> None:
    """The compare block, the forest plot page, the CSV and the API agree on the pooled PIH."""
    # Reversed here (CO2 against microneedling) so the ratio is 9/30 over 2/30: 4.50.
    pmid = "39640445"
    client = app.test_client()
    args = "t=fractional-co2-laser&t=microneedling&indication=acne-scars"
    page = client.get(f"/compare?{args}").get_data(as_text=True)
    assert "What the studies found" in page
    assert "RR 4.50 (1.06 to 19.11)" in page
    assert "favours Microneedling" in page
    assert f'href="/citations/{pmid}"' in page and "unverified" in page
    assert "/compare/forest?t=fractional-co2-laser&amp;t=microneedling" in page
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
    assert rr["studies"][0]["verified"] is False and body["unverified"] == body["studies_extracted"]
    # Without an indication nothing is pooled: conditions are never mixed.
    every = client.get("/compare?t=fractional-co2-laser&t=microneedling").get_data(as_text=True)
    assert "Choose an indication to see" in every and "RR 4.50" not in every
