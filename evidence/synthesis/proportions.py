"""Single-arm pooled proportions (e.g. PIH rate per treatment), overall and by Fitzpatrick group.

Each study arm's events/n is logit-transformed (0.5 added when events are 0 or n), pooled by
random effects (REML tau², see pooling.py) and back-transformed: the estimate and its interval are
expit of the pooled logit and its 95% bounds. One arm only: no pooling; its Wilson interval
(statsmodels' proportion_confint) is shown instead. Skin-type groups follow the practice
statistics: a study counts toward I-III when every type it enrolled is I-III, toward IV-VI when
every type is IV-VI; a study spanning both, or not stating types, counts only toward "all".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from statsmodels.stats.proportion import proportion_confint

from evidence.synthesis.effects import logit_proportion
from evidence.synthesis.pooling import Pooled, pool

TRANSFORM_RULE = (
    "Logit transform, random effects (REML), back-transformed; 0.5 added to arms with 0 or all "
    "events; a single arm shows its Wilson 95% interval."
)
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6}
GROUPS = ("all", "I-III", "IV-VI")


@dataclass(frozen=True)
class ArmEvents:
    """One study arm's count of an event: who, how many, out of how many."""

    key: str
    label: str
    events: int
    n: int
    fitzpatrick: str | None = None  # as extracted, e.g. "IV-V" or "I-VI"


@dataclass(frozen=True)
class PooledProportion:
    """A pooled proportion on the natural scale with its interval and the pooling behind it."""

    group: str
    k: int
    events: int
    n: int
    rate: float | None
    low: float | None
    high: float | None
    pooled: Pooled | None
    note: str


def expit(x: float) -> float:
    """Return the inverse logit."""
    return 1.0 / (1.0 + math.exp(-x))


def skin_group(types: str | None) -> str | None:
    """Return "I-III" or "IV-VI" when every stated Fitzpatrick type is in one group, else None."""
    if not types:
        return None
    text = types.replace("–", "-").replace(" ", "").upper()
    parts = text.split("-") if "-" in text else text.split(",")
    try:
        numbers = [ROMAN[p] for p in parts if p]
    except KeyError:
        return None
    if not numbers:
        return None
    low, high = min(numbers), max(numbers)
    if high <= 3:
        return "I-III"
    if low >= 4:
        return "IV-VI"
    return None


def pool_proportion(arms: Sequence[ArmEvents], *, group: str = "all") -> PooledProportion:
    """Pool events/n over arms on the logit scale; one arm gets its Wilson interval."""
    events = sum(a.events for a in arms)
    n = sum(a.n for a in arms)
    if not arms:
        return PooledProportion(group, 0, 0, 0, None, None, None, None, "No study reports this.")
    if len(arms) == 1:
        only = arms[0]
        low, high = proportion_confint(only.events, only.n, alpha=0.05, method="wilson")
        return PooledProportion(
            group,
            1,
            only.events,
            only.n,
            only.events / only.n,
            float(low),
            float(high),
            None,
            f"One study only ({only.label}): no pooling; Wilson 95% interval.",
        )
    effects = [logit_proportion(key=a.key, label=a.label, events=a.events, n=a.n) for a in arms]
    result = pool(effects, method="REML")
    assert result.estimate is not None and result.ci_low is not None and result.ci_high is not None
    return PooledProportion(
        group,
        result.k,
        events,
        n,
        expit(result.estimate),
        expit(result.ci_low),
        expit(result.ci_high),
        result,
        TRANSFORM_RULE,
    )


def pool_by_skin_group(arms: Sequence[ArmEvents]) -> dict[str, PooledProportion]:
    """Return the pooled proportion overall and for Fitzpatrick I-III and IV-VI."""
    return {
        "all": pool_proportion(arms, group="all"),
        "I-III": pool_proportion(
            [a for a in arms if skin_group(a.fitzpatrick) == "I-III"], group="I-III"
        ),
        "IV-VI": pool_proportion(
            [a for a in arms if skin_group(a.fitzpatrick) == "IV-VI"], group="IV-VI"
        ),
    }
