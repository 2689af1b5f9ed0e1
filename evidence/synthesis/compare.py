"""Side-by-side comparison of treatments: literature rows, practice rows and their disagreement.

Plain functions on plain data. The literature side counts linked citations by evidence level
(retracted and flagged items counted apart), by year, and names the newest systematic review.
The practice side comes from `evidence.practice.outcomes` (never recomputed here). Every figure is a
`Cell` whose numbers carry a `Link` to the citations or reports they were computed from; the
view turns links into URLs, the template and the CSV export read the same cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, distinct, func, or_
from sqlalchemy import select as sa_select  # sqlmodel's select takes at most four columns
from sqlmodel import Session, col, select

from evidence.db import data_versions
from evidence.literature.levels import LEVEL_LABELS
from evidence.literature.pmidorder import pmid_key
from evidence.models import (
    ADVERSE_EVENTS,
    ANY_INDICATION,
    Citation,
    CitationLink,
    CompareCitationTotal,
    Indication,
    OutcomeReport,
    PricePoint,
    Treatment,
)
from evidence.practice import outcomes
from evidence.practice.outcomes import GroupStats, MeanCI, Proportion
from evidence.web import cache

MIN_COMPARED = 2
MAX_COMPARED = 4
LEVEL_KEYS = ("1", "2", "3", "4", "5", "unrated")
HIGH_LEVELS = ("1", "2")
# A practice rate "points somewhere" only when its whole 95% interval is on one side of half.
POSITIVE_LOWER_BOUND = 0.5
# An adverse-event rate is worth a sentence when even its interval's lower end reaches 10%.
NOTABLE_EVENT_RATE = 0.10


# --- cells: what the table, the CSV and the tests read -------------------------------------


@dataclass(frozen=True)
class Link:
    """Where a number's sources are: a citation list, one citation, reports, or a quoted price."""

    kind: str  # "citations" | "citation" | "reports" | "price"
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Part:
    """A piece of a cell: words, or a number linked to its sources."""

    text: str
    link: Link | None = None


@dataclass(frozen=True)
class Cell:
    """One treatment's value in one row: parts to show, machine values for the CSV."""

    parts: tuple[Part, ...] = ()
    value: float | None = None
    k: int | None = None
    n: int | None = None
    low: float | None = None
    high: float | None = None
    small: bool = False  # fewer than outcomes.SMALL_N reports: shown as "too few reports"
    empty: str | None = None  # why the cell is empty

    @property
    def text(self) -> str:
        """Return the cell as plain words."""
        words = "".join(p.text for p in self.parts) or (self.empty or "")
        return f"{words} (too few reports)" if self.small else words


@dataclass(frozen=True)
class Row:
    """One measure across the compared treatments."""

    section: str
    key: str
    label: str
    cells: tuple[Cell, ...]
    note: str = ""


@dataclass(frozen=True)
class Finding:
    """A sentence setting the literature against practice; kind says which way they point."""

    kind: str  # "discordant" | "concordant" | "insufficient" | "unchecked" | "neutral"
    text: str


# --- literature --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CitationRef:
    """A citation named in a cell."""

    pmid: str
    title: str
    year: int | None


@dataclass(frozen=True)
class Literature:
    """A treatment's linked, included citations, counted for comparison."""

    treatment: str
    levels: dict[str, int]  # not retracted or flagged, by level key ("unrated" for None)
    flagged: int  # retracted or flagged items, counted apart from the levels
    per_year: tuple[tuple[int, int], ...]  # (year, citations), not flagged, year known
    year_unknown: int
    newest_review: CitationRef | None

    @property
    def counted(self) -> int:
        """Return the citations counted in the levels (flagged ones excluded)."""
        return sum(self.levels.values())

    @property
    def high(self) -> int:
        """Return the level 1-2 citations (systematic reviews, meta-analyses, randomized trials)."""
        return sum(self.levels[k] for k in HIGH_LEVELS)


