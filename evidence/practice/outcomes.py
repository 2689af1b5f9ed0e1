"""Outcome statistics: plain functions on plain report data, testable without Flask.

For a set of reports: n, mean improvement with a 95% t interval clipped to the 0-4 scale
(none below SMALL_N reports), responder rate
(improvement >= 2) with a Wilson interval, each adverse event's rate with a Wilson
interval, median downtime, median cost per session and per course; and the same by
skin-type group; for the validated scales, the mean change in Goodman-Baron grade (after
minus before, -3..3; negative is better) and the GAIS distribution and mean (1..5, lower is
better), each mean with the same bounded interval. Groups with fewer than SMALL_N reports
carry `small=True`, which the pages show as "too few reports" instead of a bare percentage.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, distinct, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from evidence.models import (
    ADVERSE_EVENTS,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    Treatment,
)


def _stats() -> Any:
    """Return scipy.stats, imported on first use (it costs ~0.5 s; most commands never need it)."""
    from scipy import stats

    return stats


SMALL_N = 10
RESPONDER_THRESHOLD = 2  # improvement >= 2 means more than 25% better (quartile scale)
CONFIDENCE = 0.95
IMPROVEMENT_SCALE = (0.0, 4.0)  # the quartile scale: 0 none ... 4 over 75%
GOODMAN_BARON_CHANGE_SCALE = (-3.0, 3.0)  # after - before of two 1-4 grades
GAIS_BOUNDS = (1.0, 5.0)  # 1 exceptional improvement ... 5 worse
SKIN_GROUPS = ("I-III", "IV-VI", "not stated")
EVENT_KEYS = tuple(key for key, _label in ADVERSE_EVENTS)


@dataclass(frozen=True)
class ReportData:
    """One visible report reduced to the fields statistics need."""

    id: int
    treatment: str
    indication: str | None
    fitzpatrick: int | None
    improvement: int | None
    satisfaction: int | None
    sessions: int | None
    downtime_days: float | None
    cost_per_session: float | None
    cost_per_course: float | None
    currency: str | None
    adverse_events: tuple[str, ...]
    goodman_baron_before: int | None = None
    goodman_baron_after: int | None = None
    gais: int | None = None


@dataclass(frozen=True)
class Proportion:
    """k of n with a Wilson 95% interval; bounds are None when n is 0."""

    k: int
    n: int
    rate: float | None
    low: float | None
    high: float | None
    small: bool


@dataclass(frozen=True)
class MeanCI:
    """A mean with a 95% t interval clipped to its scale; no interval below SMALL_N values."""

    n: int
    mean: float | None
    low: float | None
    high: float | None
    small: bool
    clipped: bool = False  # True when the t interval ran past the scale and was cut at its end


@dataclass(frozen=True)
class GroupStats:
    """Every figure shown for one group of reports, with the ids it was computed from."""

    label: str
    n: int
    small: bool
    report_ids: tuple[int, ...]
    improvement: MeanCI
    responders: Proportion
    adverse: dict[str, Proportion]
    median_downtime: float | None
    median_cost_per_session: float | None
    median_cost_per_course: float | None
    currency: str | None
    goodman_baron_change: MeanCI  # after - before, over reports giving both grades
    gais: MeanCI
    gais_counts: tuple[int, ...]  # reports scoring GAIS 1, 2, 3, 4, 5


@functools.lru_cache(maxsize=4096)
def _wilson(k: int, n: int) -> tuple[float, float]:
    """Return scipy's Wilson score interval for k of n.

    Memoised: a group's adverse events mostly share the same (k, n), usually (0, n), and
    binomtest also computes a p-value we do not use (about 0.3 ms a call).
    """
    ci = _stats().binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def proportion(k: int, n: int) -> Proportion:
    """Return k/n with scipy's Wilson score interval (no continuity correction)."""
    if n == 0:
        return Proportion(k=0, n=0, rate=None, low=None, high=None, small=True)
    low, high = _wilson(k, n)
    return Proportion(k=k, n=n, rate=k / n, low=low, high=high, small=n < SMALL_N)


def _median(values: Sequence[float]) -> float | None:
    """Return the median, or None for no values."""
    return float(statistics.median(values)) if values else None


