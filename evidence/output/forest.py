"""Forest plots of a synthesis finding, on matplotlib's Figure (never pyplot), as SVG or PNG bytes.

One row per study (square sized by its weight, line for its 95% interval, and its estimate,
interval and weight written on the right), the pooled diamond, the prediction interval as its own
row, a line at no effect, and heterogeneity in words for the caption. Ratios are drawn on a log
axis; proportions as percentages. Built from a plain dict (`forest_data`), kept in the shared
cache under its hash, deterministic output, as evidence/output/charts.py does.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from typing import Any

import matplotlib
from flask import has_app_context

matplotlib.use("Agg")  # no display in a server; must precede any other matplotlib import

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # noqa: E402

from evidence.synthesis import Finding  # noqa: E402
from evidence.synthesis.pooling import METHODS  # noqa: E402
from evidence.synthesis.proportions import expit  # noqa: E402
from evidence.web import cache  # noqa: E402

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
WIDTH = 7.2  # inches
ROW = 0.32  # inches per row
BLUE, ORANGE, GREY = "#0072B2", "#D55E00", "#555555"  # Okabe & Ito, as charts.py
EFFECT_NAMES = {
    "RR": "Risk ratio",
    "MD": "Mean difference",
    "proportion": "Proportion",
    "mean change": "Mean change from baseline",
}
_draw_lock = threading.Lock()


def _natural(value: float | None, finding: Finding) -> float | None:
    """Return an analysis-scale value on the scale shown (exp for RR, expit for proportions)."""
    if value is None:
        return None
    if finding.effect_type == "RR":
        return math.exp(value)
    if finding.effect_type == "proportion":
        return expit(value)
    return value


def axis_label(finding: Finding, names: dict[str, str]) -> str:
    """Return the x-axis label: the effect and which way it compares."""
    effect = EFFECT_NAMES.get(finding.effect_type, finding.effect_type)
    if len(finding.treatments) == 2:
        first, second = (names.get(t, t) for t in finding.treatments)
        return f"{effect}, {first} vs {second} ({finding.label})"
    return f"{effect}: {finding.label}, {names.get(finding.treatments[0], finding.treatments[0])}"


def row_studies(finding: Finding) -> dict[str, Any]:
    """Map each plotted row's key to its study (None when no study matches).

    Row keys are a study's key, or "key-arm" for a single arm of a study.
    """
    return {
        r.key: next(
            (s for s in finding.studies if r.key == s.key or r.key.startswith(f"{s.key}-")), None
        )
        for r in finding.pooled.rows
    }


def heterogeneity_text(finding: Finding) -> str:
    """Describe the model and heterogeneity in words (for the caption and the API)."""
    p = finding.pooled
    if not p.pooled:
        if p.k == 1:
            return "One study only: no pooling, so no heterogeneity or prediction interval."
        if any(r.yi is not None for r in p.rows):
            return "No study reports the spread (SD) this needs: differences without intervals."
        return "No study could be pooled."
    q_p = "p < 0.001" if (p.q_p or 0) < 0.001 else f"p = {p.q_p:.3f}"
    return (
        f"{METHODS[p.method].capitalize()}: tau² = {p.tau2:.3f}, I² = {p.i2:.0f}%, "
        f"Q = {p.q:.2f} (df {p.q_df}), {q_p}; {p.k} studies, {p.participants} participants."
    )


def forest_data(finding: Finding, names: dict[str, str]) -> dict[str, Any]:
    """Extract what a forest plot shows from a finding, on the natural scale."""
    rows = []
    for row in finding.pooled.rows:
        rows.append(
            {
                "label": row.label,
                "estimate": _natural(row.yi, finding) if row.ci_low is not None else None,
                "low": _natural(row.ci_low, finding),
                "high": _natural(row.ci_high, finding),
                "weight": row.weight,
                "excluded": row.excluded,
                "raw": row.yi if row.ci_low is None else None,
            }
        )
    return {
        "effect": finding.effect_type,
        "xlabel": axis_label(finding, names),
        "rows": rows,
        "pooled": finding.pooled.pooled,
        "estimate": finding.estimate,
        "low": finding.ci_low,
        "high": finding.ci_high,
        "pi_low": finding.pi_low,
        "pi_high": finding.pi_high,
        "null": finding.null_value,
        "lower_is_better": finding.lower_is_better,
        "method": finding.pooled.method,
        "treatments": [names.get(t, t) for t in finding.treatments],
    }


def _fmt(value: float | None, effect: str) -> str:
    """Format one number of the plot's right-hand column."""
    if value is None:
        return "–"
    if effect == "proportion":
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def _interval(est: float | None, low: float | None, high: float | None, effect: str) -> str:
    """Format an estimate with its interval."""
    if est is None:
        return "not estimable"
    return f"{_fmt(est, effect)} [{_fmt(low, effect)}, {_fmt(high, effect)}]"