def literature(
    session: Session, *, treatments: Sequence[Treatment], indication: Indication | None = None
) -> list[Literature]:
    """Count each treatment's included citations by level, year and flag, in two queries.

    The counts come from compare_citation_total (kept by triggers, migration
    0015_compare_totals): one row per treatment, level, flag and year shown, however many
    citations there are. Only the newest systematic review is looked up among the citations.
    """
    ids = [t.id for t in treatments if t.id is not None]
    ind_id = indication.id if indication else None
    grouped = sa_select(
        col(CompareCitationTotal.treatment_id),
        col(CompareCitationTotal.level_key),
        col(CompareCitationTotal.flagged),
        col(CompareCitationTotal.year_key),
        col(CompareCitationTotal.n),
    ).where(
        col(CompareCitationTotal.treatment_id).in_(ids),
        col(CompareCitationTotal.indication_key) == (ANY_INDICATION if ind_id is None else ind_id),
        col(CompareCitationTotal.n) > 0,
    )
    levels: dict[int, dict[str, int]] = {i: dict.fromkeys(LEVEL_KEYS, 0) for i in ids}
    flagged: dict[int, int] = defaultdict(int)
    years: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    unknown: dict[int, int] = defaultdict(int)
    newest_year: dict[int, int | None] = {}
    for tid, level, is_flagged, year_key, n in session.connection().execute(grouped):
        year = year_key or None  # 0: year not recorded
        if is_flagged:
            flagged[tid] += int(n)
            continue
        levels[tid][str(level) if level else "unrated"] += int(n)
        if year is None:
            unknown[tid] += int(n)
        else:
            years[tid][int(year)] += int(n)
        if level == 1:
            known = newest_year.get(tid)
            if tid not in newest_year or (year is not None and (known is None or year > known)):
                newest_year[tid] = year
    newest: dict[int, CitationRef] = {}
    if newest_year:
        # The level 1 citations of the newest years first (ix_citation_level_year), then their
        # links: a few rows each, where joining from the links read every included link.
        wanted = [y for y in set(newest_year.values()) if y is not None]
        year_column = col(Citation.year)
        in_years = (
            year_column.in_(wanted)
            if None not in newest_year.values()
            else or_(year_column.in_(wanted), year_column.is_(None))
        )
        candidates = {
            cid: (pmid, title, cyear)
            for cid, pmid, title, cyear in session.exec(
                select(Citation.id, Citation.pmid, Citation.title, Citation.year).where(
                    col(Citation.evidence_level) == 1,
                    in_years,
                    col(Citation.retraction_status) == "none",
                )
            )
        }
        links = (
            select(CitationLink.citation_id, CitationLink.treatment_id, CitationLink.indication_id)
            .where(col(CitationLink.citation_id).in_(list(candidates)))
            .where(col(CitationLink.status) == "included")
        )
        for cid, link_tid, iid in session.exec(links) if candidates else ():
            if link_tid is None or link_tid not in newest_year:
                continue
            if ind_id is not None and iid != ind_id:
                continue
            pmid, title, cyear = candidates[cid]
            if cyear != newest_year[link_tid]:
                continue
            best = newest.get(link_tid)
            # Same year: the higher PMID (compared as a number) is the later record.
            if best is None or pmid_key(pmid) > pmid_key(best.pmid):
                newest[link_tid] = CitationRef(pmid, title, cyear)
    return [
        Literature(
            treatment=t.slug,
            levels=levels[t.id],
            flagged=flagged[t.id],
            per_year=tuple(sorted(years[t.id].items())),
            year_unknown=unknown[t.id],
            newest_review=newest.get(t.id),
        )
        for t in treatments
        if t.id is not None
    ]


# --- practice ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotedPrice:
    """A price quoted in a cited source: shown as quoted, never mixed into report medians."""

    id: int
    low: float
    high: float
    currency: str
    unit: str
    region: str | None
    source_title: str | None
    source_commenter: str | None


@dataclass(frozen=True)
class Practice:
    """A treatment's outcome-report statistics (evidence.practice.outcomes) and quoted prices."""

    treatment: str
    overall: GroupStats
    by_skin: dict[str, GroupStats]
    improvement_counts: tuple[int, ...]  # reports rating 0, 1, 2, 3, 4
    prices: tuple[QuotedPrice, ...] = ()