def mean_interval(
    n: int,
    total: float,
    total_sq: float,
    *,
    bounds: tuple[float, float] = (0.0, 4.0),
) -> MeanCI:
    """Return the mean of n values on a bounded scale from their sums, with its 95% interval.

    The interval is Student's t, clipped to the scale's bounds (and `clipped` says so), so it
    never reads "-23.4 to 27.4" on a 0-4 scale. Below SMALL_N values no interval is given at
    all: a handful of ratings gives "too few reports", not a range that looks like knowledge.
    Integer sums are exact, so n (n - 1) s^2 = n sum(x^2) - sum(x)^2 has no cancellation error.
    """
    if n == 0:
        return MeanCI(n=0, mean=None, low=None, high=None, small=True)
    mean = total / n
    if n < SMALL_N:
        return MeanCI(n=n, mean=mean, low=None, high=None, small=True)
    spread = max(n * total_sq - total * total, 0)
    if spread == 0:
        # Identical values: scipy returns nan for a zero scale; the interval is the point.
        return MeanCI(n=n, mean=mean, low=mean, high=mean, small=False)
    sem = math.sqrt(spread / (n * (n - 1))) / math.sqrt(n)
    low, high = (float(x) for x in _stats().t.interval(CONFIDENCE, n - 1, loc=mean, scale=sem))
    floor, ceiling = bounds
    clipped = low < floor or high > ceiling
    return MeanCI(
        n=n,
        mean=mean,
        low=max(low, floor),
        high=min(high, ceiling),
        small=False,
        clipped=clipped,
    )


# A costed report in the columns cost medians need: (currency, per session, per course).
Costed = tuple[str, float | None, float | None]


@dataclass(frozen=True)
class _Totals:
    """A group's sufficient statistics: every figure of GroupStats is computed from these.

    Sums of integer values are exact, so totals summed by SQL (treatment_summaries) and totals
    summed here from a list of reports (summarize) give identical figures. Medians cannot come
    from sums: a group brings its median values, one per measure (per currency for costs).
    """

    ids: tuple[int, ...]
    improvement: tuple[int, int, int]  # (n, sum, sum of squares) of the stated improvements
    responders: int
    events: Counter[str]
    median_downtime: float | None
    costed: Counter[str]  # costed reports per currency
    median_cost: dict[str, tuple[float | None, float | None]]  # currency: (session, course)
    goodman_baron_change: tuple[int, int, int]
    gais: tuple[int, int, int]
    gais_counts: tuple[int, ...]


def _sums(values: Sequence[int]) -> tuple[int, int, int]:
    """Return (n, sum, sum of squares) of integer values."""
    return len(values), sum(values), sum(v * v for v in values)


def _group_stats(
    *,
    label: str,
    ids: Sequence[int],
    improvements: Sequence[int],
    events: Counter[str],
    downtimes: Sequence[float],
    costed: Sequence[Costed],
    goodman_baron_changes: Sequence[int] = (),
    gais: Sequence[int] = (),
) -> GroupStats:
    """Compute a group's figures from its columns (through _Totals, as treatment_summaries).

    `events` counts reports per adverse event; `costed` holds the reports with a currency and
    a per-session or per-course cost (the course cost already derived by _Columns.add);
    `goodman_baron_changes` the after - before grade of reports giving both, `gais` the scores.
    """
    currencies = Counter(currency for currency, _s, _c in costed)
    return _from_totals(
        label,
        _Totals(
            ids=tuple(ids),
            improvement=_sums(improvements),
            responders=sum(1 for value in improvements if value >= RESPONDER_THRESHOLD),
            events=events,
            median_downtime=_median(downtimes),
            costed=currencies,
            median_cost={
                cur: (
                    _median([s for c, s, _co in costed if c == cur and s is not None]),
                    _median([co for c, _s, co in costed if c == cur and co is not None]),
                )
                for cur in currencies
            },
            goodman_baron_change=_sums(goodman_baron_changes),
            gais=_sums(gais),
            gais_counts=tuple(sum(1 for v in gais if v == score) for score in range(1, 6)),
        ),
    )


