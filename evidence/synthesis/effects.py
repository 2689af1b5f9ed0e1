"""Per-study effect sizes on their analysis scale (log RR, RD, MD, Hedges' g, logit proportion).

Dichotomous effects go through `statsmodels.stats.meta_analysis.effectsize_2proportions` and
continuous standardised ones through `effectsize_smd`; this module only adds the rules that
decide *which* numbers enter (continuity correction, both-zero exclusion, split-face pairing).

Zero events: a study with a zero cell (0 events, or events equal to n, in one arm) gets 0.5 added
to every cell of its 2x2 table (the Cochrane/metafor default); a study with no events in either
arm (or all events in both) says nothing about a ratio and is excluded, and the result says so.

Split-face (within-person) designs: each person is their own control, so the two sides are
correlated. Abstracts do not report that within-person correlation (nor, for dichotomous outcomes,
the discordant pairs), so the paired standard error cannot be computed exactly. We treat the two
sides as parallel arms of n persons each (correlation 0). Because within-person correlation is
positive in practice, this overstates the variance: the study's interval is wider and its weight
smaller than a paired analysis would give, which is the conservative direction. A stated
correlation can be passed to `mean_difference` (``within_person_r``) to use the paired formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.meta_analysis import effectsize_2proportions, effectsize_smd

CONTINUITY = 0.5
SPLIT_FACE_RULE = (
    "Split-face (within-person) studies are analysed as two parallel arms of n persons each: "
    "abstracts do not report the within-person correlation, so the exact paired standard error "
    "cannot be computed; ignoring the (positive) correlation widens that study's interval and "
    "lowers its weight, the conservative direction."
)
ZERO_RULE = (
    f"Arms with zero events (or all events) get {CONTINUITY} added to every cell of that "
    "study's 2x2 table; studies with no events in either arm are left out of ratio measures."
)


@dataclass(frozen=True)
class StudyEffect:
    """One study's effect on the analysis scale, with its variance and provenance."""

    key: str
    label: str
    yi: float | None
    vi: float | None
    participants: int | None
    note: str = ""
    excluded: str = ""  # why this study cannot enter the pooling; empty when it can

    @property
    def estimable(self) -> bool:
        """Whether this study has an effect and a positive variance to pool."""
        return (
            not self.excluded
            and self.yi is not None
            and self.vi is not None
            and math.isfinite(self.yi)
            and math.isfinite(self.vi)
            and self.vi > 0
        )


def _two_by_two(
    events1: int, n1: int, events2: int, n2: int, statistic: str
) -> tuple[float, float, str]:
    """Return (effect, variance, note) for one 2x2 table, applying the stated 0.5 correction."""
    zero = events1 in (0, n1) or events2 in (0, n2)
    if zero and statistic != "diff":
        # effectsize_2proportions adds its correction to the counts and twice to n, i.e. to
        # every cell of the table, only for tables with a zero cell: the metafor "only0" rule.
        eff, var = effectsize_2proportions(
            np.array([events1]),
            np.array([n1]),
            np.array([events2]),
            np.array([n2]),
            statistic=statistic,
            zero_correction=CONTINUITY,
        )
        return float(eff[0]), float(var[0]), f"{CONTINUITY} added to each cell (a zero cell)"
    eff, var = effectsize_2proportions(
        np.array([events1]),
        np.array([n1]),
        np.array([events2]),
        np.array([n2]),
        statistic=statistic,
    )
    return float(eff[0]), float(var[0]), ""


def log_risk_ratio(
    *, key: str, label: str, events1: int, n1: int, events2: int, n2: int
) -> StudyEffect:
    """Return the log risk ratio of arm 1 against arm 2, with the zero-event rules applied."""
    if (events1 == 0 and events2 == 0) or (events1 == n1 and events2 == n2):
        return StudyEffect(
            key, label, None, None, n1 + n2, excluded="no events in either arm (or all events)"
        )
    eff, var, note = _two_by_two(events1, n1, events2, n2, "risk-ratio")
    return StudyEffect(key, label, eff, var, n1 + n2, note)