def practice(
    session: Session, *, treatments: Sequence[Treatment], indication: Indication | None = None
) -> list[Practice]:
    """Summarize each treatment's visible reports (evidence.practice.outcomes), with prices."""
    ids = [t.id for t in treatments if t.id is not None]
    prices: dict[int, list[QuotedPrice]] = defaultdict(list)
    for p in session.exec(
        select(PricePoint).where(col(PricePoint.treatment_id).in_(ids)).order_by(col(PricePoint.id))
    ):
        assert p.id is not None and p.treatment_id is not None
        prices[p.treatment_id].append(
            QuotedPrice(
                p.id,
                p.low,
                p.high,
                p.currency,
                p.unit,
                p.region,
                p.source_title,
                p.source_commenter,
            )
        )
    summaries = outcomes.treatment_summaries(
        session,
        treatments=[t.slug for t in treatments],
        indication=indication.slug if indication else None,
    )
    out = []
    for treatment in treatments:
        assert treatment.id is not None
        summary = summaries[treatment.slug]
        out.append(
            Practice(
                treatment=treatment.slug,
                overall=summary.overall,
                by_skin=summary.by_skin,
                improvement_counts=summary.improvement_counts,
                prices=tuple(prices[treatment.id]),
            )
        )
    return out


# --- literature against practice, in words -------------------------------------------------


def pct(x: float | None) -> str:
    """Format a rate as a whole percentage."""
    return "n/a" if x is None else f"{x * 100:.0f}%"


def describe_proportion(p: Proportion) -> str:
    """Describe a proportion in words: counts always, a percentage only when n is large enough."""
    if p.small:
        return f"{p.k} of {p.n} (too few reports for a rate)"
    return f"{pct(p.rate)} ({p.k} of {p.n}; 95% CI {pct(p.low)} to {pct(p.high)})"


def literature_vs_practice(name: str, lit: Literature, prac: GroupStats) -> list[Finding]:
    """Say in words whether a treatment's best evidence and its reports point the same way."""
    high = lit.high
    studies = (
        f"{high} systematic review{'s' if high != 1 else ''}, "
        f"meta-analys{'e' if high != 1 else 'i'}s or randomized trial{'s' if high != 1 else ''}"
        " (levels 1-2)"
    )
    if prac.n == 0:
        return [
            Finding(
                "insufficient",
                f"No outcome reports for {name}: nothing from practice to set against the "
                f"literature's {studies}.",
            )
        ]
    if prac.small:
        return [
            Finding(
                "insufficient",
                f"Only {prac.n} outcome report{'s' if prac.n != 1 else ''} for {name} "
                f"(too few reports, fewer than {outcomes.SMALL_N}): no comparison with the "
                f"literature's {studies} is drawn.",
            )
        ]
    out: list[Finding] = []
    resp = prac.responders
    positive = not resp.small and resp.low is not None and resp.low >= POSITIVE_LOWER_BOUND
    negative = not resp.small and resp.high is not None and resp.high < POSITIVE_LOWER_BOUND
    if resp.n == 0:
        out.append(Finding("insufficient", f"No report on {name} states an improvement."))
    elif resp.small:
        out.append(
            Finding(
                "insufficient",
                f"Only {resp.n} reports on {name} state an improvement (too few reports).",
            )
        )
    elif positive and high == 0:
        out.append(
            Finding(
                "discordant",
                f"Practitioners report benefit from {name} (responders "
                f"{describe_proportion(resp)}), but no systematic review, meta-analysis or "
                "randomized trial is linked: the reports have no high-level evidence behind them.",
            )
        )
    elif positive and high <= 2:
        out.append(
            Finding(
                "discordant",
                f"Many positive reports on {name} (responders {describe_proportion(resp)}) rest "
                f"on few high-level studies: only {studies}.",
            )
        )
    elif negative and high >= 1:
        out.append(
            Finding(
                "discordant",
                f"The literature holds {studies} on {name}, but practitioners report that fewer "
                f"than half their patients respond (responders {describe_proportion(resp)}).",
            )
        )
    elif positive:
        out.append(
            Finding(
                "concordant",
                f"Literature and practice point the same way for {name}: {studies}, and "
                f"responders {describe_proportion(resp)}.",
            )
        )
    else:
        out.append(
            Finding(
                "neutral",
                f"No clear disagreement for {name}: responders {describe_proportion(resp)}; "
                f"{studies}.",
            )
        )
    for key, label in ADVERSE_EVENTS:
        p = prac.adverse[key]
        if not p.small and p.low is not None and p.low >= NOTABLE_EVENT_RATE:
            out.append(
                Finding(
                    "unchecked",
                    f"Practitioners report {label.lower()} after {name} in "
                    f"{describe_proportion(p)}. Trial adverse-event rates are not recorded in "
                    f"this database, so this rate cannot be checked against them here: read the "
                    f"{studies}.",
                )
            )
    return out


