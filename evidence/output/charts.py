"""Comparison charts built on matplotlib's Figure (never pyplot), returned as SVG or PNG bytes.

Each chart is drawn from a small plain-data dict taken from a Comparison. Rendered bytes are
kept in the app's shared cache (evidence/web/cache.py) under a hash of that data (and the
format), so a chart is drawn once for all worker processes and redrawn exactly when the figures
it shows change. Output is deterministic: a fixed SVG hash salt per chart (which also
keeps element ids distinct between charts inlined in one page) and no date in the metadata.
The palette is Okabe and Ito's colour-blind-safe set; markers and hatches repeat the colour
coding for readers who cannot rely on colour at all.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from typing import Any

import matplotlib
from flask import has_app_context

matplotlib.use("Agg")  # no display in a server; must precede any other matplotlib import

from markupsafe import Markup, escape  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.markers import TICKDOWN, TICKLEFT, MarkerStyle  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import offset_copy  # noqa: E402

from evidence.literature.levels import LEVEL_COLOURS, LEVEL_LABELS  # noqa: E402
from evidence.models import ADVERSE_EVENTS, IMPROVEMENT_SCALE  # noqa: E402
from evidence.practice.outcomes import SMALL_N  # noqa: E402
from evidence.synthesis.compare import Comparison  # noqa: E402
from evidence.web import cache  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
MARKERS = ("o", "s", "^", "D")
LINESTYLES = ("-", "--", "-.", ":")
# Level colours are the tiles' colours (evidence.literature.levels.LEVEL_COLOURS, also in
# style.css).
LEVEL_STYLE = {  # key: (label, colour, hatch)
    "1": (f"L1 {LEVEL_LABELS[1].lower()}", LEVEL_COLOURS["1"], ""),
    "2": (f"L2 {LEVEL_LABELS[2].lower()}", LEVEL_COLOURS["2"], "//"),
    "3": (f"L3 {LEVEL_LABELS[3].lower()}", LEVEL_COLOURS["3"], ""),
    "4": (f"L4 {LEVEL_LABELS[4].lower()}", LEVEL_COLOURS["4"], "--"),
    "5": ("L5 case report, review, opinion", LEVEL_COLOURS["5"], ""),
    "unrated": ("not rated", LEVEL_COLOURS["unrated"], "xx"),
    "flagged": ("retracted or flagged", "#D55E00", "\\\\"),
}
# Legends at 10 pt: on a 6.4-inch figure shown about 600 px wide, that is over 10 px on screen.
LEGEND_FONT = 10.0
KINDS = ("levels", "years", "improvement", "adverse")
TITLES = {
    "levels": "Citations by evidence level",
    "years": "Publications per year",
    "improvement": "Improvement reported in outcome reports",
    "adverse": "Adverse-event rates in outcome reports, with 95% intervals",
}
FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
EVENT_SHORT = {
    "erythema-7d": "Erythema > 7 d",
    "pih": "PIH",
    "hypopigmentation": "Hypopigmentation",
    "infection": "Infection",
    "herpes": "Herpes",
    "acneiform": "Acneiform",
    "scarring": "Scarring",
    "bruising": "Bruising",
    "other": "Other",
}
# rcParams are process-global: one figure is drawn at a time so settings never mix.
_draw_lock = threading.Lock()


def _short(name: str) -> str:
    """Shorten a treatment name for axes: drop a parenthesised gloss."""
    return re.sub(r"\s*\(.*?\)", "", name)


def chart_data(comparison: Comparison) -> dict[str, dict[str, Any]]:
    """Extract the plain data each chart shows from a comparison."""
    names = [_short(c.name) for c in comparison.columns]
    levels = [
        {"name": name, "counts": dict(lit.levels), "flagged": lit.flagged}
        for name, lit in zip(names, comparison.literature, strict=True)
    ]
    years = [
        {"name": name, "years": [list(y) for y in lit.per_year]}
        for name, lit in zip(names, comparison.literature, strict=True)
    ]
    improvement = [
        {
            "name": name,
            "counts": list(p.improvement_counts),
            "n": sum(p.improvement_counts),
        }
        for name, p in zip(names, comparison.practice, strict=True)
    ]
    shown = [
        key
        for key, _label in ADVERSE_EVENTS
        if key == "pih" or any(p.overall.adverse[key].k for p in comparison.practice)
    ]
    adverse = [
        {
            "name": name,
            "n": p.overall.n,
            "events": [
                [
                    key,
                    p.overall.adverse[key].k,
                    p.overall.adverse[key].n,
                    p.overall.adverse[key].low,
                    p.overall.adverse[key].high,
                ]
                for key in shown
            ],
        }
        for name, p in zip(names, comparison.practice, strict=True)
    ]
    return {
        "levels": {"treatments": levels},
        "years": {"treatments": years},
        "improvement": {"treatments": improvement},
        "adverse": {"events": shown, "treatments": adverse},
    }


def data_key(kind: str, data: dict[str, Any], fmt: str) -> str:
    """Return the cache key of a chart: a hash of what it shows and the output format."""
    payload = json.dumps([kind, fmt, data], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _note(ax: Any, text: str) -> None:
    """Write a note in the middle of empty axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _levels(fig: Figure, data: dict[str, Any]) -> None:
    """Draw stacked horizontal bars of citations by level, one bar per treatment."""
    rows = data["treatments"]
    ax = fig.add_subplot()
    labels = [r["name"] for r in rows]
    ypos = list(range(len(rows)))[::-1]
    left = [0] * len(rows)
    for key, (label, colour, hatch) in LEVEL_STYLE.items():
        values = [r["flagged"] if key == "flagged" else r["counts"][key] for r in rows]
        bars = ax.barh(
            ypos, values, left=left, color=colour, hatch=hatch, edgecolor="#333333", label=label
        )
        for bar, value in zip(bars, values, strict=True):
            if value:
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_y() + bar.get_height() / 2,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=8,
                    # Every level colour is dark (white text passes AA on the tiles too).
                    color="#ffffff",
                )
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(ypos, labels)
    ax.set_xlabel("Citations (included links)")
    fig.legend(loc="lower center", ncol=2, fontsize=LEGEND_FONT, frameon=False)
    if not any(left):
        _note(ax, "No citations linked to these treatments")


