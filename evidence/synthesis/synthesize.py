"""What the studies found, per outcome: head-to-head pooled effects, or each treatment's own rates.

Entry points: `head_to_head(studies, first, second, indication)` pools every outcome that studies
comparing the two treatments report (risk ratio with risk difference for dichotomous outcomes,
mean difference for continuous ones on the same measure); `single_arm(studies, treatment,
indication)` pools each treatment's own arms (proportions by Fitzpatrick group; mean change),
marked indirect. Retracted studies are left out and every result says so. Each result carries its
GRADE certainty with the rule behind every step.

Per study, one time point per measure enters: the first one extracted (the others are listed in
the notes). An event count missing but stated as a percentage of a known n is taken as
round(percent x n / 100) when that count reproduces the stated percentage, and marked derived.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evidence.synthesis.effects import (
    SPLIT_FACE_RULE,
    ZERO_RULE,
    StudyEffect,
    log_risk_ratio,
    logit_proportion,
    mean_difference,
    risk_difference,
)
from evidence.synthesis.grade import Certainty, DesignFacts, grade
from evidence.synthesis.model import CONTINUOUS, DICHOTOMOUS, Arm, ArmValue, Outcome, Study
from evidence.synthesis.pooling import Pooled, pool
from evidence.synthesis.proportions import (
    TRANSFORM_RULE,
    ArmEvents,
    expit,
    pool_proportion,
    skin_group,
)

DEFAULT_METHOD = "REML"


@dataclass(frozen=True)
class StudyRef:
    """A study behind a result, enough to link to it and mark it."""

    key: str
    label: str
    pmid: str | None
    citation_id: int | None
    verified: bool
    design: str


@dataclass(frozen=True)
class Finding:
    """One outcome's result for a comparison (or one treatment), ready to show and to serve."""

    measure: str
    label: str
    kind: str
    effect_type: str  # "RR", "MD", "proportion", "mean change"
    lower_is_better: bool
    adverse: bool
    treatments: tuple[str, ...]
    head_to_head: bool
    group: str  # Fitzpatrick group for proportions ("all", "I-III", "IV-VI")
    pooled: Pooled  # on the analysis scale (log for RR, logit for proportions)
    estimate: float | None  # on the natural scale
    ci_low: float | None
    ci_high: float | None
    pi_low: float | None
    pi_high: float | None
    null_value: float | None
    log_scale: bool
    risk_difference: Pooled | None
    control_risk: float | None  # comparator arms' events / n, for absolute effects
    studies: tuple[StudyRef, ...]
    participants: int
    certainty: Certainty
    notes: tuple[str, ...]

    @property
    def slug(self) -> str:
        """Return a URL-safe key of this finding (measure and group)."""
        return self.measure if self.group == "all" else f"{self.measure}~{self.group}"

    @property
    def unverified(self) -> int:
        """Return how many of the studies behind this finding are not yet verified."""
        return sum(1 for s in self.studies if not s.verified)


def kept_studies(studies: Iterable[Study]) -> tuple[list[Study], list[str]]:
    """Drop retracted studies and return the rest with a note naming what was left out."""
    kept, notes = [], []
    dropped = []
    for study in studies:
        if study.retracted:
            dropped.append(study.label)
        else:
            kept.append(study)
    if dropped:
        notes.append(f"Retracted, left out: {', '.join(dropped)}.")
    return kept, notes


def arm_n(study: Study, arm: Arm, value: ArmValue | None) -> int | None:
    """Return an arm's analysed n: the value's, else the arm's, else (split-face) all persons."""
    if value is not None and value.n:
        return value.n
    if arm.n:
        return arm.n
    if study.split_face and study.participants:
        return study.participants
    return None


def arm_events(value: ArmValue, n: int | None) -> tuple[int | None, str]:
    """Return an arm's event count and a note when it was derived from a stated percentage."""
    if value.events is not None:
        if n and not 0 <= value.events <= n:
            return None, f"{value.events} events of {n} is impossible"
        return value.events, ""
    if value.percent is None or not n:
        return None, ""
    events = round(value.percent * n / 100)
    if abs(100 * events / n - value.percent) > 0.51:
        return None, f"{value.percent}% of {n} is no whole count"
    return events, f"{events}/{n} derived from the stated {value.percent:g}%"


def _ref(study: Study) -> StudyRef:
    """Return the reference to a study shown beside a result."""
    return StudyRef(
        study.key, study.label, study.pmid, study.citation_id, study.verified, study.design
    )


def _design(study: Study) -> DesignFacts:
    """Return the design facts GRADE reads from a study."""
    return DesignFacts(study.label, study.randomized, study.blinded, study.indirect_note)


