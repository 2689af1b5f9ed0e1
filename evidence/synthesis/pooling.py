"""Inverse-variance pooling: fixed effect and random effects (REML, DerSimonian-Laird, PM).

From statsmodels (`combine_effects`): the fixed-effect estimate, Cochran's Q, the
DerSimonian-Laird and Paule-Mandel ("iterated") tau². Written here because statsmodels'
meta_analysis module does not provide them: the REML tau² (maximised with scipy), the Q
p value (chi-square, k-1 df, scipy), I² as metafor reports it (tau² / (tau² + s²), s² the
"typical" within-study variance; for DL this equals Higgins' (Q - df) / Q), and the
prediction interval of Higgins, Thompson & Spiegelhalter (2009): mu ± t(k-2) sqrt(tau² + se²),
given only when there are at least 3 studies. A negative DL moment estimate is truncated to 0,
as metafor does. One estimable study: no pooling, its own estimate and interval are returned and
the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from evidence.synthesis.effects import StudyEffect

Z95 = float(stats.norm.isf(0.025))
METHODS = {
    "REML": "random effects, restricted maximum likelihood tau²",
    "DL": "random effects, DerSimonian-Laird tau²",
    "PM": "random effects, Paule-Mandel tau²",
    "FE": "fixed effect (inverse variance)",
}


@dataclass(frozen=True)
class StudyRow:
    """One study as it enters (or stays out of) the pooled result: effect, interval, weight."""

    key: str
    label: str
    yi: float | None
    ci_low: float | None
    ci_high: float | None
    weight: float | None  # percent of the random-effects (or fixed-effect) weight
    participants: int | None
    note: str
    excluded: str


@dataclass(frozen=True)
class Pooled:
    """A pooled estimate on the analysis scale (log scale for ratios, logit for proportions)."""

    method: str
    k: int
    pooled: bool  # False when fewer than two studies could be pooled
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    fe_estimate: float | None
    fe_ci_low: float | None
    fe_ci_high: float | None
    tau2: float | None
    i2: float | None  # percent
    q: float | None
    q_df: int | None
    q_p: float | None
    pi_low: float | None
    pi_high: float | None
    participants: int
    rows: tuple[StudyRow, ...]
    notes: tuple[str, ...] = field(default=())


def reml_tau2(yi: np.ndarray, vi: np.ndarray) -> float:
    """Return the REML tau² (statsmodels has none) by maximising the restricted likelihood."""

    def negative_restricted_loglik(tau2: float) -> float:
        w = 1.0 / (vi + tau2)
        mu = float(np.sum(w * yi) / np.sum(w))
        return 0.5 * float(
            np.sum(np.log(vi + tau2)) + math.log(np.sum(w)) + np.sum(w * (yi - mu) ** 2)
        )

    upper = max(10.0 * float(np.var(yi)) + float(np.max(vi)), 1e-8)
    found = optimize.minimize_scalar(
        negative_restricted_loglik,
        bounds=(0.0, upper),
        method="bounded",
        options={"xatol": 1e-12, "maxiter": 1000},
    )
    tau2 = float(found.x)
    # The bounded search never lands exactly on 0: take the boundary when it is at least as good.
    if negative_restricted_loglik(0.0) <= negative_restricted_loglik(tau2):
        return 0.0
    return tau2


def _tau2(method: str, yi: np.ndarray, vi: np.ndarray) -> float:
    """Return tau² by the named method, truncated at 0."""
    if method == "FE":
        return 0.0
    if method == "REML":
        return reml_tau2(yi, vi)
    res = _combine(yi, vi, "dl" if method == "DL" else "iterated")
    return max(float(res.tau2), 0.0)


def _combine(yi: np.ndarray, vi: np.ndarray, method_re: str) -> Any:
    """Run statsmodels' combine_effects, tolerating its untruncated negative DL tau²."""
    # statsmodels does not truncate the DL moment estimate at 0, so its own random-effects
    # part can take the square root of a negative variance; we read only tau² (truncated
    # above), the fixed-effect estimate and Q from it.
    with np.errstate(invalid="ignore"):
        return combine_effects(yi, vi, method_re=method_re)