def _years(fig: Figure, data: dict[str, Any]) -> None:
    """Draw publications per year, one line with its own marker and dash per treatment."""
    ax = fig.add_subplot()
    drawn = False
    for i, row in enumerate(data["treatments"]):
        if not row["years"]:
            continue
        xs = [y for y, _n in row["years"]]
        ys = [n for _y, n in row["years"]]
        ax.plot(
            xs,
            ys,
            marker=MARKERS[i % 4],
            linestyle=LINESTYLES[i % 4],
            color=OKABE_ITO[i % len(OKABE_ITO)],
            label=row["name"],
        )
        drawn = True
    if not drawn:
        _note(ax, "No dated citations linked to these treatments")
        return
    ax.set_xlabel("Publication year")
    ax.set_ylabel("Citations")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    fig.legend(loc="lower center", fontsize=LEGEND_FONT, frameon=False)


def _improvement(fig: Figure, data: dict[str, Any]) -> None:
    """Draw the number of reports at each improvement rating, grouped by treatment."""
    ax = fig.add_subplot()
    rows = data["treatments"]
    if not any(row["n"] for row in rows):
        # No bars at all: zero-height bars would draw their edges as a line through the note.
        _note(ax, "No outcome report states an improvement for these treatments")
        return
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        xs = [level + (i - (len(rows) - 1) / 2) * width for level in range(5)]
        mark = " - too few reports" if 0 < row["n"] < SMALL_N else ""
        ax.bar(
            xs,
            row["counts"],
            width=width,
            color=OKABE_ITO[i % len(OKABE_ITO)],
            hatch=("", "//", "\\\\", "xx")[i % 4],
            edgecolor="#333333",
            label=f"{row['name']} (n = {row['n']}{mark})" if row["n"] else f"{row['name']} (none)",
        )
    ax.set_xticks(range(5), [label.split(": ")[1] for _v, label in IMPROVEMENT_SCALE])
    ax.set_xlabel("Improvement rating (quartile scale)")
    ax.set_ylabel("Reports")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(loc="lower center", fontsize=LEGEND_FONT, frameon=False)