def _grade_pooled(
    studies: Sequence[Study], result: Pooled, *, dichotomous: bool, head_to_head: bool
) -> Certainty:
    """Grade a pooled difference (no effect at 0 on its scale: log ratio or mean difference)."""
    return grade(
        designs=[_design(s) for s in studies],
        i2=result.i2,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        null_value=0.0,
        dichotomous=dichotomous,
        participants=result.participants,
        head_to_head=head_to_head,
    )


def _value(outcome: Outcome, arm: int) -> ArmValue | None:
    """Return an outcome's value for one arm, if extracted."""
    return next((v for v in outcome.values if v.arm == arm), None)


def _first_per_measure(study: Study) -> tuple[dict[str, Outcome], list[str]]:
    """Return each measure's first extracted time point and notes on the time points left aside."""
    chosen: dict[str, Outcome] = {}
    notes = []
    for outcome in study.outcomes:
        if outcome.measure in chosen:
            notes.append(
                f"{study.label}, {outcome.label}: time point '{outcome.timepoint}' not used "
                f"(first extracted: '{chosen[outcome.measure].timepoint}')."
            )
            continue
        chosen[outcome.measure] = outcome
    return chosen, notes


def _continuous_basis(
    v1: ArmValue, v2: ArmValue
) -> tuple[float, float, float | None, float | None]:
    """Return (mean1, mean2, sd1, sd2) on a basis both arms share: change, else final values."""
    if v1.change is not None and v2.change is not None:
        return (
            v1.change,
            v2.change,
            v1.sd if v1.sd_of == "change" else None,
            v2.sd if v2.sd_of == "change" else None,
        )
    assert v1.final is not None and v2.final is not None
    return (
        v1.final,
        v2.final,
        v1.sd if v1.sd_of in ("final", None) else None,
        v2.sd if v2.sd_of in ("final", None) else None,
    )


def head_to_head(
    studies: Iterable[Study],
    first: str,
    second: str,
    indication: str | None,
    *,
    method: str = DEFAULT_METHOD,
) -> list[Finding]:
    """Pool every outcome reported by studies with an arm of each treatment (first vs second)."""
    kept, base_notes = kept_studies(studies)
    groups: dict[str, list[tuple[Study, Outcome, Arm, Arm]]] = defaultdict(list)
    time_notes: dict[str, list[str]] = defaultdict(list)
    for study in kept:
        if indication and study.indication != indication:
            continue
        a1 = next((a for a in study.arms if a.treatment == first), None)
        a2 = next((a for a in study.arms if a.treatment == second), None)
        if a1 is None or a2 is None:
            continue
        chosen, notes = _first_per_measure(study)
        for measure, outcome in chosen.items():
            if _value(outcome, a1.index) is None or _value(outcome, a2.index) is None:
                continue
            groups[measure].append((study, outcome, a1, a2))
        for note in notes:
            time_notes[note.split(",")[0]].append(note)
    findings = []
    for _measure, entries in groups.items():
        findings.append(_pair_finding(entries, (first, second), method, base_notes, time_notes))
    return sorted(findings, key=lambda f: (f.adverse, f.label))


