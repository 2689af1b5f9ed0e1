"""Study extraction: the outcome-measure vocabulary, study records <-> rows, and the history.

A *study record* is the plain-dict form of one extracted study, the shape of
study-outcomes.json (design, arms, outcomes with per-arm values, adverse events ...). The
snapshot loader, the CSV import and the curator's form all write studies through
`save_study`, so every path validates the same way and leaves an ExtractionRevision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from evidence.models import (
    Citation,
    CitationFieldSource,
    ExtractionAction,
    ExtractionRevision,
    Indication,
    MeasureDirection,
    MeasureKind,
    OutcomeMeasure,
    OutcomeMeasurement,
    SdOf,
    Study,
    StudyAdverseEvent,
    StudyAdverseEventKind,
    StudyArm,
    StudyDesign,
    Treatment,
    User,
    utcnow,
)

LOWER = MeasureDirection.LOWER_IS_BETTER.value
HIGHER = MeasureDirection.HIGHER_IS_BETTER.value
CONT = MeasureKind.CONTINUOUS.value
DICH = MeasureKind.DICHOTOMOUS.value
ADV = MeasureKind.ADVERSE.value

GENERIC_MEASURE = "as-stated"

# slug, name, kind, direction, scale_min, scale_max, unit, description
MeasureRow = tuple[str, str, str, str | None, float | None, float | None, str | None, str]
MEASURES: tuple[MeasureRow, ...] = (
    ("goodman-baron-qualitative", "Goodman-Baron qualitative grade", CONT, LOWER, 1, 4, "grade",
     "Goodman & Baron's qualitative acne scar grade: 1 macular ... 4 severe."),
    ("goodman-baron-quantitative", "Goodman-Baron quantitative score", CONT, LOWER, 0, 84,
     "points", "Goodman & Baron's quantitative global scarring grading system."),
    ("ecca", "ECCA score", CONT, LOWER, 0, 540, "points",
     "Echelle d'evaluation clinique des cicatrices d'acne."),
    ("patient-rated-improvement", "Patient-rated improvement", CONT, HIGHER, None, None, None,
     "Improvement as rated by the patient (scale as stated)."),
    ("investigator-global-assessment", "Investigator global assessment", CONT, HIGHER, None,
     None, None, "Improvement as rated by the investigator (scale as stated)."),
    ("gais", "Global Aesthetic Improvement Scale (GAIS)", CONT, LOWER, 1, 5, "grade",
     "1 exceptional improvement ... 5 worse."),
    ("patient-satisfaction", "Patient satisfaction", CONT, HIGHER, None, None, None,
     "Satisfaction as stated (scale as stated)."),
    ("pih", "Post-inflammatory hyperpigmentation (PIH)", ADV, LOWER, None, None, None,
     "Patients with PIH."),
    ("erythema-duration", "Erythema duration", CONT, LOWER, 0, None, "days",
     "Days of erythema after a session."),
    ("pain", "Pain", CONT, LOWER, None, None, None, "Pain during or after treatment."),
    ("downtime", "Downtime", CONT, LOWER, 0, None, "days", "Days of downtime after a session."),
    ("vancouver-scar-scale", "Vancouver Scar Scale", CONT, LOWER, 0, 13, "points", ""),
    ("posas", "POSAS total score", CONT, LOWER, None, None, "points",
     "Patient and Observer Scar Assessment Scale."),
    ("manchester-scar-scale", "Manchester Scar Scale", CONT, LOWER, 5, 18, "points", ""),
    ("modified-manchester-scar-scale", "Modified Manchester Scar Scale", CONT, LOWER, None,
     None, "points", ""),
    ("masi", "MASI", CONT, LOWER, 0, 48, "points", "Melasma Area and Severity Index."),
    ("mmasi", "mMASI", CONT, LOWER, 0, 24, "points", "Modified MASI."),
    ("melasqol", "MELASQoL", CONT, LOWER, 10, 70, "points", "Melasma quality of life scale."),
    ("hair-count", "Hair count", CONT, HIGHER, 0, None, "hairs", ""),
    ("hair-density", "Hair density", CONT, HIGHER, 0, None, "hairs/cm2", ""),
    ("hair-thickness", "Hair thickness", CONT, HIGHER, 0, None, "mm", ""),
    (GENERIC_MEASURE, "Other measure (as stated)", MeasureKind.UNCLASSIFIED.value, None, None,
     None, None, "A stated measure that fits no vocabulary entry; its own words are kept."),
)  # fmt: skip

# Exact stated names (lower-cased) read as a vocabulary measure. Anything else keeps its
# words with the generic measure: a name is never matched by guesswork.
MEASURE_ALIASES: dict[str, str] = {
    "goodman-baron qualitative grade": "goodman-baron-qualitative",
    "goodman-baron qualitative grade: improved by 2 grades": "goodman-baron-qualitative",
    "goodman-baron qualitative grade: improved by 1 grade": "goodman-baron-qualitative",
    "improvement of at least 1 goodman-baron qualitative grade": "goodman-baron-qualitative",
    "goodman-baron quantitative score": "goodman-baron-quantitative",
    "quantitative global scarring grading (mean difference from baseline)": (
        "goodman-baron-quantitative"
    ),
    "ecca score": "ecca",
    "patient-rated >25% improvement": "patient-rated-improvement",
    "subjective improvement (patient-reported)": "patient-rated-improvement",
    "subject-reported improvement in appearance": "patient-rated-improvement",
    "investigator-rated >25% improvement": "investigator-global-assessment",
    "patient satisfaction": "patient-satisfaction",
    "pain score": "pain",
    "pain": "pain",
    "total downtime": "downtime",
    "total duration of erythema (days)": "erythema-duration",
    "vancouver scar scale": "vancouver-scar-scale",
    "posas total score": "posas",
    "manchester scar scale": "manchester-scar-scale",
    "modified manchester scar scale mean decrease": "modified-manchester-scar-scale",
    "mmasi % improvement": "mmasi",
    "masi % change": "masi",
    "melasqol % change": "melasqol",
    "mean change in hair count (1 cm2 target area)": "hair-count",
    "increase in hair density (hair/cm2)": "hair-density",
    "increase in hair thickness (mm)": "hair-thickness",
}

EVENT_ALIASES: dict[str, str] = {
    "post-inflammatory hyperpigmentation": StudyAdverseEventKind.PIH.value,
    "pih": StudyAdverseEventKind.PIH.value,
    **{kind.value: kind.value for kind in StudyAdverseEventKind},
}
EVENT_LABELS: dict[str, str] = {
    "pih": "Post-inflammatory hyperpigmentation (PIH)",
    "erythema": "Erythema",
    "edema": "Edema",
    "pain": "Pain",
    "scarring": "Scarring",
    "hypopigmentation": "Hypopigmentation",
    "infection": "Infection",
    "herpes": "Herpes reactivation",
    "acneiform": "Acneiform eruption",
    "other": "Other",
}
DESIGNS = tuple(d.value for d in StudyDesign)
PAIRED_WORDS = ("split-face", "split-scalp", "split-abdomen", "intra-individual", "each side")


class ExtractionError(ValueError):
    """An extraction that cannot be saved, with every problem found (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        """Keep the list of (field, message) problems."""
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def ensure_measures(session: Session) -> int:
    """Insert the vocabulary entries that are missing (by slug); return how many were added."""
    have = set(session.exec(select(OutcomeMeasure.slug)))
    added = 0
    for pos, (slug, name, kind, direction, lo, hi, unit, desc) in enumerate(MEASURES):
        if slug not in have:
            session.add(
                OutcomeMeasure(
                    slug=slug,
                    name=name,
                    kind=kind,
                    direction=direction,
                    scale_min=lo,
                    scale_max=hi,
                    unit=unit,
                    description=desc,
                    position=pos,
                )
            )
            added += 1
    session.flush()
    return added


def measure_slug_for(stated: str) -> str:
    """Return the vocabulary slug for a stated measure name, or the generic one."""
    return MEASURE_ALIASES.get(stated.strip().lower(), GENERIC_MEASURE)


def event_kind_for(stated: str) -> str:
    """Return the adverse-event kind for a stated event name ('other' when none fits)."""
    return EVENT_ALIASES.get(stated.strip().lower(), StudyAdverseEventKind.OTHER.value)


def paired_from(design: str, note: str | None) -> bool:
    """True when the design or its note states a within-person (split-face ...) comparison."""
    text = f"{design} {note or ''}".lower()
    return any(word in text for word in PAIRED_WORDS)


def randomised_from(design: str, note: str | None) -> bool | None:
    """Randomisation as extracted: stated designs answer; 'not stated' stays None."""
    if design.startswith("randomized"):
        return True
    if "randomization not stated" in (note or "").lower():
        return None
    if design in ("non-randomized comparative", "single-arm prospective", "retrospective"):
        return False
    return None


def blinded_from(note: str | None) -> bool | None:
    """Blinding as extracted from the design note (None when not stated)."""
    return True if "blind" in (note or "").lower() else None


@dataclass
class StudyView:
    """One study with its rows, ready for a page or an export."""

    study: Study
    citation: Citation
    indication: Indication | None
    arms: list[StudyArm]
    arm_names: dict[int, str]
    outcomes: list[tuple[OutcomeMeasurement, OutcomeMeasure]]
    adverse_events: list[StudyAdverseEvent]
    revisions: list[ExtractionRevision]

    @property
    def verified(self) -> bool:
        """True once a second curator verified the extraction."""
        return self.study.verified_at is not None


def arm_name(arm: StudyArm, treatments: dict[int, Treatment]) -> str:
    """Return an arm's display name: its catalogue treatment or its comparator label."""
    if arm.treatment_id is not None and arm.treatment_id in treatments:
        name = treatments[arm.treatment_id].name
    else:
        name = arm.comparator_label or f"arm {arm.position + 1}"
    if arm.co_intervention:
        name += f" + {arm.co_intervention}"
    return name


def studies_for_citation(session: Session, citation: Citation) -> list[StudyView]:
    """Return every extracted study of a citation, with arms, outcomes and history."""
    treatments = {t.id: t for t in session.exec(select(Treatment)) if t.id is not None}
    views = []
    studies = session.exec(
        select(Study).where(Study.citation_id == citation.id).order_by(col(Study.id))
    ).all()
    for study in studies:
        views.append(_view(session, study, citation, treatments))
    return views


def _view(
    session: Session, study: Study, citation: Citation, treatments: dict[int, Treatment]
) -> StudyView:
    """Gather one study's rows."""
    arms = list(
        session.exec(
            select(StudyArm).where(StudyArm.study_id == study.id).order_by(col(StudyArm.position))
        )
    )
    outcomes = list(
        session.exec(
            select(OutcomeMeasurement, OutcomeMeasure)
            .join(OutcomeMeasure, col(OutcomeMeasure.id) == OutcomeMeasurement.measure_id)
            .where(OutcomeMeasurement.study_id == study.id)
            .order_by(col(OutcomeMeasurement.position), col(OutcomeMeasurement.id))
        )
    )
    events = list(
        session.exec(
            select(StudyAdverseEvent)
            .where(StudyAdverseEvent.study_id == study.id)
            .order_by(col(StudyAdverseEvent.position), col(StudyAdverseEvent.id))
        )
    )
    revisions = list(
        session.exec(
            select(ExtractionRevision)
            .where(ExtractionRevision.study_id == study.id)
            .order_by(col(ExtractionRevision.changed_at).desc(), col(ExtractionRevision.id).desc())
        )
    )
    indication = session.get(Indication, study.indication_id) if study.indication_id else None
    return StudyView(
        study=study,
        citation=citation,
        indication=indication,
        arms=arms,
        arm_names={a.id: arm_name(a, treatments) for a in arms if a.id is not None},
        outcomes=outcomes,
        adverse_events=events,
        revisions=revisions,
    )


def field_facts(session: Session, citation: Citation) -> list[CitationFieldSource]:
    """Return the labelled facts read for a citation from further pages."""
    return list(
        session.exec(
            select(CitationFieldSource)
            .where(CitationFieldSource.citation_id == citation.id)
            .order_by(col(CitationFieldSource.field), col(CitationFieldSource.id))
        )
    )


def user_names(session: Session, views: list[StudyView]) -> dict[int, str]:
    """Return display names for the curators in the studies' histories."""
    ids = {r.user_id for v in views for r in v.revisions if r.user_id is not None}
    if not ids:
        return {}
    users = session.exec(select(User).where(col(User.id).in_(ids)))
    return {u.id: (u.name or u.email) for u in users if u.id is not None}


def unverified_citation_ids(session: Session) -> set[int]:
    """Return the ids of citations with at least one unverified extracted study."""
    rows = session.exec(select(Study.citation_id).where(col(Study.verified_at).is_(None)))
    return set(rows)


# --- study records -------------------------------------------------------------------------


def study_record(session: Session, study: Study) -> dict[str, Any]:
    """Return the study as a plain record (the shape of study-outcomes.json, with slugs)."""
    treatments = {t.id: t.slug for t in session.exec(select(Treatment)) if t.id is not None}
    measures = {m.id: m.slug for m in session.exec(select(OutcomeMeasure)) if m.id is not None}
    indication = session.get(Indication, study.indication_id) if study.indication_id else None
    arms = list(
        session.exec(
            select(StudyArm).where(StudyArm.study_id == study.id).order_by(col(StudyArm.position))
        )
    )
    index = {a.id: a.position for a in arms}
    outcomes = session.exec(
        select(OutcomeMeasurement)
        .where(OutcomeMeasurement.study_id == study.id)
        .order_by(col(OutcomeMeasurement.position), col(OutcomeMeasurement.id))
    ).all()
    events = session.exec(
        select(StudyAdverseEvent)
        .where(StudyAdverseEvent.study_id == study.id)
        .order_by(col(StudyAdverseEvent.position), col(StudyAdverseEvent.id))
    ).all()
    return {
        "design": study.design,
        "split_face": study.split_face,
        "randomised": study.randomised,
        "blinded": study.blinded,
        "indication": indication.slug if indication else None,
        "fitzpatrick_types": study.fitzpatrick_types,
        "n_enrolled": study.n_enrolled,
        "n_analysed": study.n_analysed,
        "downtime_days": study.downtime_days,
        "notes": study.notes,
        "source_url": study.source_url,
        "checked_on": study.checked_on.isoformat() if study.checked_on else None,
        "arms": [
            {
                "treatment": treatments.get(a.treatment_id) if a.treatment_id else None,
                "comparator_label": a.comparator_label,
                "label": a.label,
                "co_intervention": a.co_intervention,
                "sessions": a.sessions,
                "interval_weeks": a.interval_weeks,
                "interval_as_stated": a.interval_as_stated,
                "n": a.n,
            }
            for a in arms
        ],
        "outcomes": [
            {
                "arm": index.get(o.arm_id) if o.arm_id else None,
                "measure": measures.get(o.measure_id),
                "measure_as_stated": o.measure_as_stated,
                "timepoint": o.timepoint,
                "baseline": o.baseline,
                "baseline_sd": o.baseline_sd,
                "final": o.final,
                "mean_change": o.mean_change,
                "sd": o.sd,
                "sd_of": o.sd_of,
                "n": o.n,
                "percent_improvement": o.percent_improvement,
                "responders": o.responders,
                "responders_n": o.responders_n,
                "responders_percent": o.responders_percent,
                "value_as_stated": o.value_as_stated,
                "ci_as_stated": o.ci_as_stated,
                "categories_as_stated": o.categories_as_stated,
                "p_value_as_stated": o.p_value_as_stated,
                "p_vs_baseline_as_stated": o.p_vs_baseline_as_stated,
                "direction_as_stated": o.direction_as_stated,
            }
            for o in outcomes
        ],
        "adverse_events": [
            {
                "arm": index.get(e.arm_id) if e.arm_id else None,
                "event": e.event,
                "event_as_stated": e.event_as_stated,
                "scope_as_stated": e.scope_as_stated,
                "events": e.events,
                "n": e.n,
                "percent": e.percent,
            }
            for e in events
        ],
    }


def validate_record(rec: dict[str, Any]) -> list[tuple[str, str]]:
    """Return every problem in a study record as (field, message); empty when it can be saved."""
    problems: list[tuple[str, str]] = []
    if rec.get("design") not in DESIGNS:
        problems.append(("design", f"choose one of: {', '.join(DESIGNS)}"))
    enrolled = rec.get("n_enrolled")
    for key in ("n_enrolled", "n_analysed"):
        if rec.get(key) is not None and rec[key] < 0:
            problems.append((key, "cannot be negative"))
    if enrolled is not None and rec.get("n_analysed") is not None and rec["n_analysed"] > enrolled:
        problems.append(
            ("n_analysed", f"{rec['n_analysed']} analysed is above {enrolled} enrolled")
        )
    arms = rec.get("arms") or []
    if not arms:
        problems.append(("arms", "a study needs at least one arm"))
    for i, arm in enumerate(arms):
        where = f"arms-{i}"
        if not arm.get("treatment") and not (arm.get("comparator_label") or "").strip():
            problems.append(
                (f"{where}-treatment", f"arm {i + 1} needs a treatment or a comparator label")
            )
        n = arm.get("n")
        if n is not None and n < 0:
            problems.append((f"{where}-n", f"arm {i + 1}: n cannot be negative"))
        counts_other = "n =" in (arm.get("label") or "")
        if n is not None and enrolled is not None and n > enrolled and not counts_other:
            # Unless the arm's label says n counts something else (e.g. "n = treatment
            # sessions"), an arm cannot hold more patients than the study enrolled.
            problems.append(
                (
                    f"{where}-n",
                    f"arm {i + 1}: n {n} is above {enrolled} enrolled (if n counts something "
                    "other than patients, say so in the arm's label, e.g. 'n = sessions')",
                )
            )
        for key in ("sessions", "interval_weeks"):
            if arm.get(key) is not None and arm[key] < 0:
                problems.append((f"{where}-{key}", f"arm {i + 1}: {key} cannot be negative"))
    for i, out in enumerate(rec.get("outcomes") or []):
        where = f"outcomes-{i}"
        label = f"outcome {i + 1}"
        if not (out.get("measure_as_stated") or "").strip():
            problems.append((f"{where}-measure_as_stated", f"{label}: name the measure"))
        _check_arm_index(problems, where, label, out.get("arm"), len(arms))
        if out.get("sd_of") not in (None, *(x.value for x in SdOf)):
            problems.append((f"{where}-sd_of", f"{label}: SD of baseline, final or change"))
        for key in ("sd", "baseline_sd"):
            if out.get(key) is not None and out[key] < 0:
                problems.append((f"{where}-{key}", f"{label}: an SD cannot be negative"))
        for key in ("n", "responders", "responders_n"):
            if out.get(key) is not None and out[key] < 0:
                problems.append((f"{where}-{key}", f"{label}: {key} cannot be negative"))
        k, total = out.get("responders"), out.get("responders_n")
        if k is not None and total is not None and k > total:
            problems.append((f"{where}-responders", f"{label}: {k} responders is above n {total}"))
        pct = out.get("responders_percent")
        if pct is not None and not 0 <= pct <= 100:
            problems.append((f"{where}-responders_percent", f"{label}: a percent is 0 to 100"))
    for i, ev in enumerate(rec.get("adverse_events") or []):
        where = f"adverse_events-{i}"
        label = f"adverse event {i + 1}"
        if ev.get("event") not in EVENT_LABELS:
            problems.append((f"{where}-event", f"{label}: choose an event"))
        _check_arm_index(problems, where, label, ev.get("arm"), len(arms))
        events, n = ev.get("events"), ev.get("n")
        for key in ("events", "n"):
            if ev.get(key) is not None and ev[key] < 0:
                problems.append((f"{where}-{key}", f"{label}: {key} cannot be negative"))
        if events is not None and n is not None and events > n:
            problems.append((f"{where}-events", f"{label}: {events} events is above n {n}"))
        pct = ev.get("percent")
        if pct is not None and not 0 <= pct <= 100:
            problems.append((f"{where}-percent", f"{label}: a percent is 0 to 100"))
    return problems


def _check_arm_index(
    problems: list[tuple[str, str]], where: str, label: str, arm: int | None, n_arms: int
) -> None:
    """Record a problem when a row names an arm the study does not have."""
    if arm is not None and not 0 <= arm < n_arms:
        problems.append((f"{where}-arm", f"{label}: arm {arm + 1} is not one of the study's arms"))


def save_study(
    session: Session,
    citation: Citation,
    rec: dict[str, Any],
    *,
    user_id: int | None,
    study: Study | None = None,
    action: str | None = None,
    snapshot_key: str | None = None,
) -> Study:
    """Create or replace a study from a record, after validation; leave a revision."""
    problems = validate_record(rec)
    treatments = {t.slug: t for t in session.exec(select(Treatment))}
    for i, arm in enumerate(rec.get("arms") or []):
        if arm.get("treatment") and arm["treatment"] not in treatments:
            problems.append((f"arms-{i}-treatment", f"unknown treatment {arm['treatment']!r}"))
    indication = None
    if rec.get("indication"):
        indication = session.exec(
            select(Indication).where(Indication.slug == rec["indication"])
        ).first()
        if indication is None:
            problems.append(("indication", f"unknown indication {rec['indication']!r}"))
    if problems:
        raise ExtractionError(problems)
    ensure_measures(session)
    measures = {m.slug: m for m in session.exec(select(OutcomeMeasure))}
    before = study_record(session, study) if study is not None else None
    assert citation.id is not None
    if study is None:
        study = Study(
            citation_id=citation.id, design=rec["design"], created_by_id=user_id,
            snapshot_key=snapshot_key,
        )  # fmt: skip
        session.add(study)
    else:
        _delete_rows(session, study)
        # An edit needs a fresh verification: the verified numbers are no longer these.
        study.verified_by_id = None
        study.verified_at = None
    study.design = rec["design"]
    study.split_face = bool(rec.get("split_face"))
    study.randomised = rec.get("randomised")
    study.blinded = rec.get("blinded")
    study.indication_id = indication.id if indication else None
    for key in (
        "design_note", "indication_note", "fitzpatrick_types", "n_enrolled", "n_analysed",
        "downtime_days", "downtime_note", "adverse_events_note", "outcomes_note", "notes",
        "source_url",
    ):  # fmt: skip
        if key in rec:
            setattr(study, key, rec.get(key))
    if rec.get("extra_sources") is not None:
        study.extra_sources = json.dumps(rec["extra_sources"])
    checked = rec.get("checked_on")
    study.checked_on = date.fromisoformat(checked) if isinstance(checked, str) else checked
    study.updated_by_id = user_id
    study.updated_at = utcnow()
    session.flush()
    assert study.id is not None
    arm_ids: list[int] = []
    for pos, arm in enumerate(rec.get("arms") or []):
        row = StudyArm(
            study_id=study.id,
            position=pos,
            treatment_id=treatments[arm["treatment"]].id if arm.get("treatment") else None,
            comparator_label=(arm.get("comparator_label") or None),
            label=arm.get("label") or None,
            co_intervention=arm.get("co_intervention") or None,
            sessions=arm.get("sessions"),
            interval_weeks=arm.get("interval_weeks"),
            interval_as_stated=arm.get("interval_as_stated") or None,
            n=arm.get("n"),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        arm_ids.append(row.id)
    for pos, out in enumerate(rec.get("outcomes") or []):
        slug = out.get("measure") or measure_slug_for(out["measure_as_stated"])
        measure = measures.get(slug) or measures[GENERIC_MEASURE]
        fields = {
            k: out.get(k)
            for k in (
                "timepoint", "baseline", "baseline_sd", "final", "mean_change", "sd", "sd_of",
                "n", "percent_improvement", "responders", "responders_n", "responders_percent",
                "value_as_stated", "ci_as_stated", "categories_as_stated", "p_value_as_stated",
                "p_vs_baseline_as_stated", "direction_as_stated",
            )
        }  # fmt: skip
        session.add(
            OutcomeMeasurement(
                study_id=study.id,
                arm_id=arm_ids[out["arm"]] if out.get("arm") is not None else None,
                measure_id=measure.id or 0,
                measure_as_stated=out["measure_as_stated"].strip(),
                position=pos,
                **fields,
            )
        )
    for pos, ev in enumerate(rec.get("adverse_events") or []):
        session.add(
            StudyAdverseEvent(
                study_id=study.id,
                arm_id=arm_ids[ev["arm"]] if ev.get("arm") is not None else None,
                position=pos,
                event=ev["event"],
                event_as_stated=ev.get("event_as_stated") or None,
                scope_as_stated=ev.get("scope_as_stated") or None,
                events=ev.get("events"),
                n=ev.get("n"),
                percent=ev.get("percent"),
            )
        )
    session.flush()
    after = study_record(session, study)
    if before != after:
        record_revision(
            session,
            study,
            user_id=user_id,
            action=action or (ExtractionAction.CREATE if before is None else ExtractionAction.EDIT),
            before=before,
            after=after,
        )
    return study


def _delete_rows(session: Session, study: Study) -> None:
    """Remove a study's arms, outcomes and adverse events (before writing new ones)."""
    for model in (OutcomeMeasurement, StudyAdverseEvent, StudyArm):
        for row in session.exec(select(model).where(model.study_id == study.id)):
            session.delete(row)
    session.flush()


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Return the top-level fields that differ between two study records."""
    if before is None or after is None:
        return sorted((after or before or {}).keys())
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def record_revision(
    session: Session,
    study: Study,
    *,
    user_id: int | None,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ExtractionRevision:
    """Append one entry to the study's history."""
    assert study.id is not None
    fields = changed_fields(before, after)
    revision = ExtractionRevision(
        study_id=study.id,
        citation_id=study.citation_id,
        user_id=user_id,
        action=action,
        summary=", ".join(fields) if action == ExtractionAction.EDIT else action,
        before=json.dumps(before, sort_keys=True) if before is not None else None,
        after=json.dumps(after, sort_keys=True) if after is not None else None,
    )
    session.add(revision)
    return revision


def verify_study(session: Session, study: Study, *, user_id: int) -> None:
    """Mark a study verified by a second curator (never by the one who last extracted it)."""
    if study.verified_at is not None:
        raise ExtractionError([("verify", "this extraction is already verified")])
    authors = {study.created_by_id, study.updated_by_id} - {None}
    if user_id in authors:
        raise ExtractionError(
            [("verify", "a curator cannot verify their own extraction: ask a second curator")]
        )
    study.verified_by_id = user_id
    study.verified_at = utcnow()
    record_revision(
        session, study, user_id=user_id, action=ExtractionAction.VERIFY, before=None, after=None
    )
    session.flush()


def record_from_source(rec: dict[str, Any]) -> dict[str, Any]:
    """Turn one study-outcomes.json record into a study record (no value computed)."""
    treatments_known = set(_catalogue_slugs())
    arms = []
    for arm in rec["arms"]:
        slug = arm.get("treatment")
        arms.append(
            {
                "treatment": slug if slug in treatments_known else None,
                "comparator_label": None if slug in treatments_known else slug,
                "label": arm.get("label"),
                "co_intervention": arm.get("co_intervention"),
                "sessions": arm.get("sessions"),
                "interval_weeks": arm.get("interval_weeks"),
                "interval_as_stated": arm.get("interval_as_stated"),
                "n": arm.get("n"),
            }
        )
    outcomes = []
    for out in rec["outcomes"]:
        per_arm = out["per_arm"] or [{"arm": None}]
        for value in per_arm:
            categories = value.get("categories_percent") or value.get("categories_n")
            cat_text = None
            if categories:
                unit = "%" if value.get("categories_percent") else " patients"
                cat_text = json.dumps({k: f"{v}{unit}" for k, v in categories.items()})
            outcomes.append(
                {
                    "arm": value.get("arm"),
                    "measure_as_stated": out["measure"],
                    "timepoint": out.get("timepoint"),
                    "baseline": value.get("baseline"),
                    "baseline_sd": value.get("baseline_sd"),
                    "final": value.get("final"),
                    "mean_change": value.get("mean_change"),
                    "sd": value.get("sd"),
                    "sd_of": None,
                    "n": None,
                    "percent_improvement": value.get("percent_improvement"),
                    # The source's "responders" is a percent and "responders_n" a count.
                    "responders": value.get("responders_n"),
                    "responders_n": out.get("responders_denominator"),
                    "responders_percent": value.get("responders"),
                    "value_as_stated": value.get("value_as_stated")
                    or out.get("overall_value_as_stated"),
                    "ci_as_stated": value.get("ci_95_as_stated"),
                    "categories_as_stated": cat_text,
                    "p_value_as_stated": value.get("p_value") or out.get("p_value"),
                    "p_vs_baseline_as_stated": value.get("p_vs_baseline"),
                    "direction_as_stated": out.get("direction"),
                }
            )
    events = []
    for ev in rec["adverse_events"]:
        for value in ev["per_arm"]:
            events.append(
                {
                    "arm": value.get("arm"),
                    "event": event_kind_for(ev["event"]),
                    "event_as_stated": ev.get("label") or ev["event"],
                    "scope_as_stated": value.get("scope"),
                    "events": value.get("events"),
                    "n": value.get("n"),
                    "percent": value.get("percent"),
                }
            )
    note = rec.get("design_note")
    return {
        "design": rec["design"],
        "design_note": note,
        "split_face": paired_from(rec["design"], note),
        "randomised": randomised_from(rec["design"], note),
        "blinded": blinded_from(note),
        "indication": rec.get("indication"),
        "indication_note": rec.get("indication_note"),
        "fitzpatrick_types": rec.get("fitzpatrick_types"),
        "n_enrolled": rec.get("n_enrolled"),
        "n_analysed": rec.get("n_analysed"),
        "downtime_days": rec.get("downtime_days"),
        "downtime_note": rec.get("downtime_note"),
        "adverse_events_note": rec.get("adverse_events_note"),
        "outcomes_note": "; ".join(x for x in (rec.get("outcomes_note"), rec.get("arms_note")) if x)
        or None,
        "notes": rec.get("title_note"),
        "source_url": rec.get("source_url"),
        "extra_sources": rec.get("extra_sources") or [],
        "checked_on": rec.get("checked_on"),
        "arms": arms,
        "outcomes": outcomes,
        "adverse_events": events,
    }


def _catalogue_slugs() -> list[str]:
    """Return the catalogue's treatment slugs."""
    from evidence.catalogue import TREATMENTS

    return [str(t["slug"]) for t in TREATMENTS]
