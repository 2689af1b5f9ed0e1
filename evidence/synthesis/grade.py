"""GRADE certainty per outcome, step by step, each step carrying the rule that produced it.

Start high when every study behind the outcome is randomised, low otherwise (observational or
non-randomised comparisons). Rate down one level each for: risk of bias (a study extracted as
not blinded; not being randomised already set the low start), inconsistency (I² above 50%),
imprecision (the 95% interval includes no effect, or fewer than 300 participants for a
dichotomous outcome; two levels when no interval can be computed) and indirectness (no
head-to-head study, or indirectness noted at extraction). Never below very low. Publication bias
is not assessed (too few studies for a funnel plot) and the page says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LEVELS = ("very low", "low", "moderate", "high")
OPTIMAL_INFORMATION_SIZE = 300
I2_THRESHOLD = 50.0

START_RULE = "Start high when every study is randomised; otherwise start low (observational)."
BIAS_RULE = (
    "Risk of bias: rate down 1 when a study is extracted as not blinded (not being randomised "
    "already sets the low start)."
)
INCONSISTENCY_RULE = f"Inconsistency: rate down 1 when I² is above {I2_THRESHOLD:.0f}%."
IMPRECISION_RULE = (
    "Imprecision: rate down 1 when the 95% interval includes no effect, or a dichotomous "
    f"outcome has fewer than {OPTIMAL_INFORMATION_SIZE} participants; rate down 2 when no "
    "interval can be computed."
)
INDIRECTNESS_RULE = (
    "Indirectness: rate down 1 when no study compares the treatments head to head, or "
    "indirectness was noted at extraction."
)
PUBLICATION_BIAS_NOTE = "Publication bias: not assessed (too few studies for a funnel plot)."


@dataclass(frozen=True)
class DesignFacts:
    """What GRADE needs to know about one study's design, as extracted."""

    label: str
    randomized: bool
    blinded: bool | None  # None: not stated in what was extracted
    indirect_note: str = ""


@dataclass(frozen=True)
class GradeStep:
    """One GRADE step: the domain, its rule, what was found, and the change in levels."""

    domain: str
    rule: str
    finding: str
    change: int


@dataclass(frozen=True)
class Certainty:
    """The certainty level reached and every step that led to it."""

    level: str
    steps: tuple[GradeStep, ...]

    @property
    def symbols(self) -> str:
        """Return GRADE's circles: filled for each level reached, open for the rest."""
        filled = LEVELS.index(self.level) + 1
        return "⊕" * filled + "◯" * (4 - filled)


def grade(
    *,
    designs: Sequence[DesignFacts],
    i2: float | None,
    ci_low: float | None,
    ci_high: float | None,
    null_value: float | None,
    dichotomous: bool,
    participants: int,
    head_to_head: bool,
) -> Certainty:
    """Rate the certainty of one outcome's evidence and return each step with its rule."""
    steps: list[GradeStep] = []
    all_randomized = bool(designs) and all(d.randomized for d in designs)
    start = 3 if all_randomized else 1
    not_randomized = [d.label for d in designs if not d.randomized]
    steps.append(
        GradeStep(
            "Start",
            START_RULE,
            "all randomised: high"
            if all_randomized
            else f"not all randomised ({', '.join(not_randomized) or 'no study'}): low",
            0,
        )
    )
    unblinded = [d.label for d in designs if d.blinded is False]
    unstated = [d.label for d in designs if d.blinded is None]
    finding = (
        f"not blinded: {', '.join(unblinded)}" if unblinded else "no study extracted as unblinded"
    )
    if unstated:
        finding += f"; blinding not stated: {', '.join(unstated)}"
    steps.append(GradeStep("Risk of bias", BIAS_RULE, finding, -1 if unblinded else 0))
    if i2 is None:
        steps.append(GradeStep("Inconsistency", INCONSISTENCY_RULE, "one study: not assessable", 0))
    else:
        steps.append(
            GradeStep(
                "Inconsistency",
                INCONSISTENCY_RULE,
                f"I² = {i2:.0f}%",
                -1 if i2 > I2_THRESHOLD else 0,
            )
        )
    reasons = []
    very_serious = ci_low is None or ci_high is None
    if ci_low is None or ci_high is None:
        reasons.append("no interval could be computed (very serious: rate down 2)")
    elif null_value is not None and ci_low <= null_value <= ci_high:
        reasons.append("the interval includes no effect")
    if dichotomous and participants < OPTIMAL_INFORMATION_SIZE:
        reasons.append(f"{participants} participants (< {OPTIMAL_INFORMATION_SIZE})")
    steps.append(
        GradeStep(
            "Imprecision",
            IMPRECISION_RULE,
            "; ".join(reasons) if reasons else "interval excludes no effect",
            -2 if very_serious else -1 if reasons else 0,
        )
    )
    noted = [f"{d.label}: {d.indirect_note}" for d in designs if d.indirect_note]
    indirect = not head_to_head or bool(noted)
    ind_finding = "; ".join(
        (["no head-to-head study (each treatment's own studies)"] if not head_to_head else [])
        + noted
    )
    steps.append(
        GradeStep(
            "Indirectness",
            INDIRECTNESS_RULE,
            ind_finding or "head-to-head, none noted",
            -1 if indirect else 0,
        )
    )
    steps.append(GradeStep("Publication bias", PUBLICATION_BIAS_NOTE, "not assessed", 0))
    level = max(0, start + sum(s.change for s in steps))
    return Certainty(LEVELS[level], tuple(steps))