def _pair_finding(
    entries: Sequence[tuple[Study, Outcome, Arm, Arm]],
    treatments: tuple[str, str],
    method: str,
    base_notes: list[str],
    time_notes: dict[str, list[str]],
) -> Finding:
    """Pool one measure across head-to-head studies into a Finding."""
    outcome0 = entries[0][1]
    notes = list(base_notes)
    effects: list[StudyEffect] = []
    rd_effects: list[StudyEffect] = []
    control_events = control_n = 0
    participants_by_study: dict[str, int] = {}
    for study, outcome, a1, a2 in entries:
        v1, v2 = _value(outcome, a1.index), _value(outcome, a2.index)
        assert v1 is not None and v2 is not None
        n1, n2 = arm_n(study, a1, v1), arm_n(study, a2, v2)
        notes.extend(time_notes.get(study.label, []))
        if study.split_face:
            notes.append(SPLIT_FACE_RULE)
        if outcome0.kind == DICHOTOMOUS:
            e1, note1 = arm_events(v1, n1)
            e2, note2 = arm_events(v2, n2)
            derived = "; ".join(x for x in (note1, note2) if x)
            if e1 is None or e2 is None or not n1 or not n2:
                missing = StudyEffect(
                    study.key, study.label, None, None, None,
                    excluded=derived or "events or n not reported",
                )  # fmt: skip
                effects.append(missing)
                rd_effects.append(missing)
                continue
            rr = log_risk_ratio(
                key=study.key, label=study.label, events1=e1, n1=n1, events2=e2, n2=n2
            )
            rd = risk_difference(
                key=study.key, label=study.label, events1=e1, n1=n1, events2=e2, n2=n2
            )
            persons = max(n1, n2) if study.split_face else n1 + n2
            effects.append(_with(rr, derived, persons))
            rd_effects.append(_with(rd, derived, persons))
            if rr.estimable:
                control_events += e2
                control_n += n2
            participants_by_study[study.key] = persons
        else:
            basis_ok = (v1.change is not None and v2.change is not None) or (
                v1.final is not None and v2.final is not None
            )
            if not basis_ok or not n1 or not n2:
                effects.append(
                    StudyEffect(
                        study.key,
                        study.label,
                        None,
                        None,
                        None,
                        excluded="no means on a shared basis (final or change) or n missing",
                    )  # fmt: skip
                )
                continue
            m1, m2, sd1, sd2 = _continuous_basis(v1, v2)
            md = mean_difference(
                key=study.key, label=study.label, mean1=m1, sd1=sd1, n1=n1,
                mean2=m2, sd2=sd2, n2=n2, paired=study.split_face,
            )  # fmt: skip
            effects.append(md)
            participants_by_study[study.key] = md.participants or 0
    result = pool(effects, method=method)
    dichotomous = outcome0.kind == DICHOTOMOUS
    if dichotomous:
        notes.append(ZERO_RULE)
    rd_result = pool(rd_effects, method=method) if dichotomous else None
    log_scale = dichotomous
    studies = [e[0] for e in entries]
    # Persons in the studies behind the result, pooled or not (GRADE reads the pooled count).
    participants = sum(participants_by_study.values())
    certainty = _grade_pooled(studies, result, dichotomous=dichotomous, head_to_head=True)
    if not result.pooled and result.k == 0:
        md_only = next((e for e in effects if e.yi is not None), None)
        if md_only is not None:
            notes.append(
                f"{md_only.label}: difference {md_only.yi:+.2f} without interval "
                f"({md_only.excluded})."
            )
    return Finding(
        measure=outcome0.measure,
        label=outcome0.label,
        kind=outcome0.kind,
        effect_type="RR" if dichotomous else "MD",
        lower_is_better=outcome0.lower_is_better,
        adverse=outcome0.adverse,
        treatments=treatments,
        head_to_head=True,
        group="all",
        pooled=result,
        estimate=_back(result.estimate, log_scale),
        ci_low=_back(result.ci_low, log_scale),
        ci_high=_back(result.ci_high, log_scale),
        pi_low=_back(result.pi_low, log_scale),
        pi_high=_back(result.pi_high, log_scale),
        null_value=1.0 if dichotomous else 0.0,
        log_scale=log_scale,
        risk_difference=rd_result,
        control_risk=control_events / control_n if control_n else None,
        studies=tuple(_ref(s) for s in studies),
        participants=participants,
        certainty=certainty,
        notes=tuple(dict.fromkeys(notes + list(result.notes))),
    )


def _with(effect: StudyEffect, note: str, persons: int) -> StudyEffect:
    """Return the effect with a derivation note added and participants counted as persons."""
    joined = "; ".join(x for x in (effect.note, note) if x)
    return StudyEffect(
        effect.key, effect.label, effect.yi, effect.vi, persons, joined, effect.excluded
    )


def _back(value: float | None, log_scale: bool) -> float | None:
    """Return a value on the natural scale (exp for log-scale measures)."""
    if value is None:
        return None
    return math.exp(value) if log_scale else value


def single_arm(
    studies: Iterable[Study],
    treatment: str,
    indication: str | None,
    *,
    method: str = DEFAULT_METHOD,
) -> list[Finding]:
    """Pool a treatment's own arms per outcome: proportions by skin group, mean change; indirect."""
    kept, base_notes = kept_studies(studies)
    groups: dict[str, list[tuple[Study, Outcome, Arm, ArmValue]]] = defaultdict(list)
    for study in kept:
        if indication and study.indication != indication:
            continue
        chosen, _notes = _first_per_measure(study)
        for arm in study.arms:
            if arm.treatment != treatment:
                continue
            for measure, outcome in chosen.items():
                value = _value(outcome, arm.index)
                if value is not None:
                    groups[measure].append((study, outcome, arm, value))
    findings: list[Finding] = []
    for _measure, entries in groups.items():
        if entries[0][1].kind == DICHOTOMOUS:
            findings.extend(_proportion_findings(entries, treatment, base_notes))
        else:
            findings.append(_change_finding(entries, treatment, method, base_notes))
    return sorted(findings, key=lambda f: (f.adverse, f.label, f.group))


