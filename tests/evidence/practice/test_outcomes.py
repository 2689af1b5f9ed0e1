"""Outcome statistics checked against values worked out by hand.

Wilson interval (95%, z = 1.959964, no continuity correction):
    centre = (p + z^2 / 2n) / (1 + z^2 / n)
    half   = z * sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)
t interval: mean +/- t(0.975, n - 1) * sd / sqrt(n), t(0.975, 3) = 3.182446, t(0.975, 1) = 12.7062.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import scipy.stats as st
from flask import Flask
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Indication, OutcomeAdverseEvent, OutcomeReport, Treatment
from evidence.practice.outcomes import (
    SMALL_N,
    MeanCI,
    ReportData,
    mean_interval,
    proportion,
    report_data,
    skin_type_groups,
    summarize,
)

approx = pytest.approx


def rep(
    id: int,
    *,
    fitz: int | None = None,
    imp: int | None = None,
    downtime: float | None = None,
    per_session: float | None = None,
    per_course: float | None = None,
    sessions: int | None = None,
    currency: str | None = None,
    events: tuple[str, ...] = (),
) -> ReportData:
    """Build one report's plain data."""
    return ReportData(
        id=id,
        treatment="microneedling",
        indication="acne-scars",
        fitzpatrick=fitz,
        improvement=imp,
        satisfaction=None,
        sessions=sessions,
        downtime_days=downtime,
        cost_per_session=per_session,
        cost_per_course=per_course,
        currency=currency,
        adverse_events=events,
    )


# Five reports; every expected figure below was worked out by hand from these rows.
FIVE = [
    rep(1, fitz=2, imp=3, downtime=2, per_session=200, sessions=3, currency="USD"),
    rep(
        2,
        fitz=5,
        imp=1,
        downtime=4,
        per_session=300,
        per_course=1000,
        sessions=3,
        currency="USD",
        events=("pih",),
    ),
    rep(3, fitz=5, imp=2, downtime=3, sessions=4, events=("pih", "erythema-7d")),
    rep(4, per_session=150, currency="EUR"),
    rep(5, fitz=1, imp=4, downtime=1, per_session=250, sessions=2, currency="USD"),
]


def test_wilson_interval_matches_hand_computation() -> None:
    """3 of 10: p = 0.3, centre 0.35550, half-width 0.24772."""
    p = proportion(3, 10)
    assert (p.k, p.n, p.rate) == (3, 10, 0.3)
    assert p.low == approx(0.10779, abs=1e-5)
    assert p.high == approx(0.60322, abs=1e-5)
    assert p.small is False


def test_wilson_interval_at_zero_and_all() -> None:
    """0 of 5 starts at 0 (upper 0.43448); 12 of 12 ends at 1 (lower 12 / (12 + z^2))."""
    none = proportion(0, 5)
    assert none.rate == 0.0 and none.low == approx(0.0, abs=1e-9)
    assert none.high == approx(0.43448, abs=1e-5)
    assert none.small is True
    every = proportion(12, 12)
    assert every.low == approx(12 / (12 + 1.959964**2), abs=1e-5)
    assert every.high == approx(1.0)


def test_proportion_of_nothing_has_no_rate() -> None:
    """With no reports there is no rate to show, not a 0%."""
    p = proportion(0, 0)
    assert (p.rate, p.low, p.high, p.small) == (None, None, None, True)


def test_mean_interval_reproduces_students_sleep_data() -> None:
    """Student's (1908) sleep data, as R prints it: t.test(extra ~ group, data = sleep, paired =
    TRUE) gives mean difference 1.58, 95 percent confidence interval 0.7001142 2.4598858.

    Computed by mean_interval, from the sums, as production computes every group's mean.
    """
    diffs = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    m = mean_interval(len(diffs), sum(diffs), sum(d * d for d in diffs), bounds=(-10.0, 10.0))
    assert m.mean == approx(1.58, abs=1e-12)
    assert m.low == approx(0.7001142, abs=1e-7)
    assert m.high == approx(2.4598858, abs=1e-7)
    assert m.small is False and m.clipped is False


def test_interval_never_leaves_the_scale_and_says_when_cut() -> None:
    """Nine 4s and a 0: mean 3.6, t interval 2.695 to 4.505, shown as 2.7 to 4.0, clipped."""
    reports = [rep(i, imp=4) for i in range(9)] + [rep(9, imp=0)]
    m = summarize(reports).improvement
    assert m.mean == approx(3.6)
    assert m.low == approx(3.6 - 2.2621572 * 0.4, abs=1e-6)
    assert m.high == 4.0 and m.clipped is True


def test_few_reports_give_no_interval() -> None:
    """Three identical or two far-apart reports: a mean, marked too few, and no interval."""
    for values in ([2, 2, 2], [0, 4], [1, 2, 3, 4]):
        m = summarize([rep(i, imp=v) for i, v in enumerate(values)]).improvement
        assert m.small is True and (m.low, m.high) == (None, None)


def test_mean_of_one_value_has_no_interval() -> None:
    """One value gives a mean but no interval; none gives nothing."""
    assert mean_interval(1, 3, 9) == MeanCI(n=1, mean=3.0, low=None, high=None, small=True)
    assert mean_interval(0, 0, 0).mean is None


