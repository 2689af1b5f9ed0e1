"""Validated scales on outcome reports: Goodman-Baron grade before/after and GAIS.

Statistics are checked against values worked out by hand:
t interval: mean +/- t(0.975, n - 1) * sd / sqrt(n), with t(0.975, 9) = 2.262157.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import re

import pytest
from flask import Flask

from evidence.db import session_scope
from evidence.models import OutcomeReport
from evidence.practice.outcomes import ReportData, summarize, treatment_summaries
from evidence.practice.outcomes import report_data as load_report_data
from tests.evidence.practice.test_reports import (
    account,
    count_reports,
    errors_in,
    report_id_of,
    submit,
    upload,
)

approx = pytest.approx


def rep(
    id: int, *, before: int | None = None, after: int | None = None, gais: int | None = None
) -> ReportData:
    """Build one acne-scar report's plain data with its scale values."""
    return ReportData(
        id=id,
        treatment="microneedling",
        indication="acne-scars",
        fitzpatrick=None,
        improvement=2,
        satisfaction=None,
        sessions=None,
        downtime_days=None,
        cost_per_session=None,
        cost_per_course=None,
        currency=None,
        adverse_events=(),
        goodman_baron_before=before,
        goodman_baron_after=after,
        gais=gais,
    )


# Ten changes after - before: sum -10, sum of squares 14, so mean -1.0 and sd = sqrt(4/9).
CHANGES = [(3, 2), (3, 2), (4, 2), (2, 1), (2, 2), (3, 2), (3, 1), (4, 3), (3, 2), (1, 1)]
# Ten GAIS scores: sum 26, sum of squares 74, so mean 2.6 and sd = sqrt(6.4/9).
GAIS = [2, 3, 3, 2, 1, 3, 4, 3, 2, 3]


# --- statistics -------------------------------------------------------------------------------


def test_goodman_baron_change_mean_and_interval() -> None:
    """Mean change -1.0; 95% CI -1.0 -/+ 2.262157 * 0.666667 / sqrt(10) = -1.4769 to -0.5231."""
    reports = [rep(i, before=b, after=a) for i, (b, a) in enumerate(CHANGES, start=1)]
    # A report with only the grade before says nothing about a change and is left out.
    g = summarize([*reports, rep(99, before=4)])
    m = g.goodman_baron_change
    assert m.n == 10 and m.mean == approx(-1.0)
    assert not m.small and not m.clipped
    assert m.low == approx(-1.476904, abs=1e-6) and m.high == approx(-0.523096, abs=1e-6)


def test_gais_distribution_mean_and_interval() -> None:
    """Mean 2.6; 95% CI 2.6 -/+ 2.262157 * 0.843274 / sqrt(10) = 1.9968 to 3.2032."""
    g = summarize([rep(i, gais=v) for i, v in enumerate(GAIS, start=1)] + [rep(50)])
    assert g.gais_counts == (1, 3, 5, 1, 0)
    assert g.gais.n == 10 and g.gais.mean == approx(2.6)
    assert g.gais.low == approx(1.996758, abs=1e-6) and g.gais.high == approx(3.203242, abs=1e-6)


def test_scale_intervals_are_cut_at_the_scale_ends() -> None:
    """Nine GAIS 1 and one 5: t interval 1.4 -/+ 0.904863 runs below 1 and is cut there."""
    g = summarize([rep(i, gais=1) for i in range(9)] + [rep(9, gais=5)])
    assert g.gais.mean == approx(1.4)
    assert g.gais.low == 1.0 and g.gais.clipped
    assert g.gais.high == approx(2.304863, abs=1e-6)
    # Nine grades 4 -> 1 and one 1 -> 4: mean -2.4, interval -2.4 -/+ 1.357294 cut at -3.
    worst = [rep(i, before=4, after=1) for i in range(9)] + [rep(9, before=1, after=4)]
    change = summarize(worst).goodman_baron_change
    assert change.mean == approx(-2.4) and change.low == -3.0 and change.clipped
    assert change.high == approx(-1.042706, abs=1e-6)