def _adverse(fig: Figure, data: dict[str, Any]) -> None:
    """Draw each adverse event's rate as a point with its Wilson interval, per treatment."""
    ax = fig.add_subplot()
    events = data["events"]
    rows = data["treatments"]
    if not any(row["n"] for row in rows):
        _note(ax, "No outcome reports for these treatments")
        return
    step = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        if not row["n"]:
            continue
        small = row["n"] < SMALL_N
        ys, xs, lows, highs = [], [], [], []
        for j, (_key, k, n, low, high) in enumerate(row["events"]):
            if not n:
                continue
            ys.append(j + (i - (len(rows) - 1) / 2) * step)
            xs.append(100 * k / n)
            lows.append(100 * k / n - 100 * low)
            highs.append(100 * high - 100 * k / n)
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        ax.errorbar(
            xs,
            ys,
            # Too few reports: the point alone, no interval (the legend says why).
            xerr=None if small else [lows, highs],
            fmt=MARKERS[i % 4],
            color=colour,
            markerfacecolor="white" if small else colour,
            capsize=3,
            label=f"{row['name']} (n = {row['n']}{' - too few reports' if small else ''})",
        )
    ax.set_yticks(range(len(events)), [EVENT_SHORT.get(e, e) for e in events])
    ax.set_ylim(len(events) - 0.5, -0.5)  # first event at the top
    ax.set_xlim(0, 100)
    ax.set_xlabel("Reports with the event (%), 95% Wilson interval")
    fig.legend(loc="lower center", fontsize=LEGEND_FONT, frameon=False)


DRAW = {"levels": _levels, "years": _years, "improvement": _improvement, "adverse": _adverse}


WIDTH = 6.4  # inches
LEGEND_ROW = 0.2  # inches per legend row below the axes


def _margins(fig: Figure, *, labels: list[str], legend_rows: int) -> None:
    """Set fixed margins: room for the longest y label and a legend below the axes.

    Fixed margins instead of constrained layout: the layout solver doubled drawing time.
    """
    height = fig.get_figheight()
    longest = max((len(label) for label in labels), default=4)
    left = min(0.45, (0.25 + 0.075 * longest) / WIDTH)
    bottom = (0.5 + LEGEND_ROW * legend_rows + (0.1 if legend_rows else 0)) / height
    fig.subplots_adjust(left=left, right=0.97, top=1 - 0.15 / height, bottom=bottom)


# Tick geometry from matplotlib's defaults (xtick.major.size, .pad, .width; axes.labelpad).
TICK_SIZE = 3.5  # points
TICK_PAD = 3.5  # points between a tick mark and its label
TICK_WIDTH = 0.8  # points
LABEL_PAD = 4.0  # points between the tick labels and the axis label
TICK_FONT = 9.0  # points: font.size, which tick labels take ("medium")
CHAR_EM = 0.62  # DejaVu Sans: a generous average advance per character, in ems