def _from_totals(label: str, t: _Totals) -> GroupStats:
    """Compute a group's figures from its sufficient statistics: the one place they are made."""
    n = len(t.ids)
    # Medians are taken over one currency, the one most costed reports use (ties: alphabetical):
    # amounts in different currencies are never mixed.
    currency = min(t.costed.items(), key=lambda item: (-item[1], item[0]))[0] if t.costed else None
    per_session, per_course = (
        t.median_cost.get(currency, (None, None)) if currency else (None, None)
    )
    n_imp, total, total_sq = t.improvement
    return GroupStats(
        label=label,
        n=n,
        small=n < SMALL_N,
        report_ids=t.ids,
        improvement=mean_interval(n_imp, total, total_sq, bounds=IMPROVEMENT_SCALE),
        responders=proportion(t.responders, n_imp),
        adverse={key: proportion(t.events[key], n) for key in EVENT_KEYS},
        median_downtime=t.median_downtime,
        median_cost_per_session=per_session,
        median_cost_per_course=per_course,
        currency=currency,
        goodman_baron_change=mean_interval(
            *t.goodman_baron_change, bounds=GOODMAN_BARON_CHANGE_SCALE
        ),
        gais=mean_interval(*t.gais, bounds=GAIS_BOUNDS),
        gais_counts=t.gais_counts,
    )


@dataclass
class _Columns:
    """One group's columns, gathered report by report.

    `add` is the one place a report's values become figures' inputs (the course cost, the
    grade change, which costs count), whether the report came as ReportData (summarize) or
    as a row of columns (treatment_summaries).
    """

    ids: list[int] = field(default_factory=list)
    improvements: list[int] = field(default_factory=list)
    downtimes: list[float] = field(default_factory=list)
    costed: list[Costed] = field(default_factory=list)
    goodman_baron_changes: list[int] = field(default_factory=list)
    gais: list[int] = field(default_factory=list)

    def add(  # a report's columns, in the order treatment_summaries selects them
        self,
        report_id: int,
        improvement: int | None,
        downtime: float | None,
        per_session: float | None,
        per_course: float | None,
        sessions: int | None,
        currency: str | None,
        gb_before: int | None,
        gb_after: int | None,
        gais: int | None,
    ) -> None:
        """Add one report's values."""
        self.ids.append(report_id)
        if improvement is not None:
            self.improvements.append(improvement)
        if downtime is not None:
            self.downtimes.append(downtime)
        # The course cost: as stated, else cost per session times sessions.
        if per_course is None and per_session is not None and sessions is not None:
            per_course = per_session * sessions
        if currency and (per_session is not None or per_course is not None):
            self.costed.append((currency, per_session, per_course))
        if gb_before is not None and gb_after is not None:  # after - before: negative is better
            self.goodman_baron_changes.append(gb_after - gb_before)
        if gais is not None:
            self.gais.append(gais)

    def add_report(self, r: ReportData) -> None:
        """Add one report given as ReportData."""
        self.add(
            r.id,
            r.improvement,
            r.downtime_days,
            r.cost_per_session,
            r.cost_per_course,
            r.sessions,
            r.currency,
            r.goodman_baron_before,
            r.goodman_baron_after,
            r.gais,
        )

    def stats(self, label: str, events: Counter[str]) -> GroupStats:
        """Compute the group's figures; `events` counts its reports per adverse event."""
        return _group_stats(
            label=label,
            ids=self.ids,
            improvements=self.improvements,
            events=events,
            downtimes=self.downtimes,
            costed=self.costed,
            goodman_baron_changes=self.goodman_baron_changes,
            gais=self.gais,
        )


def summarize(reports: Sequence[ReportData], *, label: str = "all") -> GroupStats:
    """Compute every figure for one group of reports."""
    columns = _Columns()
    events: Counter[str] = Counter()
    for r in reports:
        columns.add_report(r)
        events.update(set(r.adverse_events))
    return columns.stats(label, events)


LIGHTER_SKIN_MAX = 3  # Fitzpatrick I-III; IV-VI above


def skin_group(fitzpatrick: int | None) -> str:
    """Return the skin-type group label of a Fitzpatrick type (SQL: _skin_case)."""
    if fitzpatrick is None:
        return SKIN_GROUPS[2]
    return SKIN_GROUPS[0] if fitzpatrick <= LIGHTER_SKIN_MAX else SKIN_GROUPS[1]


def skin_type_groups(reports: Sequence[ReportData]) -> dict[str, GroupStats]:
    """Summarize reports by skin-type group: I-III, IV-VI and not stated (always all three)."""
    grouped: dict[str, list[ReportData]] = {key: [] for key in SKIN_GROUPS}
    for report in reports:
        grouped[skin_group(report.fitzpatrick)].append(report)
    return {key: summarize(grouped[key], label=key) for key in SKIN_GROUPS}