def _proportion_findings(
    entries: Sequence[tuple[Study, Outcome, Arm, ArmValue]],
    treatment: str,
    base_notes: list[str],
) -> list[Finding]:
    """Return one treatment's pooled proportion of an outcome, overall and by skin group."""
    arms: list[tuple[Study, ArmEvents]] = []
    notes = list(base_notes)
    outcome0 = entries[0][1]
    for study, _outcome, arm, value in entries:
        n = arm_n(study, arm, value)
        events, note = arm_events(value, n)
        if events is None or not n:
            notes.append(f"{study.label}: {note or 'events or n not reported'}, not pooled.")
            continue
        if note:
            notes.append(f"{study.label}: {note}.")
        key = (
            study.key
            if sum(1 for s, *_ in entries if s.key == study.key) == 1
            else (f"{study.key}-{arm.index}")
        )
        arms.append((study, ArmEvents(key, study.label, events, n, study.fitzpatrick)))
    findings = []
    for group in ("all", "I-III", "IV-VI"):
        members = [(s, a) for s, a in arms if group == "all" or skin_group(a.fitzpatrick) == group]
        if group != "all" and not members:
            continue
        result = pool_proportion([a for _s, a in members], group=group)
        analysis = pool(
            [
                logit_proportion(key=a.key, label=a.label, events=a.events, n=a.n)
                for _s, a in members
            ],
            method="REML",
        )
        studies = list(dict.fromkeys(s for s, _a in members).keys()) if members else []
        certainty = grade(
            designs=[_design(s) for s in studies],
            i2=analysis.i2,
            ci_low=result.low,
            ci_high=result.high,
            null_value=None,
            dichotomous=True,
            participants=result.n,
            head_to_head=False,
        )
        group_note = (
            []
            if group == "all"
            else [f"Fitzpatrick {group}: studies enrolling only types {group}."]
        )
        findings.append(
            Finding(
                measure=outcome0.measure,
                label=outcome0.label,
                kind=DICHOTOMOUS,
                effect_type="proportion",
                lower_is_better=outcome0.lower_is_better,
                adverse=outcome0.adverse,
                treatments=(treatment,),
                head_to_head=False,
                group=group,
                pooled=analysis,
                estimate=result.rate,
                ci_low=result.low,
                ci_high=result.high,
                pi_low=_expit(analysis.pi_low),
                pi_high=_expit(analysis.pi_high),
                null_value=None,
                log_scale=False,
                risk_difference=None,
                control_risk=None,
                studies=tuple(_ref(s) for s in studies),
                participants=result.n,
                certainty=certainty,
                notes=tuple(dict.fromkeys(notes + group_note + [TRANSFORM_RULE, result.note])),
            )
        )
    return findings


def _expit(value: float | None) -> float | None:
    """Return expit of a logit, passing None through."""
    return None if value is None else expit(value)


def _change_finding(
    entries: Sequence[tuple[Study, Outcome, Arm, ArmValue]],
    treatment: str,
    method: str,
    base_notes: list[str],
) -> Finding:
    """Return one treatment's pooled mean change on one measure (change and its SD needed)."""
    outcome0 = entries[0][1]
    effects = []
    for study, _outcome, arm, value in entries:
        n = arm_n(study, arm, value)
        key = f"{study.key}-{arm.index}"
        change = value.change
        if change is None and value.final is not None and value.baseline is not None:
            change = value.final - value.baseline
        if change is None or not n:
            effects.append(
                StudyEffect(key, study.label, None, None, n, excluded="no change or n reported")
            )
        elif value.sd is None or value.sd_of != "change":
            effects.append(
                StudyEffect(
                    key,
                    study.label,
                    change,
                    None,
                    n,
                    excluded="SD of the change not reported",
                )  # fmt: skip
            )
        else:
            effects.append(StudyEffect(key, study.label, change, value.sd**2 / n, n))
    result = pool(effects, method=method)
    studies = list(dict.fromkeys(e[0] for e in entries))
    certainty = _grade_pooled(studies, result, dichotomous=False, head_to_head=False)
    return Finding(
        measure=outcome0.measure,
        label=outcome0.label,
        kind=CONTINUOUS,
        effect_type="mean change",
        lower_is_better=outcome0.lower_is_better,
        adverse=outcome0.adverse,
        treatments=(treatment,),
        head_to_head=False,
        group="all",
        pooled=result,
        estimate=result.estimate,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        pi_low=result.pi_low,
        pi_high=result.pi_high,
        null_value=0.0,
        log_scale=False,
        risk_difference=None,
        control_risk=None,
        studies=tuple(_ref(s) for s in studies),
        # Persons in the arms behind the result, pooled or not.
        participants=sum(e.participants or 0 for e in effects),
        certainty=certainty,
        notes=tuple(dict.fromkeys(base_notes + list(result.notes))),
    )