def figure(data: dict[str, Any]) -> Figure:
    """Build the forest plot's Figure."""
    rows = data["rows"]
    effect = data["effect"]
    n_rows = len(rows) + 2  # studies, pooled (or single estimate), prediction interval
    fig = Figure(figsize=(WIDTH, 1.3 + ROW * n_rows))
    ax = fig.add_axes((0.30, 0.9 / (1.3 + ROW * n_rows), 0.44, ROW * n_rows / (1.3 + ROW * n_rows)))
    ys = list(range(n_rows - 1, 1, -1))
    labels, right = [], []
    values: list[float] = []
    for y, row in zip(ys, rows, strict=True):
        labels.append(row["label"])
        if row["estimate"] is None:
            why = row["excluded"] or "not estimable"
            if row["raw"] is not None and effect in ("MD", "mean change"):
                # A difference with no SD: drawn hollow, with no interval and no weight.
                values.append(row["raw"])
                ax.plot([row["raw"]], [y], marker="o", markersize=6, markerfacecolor="none",
                        markeredgecolor=BLUE, linestyle="")  # fmt: skip
                why = f"{row['raw']:+.2f}, no interval (no SD)"
            right.append(why if len(why) < 34 else why[:32] + "…")
            continue
        values += [row["low"], row["high"]]
        ax.plot([row["low"], row["high"]], [y, y], color=GREY, linewidth=1.2)
        size = 4 + 10 * math.sqrt((row["weight"] or 0) / 100)
        ax.plot([row["estimate"]], [y], marker="s", markersize=size, color=BLUE, linestyle="")
        weight = f"  {row['weight']:.1f}%" if row["weight"] is not None else ""
        right.append(_interval(row["estimate"], row["low"], row["high"], effect) + weight)
    pooled_label = "Pooled (random effects)" if data["pooled"] else "No pooling (one study)"
    if data["method"] == "FE" and data["pooled"]:
        pooled_label = "Pooled (fixed effect)"
    labels.append(pooled_label)
    if data["pooled"] and data["estimate"] is not None:
        est, low, high = data["estimate"], data["low"], data["high"]
        values += [low, high]
        ax.add_patch(
            Polygon(
                [(low, 1), (est, 1.28), (high, 1), (est, 0.72)],
                closed=True,
                facecolor=ORANGE,
                edgecolor="#000000",
            )
        )
        right.append(_interval(est, low, high, effect) + "  100%")
    else:
        right.append("see the study row" if data["estimate"] is not None else "not estimable")
    labels.append("Prediction interval")
    if data["pi_low"] is not None:
        values += [data["pi_low"], data["pi_high"]]
        ax.plot(
            [data["pi_low"], data["pi_high"]], [0, 0], color=ORANGE, linewidth=2, linestyle="--"
        )
        ax.plot([data["pi_low"], data["pi_high"]], [0, 0], "|", color=ORANGE, markersize=9)
        right.append(f"[{_fmt(data['pi_low'], effect)}, {_fmt(data['pi_high'], effect)}]")
    else:
        right.append("needs 3+ studies")
    yticks = ys + [1, 0]
    ax.set_yticks(yticks, labels)
    ax.set_ylim(-0.7, n_rows - 0.3)
    twin = ax.twinx()
    twin.set_ylim(ax.get_ylim())
    twin.set_yticks(yticks, right)
    twin.tick_params(length=0)
    ax.tick_params(axis="y", length=0)
    null = data["null"]
    if null is not None:
        values.append(null)
        ax.axvline(null, color="#000000", linewidth=0.8)
    if effect == "RR":
        ax.set_xscale("log")
        # Ratios read as plain numbers (0.2, 0.5, 1, 2), not powers of ten.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    if values:
        lo, hi = min(values), max(values)
        if effect == "RR":
            pad = (math.log(hi) - math.log(lo)) * 0.08 or 0.2
            ax.set_xlim(math.exp(math.log(lo) - pad), math.exp(math.log(hi) + pad))
        else:
            pad = (hi - lo) * 0.08 or 0.5
            ax.set_xlim(lo - pad, hi + pad)
    else:
        ax.set_xlim(-1, 1)
        ax.text(0.5, 0.5, "No study could be drawn", ha="center", transform=ax.transAxes)
    if effect == "proportion":
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{100 * x:.0f}%"))
    xlabel = data["xlabel"]
    if null is not None and len(data["treatments"]) == 2:
        # Below no effect the first treatment has fewer events (or a lower score).
        first, second = data["treatments"]
        better_low = first if data["lower_is_better"] else second
        better_high = second if data["lower_is_better"] else first
        xlabel += f"\n← favours {better_low}    ·    favours {better_high} →"
    ax.set_xlabel(xlabel, fontsize=8)
    header_y = n_rows - 0.3
    ax.text(-0.03, header_y, "Study", transform=ax.get_yaxis_transform(), ha="right",
            va="bottom", fontweight="bold")  # fmt: skip
    twin.text(1.03, header_y, "Estimate [95% CI]  weight", transform=twin.get_yaxis_transform(),
              ha="left", va="bottom", fontweight="bold")  # fmt: skip
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
        twin.spines[side].set_visible(False)
    twin.spines["bottom"].set_visible(False)
    return fig