def pool(effects: Sequence[StudyEffect], *, method: str = "REML") -> Pooled:
    """Pool effects by inverse variance with tau², I², Q and its p, and a prediction interval."""
    if method not in METHODS:
        raise ValueError(f"unknown pooling method {method!r}; use one of {', '.join(METHODS)}")
    usable = [e for e in effects if e.estimable]
    notes: list[str] = []
    left_out = [e for e in effects if not e.estimable]
    if left_out:
        notes.append(
            "Not pooled: "
            + "; ".join(f"{e.label} ({e.excluded or 'no variance'})" for e in left_out)
            + "."
        )
    participants = sum(e.participants or 0 for e in usable)
    if len(usable) < 2:
        return _single(usable, effects, method, participants, notes)

    yi = np.array([e.yi for e in usable], dtype=float)
    vi = np.array([e.vi for e in usable], dtype=float)
    k = len(usable)
    fe = _combine(yi, vi, "dl")
    q = float(fe.q)
    tau2 = _tau2(method, yi, vi)
    w = 1.0 / (vi + tau2)
    mu = float(np.sum(w * yi) / np.sum(w))
    se = math.sqrt(1.0 / float(np.sum(w)))
    w_fixed = 1.0 / vi
    typical = (
        (k - 1) * float(np.sum(w_fixed)) / (float(np.sum(w_fixed)) ** 2 - float(np.sum(w_fixed**2)))
    )
    i2 = 100.0 * tau2 / (tau2 + typical) if method != "FE" else max(0.0, 100.0 * (q - (k - 1)) / q)
    pi_low = pi_high = None
    if k >= 3 and method != "FE":
        half = float(stats.t.isf(0.025, k - 2)) * math.sqrt(tau2 + se**2)
        pi_low, pi_high = mu - half, mu + half
    else:
        notes.append(
            "No prediction interval: it needs at least 3 studies (t with k-2 df)."
            if method != "FE"
            else "No prediction interval under a fixed-effect model."
        )
    weights = {e.key: 100.0 * wi / float(np.sum(w)) for e, wi in zip(usable, w, strict=True)}
    return Pooled(
        method=method,
        k=k,
        pooled=True,
        estimate=mu,
        se=se,
        ci_low=mu - Z95 * se,
        ci_high=mu + Z95 * se,
        fe_estimate=float(fe.mean_effect_fe),
        fe_ci_low=float(fe.mean_effect_fe - Z95 * fe.sd_eff_w_fe),
        fe_ci_high=float(fe.mean_effect_fe + Z95 * fe.sd_eff_w_fe),
        tau2=tau2,
        i2=i2,
        q=q,
        q_df=k - 1,
        q_p=float(stats.chi2.sf(q, k - 1)),
        pi_low=pi_low,
        pi_high=pi_high,
        participants=participants,
        rows=_rows(effects, weights),
        notes=tuple(notes),
    )


def _rows(effects: Sequence[StudyEffect], weights: dict[str, float]) -> tuple[StudyRow, ...]:
    """Return every study's row: its own estimate and 95% interval, and its weight if pooled."""
    rows = []
    for e in effects:
        low = high = None
        if e.estimable:
            assert e.yi is not None and e.vi is not None
            half = Z95 * math.sqrt(e.vi)
            low, high = e.yi - half, e.yi + half
        rows.append(
            StudyRow(
                key=e.key,
                label=e.label,
                yi=e.yi,
                ci_low=low,
                ci_high=high,
                weight=weights.get(e.key),
                participants=e.participants,
                note=e.note,
                excluded=e.excluded,
            )
        )
    return tuple(rows)


def _single(
    usable: list[StudyEffect],
    effects: Sequence[StudyEffect],
    method: str,
    participants: int,
    notes: list[str],
) -> Pooled:
    """Return the no-pooling result: one study's own estimate, or nothing, and say so."""
    if not usable:
        notes.append("No study could be pooled.")
        return Pooled(
            method, 0, False, None, None, None, None, None, None, None, None, None, None,
            None, None, None, None, participants, _rows(effects, {}), tuple(notes),
        )  # fmt: skip
    only = usable[0]
    assert only.yi is not None and only.vi is not None
    se = math.sqrt(only.vi)
    notes.append(
        f"One study only ({only.label}): no pooling; its own estimate and 95% interval are shown, "
        "with no heterogeneity or prediction interval."
    )
    low, high = only.yi - Z95 * se, only.yi + Z95 * se
    return Pooled(
        method=method,
        k=1,
        pooled=False,
        estimate=only.yi,
        se=se,
        ci_low=low,
        ci_high=high,
        fe_estimate=only.yi,
        fe_ci_low=low,
        fe_ci_high=high,
        tau2=None,
        i2=None,
        q=None,
        q_df=None,
        q_p=None,
        pi_low=None,
        pi_high=None,
        participants=participants,
        rows=_rows(effects, {only.key: 100.0}),
        notes=tuple(notes),
    )