def across_treatments(
    names: Sequence[str], lits: Sequence[Literature], pracs: Sequence[GroupStats]
) -> list[Finding]:
    """Find pairs where the literature favours one treatment and practice the other."""
    out = []
    for i, (a_name, a_lit, a_prac) in enumerate(zip(names, lits, pracs, strict=True)):
        for b_name, b_lit, b_prac in list(zip(names, lits, pracs, strict=True))[i + 1 :]:
            for (x_name, x_lit, x_p), (y_name, y_lit, y_p) in (
                ((a_name, a_lit, a_prac), (b_name, b_lit, b_prac)),
                ((b_name, b_lit, b_prac), (a_name, a_lit, a_prac)),
            ):
                xr, yr = x_p.responders, y_p.responders
                if xr.small or yr.small or xr.high is None or yr.low is None:
                    continue
                # Literature clearly favours x (twice the high-level studies, and at least two
                # more) while practice clearly favours y (responder intervals do not overlap).
                if x_lit.high >= 2 * y_lit.high + 2 and yr.low > xr.high:
                    out.append(
                        Finding(
                            "discordant",
                            f"The literature has more level 1-2 studies on {x_name} "
                            f"({x_lit.high}) than on {y_name} ({y_lit.high}), but practitioners' "
                            f"responder rates favour {y_name} ({describe_proportion(yr)} against "
                            f"{describe_proportion(xr)}; the intervals do not overlap).",
                        )
                    )
    return out


# --- the comparison table ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A compared treatment."""

    slug: str
    name: str


@dataclass
class Comparison:
    """Everything the compare page, its charts and its CSV show."""

    columns: list[Column]
    indication: str | None
    indication_name: str | None
    literature: list[Literature]
    practice: list[Practice]
    rows: list[Row] = field(default_factory=list)
    findings: list[list[Finding]] = field(default_factory=list)
    across: list[Finding] = field(default_factory=list)


def _args(**kwargs: str | None) -> tuple[tuple[str, str], ...]:
    """Return link arguments, dropping empty ones."""
    return tuple((k, v) for k, v in kwargs.items() if v)


def _number(n: int, link: Link) -> Cell:
    """A count linked to its sources."""
    return Cell(parts=(Part(str(n), link),), value=n, n=n)


def proportion_cell(p: Proportion, k_link: Link, n_link: Link, *, none: str) -> Cell:
    """A rate with its interval; counts only (and "too few reports") when n is small."""
    if p.n == 0:
        return Cell(empty=none)
    if p.small:
        few = (Part(str(p.k), k_link), Part(" of "), Part(str(p.n), n_link))
        return Cell(parts=few, k=p.k, n=p.n, small=True)
    parts: tuple[Part, ...] = (
        Part(pct(p.rate), k_link),
        Part(" ("),
        Part(str(p.k), k_link),
        Part(" of "),
        Part(str(p.n), n_link),
        Part(f"; 95% CI {pct(p.low)} to {pct(p.high)})"),
    )
    return Cell(parts=parts, value=p.rate, k=p.k, n=p.n, low=p.low, high=p.high)