def data_key(data: dict[str, Any], fmt: str) -> str:
    """Return the cache key of a forest plot: a hash of what it shows and the format."""
    return hashlib.sha256(json.dumps([fmt, data], sort_keys=True).encode()).hexdigest()


def render(data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Return a forest plot as SVG or PNG bytes, from the shared cache when its data is unchanged.

    Outside an app (scripts, drawing tests) there is no shared cache: the plot is drawn.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if not has_app_context():
        return draw(data, fmt)
    return cache.remember(cache.key("forest", data_key(data, fmt)), lambda: draw(data, fmt))


def draw(data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Draw a forest plot with matplotlib and return its SVG or PNG bytes (no cache)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    with (
        _draw_lock,
        matplotlib.rc_context(
            {
                "svg.hashsalt": "evidence-forest",
                "svg.fonttype": "none",
                "font.family": "DejaVu Sans",
                "font.size": 8,
                "hatch.linewidth": 0.6,
            }
        ),
    ):
        fig = figure(data)
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def alt_text(data: dict[str, Any], heterogeneity: str) -> str:
    """Describe a forest plot in words: every study row, the pooled result, the heterogeneity."""
    effect = data["effect"]
    parts = [f"Forest plot. {data['xlabel']}."]
    for row in data["rows"]:
        if row["estimate"] is None:
            parts.append(f"{row['label']}: not pooled ({row['excluded'] or 'not estimable'}).")
        else:
            weight = f", weight {row['weight']:.1f}%" if row["weight"] is not None else ""
            parts.append(
                f"{row['label']}: {_interval(row['estimate'], row['low'], row['high'], effect)}"
                f"{weight}."
            )
    if data["pooled"]:
        parts.append(f"Pooled: {_interval(data['estimate'], data['low'], data['high'], effect)}.")
    if data["pi_low"] is not None:
        parts.append(
            f"Prediction interval {_fmt(data['pi_low'], effect)} to "
            f"{_fmt(data['pi_high'], effect)}."
        )
    parts.append(heterogeneity)
    return " ".join(parts)