def test_fewer_than_ten_reports_are_too_few_and_get_no_interval() -> None:
    """Nine reports: a mean, marked too few, with no interval; no scale at all: n 0, no mean."""
    g = summarize([rep(i, before=3, after=2, gais=3) for i in range(9)])
    assert g.goodman_baron_change.small and g.goodman_baron_change.low is None
    assert g.gais.small and g.gais.low is None and g.gais.mean == approx(3.0)
    old = summarize([rep(1), rep(2)])
    assert old.goodman_baron_change.n == 0 and old.goodman_baron_change.mean is None
    assert old.gais.n == 0 and old.gais_counts == (0, 0, 0, 0, 0)


# --- the form -----------------------------------------------------------------------------------


def test_form_offers_the_scales_with_their_labels(app: Flask) -> None:
    """The form has GAIS and a Goodman-Baron fieldset named for acne scars, script in a file."""
    doc = account(app, "doc@example.org", "practitioner")
    page = doc.get("/reports/new").text
    assert 'id="goodman-baron"' in page and "acne scars only" in page
    for label in ("1: macular", "4: severe", "1: exceptional improvement", "5: worse"):
        assert f">{label}</option>" in page
    assert re.search(r'<script src="/static/report-form\.js[^"]*" defer></script>', page)
    assert "<script>" not in page and "style=" not in page


def test_goodman_baron_for_another_indication_is_refused_and_kept(any_app: Flask) -> None:
    """A grade given for wrinkles is refused with a clear message; every typed value stays."""
    doc = account(any_app, "doc@example.org", "practitioner")
    before = count_reports(any_app)
    response = submit(
        doc,
        indication="wrinkles",
        goodman_baron_before="3",
        goodman_baron_after="2",
        gais="2",
    )
    assert response.status_code == 400
    messages = " ".join(errors_in(response.text))
    assert "The Goodman-Baron grade is for acne scars only" in html_lib.unescape(messages)
    selected = r'<option (?:selected value="{0}"|value="{0}" selected)>{1}</option>'
    assert re.search(selected.format(3, "3: moderate"), response.text)
    assert re.search(selected.format(2, "2: mild"), response.text)
    assert re.search(selected.format(2, "2: very improved"), response.text)
    assert re.search(selected.format("wrinkles", "[^<]+"), response.text)
    assert 'value="motorised pen"' in response.text
    assert count_reports(any_app) == before


def test_goodman_baron_out_of_range_is_refused(app: Flask) -> None:
    """Grades are 1-4 and GAIS 1-5: a 5 grade or a GAIS 0 saves nothing."""
    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    response = submit(doc, goodman_baron_before="5", goodman_baron_after="2", gais="0")
    assert response.status_code == 400
    assert len(errors_in(response.text)) == 2
    assert count_reports(app) == before


def test_worsening_is_saved_and_shown(any_app: Flask) -> None:
    """After above before (worse) is allowed; the report page shows both grades and +1."""
    doc = account(any_app, "doc@example.org", "practitioner")
    response = submit(doc, goodman_baron_before="2", goodman_baron_after="3", gais="5")
    assert response.status_code == 302
    report_id = report_id_of(response)
    page = doc.get(f"/reports/{report_id}").text
    assert "before 2 (mild); after 3 (moderate); change +1" in page
    assert "5: worse" in page
    with any_app.app_context(), session_scope() as session:
        saved = session.get(OutcomeReport, report_id)
        assert saved is not None
        assert (saved.goodman_baron_before, saved.goodman_baron_after, saved.gais) == (2, 3, 5)
    # The edit form opens with the saved grades chosen.
    edit_page = doc.get(f"/reports/{report_id}/edit").text
    assert re.search(r'<option (?:selected value="3"|value="3" selected)>3: moderate', edit_page)


def test_reports_without_scales_keep_working(app: Flask) -> None:
    """A report saved without scales shows 'not stated', and no Goodman-Baron row appears."""
    doc = account(app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(doc))
    page = doc.get(f"/reports/{report_id}").text
    assert "<dt>GAIS</dt><dd>not stated</dd>" in page
    assert "Goodman-Baron grade</dt>" not in page
    stats = app.test_client().get("/treatments/microneedling").text
    start = stats.index('<table class="stats">')
    table = stats[start : stats.index("</table>", start)]
    assert "Mean improvement" in table
    assert "Goodman-Baron" not in table and "GAIS" not in table