def _draw_ticks(fig: Figure, ax: Any) -> None:
    """Draw both axes' ticks as one marker line and a label each, at matplotlib's own places.

    matplotlib builds five artists per tick (two marks, a grid line, two labels) and
    re-measures the labels to place the axis labels: about half of a chart's drawing time.
    The positions and label texts still come from each axis's locator and formatter, so the
    ticks are the same; only the drawing is lighter, and the axis labels sit at fixed offsets.
    """
    for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
        low, high = sorted(axis.get_view_interval())
        slack = (high - low) * 1e-9
        values = [v for v in axis.get_major_locator()() if low - slack <= v <= high + slack]
        formatter = axis.get_major_formatter()
        labels = formatter.format_ticks(values) if values else []
        offset = formatter.get_offset() if values and hasattr(formatter, "get_offset") else ""
        if name == "x":
            ax.set_xlim(ax.get_xlim())  # freeze the view: the ticks below were placed on it
            ax.set_xticks([])
        else:
            ax.set_ylim(ax.get_ylim())
            ax.set_yticks([])
        if not values:
            continue
        along = ax.get_xaxis_transform() if name == "x" else ax.get_yaxis_transform()
        zeros = [0.0] * len(values)
        ax.add_line(
            Line2D(
                values if name == "x" else zeros,
                zeros if name == "x" else values,
                transform=along,
                linestyle="none",
                marker=MarkerStyle(TICKDOWN if name == "x" else TICKLEFT),
                markersize=TICK_SIZE,
                markeredgewidth=TICK_WIDTH,
                color="black",
                clip_on=False,
            )
        )
        gap = TICK_SIZE + TICK_PAD
        shifted = offset_copy(
            along,
            fig=fig,
            x=0 if name == "x" else -gap,
            y=-gap if name == "x" else 0,
            units="points",
        )
        for value, label in zip(values, labels, strict=True):
            ax.text(
                value if name == "x" else 0,
                0 if name == "x" else value,
                label,
                transform=shifted,
                fontsize=TICK_FONT,
                ha="center" if name == "x" else "right",
                va="top" if name == "x" else "center_baseline",
                clip_on=False,
            )
        if name == "x":
            # Below the tick labels: one line of tick-label text, then the label pad.
            below = gap + TICK_FONT * 1.2 + LABEL_PAD
            axis.set_label_coords(
                0.5, 0, offset_copy(ax.transAxes, fig=fig, y=-below, units="points")
            )
            if offset:
                ax.text(
                    1,
                    0,
                    offset,
                    transform=offset_copy(ax.transAxes, fig=fig, y=-below, units="points"),
                    ha="right",
                    va="top",
                    fontsize=TICK_FONT,
                )
        else:
            widest = max(len(label) for label in labels) * CHAR_EM * TICK_FONT
            axis.set_label_coords(
                0,
                0.5,
                offset_copy(ax.transAxes, fig=fig, x=-(gap + widest + LABEL_PAD), units="points"),
            )
            if offset:
                ax.text(
                    0,
                    1,
                    offset,
                    transform=offset_copy(ax.transAxes, fig=fig, y=TICK_PAD, units="points"),
                    ha="left",
                    va="bottom",
                    fontsize=TICK_FONT,
                )


def figure(kind: str, data: dict[str, Any]) -> Figure:
    """Build the Figure of one chart kind."""
    rows = data["treatments"]
    if kind == "levels":
        height = 1.2 + 0.45 * len(rows) + LEGEND_ROW * 4
    else:
        height = 2.6 + LEGEND_ROW * len(rows)
    fig = Figure(figsize=(WIDTH, height))
    DRAW[kind](fig, data)
    if kind == "levels":
        _margins(fig, labels=[r["name"] for r in rows], legend_rows=4)
    elif kind == "adverse":
        _margins(fig, labels=[EVENT_SHORT.get(e, e) for e in data["events"]], legend_rows=len(rows))
    else:
        _margins(fig, labels=["000"], legend_rows=len(rows))
    for ax in fig.axes:
        _draw_ticks(fig, ax)
    return fig