def mean_cell(m: MeanCI, link: Link, *, none: str) -> Cell:
    """A mean improvement with its interval, marked when from too few reports."""
    if m.n == 0 or m.mean is None:
        return Cell(empty=none)
    # A t interval from a handful of ratings runs far off the 0-4 scale: shown only for n >= 10.
    shown = not m.small and m.low is not None and m.high is not None
    clip = ", clipped to the 0-4 scale" if m.clipped else ""
    ci = f"; 95% CI {m.low:.1f} to {m.high:.1f}{clip}" if shown else ""
    parts = (
        Part(f"{m.mean:.1f} / 4", link),
        Part(" ("),
        Part(f"{m.n} report{'s' if m.n != 1 else ''}", link),
        Part(f"{ci})"),
    )
    return Cell(parts=parts, value=m.mean, n=m.n, low=m.low, high=m.high, small=m.small)


def _money(value: float) -> str:
    """Format an amount without decimals."""
    return f"{value:,.0f}"


def build_rows(
    columns: Sequence[Column],
    lits: Sequence[Literature],
    pracs: Sequence[Practice],
    *,
    indication: str | None,
) -> list[Row]:
    """Lay out every row of the comparison table, each number linked to its sources."""
    scope = " for this indication" if indication else ""

    def cites(slug: str, **extra: str | None) -> Link:
        return Link("citations", _args(treatment=slug, indication=indication, **extra))

    def reports(slug: str, **extra: str | None) -> Link:
        return Link("reports", _args(treatment=slug, indication=indication, **extra))

    rows: list[Row] = []
    lit_section = "Literature"
    rows.append(
        Row(
            lit_section,
            "citations",
            "Citations (retracted and flagged counted apart)",
            tuple(
                _number(lit.counted, cites(c.slug, retracted="exclude"))
                if lit.counted
                else Cell(empty=f"no citation linked{scope}", value=0, n=0)
                for c, lit in zip(columns, lits, strict=True)
            ),
        )
    )
    for key in LEVEL_KEYS:
        label = f"Level {key}: {LEVEL_LABELS[int(key)]}" if key != "unrated" else "Not rated"
        rows.append(
            Row(
                lit_section,
                f"level-{key}",
                label,
                tuple(
                    _number(lit.levels[key], cites(c.slug, level=key, retracted="exclude"))
                    for c, lit in zip(columns, lits, strict=True)
                ),
            )
        )
    newest = []
    for lit in lits:
        ref = lit.newest_review
        if ref is None:
            newest.append(Cell(empty=f"no systematic review or meta-analysis linked{scope}"))
        else:
            when = f" ({ref.year})" if ref.year else " (year not recorded)"
            newest.append(
                Cell(
                    parts=(Part(ref.title, Link("citation", (("pmid", ref.pmid),))), Part(when)),
                    value=ref.year,
                )
            )
    rows.append(Row(lit_section, "newest-review", "Newest systematic review", tuple(newest)))
    per_year = []
    for c, lit in zip(columns, lits, strict=True):
        parts: list[Part] = []
        for year, n in lit.per_year:
            if parts:
                parts.append(Part(", "))
            parts.append(Part(f"{year}: "))
            parts.append(Part(str(n), cites(c.slug, year_from=str(year), year_to=str(year))))
        if lit.year_unknown:
            parts.append(Part(f"{', ' if parts else ''}year not recorded: {lit.year_unknown}"))
        per_year.append(
            Cell(parts=tuple(parts)) if parts else Cell(empty=f"no citation linked{scope}")
        )
    rows.append(Row(lit_section, "per-year", "Publications per year", tuple(per_year)))
    rows.append(
        Row(
            lit_section,
            "flagged",
            "Retracted or flagged (counted apart)",
            tuple(
                _number(lit.flagged, cites(c.slug, retracted="only"))
                for c, lit in zip(columns, lits, strict=True)
            ),
        )
    )

    prac_section = "Practice"
    no_reports = f"no outcome reports{scope}"

    def each(make: Callable[[Column, Practice], Cell]) -> tuple[Cell, ...]:
        return tuple(
            make(c, p) if p.overall.n else Cell(empty=no_reports)
            for c, p in zip(columns, pracs, strict=True)
        )

    rows.append(
        Row(
            prac_section,
            "reports",
            "Outcome reports (n)",
            tuple(
                Cell(
                    parts=(Part(str(p.overall.n), reports(c.slug)),),
                    value=p.overall.n,
                    n=p.overall.n,
                    small=p.overall.small,
                )
                if p.overall.n
                else Cell(empty=no_reports, value=0, n=0)
                for c, p in zip(columns, pracs, strict=True)
            ),
        )
    )
    rows.append(
        Row(
            prac_section,
            "improvement",
            "Mean improvement (0-4 quartile scale)",
            each(
                lambda c, p: mean_cell(
                    p.overall.improvement, reports(c.slug), none="no report states an improvement"
                )
            ),
        )
    )
    rows.append(
        Row(
            prac_section,
            "responders",
            "Responders (improvement 2 or more)",
            each(
                lambda c, p: proportion_cell(
                    p.overall.responders,
                    reports(c.slug),
                    reports(c.slug),
                    none="no report states an improvement",
                )
            ),
        )
    )
    for key, label in ADVERSE_EVENTS:
        rows.append(
            Row(
                prac_section,
                f"event-{key}",
                label,
                each(
                    lambda c, p, key=key: proportion_cell(  # type: ignore[misc]
                        p.overall.adverse[key],
                        reports(c.slug, event=key),
                        reports(c.slug),
                        none=no_reports,
                    )
                ),
            )
        )
    for group, label in (("I-III", "PIH, skin types I-III"), ("IV-VI", "PIH, skin types IV-VI")):
        rows.append(
            Row(
                prac_section,
                f"pih-{group}",
                label,
                each(
                    lambda c, p, group=group: proportion_cell(  # type: ignore[misc]
                        p.by_skin[group].adverse["pih"],
                        reports(c.slug, skin=group, event="pih"),
                        reports(c.slug, skin=group),
                        none=f"no report states a skin type {group}",
                    )
                ),
            )
        )

    def median_cell(value: float | None, unit: str, link: Link, none: str, n: int) -> Cell:
        if value is None:
            return Cell(empty=none)
        return Cell(
            parts=(
                Part(f"{value:g} {unit}" if unit == "days" else f"{_money(value)} {unit}", link),
            ),
            value=value,
            n=n,
            small=n < outcomes.SMALL_N,
        )

    rows.append(
        Row(
            prac_section,
            "downtime",
            "Median downtime",
            each(
                lambda c, p: median_cell(
                    p.overall.median_downtime,
                    "days",
                    reports(c.slug),
                    "no report states downtime",
                    p.overall.n,
                )
            ),
        )
    )
    for key, label, attr in (
        ("cost-session", "Median cost per session (reports)", "median_cost_per_session"),
        ("cost-course", "Median cost per course (reports)", "median_cost_per_course"),
    ):
        rows.append(
            Row(
                prac_section,
                key,
                label,
                each(
                    lambda c, p, attr=attr: median_cell(  # type: ignore[misc]
                        getattr(p.overall, attr),
                        p.overall.currency or "",
                        reports(c.slug),
                        "no report states a cost",
                        p.overall.n,
                    )
                ),
                note="Medians over reports in one currency (named); other currencies left out.",
            )
        )
    quoted = []
    for p in pracs:
        parts = []
        for q in p.prices:
            if parts:
                parts.append(Part("; "))
            amount = (
                f"{_money(q.low)}-{_money(q.high)} {q.currency}"
                if q.low != q.high
                else f"{_money(q.low)} {q.currency}"
            )
            parts.append(Part(amount, Link("price", (("id", str(q.id)),))))
            where = f", {q.region}" if q.region else ""
            who = f", quoted by {q.source_commenter}" if q.source_commenter else ""
            parts.append(Part(f" {q.unit}{where}{who}"))
        quoted.append(
            Cell(parts=tuple(parts))
            if parts
            else Cell(empty="no price quoted in the sources on file")
        )
    rows.append(
        Row(
            prac_section,
            "quoted-prices",
            "Quoted prices (from cited sources, not reports)",
            tuple(quoted),
            note="Prices as quoted in their sources; never mixed into the report medians.",
        )
    )
    return rows