def test_summary_of_five_reports() -> None:
    """Every figure of the five-report group, worked by hand."""
    s = summarize(FIVE)
    assert s.label == "all" and s.n == 5 and s.small is True
    assert s.report_ids == (1, 2, 3, 4, 5)
    # improvement stated in 4 reports: 3, 1, 2, 4
    assert s.improvement.n == 4 and s.improvement.mean == 2.5
    assert s.improvement.low is None and s.improvement.small  # 4 reports: no interval
    # responders (>= 2): 3, 2, 4 -> 3 of 4; Wilson (0.30064, 0.95441)
    assert (s.responders.k, s.responders.n) == (3, 4)
    assert s.responders.rate == 0.75
    assert s.responders.low == approx(0.30064, abs=1e-5)
    assert s.responders.high == approx(0.95441, abs=1e-5)
    # PIH in 2 of all 5 reports: Wilson (0.11762, 0.76928)
    pih = s.adverse["pih"]
    assert (pih.k, pih.n, pih.rate) == (2, 5, 0.4)
    assert pih.low == approx(0.11762, abs=1e-5) and pih.high == approx(0.76928, abs=1e-5)
    assert (s.adverse["erythema-7d"].k, s.adverse["erythema-7d"].n) == (1, 5)
    assert s.adverse["infection"].k == 0 and s.adverse["infection"].rate == 0.0
    # downtime 2, 4, 3, 1 -> median 2.5
    assert s.median_downtime == 2.5
    # USD is used by 3 costed reports, EUR by 1: medians over USD only.
    assert s.currency == "USD"
    assert s.median_cost_per_session == 250  # 200, 300, 250
    # per course: 200 x 3 = 600, stated 1000, 250 x 2 = 500 -> 600
    assert s.median_cost_per_course == 600


def test_every_vocabulary_event_has_a_rate() -> None:
    """Adverse events never reported still appear, at 0 of n."""
    from evidence.models import ADVERSE_EVENTS

    s = summarize(FIVE)
    assert set(s.adverse) == {key for key, _ in ADVERSE_EVENTS}


def test_skin_type_groups() -> None:
    """I-III holds types 1-3, IV-VI types 4-6, and reports without a type are kept apart."""
    groups = skin_type_groups(FIVE)
    assert list(groups) == ["I-III", "IV-VI", "not stated"]
    light, dark, unknown = groups["I-III"], groups["IV-VI"], groups["not stated"]
    assert light.report_ids == (1, 5) and dark.report_ids == (2, 3) and unknown.report_ids == (4,)
    # IV-VI: improvement 1, 2 -> mean 1.5; two reports give no interval (t would give -4.9)
    assert dark.improvement.mean == 1.5
    assert dark.improvement.low is None
    assert (dark.responders.k, dark.responders.n) == (1, 2)
    assert dark.responders.low == approx(0.09453, abs=1e-5)
    assert dark.adverse["pih"].k == 2 and dark.adverse["pih"].low == approx(0.34238, abs=1e-5)
    assert light.adverse["pih"].k == 0
    assert dark.median_cost_per_session == 300 and dark.currency == "USD"
    assert unknown.currency == "EUR" and unknown.median_cost_per_session == 150
    assert unknown.improvement.mean is None and unknown.responders.rate is None
    assert all(g.small for g in groups.values())


def test_small_mark_switches_at_ten() -> None:
    """Nine reports are 'too few'; ten are not; identical values give a zero-width interval."""
    nine = summarize([rep(i, imp=2) for i in range(9)])
    ten = summarize([rep(i, imp=2) for i in range(10)])
    assert SMALL_N == 10
    assert nine.small is True and nine.responders.small is True
    assert ten.small is False and ten.responders.small is False
    assert ten.improvement.mean == 2 and ten.improvement.low == 2 and ten.improvement.high == 2
    assert not math.isnan(ten.improvement.low or 0)


def test_empty_group() -> None:
    """No reports: n 0, no figures, marked small."""
    s = summarize([], label="IV-VI")
    assert (s.label, s.n, s.small, s.report_ids) == ("IV-VI", 0, True, ())
    assert s.median_downtime is None and s.currency is None
    assert s.adverse["pih"].rate is None