def render(kind: str, data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Return a chart as SVG or PNG bytes, from the shared cache when its data has not changed.

    Outside an app (scripts, drawing tests) there is no shared cache: the chart is drawn.
    """
    if kind not in DRAW or fmt not in FORMATS:
        raise ValueError(f"unknown chart {kind!r} or format {fmt!r}")
    if not has_app_context():
        return draw(kind, data, fmt)
    return cache.remember(
        cache.key("chart", data_key(kind, data, fmt)), lambda: draw(kind, data, fmt)
    )


def draw(kind: str, data: dict[str, Any], fmt: str = "svg") -> bytes:
    """Draw a chart with matplotlib and return its SVG or PNG bytes (no cache)."""
    if kind not in DRAW or fmt not in FORMATS:
        raise ValueError(f"unknown chart {kind!r} or format {fmt!r}")
    with (
        _draw_lock,
        matplotlib.rc_context(
            {
                "svg.hashsalt": f"evidence-{kind}",
                "svg.fonttype": "none",  # text stays text: smaller, selectable, readable by tools
                "font.family": "DejaVu Sans",
                "font.size": 9,
                "hatch.linewidth": 0.6,
            }
        ),
    ):
        fig = figure(kind, data)
        buf = io.BytesIO()
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        else:
            fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def alt_text(kind: str, data: dict[str, Any]) -> str:
    """Describe a chart's data in words, for screen readers and as its caption."""
    parts = []
    if kind == "levels":
        for row in data["treatments"]:
            counts = ", ".join(f"{row['counts'][k]} at level {k}" for k in "12345")
            parts.append(
                f"{row['name']}: {counts}, {row['counts']['unrated']} not rated; "
                f"{row['flagged']} retracted or flagged."
            )
        return "Stacked bars of citations by evidence level. " + " ".join(parts)
    if kind == "years":
        for row in data["treatments"]:
            if not row["years"]:
                parts.append(f"{row['name']}: no dated citations.")
                continue
            total = sum(n for _y, n in row["years"])
            peak_year, peak = max(row["years"], key=lambda item: (item[1], item[0]))
            parts.append(
                f"{row['name']}: {total} dated citations from {row['years'][0][0]} to "
                f"{row['years'][-1][0]}, most ({peak}) in {peak_year}."
            )
        return "Publications per year. " + " ".join(parts)
    if kind == "improvement":
        for row in data["treatments"]:
            if not row["n"]:
                parts.append(f"{row['name']}: no report states an improvement.")
                continue
            few = " (too few reports)" if row["n"] < SMALL_N else ""
            counts = ", ".join(f"{c} rated {v}" for v, c in enumerate(row["counts"]) if c)
            parts.append(f"{row['name']}: {row['n']} reports{few}: {counts}.")
        return "Improvement ratings from 0 (none) to 4 (over 75%). " + " ".join(parts)
    for row in data["treatments"]:
        if not row["n"]:
            parts.append(f"{row['name']}: no outcome reports.")
            continue
        few = " (too few reports)" if row["n"] < SMALL_N else ""
        events = ", ".join(
            f"{EVENT_SHORT.get(key, key)} {k} of {n}" for key, k, n, _lo, _hi in row["events"]
        )
        parts.append(f"{row['name']}, {row['n']} reports{few}: {events}.")
    return "Adverse-event rates with 95% Wilson intervals. " + " ".join(parts)


_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r'<style type="text/css">\*\{([^}]*)\}</style>')


def _as_attributes(declarations: str) -> str:
    """Turn CSS declarations ('fill: #fff; stroke: none') into SVG attributes."""
    out = []
    for part in declarations.split(";"):
        name, sep, value = part.partition(":")
        if sep and name.strip():
            out.append(f' {name.strip()}="{value.strip()}"')
    return "".join(out)


def presentation_attributes(svg: str) -> str:
    """Rewrite matplotlib's style attributes and its one <style> rule as SVG attributes.

    The page's Content-Security-Policy allows no inline styles (style-src 'self'); every
    property matplotlib writes (fill, stroke*, font-size, font-family, text-anchor) is also
    an SVG presentation attribute, which CSP does not govern.
    """
    defaults = ""
    match = _STYLE_ELEMENT.search(svg)
    if match:
        # '*{stroke-linejoin: round; ...}' becomes inherited attributes on the root element.
        defaults = _as_attributes(match[1])
        svg = svg[: match.start()] + svg[match.end() :]
    svg = _STYLE_ATTR.sub(lambda m: _as_attributes(m[1]), svg)
    if defaults:
        svg = svg.replace("<svg ", "<svg" + defaults + " ", 1)
    return svg


def inline_svg(svg: bytes, *, chart_id: str, title: str, description: str) -> Markup:
    """Return SVG bytes as markup to inline in a page, labelled by a title and description."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    # matplotlib numbers its group ids per figure (figure_1, axes_1 ...): prefix every id and
    # every reference to one, so several charts on one page never share an id.
    text = re.sub(r'(\bid="|url\(#|href="#)([^")]+)', lambda m: f"{m[1]}{chart_id}-{m[2]}", text)
    text = presentation_attributes(text)
    opening_end = text.index(">") + 1
    opening = text[:opening_end].replace(
        "<svg ",
        f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" focusable="false" ',
        1,
    )
    labels = (
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )
    return Markup(opening + labels + text[opening_end:])  # noqa: S704 -- matplotlib's own output