def assemble(
    treatments: Sequence[Treatment],
    lits: Sequence[Literature],
    pracs: Sequence[Practice],
    *,
    indication: Indication | None = None,
) -> Comparison:
    """Lay out a comparison from its literature and practice summaries (no database access)."""
    columns = [Column(t.slug, t.name) for t in treatments]
    rows = build_rows(columns, lits, pracs, indication=indication.slug if indication else None)
    findings = [
        literature_vs_practice(c.name, lit, p.overall)
        for c, lit, p in zip(columns, lits, pracs, strict=True)
    ]
    rows.append(
        Row(
            "Literature against practice",
            "discordance",
            "Where they point different ways",
            tuple(Cell(parts=tuple(Part(f.text + " ") for f in fs)) for fs in findings),
        )
    )
    return Comparison(
        columns=columns,
        indication=indication.slug if indication else None,
        indication_name=indication.name if indication else None,
        literature=list(lits),
        practice=list(pracs),
        rows=rows,
        findings=findings,
        across=across_treatments([c.name for c in columns], lits, [p.overall for p in pracs]),
    )


def compare(
    session: Session, *, treatments: Sequence[Treatment], indication: Indication | None = None
) -> Comparison:
    """Build the whole comparison of the given treatments (and optional indication)."""
    return assemble(
        treatments,
        literature(session, treatments=treatments, indication=indication),
        practice(session, treatments=treatments, indication=indication),
        indication=indication,
    )