@dataclass
class TreatmentStatistics:
    """A treatment page's report statistics: all reports, by skin type and by indication."""

    overall: GroupStats
    by_skin: dict[str, GroupStats]
    by_indication: list[tuple[str, str, GroupStats]]  # (slug or "", name, statistics)
    events_shown: list[tuple[str, str]]  # (key, label) of the adverse-event columns


def treatment_statistics(
    session: Session, *, treatment: str, indications: Sequence[Indication]
) -> TreatmentStatistics:
    """Summarize a treatment's visible reports: overall, by skin type, by indication.

    `indications` gives the order of the per-indication rows (those with reports); reports
    that state no indication come last as "Not stated".
    """
    rows = report_data(session, treatment=treatment)
    overall = summarize(rows)
    by_indication = []
    for ind in indications:
        subset = [r for r in rows if r.indication == ind.slug]
        if subset:
            by_indication.append((ind.slug, ind.name, summarize(subset, label=ind.name)))
    unstated = [r for r in rows if r.indication is None]
    if unstated:
        by_indication.append(("", "Not stated", summarize(unstated, label="not stated")))
    # Every event a report names, plus PIH (the risk argued about for darker skin).
    events_shown = [
        (key, label) for key, label in ADVERSE_EVENTS if key == "pih" or overall.adverse[key].k > 0
    ]
    return TreatmentStatistics(overall, skin_type_groups(rows), by_indication, events_shown)


def report_data(
    session: Session, *, treatment: str | None = None, indication: str | None = None
) -> list[ReportData]:
    """Load the visible (not hidden) reports, optionally for one treatment and indication slug."""
    # Plain columns, not ORM objects: building model instances was most of the cost.
    stmt = (
        sa_select(
            col(OutcomeReport.id),
            col(Treatment.slug),
            col(Indication.slug),
            col(OutcomeReport.fitzpatrick),
            col(OutcomeReport.improvement),
            col(OutcomeReport.satisfaction),
            col(OutcomeReport.sessions),
            col(OutcomeReport.downtime_days),
            col(OutcomeReport.cost_per_session),
            col(OutcomeReport.cost_per_course),
            col(OutcomeReport.currency),
            col(OutcomeReport.goodman_baron_before),
            col(OutcomeReport.goodman_baron_after),
            col(OutcomeReport.gais),
        )
        .join(Treatment, col(Treatment.id) == col(OutcomeReport.treatment_id))
        .outerjoin(Indication, col(Indication.id) == col(OutcomeReport.indication_id))
        .where(col(OutcomeReport.hidden).is_(False))
        .order_by(col(OutcomeReport.id))
    )
    if treatment is not None:
        stmt = stmt.where(col(Treatment.slug) == treatment)
    if indication is not None:
        stmt = stmt.where(col(Indication.slug) == indication)
    # A plain SQLAlchemy select of 14 columns: SQLModel's select() types at most four.
    rows = list(session.connection().execute(stmt))
    events: dict[int, list[str]] = defaultdict(list)
    if rows:
        visible = stmt.with_only_columns(col(OutcomeReport.id)).order_by(None).subquery()
        event_rows = session.exec(
            select(OutcomeAdverseEvent.report_id, OutcomeAdverseEvent.event).where(
                col(OutcomeAdverseEvent.report_id).in_(select(visible.c.id))
            )
        )
        for event_report_id, event in event_rows:
            events[event_report_id].append(event)
    out = []
    for row in rows:
        report_id = row[0]
        assert report_id is not None  # a primary key
        out.append(
            ReportData(
                id=report_id,
                treatment=row[1],
                indication=row[2],
                fitzpatrick=row[3],
                improvement=row[4],
                satisfaction=row[5],
                sessions=row[6],
                downtime_days=row[7],
                cost_per_session=row[8],
                cost_per_course=row[9],
                currency=row[10],
                adverse_events=tuple(sorted(set(events[report_id]))),
                goodman_baron_before=row[11],
                goodman_baron_after=row[12],
                gais=row[13],
            )
        )
    return out


@dataclass(frozen=True)
class TreatmentSummary:
    """One treatment's report figures: all reports, by skin-type group, improvement histogram."""

    overall: GroupStats
    by_skin: dict[str, GroupStats]
    improvement_counts: tuple[int, ...]  # reports rating 0, 1, 2, 3, 4


def _skin_case() -> Any:
    """Return skin_group() as an SQL expression over the report's Fitzpatrick type."""
    fitz = col(OutcomeReport.fitzpatrick)
    return case(
        (fitz.is_(None), SKIN_GROUPS[2]),
        (fitz <= LIGHTER_SKIN_MAX, SKIN_GROUPS[0]),
        else_=SKIN_GROUPS[1],
    )