def test_report_data_reads_visible_reports_with_their_events(any_app: Flask) -> None:
    """Hidden reports are left out; adverse events and slugs come along (SQLite, PostgreSQL)."""
    with any_app.app_context(), session_scope() as session:
        needling = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
        acne = session.exec(select(Indication).where(Indication.slug == "acne-scars")).one()
        before = {r.id for r in report_data(session, treatment="microneedling")}
        shown = OutcomeReport(
            treatment_id=needling.id,
            indication_id=acne.id,
            fitzpatrick=5,
            improvement=3,
            sessions=3,
            cost_per_session=200,
            currency="USD",
        )
        hidden = OutcomeReport(treatment_id=needling.id, improvement=0, hidden=True)
        session.add_all([shown, hidden])
        session.flush()
        assert shown.id is not None
        session.add(OutcomeAdverseEvent(report_id=shown.id, event="pih"))
        session.flush()
        rows = {r.id: r for r in report_data(session, treatment="microneedling")}
        assert set(rows) - before == {shown.id}
        mine = rows[shown.id]
        assert mine.treatment == "microneedling" and mine.indication == "acne-scars"
        assert mine.fitzpatrick == 5 and mine.adverse_events == ("pih",)
        assert mine.cost_per_session == 200 and mine.currency == "USD"
        by_indication = report_data(session, treatment="microneedling", indication="acne-scars")
        assert shown.id in {r.id for r in by_indication}
        assert all(r.indication == "acne-scars" for r in by_indication)
        lasers = report_data(session, treatment="fractional-co2-laser")
        assert shown.id not in {r.id for r in lasers}


def test_treatment_summaries_equal_summaries_of_report_data(any_app: Flask) -> None:
    """The two-query summaries give exactly what summarize() gives on the loaded reports.

    Sixty varied reports (types, missing fields, two currencies and an empty one, stated and
    derived course costs, events, validated scales, hidden ones) over three treatments, with and
    without an indication.
    """
    import random

    from evidence.practice.outcomes import treatment_summaries

    rng = random.Random(7)
    slugs = ["microneedling", "fractional-co2-laser", "microneedling-prp"]
    with any_app.app_context(), session_scope() as session:
        ids = {t.slug: t.id for t in session.exec(select(Treatment)) if t.slug in slugs}
        acne = session.exec(select(Indication).where(Indication.slug == "acne-scars")).one()
        for i in range(60):
            report = OutcomeReport(
                treatment_id=ids[slugs[i % 3]],
                indication_id=acne.id if i % 4 else None,
                fitzpatrick=rng.choice([None, 1, 3, 4, 6]),
                improvement=rng.choice([None, 0, 1, 2, 3, 4]),
                sessions=rng.choice([None, 1, 3]),
                downtime_days=rng.choice([None, 0.5, 2.0, 7.0, 0.1 + 0.2, 1 / 3]),
                cost_per_session=rng.choice([None, 200.0, 350.0, 123.45678901234567]),
                cost_per_course=rng.choice([None, None, 900.0]),
                currency=rng.choice([None, "", "USD", "USD", "EUR"]),
                hidden=i % 11 == 0,
                goodman_baron_before=rng.choice([None, 2, 3, 4]),
                goodman_baron_after=rng.choice([None, 1, 2]),
                gais=rng.choice([None, 1, 2, 3, 5]),
            )
            session.add(report)
            session.flush()
            for event in rng.sample(
                ["pih", "erythema-7d", "infection", "herpes"], rng.randint(0, 2)
            ):
                session.add(OutcomeAdverseEvent(report_id=report.id, event=event))
        session.flush()
        for indication in (None, "acne-scars"):
            got = treatment_summaries(session, treatments=slugs, indication=indication)
            assert list(got) == slugs
            for slug in slugs:
                reports = report_data(session, treatment=slug, indication=indication)
                assert reports, slug
                assert got[slug].overall == summarize(reports)
                assert got[slug].by_skin == skin_type_groups(reports)
                stated = [r.improvement for r in reports if r.improvement is not None]
                assert got[slug].improvement_counts == tuple(stated.count(v) for v in range(5))
                # The mean and interval from sums equal scipy's from the values themselves.
                mean = got[slug].overall.improvement
                assert (mean.n, mean.mean) == (len(stated), approx(st.tmean(stated), rel=1e-12))
                if len(stated) < SMALL_N:
                    assert (mean.low, mean.high) == (None, None)
                else:
                    low, high = st.t.interval(
                        0.95, len(stated) - 1, loc=st.tmean(stated), scale=st.sem(stated)
                    )
                    assert (mean.low, mean.high) == (
                        approx(max(low, 0.0), rel=1e-9),
                        approx(min(high, 4.0), rel=1e-9),
                    )


def test_pages_and_api_show_too_few_reports_not_an_interval(app: Flask) -> None:
    """Three identical ratings: the treatment page and the API give no '2.0 to 2.0' interval."""
    with app.app_context(), session_scope() as session:
        erbium = session.exec(
            select(Treatment).where(Treatment.slug == "fractional-erbium-laser")
        ).one()
        for _ in range(3):
            session.add(OutcomeReport(treatment_id=erbium.id, improvement=2))
    client = app.test_client()
    page = client.get("/treatments/fractional-erbium-laser").get_data(as_text=True)
    assert "2.0 to 2.0" not in page
    assert re.search(
        r"<strong>2\.0</strong> / 4</a>\s*<span class=\"ci\">\(3 reports; <span "
        r"class=\"too-few\">too few reports</span>\)",
        page,
    )
    data = client.get("/api/v1/compare?treatments=fractional-erbium-laser,microneedling").get_json()
    text = json.dumps(data, sort_keys=True)
    expected = {"n": 3, "mean": 2.0, "low": None, "high": None, "too_few": True, "clipped": False}
    assert json.dumps(expected, sort_keys=True) in text