# --- CSV ---------------------------------------------------------------------------------------

CSV_HEADER = (
    "section",
    "measure",
    "treatment",
    "text",
    "value",
    "k",
    "n",
    "ci_low",
    "ci_high",
    "too_few_reports",
    "empty_because",
    "sources",
)


def _safe(text: str) -> str:
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(comparison: Comparison, href: Callable[[Link], str]) -> list[list[str]]:
    """Return the comparison as tidy CSV rows (one per measure and treatment), with source URLs."""

    def num(x: float | int | None) -> str:
        return "" if x is None else f"{x:g}" if isinstance(x, float) else str(x)

    out = [list(CSV_HEADER)]
    for row in comparison.rows:
        for column, cell in zip(comparison.columns, row.cells, strict=True):
            links = []
            for part in cell.parts:
                if part.link is not None and href(part.link) not in links:
                    links.append(href(part.link))
            out.append(
                [
                    row.section,
                    row.label,
                    column.slug,
                    _safe(cell.text.strip()),
                    num(cell.value),
                    num(cell.k),
                    num(cell.n),
                    num(cell.low),
                    num(cell.high),
                    "yes" if cell.small else "",
                    cell.empty or "",
                    " ".join(links),
                ]
            )
    for finding in comparison.across:
        out.append(
            ["Literature against practice", "Across treatments", "", _safe(finding.text)] + [""] * 8
        )
    return out


# --- selection and caching ---------------------------------------------------------------------


@dataclass
class Selection:
    """The treatments and indication a request asked for, with notes on what was dropped."""

    treatments: list[Treatment]
    indication: Indication | None
    notes: list[str]

    @property
    def slugs(self) -> list[str]:
        """Return the selected treatment slugs in order."""
        return [t.slug for t in self.treatments]