def _ids_text(column: Any) -> Any:
    """Return an aggregate joining a group's ids with commas (group_concat / string_agg)."""
    return func.aggregate_strings(sa.cast(column, sa.String), ",")


def _course_cost() -> Any:
    """Return the course cost of _Columns.add as SQL: as stated, else per session x sessions."""
    return func.coalesce(
        col(OutcomeReport.cost_per_course),
        col(OutcomeReport.cost_per_session) * col(OutcomeReport.sessions),
    )


def _count_if(condition: Any) -> Any:
    """Return SQL counting the rows where condition holds."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _sum(expr: Any) -> Any:
    """Return SQL summing expr, 0 over no rows."""
    return func.coalesce(func.sum(expr), 0)


def treatment_summaries(
    session: Session, *, treatments: Sequence[str], indication: str | None = None
) -> dict[str, TreatmentSummary]:
    """Summarize the visible reports of several treatment slugs.

    The same figures as summarize() and skin_type_groups() on report_data() for each slug,
    without bringing a row per report into Python: SQL sums each skin-type group's sufficient
    statistics (counts, sums and sums of squares of the integer scales, event counts, costed
    reports per currency) and joins its ids into one string, and a window query brings only
    the middle values the medians need. The overall figures are the three groups together.
    """
    wanted = list(dict.fromkeys(treatments))
    skin = _skin_case()
    where: list[Any] = [col(OutcomeReport.hidden).is_(False), col(Treatment.slug).in_(wanted)]
    if indication is not None:
        where.append(col(Indication.slug) == indication)

    def scoped(stmt: Any) -> Any:
        stmt = stmt.join(Treatment, col(Treatment.id) == col(OutcomeReport.treatment_id))
        if indication is not None:
            stmt = stmt.join(Indication, col(Indication.id) == col(OutcomeReport.indication_id))
        return stmt.where(*where)

    improvement = col(OutcomeReport.improvement)
    before, after = col(OutcomeReport.goodman_baron_before), col(OutcomeReport.goodman_baron_after)
    change = case((before.is_not(None) & after.is_not(None), after - before))
    gais = col(OutcomeReport.gais)
    connection = session.connection()
    events: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    event_rows = connection.execute(
        scoped(
            sa_select(
                col(Treatment.slug),
                skin,
                col(OutcomeAdverseEvent.event),
                func.count(distinct(col(OutcomeAdverseEvent.report_id))),
            )
            .select_from(OutcomeAdverseEvent)
            .join(OutcomeReport, col(OutcomeReport.id) == col(OutcomeAdverseEvent.report_id))
        ).group_by(col(Treatment.slug), skin, col(OutcomeAdverseEvent.event))
    )
    for slug, group, event, count in event_rows:
        events[(slug, group)][event] = int(count)
    # One pass over the reports, grouped by treatment, skin-type group and currency: the sums
    # (added up over currencies below), the ids, and for the medians the values themselves,
    # each group's joined in one string per measure, written to read back exactly.
    currency = col(OutcomeReport.currency)
    per_session, per_course = col(OutcomeReport.cost_per_session), _course_cost()
    sqlite = connection.dialect.name == "sqlite"
    rows = connection.execute(
        scoped(
            sa_select(
                col(Treatment.slug),
                skin,
                currency,
                *(
                    func.aggregate_strings(_exact_text(v, sqlite=sqlite), ",")
                    for v in (col(OutcomeReport.downtime_days), per_session, per_course)
                ),
                _count_if(per_session.is_not(None) | per_course.is_not(None)),
                _ids_text(col(OutcomeReport.id)),
                func.count(improvement),
                _sum(improvement),
                _sum(improvement * improvement),
                _count_if(improvement >= RESPONDER_THRESHOLD),
                *(_count_if(improvement == v) for v in range(5)),
                func.count(change),
                _sum(change),
                _sum(change * change),
                func.count(gais),
                _sum(gais),
                _sum(gais * gais),
                *(_count_if(gais == v) for v in range(1, 6)),
            ).select_from(OutcomeReport)
        ).group_by(col(Treatment.slug), skin, currency)
    ).all()
    costed, medians = _medians([row[:7] for row in rows])
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in rows:
        so_far: tuple[Any, ...] = found.get((row[0], row[1])) or ("", *([0] * 20))
        found[(row[0], row[1])] = (
            f"{so_far[0]},{row[7]}",
            *(int(x) + int(y) for x, y in zip(so_far[1:], row[8:], strict=True)),
        )
    out = {}
    for slug in wanted:
        by_skin = {}
        parts = []
        for key in SKIN_GROUPS:
            ids_text, *numbers = found.get((slug, key)) or ("", *([0] * 20))
            ids = tuple(sorted(int(i) for i in str(ids_text).split(",") if i))
            n = [int(x) for x in numbers]
            parts.append((ids, n))
            by_skin[key] = _from_totals(
                key,
                _Totals(
                    ids=ids,
                    improvement=(n[0], n[1], n[2]),
                    responders=n[3],
                    events=events[(slug, key)],
                    median_downtime=medians.get(("downtime", slug, key, "")),
                    costed=costed[(slug, key)],
                    median_cost={
                        cur: (
                            medians.get(("session", slug, key, cur)),
                            medians.get(("course", slug, key, cur)),
                        )
                        for cur in costed[(slug, key)]
                    },
                    goodman_baron_change=(n[9], n[10], n[11]),
                    gais=(n[12], n[13], n[14]),
                    gais_counts=tuple(n[15:20]),
                ),
            )
        # Overall: the three groups together (sums add; the medians are the overall window's).
        summed = [sum(n[i] for _ids, n in parts) for i in range(20)]
        overall_events: Counter[str] = Counter()
        overall_costed: Counter[str] = Counter()
        for key in SKIN_GROUPS:
            overall_events.update(events[(slug, key)])
            overall_costed.update(costed[(slug, key)])
        overall = _from_totals(
            "all",
            _Totals(
                ids=tuple(sorted(i for ids, _n in parts for i in ids)),
                improvement=(summed[0], summed[1], summed[2]),
                responders=summed[3],
                events=overall_events,
                median_downtime=medians.get(("downtime", slug, "all", "")),
                costed=overall_costed,
                median_cost={
                    cur: (
                        medians.get(("session", slug, "all", cur)),
                        medians.get(("course", slug, "all", cur)),
                    )
                    for cur in overall_costed
                },
                goodman_baron_change=(summed[9], summed[10], summed[11]),
                gais=(summed[12], summed[13], summed[14]),
                gais_counts=tuple(summed[15:20]),
            ),
        )
        out[slug] = TreatmentSummary(
            overall=overall,
            by_skin=by_skin,
            improvement_counts=tuple(summed[4:9]),
        )
    return out


def _exact_text(value: Any, *, sqlite: bool) -> Any:
    """Return SQL writing a float so that float() reads back the same number (NULL stays NULL).

    SQLite's quote() writes every REAL exactly (its printf and CAST keep 15-16 digits);
    PostgreSQL writes a double precision as its shortest exact text.
    """
    if sqlite:
        return case((value.is_not(None), func.quote(value)))
    return sa.cast(value, sa.Text)


def _floats(text: str | None) -> list[float]:
    """Return the numbers of a comma-joined string."""
    return [float(x) for x in text.split(",")] if text else []


def _medians(
    rows: Sequence[Any],
) -> tuple[dict[tuple[str, str], Counter[str]], dict[tuple[str, str, str, str], float]]:
    """Return costed reports per currency by (slug, skin group), and the medians of each
    measure by (measure, slug, skin group or "all", currency; "" for downtime).

    `rows` are (slug, skin group, currency, downtime values, per-session costs, course costs,
    costed reports) per currency, the values comma-joined, the course cost derived as
    _Columns.add does; which reports count is _Columns.add's rule.
    """
    lists: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    costed: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for slug, group, currency, downtimes, per_session, per_course, n_costed in rows:
        found = _floats(downtimes)
        if found:
            lists[("downtime", slug, group, "")].extend(found)
        if not currency or not n_costed:
            continue  # costs without a currency are not counted
        costed[(slug, group)][currency] += int(n_costed)
        for measure, text in (("session", per_session), ("course", per_course)):
            found = _floats(text)
            if found:
                lists[(measure, slug, group, currency)].extend(found)
    overall: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
    for (measure, slug, _group, currency), found in lists.items():
        overall[(measure, slug, "all", currency)].extend(found)
    medians = {}
    for key, found in (*lists.items(), *overall.items()):
        median = _median(found)
        assert median is not None  # only groups with values are listed
        medians[key] = median
    return costed, medians
