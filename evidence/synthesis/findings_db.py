"""Load extracted studies and published meta-analyses from the database into synthesis records.

Every extracted study enters, verified or not (unverified ones are marked on every page);
studies of retracted citations are loaded marked retracted, so synthesis can leave them out
and say so. Measurements stated for a whole cohort (no arm) are not per-arm results and stay out.
A measure the vocabulary does not classify is keyed by its stated name, so unrelated measures are
never pooled together.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from evidence.models import (
    Citation,
    CitationAuthor,
    Indication,
    MeasureDirection,
    MeasureKind,
    OutcomeMeasure,
    OutcomeMeasurement,
    PublishedMetaAnalysis,
    PublishedPooledResult,
    RetractionStatus,
    SdOf,
    StudyAdverseEvent,
    StudyArm,
    StudyDesign,
    Treatment,
)
from evidence.models import Study as StudyRow
from evidence.synthesis import Arm, ArmValue, Outcome, Study
from evidence.synthesis.findings import Published
from evidence.synthesis.model import CONTINUOUS, DICHOTOMOUS

RETRACTED = (RetractionStatus.RETRACTED, RetractionStatus.RETRACTION_NOTICE)
EVENT_LABELS = {
    "pih": "Post-inflammatory hyperpigmentation (PIH)",
    "erythema": "Erythema",
    "edema": "Oedema",
    "pain": "Pain",
    "scarring": "Scarring",
    "hypopigmentation": "Hypopigmentation",
    "infection": "Infection",
    "herpes": "Herpes reactivation",
    "acneiform": "Acneiform eruption",
}


def _slug(text: str) -> str:
    """Return a URL-safe key for a stated name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def study_label(citation: Citation, first_author: str | None) -> str:
    """Return a study's short label: first author and year, else its PMID."""
    if first_author:
        return f"{first_author} {citation.year}" if citation.year else first_author
    return f"PMID {citation.pmid}"


def load(session: Session, *, indication: str | None) -> tuple[list[Study], list[Published]]:
    """Return the extracted studies (retracted ones marked) and published pooled results."""
    stmt = select(StudyRow, Citation).join(Citation, col(Citation.id) == col(StudyRow.citation_id))
    indication_id = None
    if indication:
        found = session.exec(select(Indication).where(Indication.slug == indication)).first()
        if found is None:
            return [], []
        indication_id = found.id
        stmt = stmt.where(StudyRow.indication_id == indication_id)
    rows = list(session.exec(stmt.order_by(col(StudyRow.id))))
    study_ids = [s.id for s, _c in rows]
    citation_ids = [c.id for _s, c in rows]
    indications = {i.id: i.slug for i in session.exec(select(Indication))}
    treatments = {t.id: t.slug for t in session.exec(select(Treatment))}
    measures = {m.id: m for m in session.exec(select(OutcomeMeasure))}
    first_authors: dict[int, str] = {}
    for author in session.exec(
        select(CitationAuthor)
        .where(col(CitationAuthor.citation_id).in_(citation_ids))
        .order_by(col(CitationAuthor.citation_id), col(CitationAuthor.position))
    ):
        name = author.last_name or author.collective_name
        if name and author.citation_id not in first_authors:
            first_authors[author.citation_id] = name
    arms: dict[int, list[StudyArm]] = defaultdict(list)
    for arm in session.exec(
        select(StudyArm)
        .where(col(StudyArm.study_id).in_(study_ids))
        .order_by(col(StudyArm.study_id), col(StudyArm.position), col(StudyArm.id))
    ):
        arms[arm.study_id].append(arm)
    measurements: dict[int, list[OutcomeMeasurement]] = defaultdict(list)
    for m in session.exec(
        select(OutcomeMeasurement)
        .where(col(OutcomeMeasurement.study_id).in_(study_ids))
        .order_by(col(OutcomeMeasurement.position), col(OutcomeMeasurement.id))
    ):
        measurements[m.study_id].append(m)
    events: dict[int, list[StudyAdverseEvent]] = defaultdict(list)
    for e in session.exec(
        select(StudyAdverseEvent)
        .where(col(StudyAdverseEvent.study_id).in_(study_ids))
        .order_by(col(StudyAdverseEvent.position), col(StudyAdverseEvent.id))
    ):
        events[e.study_id].append(e)
    studies = []
    for row, citation in rows:
        assert row.id is not None and citation.id is not None
        arm_index = {a.id: i for i, a in enumerate(arms[row.id])}
        study_arms = tuple(
            Arm(
                i,
                treatments.get(a.treatment_id, "")
                if a.treatment_id is not None
                else (a.comparator_label or a.label or f"arm {i + 1}"),
                a.n,
                a.sessions,
            )
            for i, a in enumerate(arms[row.id])
        )
        outcomes = _outcomes(measurements[row.id], measures, arm_index)
        outcomes += _adverse(events[row.id], arm_index)
        design = row.design
        studies.append(
            Study(
                key=str(row.id),
                label=study_label(citation, first_authors.get(citation.id)),
                pmid=citation.pmid,
                citation_id=citation.id,
                indication=indications.get(row.indication_id),
                design=design,
                randomized=bool(row.randomised)
                or design in (StudyDesign.RANDOMIZED_PARALLEL, StudyDesign.RANDOMIZED_SPLIT_FACE),
                split_face=row.split_face or design == StudyDesign.RANDOMIZED_SPLIT_FACE,
                blinded=row.blinded,
                verified=row.verified_at is not None,
                retracted=citation.retraction_status in RETRACTED,
                fitzpatrick=row.fitzpatrick_types,
                participants=row.n_analysed or row.n_enrolled,
                arms=study_arms,
                outcomes=tuple(outcomes),
            )
        )
    return studies, published_results(session, indication_id=indication_id)