def risk_difference(
    *, key: str, label: str, events1: int, n1: int, events2: int, n2: int
) -> StudyEffect:
    """Return the risk difference (arm 1 minus arm 2); zero cells get the 0.5 correction."""
    if events1 in (0, n1) or events2 in (0, n2):
        # The Wald variance p(1-p)/n is 0 at p = 0 or 1: the estimate stays the raw difference,
        # its variance is taken from the 0.5-corrected table so the study keeps a finite weight.
        note = f"variance from the table with {CONTINUITY} added to each cell (a zero cell)"
        p1 = (events1 + CONTINUITY) / (n1 + 2 * CONTINUITY)
        p2 = (events2 + CONTINUITY) / (n2 + 2 * CONTINUITY)
        rd = events1 / n1 - events2 / n2
        var = p1 * (1 - p1) / (n1 + 2 * CONTINUITY) + p2 * (1 - p2) / (n2 + 2 * CONTINUITY)
        return StudyEffect(key, label, rd, var, n1 + n2, note)
    eff, var, note = _two_by_two(events1, n1, events2, n2, "diff")
    return StudyEffect(key, label, eff, var, n1 + n2, note)


def mean_difference(
    *,
    key: str,
    label: str,
    mean1: float,
    sd1: float | None,
    n1: int,
    mean2: float,
    sd2: float | None,
    n2: int,
    paired: bool = False,
    within_person_r: float | None = None,
) -> StudyEffect:
    """Return the mean difference (arm 1 minus arm 2) and its variance.

    Parallel arms: var = sd1²/n1 + sd2²/n2. Split-face with a stated correlation r (n persons):
    var = (sd1² + sd2² - 2 r sd1 sd2) / n. Split-face without r: the parallel formula (r = 0),
    see the module docstring. Participants are persons: n for split-face, n1 + n2 otherwise.
    """
    participants = max(n1, n2) if paired else n1 + n2
    md = mean1 - mean2
    if sd1 is None or sd2 is None:
        return StudyEffect(key, label, md, None, participants, excluded="SD not reported")
    if paired and within_person_r is not None:
        n = max(n1, n2)
        var = (sd1**2 + sd2**2 - 2 * within_person_r * sd1 * sd2) / n
        note = f"paired, within-person correlation {within_person_r} (stated)"
    else:
        var = sd1**2 / n1 + sd2**2 / n2
        note = "split-face analysed as parallel arms (correlation 0)" if paired else ""
    return StudyEffect(key, label, md, var, participants, note)


def hedges_g(
    *,
    key: str,
    label: str,
    mean1: float,
    sd1: float | None,
    n1: int,
    mean2: float,
    sd2: float | None,
    n2: int,
    paired: bool = False,
) -> StudyEffect:
    """Return Hedges' g (bias-corrected SMD, arm 1 minus arm 2) from statsmodels' effectsize_smd."""
    participants = max(n1, n2) if paired else n1 + n2
    if sd1 is None or sd2 is None:
        return StudyEffect(key, label, None, None, participants, excluded="SD not reported")
    g, var = effectsize_smd(mean1, sd1, n1, mean2, sd2, n2)
    note = "split-face analysed as parallel arms (correlation 0)" if paired else ""
    return StudyEffect(key, label, float(g), float(var), participants, note)


def logit_proportion(*, key: str, label: str, events: int, n: int) -> StudyEffect:
    """Return the logit of events/n and its variance 1/(x) + 1/(n-x), 0.5-corrected at 0 or n."""
    note = ""
    x, m = float(events), float(n)
    if events in (0, n):
        x, m = x + CONTINUITY, m + 2 * CONTINUITY
        note = f"{CONTINUITY} added (0 or all events)"
    return StudyEffect(key, label, math.log(x / (m - x)), 1 / x + 1 / (m - x), n, note)