def select_treatments(
    session: Session, *, slugs: Sequence[str], indication: str | None
) -> Selection:
    """Resolve requested slugs: unknown ones dropped, duplicates removed, at most four kept."""
    catalogue = {t.slug: t for t in session.exec(select(Treatment))}
    notes: list[str] = []
    chosen: list[Treatment] = []
    for slug in slugs:
        slug = slug.strip()
        if not slug or slug in (t.slug for t in chosen):
            continue
        if slug not in catalogue:
            notes.append(f"No treatment is called {slug!r}; it was left out.")
        elif len(chosen) >= MAX_COMPARED:
            notes.append(f"At most {MAX_COMPARED} treatments are compared; {slug!r} was left out.")
        else:
            chosen.append(catalogue[slug])
    ind = None
    if indication:
        ind = session.exec(select(Indication).where(col(Indication.slug) == indication)).first()
        if ind is None:
            notes.append(f"No indication is called {indication!r}; all indications are shown.")
    return Selection(chosen, ind, notes)


def cached_compare(session: Session, *, selection: Selection) -> Comparison:
    """Return the comparison for a selection from the shared cache, keyed by the data versions.

    Each side is cached under its own version too, so a new report recomputes only the report
    statistics and a new citation only the citation counts.
    """
    versions = data_versions(session)
    what = (",".join(selection.slugs), selection.indication.slug if selection.indication else "")
    treatments, indication = selection.treatments, selection.indication

    def build() -> Comparison:
        lits = cache.remember(
            cache.key("compare-literature", *what, versions["literature"]),
            lambda: literature(session, treatments=treatments, indication=indication),
        )
        pracs = cache.remember(
            cache.key("compare-practice", *what, versions["practice"]),
            lambda: practice(session, treatments=treatments, indication=indication),
        )
        return assemble(treatments, lits, pracs, indication=indication)

    return cache.remember(
        cache.key("comparison", *what, versions["literature"], versions["practice"]), build
    )


# --- the evidence map ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MapCell:
    """One treatment and indication: citations, the best level present, and reports."""

    citations: int = 0
    best_level: int | None = None  # lowest level number among citations not retracted/flagged
    reports: int = 0

    @property
    def empty(self) -> bool:
        """True when neither the literature nor practice has anything here: a visible gap."""
        return not self.citations and not self.reports


@dataclass
class EvidenceMap:
    """Treatments by indications."""

    treatments: list[Treatment]
    indications: list[Indication]
    cells: dict[tuple[int, int], MapCell]

    def cell(self, treatment: Treatment, indication: Indication) -> MapCell:
        """Return the cell of a treatment and an indication (empty when nothing is linked)."""
        assert treatment.id is not None and indication.id is not None
        return self.cells.get((treatment.id, indication.id), MapCell())


def evidence_map(session: Session) -> EvidenceMap:
    """Count included citations, best level and visible reports per treatment and indication."""
    treatments = list(session.exec(select(Treatment).order_by(col(Treatment.position))))
    indications = list(
        session.exec(
            select(Indication).order_by(
                col(Indication.in_catalogue).desc(), col(Indication.position)
            )
        )
    )
    rated = case((col(Citation.retraction_status) == "none", col(Citation.evidence_level)))
    cite_stmt = (
        select(
            CitationLink.treatment_id,
            CitationLink.indication_id,
            func.count(distinct(col(Citation.id))),
            func.min(rated),
        )
        .join(Citation, col(Citation.id) == col(CitationLink.citation_id))
        .where(
            col(CitationLink.status) == "included",
            *CitationLink.in_cell(),
        )
        .group_by(col(CitationLink.treatment_id), col(CitationLink.indication_id))
    )
    cells: dict[tuple[int, int], MapCell] = {}
    for tid, iid, n, best in session.exec(cite_stmt):
        assert tid is not None and iid is not None
        cells[(tid, iid)] = MapCell(citations=int(n), best_level=int(best) if best else None)
    report_stmt = (
        select(OutcomeReport.treatment_id, OutcomeReport.indication_id, func.count())
        .where(col(OutcomeReport.hidden).is_(False), col(OutcomeReport.indication_id).is_not(None))
        .group_by(col(OutcomeReport.treatment_id), col(OutcomeReport.indication_id))
    )
    for tid, iid, n in session.exec(report_stmt):
        assert iid is not None
        old = cells.get((tid, iid), MapCell())
        cells[(tid, iid)] = MapCell(old.citations, old.best_level, int(n))
    return EvidenceMap(treatments, indications, cells)