def _outcomes(
    rows: list[OutcomeMeasurement], measures: dict[Any, OutcomeMeasure], arm_index: dict[Any, int]
) -> list[Outcome]:
    """Group one study's per-arm measurements into outcomes (one per measure and time point)."""
    grouped: dict[tuple[str, str], list[OutcomeMeasurement]] = defaultdict(list)
    meta: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for m in rows:
        if m.arm_id is None or m.arm_id not in arm_index:
            continue  # stated for the whole cohort: not a per-arm result
        measure = measures.get(m.measure_id)
        if measure is None:
            continue
        counted = m.responders is not None or m.responders_percent is not None
        if measure.kind == MeasureKind.UNCLASSIFIED:
            key, label = f"stated-{_slug(m.measure_as_stated)}", m.measure_as_stated
            kind = DICHOTOMOUS if counted else CONTINUOUS
        else:
            key, label = measure.slug, measure.name
            kind = (
                DICHOTOMOUS
                if measure.kind in (MeasureKind.DICHOTOMOUS, MeasureKind.ADVERSE)
                else (CONTINUOUS)
            )
        if kind == CONTINUOUS and counted and m.final is None and m.mean_change is None:
            # Responders stated on a continuous scale: a count, keyed apart from the means.
            key, label, kind = (
                f"{key}-responders-{_slug(m.measure_as_stated)}",
                m.measure_as_stated,
                DICHOTOMOUS,
            )
        lower = measure.direction != MeasureDirection.HIGHER_IS_BETTER
        if kind == DICHOTOMOUS and measure.kind == MeasureKind.DICHOTOMOUS:
            # Responders are good news unless the vocabulary says lower is better.
            lower = measure.direction == MeasureDirection.LOWER_IS_BETTER
        group = (key, m.timepoint or "")
        grouped[group].append(m)
        meta[group] = (label, kind, lower)
    out = []
    for (key, timepoint), items in grouped.items():
        label, kind, lower = meta[(key, timepoint)]
        values = []
        for m in items:
            if kind == DICHOTOMOUS:
                values.append(
                    ArmValue(
                        arm_index[m.arm_id],
                        n=m.responders_n or m.n,
                        events=m.responders,
                        percent=m.responders_percent,
                    )
                )
            else:
                values.append(
                    ArmValue(
                        arm_index[m.arm_id],
                        n=m.n,
                        baseline=m.baseline,
                        final=m.final,
                        change=m.mean_change,
                        sd=m.sd,
                        sd_of=m.sd_of if m.sd_of in (SdOf.FINAL, SdOf.CHANGE) else None,
                    )
                )
        out.append(Outcome(key, label, kind, lower, timepoint, False, tuple(values)))
    return out


def _adverse(rows: list[StudyAdverseEvent], arm_index: dict[Any, int]) -> list[Outcome]:
    """Turn one study's per-arm adverse-event counts into dichotomous outcomes (lower is better)."""
    grouped: dict[str, list[StudyAdverseEvent]] = defaultdict(list)
    labels: dict[str, str] = {}
    for e in rows:
        if e.arm_id is None or e.arm_id not in arm_index:
            continue
        if e.event == "other":
            key, label = (
                f"event-{_slug(e.event_as_stated or 'other')}",
                e.event_as_stated or "Other",
            )
        else:
            key, label = e.event, EVENT_LABELS.get(e.event, e.event)
        grouped[key].append(e)
        labels[key] = label
    return [
        Outcome(
            key,
            labels[key],
            DICHOTOMOUS,
            True,
            "",
            True,
            tuple(
                ArmValue(arm_index[e.arm_id], n=e.n, events=e.events, percent=e.percent)
                for e in items
            ),
        )
        for key, items in grouped.items()
    ]


def comparison_slugs(stated: str, known: set[str]) -> tuple[str, ...]:
    """Return the catalogue treatments a stated comparison names ("a vs b"), in order."""
    out = []
    for side in re.split(r"\s+vs\.?\s+", stated):
        # A side names a treatment only when, glosses in parentheses aside, it is the slug
        # itself: "microneedling or subcision + PRP" is no catalogue treatment.
        bare = re.sub(r"\s*\(.*?\)", "", side).strip()
        if bare in known:
            out.append(bare)
    return tuple(out)


def published_results(session: Session, *, indication_id: int | None) -> list[Published]:
    """Return the published meta-analyses' pooled results, with the treatments they compare."""
    known = {t.slug for t in session.exec(select(Treatment))}
    indications = {i.id: i.slug for i in session.exec(select(Indication))}
    stmt = select(PublishedPooledResult, PublishedMetaAnalysis).join(
        PublishedMetaAnalysis,
        col(PublishedMetaAnalysis.id) == col(PublishedPooledResult.meta_analysis_id),
    )
    if indication_id is not None:
        stmt = stmt.where(
            or_(
                col(PublishedMetaAnalysis.indication_id) == indication_id,
                col(PublishedMetaAnalysis.indication_id).is_(None),
            )
        )
    out = []
    for result, review in session.exec(
        stmt.order_by(col(PublishedMetaAnalysis.id), col(PublishedPooledResult.position))
    ):
        out.append(
            Published(
                pmid=review.pmid,
                title=review.title,
                year=review.year,
                comparison=review.comparison_as_stated,
                treatments=comparison_slugs(review.comparison_as_stated, known),
                indication=indications.get(review.indication_id),
                measure=result.measure_as_stated,
                effect_type=result.effect_type,
                estimate=result.estimate,
                ci_low=result.ci_low,
                ci_high=result.ci_high,
                i2=result.i2,
                n_studies=result.n_studies,
                favours=result.favours_as_stated,
                p_value=result.p_value_as_stated,
            )
        )
    return out