# --- CSV and export -------------------------------------------------------------------------------

HEADER = "treatment,indication,improvement,goodman_baron_before,goodman_baron_after,gais"


def test_csv_scales_round_trip_through_upload_and_export(any_app: Flask) -> None:
    """Uploaded grades and GAIS come back in the reports export; a bad row saves nothing."""
    doc = account(any_app, "doc@example.org", "practitioner")
    template = any_app.test_client().get("/reports/template.csv").text
    assert "goodman_baron_before,goodman_baron_after,gais" in template.splitlines()[0]
    before = count_reports(any_app)
    bad = "\n".join(
        [
            HEADER,
            "microneedling,acne-scars,2,3,2,3",
            "microneedling,wrinkles,2,3,2,3",
            "microneedling,acne-scars,2,0,2,6",
        ]
    ).encode()
    response = upload(doc, bad)
    assert response.status_code == 400
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.text)
    by_line = {(int(line), column) for line, column, _ in rows}
    assert {(3, "goodman_baron_before"), (3, "goodman_baron_after")} <= by_line
    assert {(4, "goodman_baron_before"), (4, "gais")} <= by_line
    assert not any(line == 2 for line, _ in by_line)
    assert count_reports(any_app) == before
    good = "\n".join(
        [
            HEADER,
            "microneedling,acne-scars,2,3,2,3",
            "microneedling,acne-scars,1,2,4,5",  # worse: allowed
            "fractional-co2-laser,wrinkles,3,,,1",
        ]
    ).encode()
    assert upload(doc, good).status_code == 302
    assert count_reports(any_app) == before + 3
    exported = any_app.test_client().get("/exports/reports.csv").text
    got = [
        (r["treatment"], r["goodman_baron_before"], r["goodman_baron_after"], r["gais"])
        for r in csv.DictReader(io.StringIO(exported))
        if r["reported_by"] == "practitioner"
    ]
    assert got == [
        ("Microneedling (collagen induction therapy)", "3", "2", "3"),
        ("Microneedling (collagen induction therapy)", "2", "4", "5"),
        ("Fractional CO2 laser", "", "", "1"),
    ]


# --- the statistics panel on the database ------------------------------------------------------


def test_treatment_page_shows_scale_statistics(any_app: Flask) -> None:
    """Ten graded reports: the panel shows the mean change and GAIS with intervals and links."""
    doc = account(any_app, "doc@example.org", "practitioner")
    ids = {
        report_id_of(
            submit(doc, goodman_baron_before=str(b), goodman_baron_after=str(a), gais=str(g))
        )
        for (b, a), g in zip(CHANGES, GAIS, strict=True)
    }
    client = any_app.test_client()
    page = client.get("/treatments/microneedling").text
    start = page.index('<table class="stats">')
    table = page[start : page.index("</table>", start)]
    text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", table)).split())
    assert "-1.0 grade (10 reports; 95% CI -1.5 to -0.5)" in text
    assert "2.6 / 5 (10 reports; 95% CI 2.0 to 3.2)" in text
    assert "reports per score: 1: 1, 2: 3, 3: 5, 4: 1, 5: 0" in text
    link = re.search(r'href="([^"]*has=goodman_baron[^"]*)"', table)
    assert link is not None
    listed = client.get(html_lib.unescape(link.group(1))).text
    assert {int(i) for i in re.findall(r'id="report-(\d+)"', listed)} == ids
    # The compare page's summaries (computed in SQL) agree with the panel's.
    with any_app.app_context(), session_scope() as session:
        direct = summarize(load_report_data(session, treatment="microneedling"))
        fast = treatment_summaries(session, treatments=["microneedling"])["microneedling"]
        assert fast.overall.goodman_baron_change == direct.goodman_baron_change
        assert fast.overall.gais == direct.gais
        assert fast.overall.gais_counts == direct.gais_counts == (1, 3, 5, 1, 0)
