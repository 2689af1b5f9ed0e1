"""The compare page and evidence map: figures checked against the database, rules in words."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from evidence import queries
from evidence.db import session_scope
from evidence.models import Indication, OutcomeAdverseEvent, OutcomeReport, Treatment
from evidence.practice.outcomes import ReportData, summarize
from evidence.synthesis import compare

PAIR = "/compare?t=microneedling&t=fractional-co2-laser"


# --- reading the rendered table ----------------------------------------------------------------


class TableReader(HTMLParser):
    """Collect each comparison cell's text and links, keyed by (row key, treatment slug)."""

    def __init__(self) -> None:
        super().__init__()
        self.row: str | None = None
        self.cell: tuple[str, str] | None = None
        self.text: dict[tuple[str, str], str] = {}
        self.links: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.href: str | None = None
        self.link_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr":
            self.row = a.get("data-row")
        elif tag == "td" and self.row and a.get("data-treatment"):
            self.cell = (self.row, a["data-treatment"] or "")
            self.text[self.cell] = ""
            self.links[self.cell] = []
        elif tag == "a" and self.cell:
            self.href, self.link_text = a.get("href"), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.cell = None
        elif tag == "a" and self.cell and self.href is not None:
            self.links[self.cell].append((self.link_text, self.href))
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.cell:
            self.text[self.cell] += data
            if self.href is not None:
                self.link_text += data


def read_table(html: str) -> TableReader:
    """Parse the comparison table of a page."""
    reader = TableReader()
    reader.feed(html)
    return reader


def ids(session: Session, treatment: str, indication: str | None = None) -> tuple[int, int | None]:
    """Return a treatment's id and optionally an indication's id."""
    t = session.exec(select(Treatment).where(Treatment.slug == treatment)).one()
    i = (
        session.exec(select(Indication).where(Indication.slug == indication)).one()
        if indication
        else None
    )
    assert t.id is not None
    return t.id, i.id if i else None


# --- the page against the database ----------------------------------------------------------


def test_literature_cells_match_the_database(any_app: Flask) -> None:
    client = any_app.test_client()
    html = client.get(PAIR).get_data(as_text=True)
    table = read_table(html)
    with any_app.app_context(), session_scope() as session:
        for slug in ("microneedling", "fractional-co2-laser"):
            tid, _ = ids(session, slug)
            levels = queries.level_counts(session, treatment_id=tid)
            flagged = queries.retracted_count(session, treatment_id=tid)
            for key in ("1", "2", "3", "4", "5", "unrated"):
                # The snapshot has no retracted items, so levels equal the shared level counts.
                assert flagged == 0
                assert table.text[(f"level-{key}", slug)].strip() == str(levels[key])
            total = queries.count_citations(session, queries.CitationFilter(treatment=slug))
            assert table.text[("citations", slug)].strip() == str(total)
            assert table.text[("flagged", slug)].strip() == "0"
    # Real snapshot figures a physician would recognise.
    assert table.text[("citations", "microneedling")].strip() == "28"
    assert table.text[("citations", "fractional-co2-laser")].strip() == "17"
    assert "Meta-Analysis" in table.text[("newest-review", "microneedling")]


def test_every_count_links_to_the_citations_it_counts(client: FlaskClient) -> None:
    table = read_table(client.get(PAIR).get_data(as_text=True))
    checked = 0
    for key in ("citations", "level-1", "level-2", "level-5", "per-year"):
        for slug in ("microneedling", "fractional-co2-laser"):
            for text, href in table.links[(key, slug)]:
                listing = client.get(href).get_data(as_text=True)
                shown = re.search(r"<strong>(\d+)</strong> citation", listing)
                assert shown, href
                assert shown.group(1) == text.strip(), (key, slug, href)
                checked += 1
    assert checked > 20
    # The newest review links to its own record.
    (title, href), *_ = table.links[("newest-review", "microneedling")]
    assert href.startswith("/citations/") and title in client.get(href).get_data(as_text=True)


def test_practice_rows_show_the_seed_thread_reports_as_too_few(client: FlaskClient) -> None:
    table = read_table(client.get(PAIR).get_data(as_text=True))
    n_cell = table.text[("reports", "microneedling")]
    assert n_cell.split()[0] == "3" and "too few reports" in n_cell
    # Small groups: counts, never a bare percentage.
    for key in ("responders", "event-pih", "event-bruising", "improvement"):
        cell = table.text[(key, "microneedling")]
        assert "%" not in cell and "too few reports" in cell, (key, cell)
    assert table.text[("responders", "microneedling")].split()[:3] == ["1", "of", "2"]
    assert table.text[("event-bruising", "microneedling")].split()[:3] == ["1", "of", "3"]
    # Report links lead to the reports the figure was computed from.
    for _text, href in table.links[("reports", "microneedling")]:
        assert "treatment=microneedling" in href or href.endswith("#reports")
    # Empty cells say why.
    assert table.text[("reports", "fractional-co2-laser")].strip() == "no outcome reports"
    assert "no report states downtime" in table.text[("downtime", "microneedling")]
    assert "no report states a skin type I-III" in table.text[("pih-I-III", "microneedling")]
    # Quoted prices stay apart from report medians and name their source.
    quoted = table.text[("quoted-prices", "microneedling")]
    assert "200-500 USD per session" in quoted and "Donette Smith" in quoted
    assert "300-500 USD per session" in table.text[("quoted-prices", "fractional-co2-laser")]
    assert "2,500 USD" in table.text[("cost-course", "microneedling")]
    discord = table.text[("discordance", "microneedling")]
    assert "Only 3 outcome reports" in discord and "too few reports" in discord


def test_every_practice_figure_is_linked(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        chosen = compare.select_treatments(
            session, slugs=["microneedling", "fractional-co2-laser"], indication=None
        )
        result = compare.compare(session, treatments=chosen.treatments)
    for row in result.rows:
        for cell in row.cells:
            if cell.empty is None and (cell.value is not None or cell.k is not None):
                assert any(p.link for p in cell.parts), (row.key, cell)
            if cell.empty is None and row.key != "discordance":
                assert cell.parts, row.key


def test_indication_narrows_both_sides(client: FlaskClient, app: Flask) -> None:
    html = client.get(PAIR + "&indication=acne-scars").get_data(as_text=True)
    table = read_table(html)
    with app.app_context(), session_scope() as session:
        for slug in ("microneedling", "fractional-co2-laser"):
            tid, iid = ids(session, slug, "acne-scars")
            levels = queries.level_counts(session, treatment_id=tid, indication_id=iid)
            for key in ("1", "2", "unrated"):
                assert table.text[(f"level-{key}", slug)].strip() == str(levels[key])
    # No seed report states acne scars as its indication.
    assert "no outcome reports for this indication" in table.text[("reports", "microneedling")]
    assert "for Acne scars (atrophic)" in html


def test_new_reports_change_the_figures(app: Flask) -> None:
    """The cached comparison is recomputed as soon as the reports behind it change."""
    client = app.test_client()
    before = read_table(client.get(PAIR).get_data(as_text=True))
    assert before.text[("reports", "fractional-co2-laser")].strip() == "no outcome reports"
    with app.app_context(), session_scope() as session:
        tid, _ = ids(session, "fractional-co2-laser")
        for i in range(12):
            report = OutcomeReport(
                treatment_id=tid, improvement=3, fitzpatrick=5 if i % 2 else 2, downtime_days=5
            )
            session.add(report)
            session.flush()
            assert report.id is not None
            if i < 4:
                session.add(OutcomeAdverseEvent(report_id=report.id, event="pih"))
    after = read_table(client.get(PAIR).get_data(as_text=True))
    assert after.text[("reports", "fractional-co2-laser")].strip() == "12"
    assert after.text[("responders", "fractional-co2-laser")].startswith("100% (12 of 12; 95% CI")
    assert after.text[("event-pih", "fractional-co2-laser")].startswith("33% (4 of 12; 95% CI")
    assert after.text[("downtime", "fractional-co2-laser")].strip() == "5 days"
    # 6 reports per skin-type group: counts with the mark, not percentages.
    assert after.text[("pih-IV-VI", "fractional-co2-laser")].split()[:3] == ["2", "of", "6"]
    assert "too few reports" in after.text[("pih-IV-VI", "fractional-co2-laser")]
    words = after.text[("discordance", "fractional-co2-laser")]
    assert "Point the same way" in words and "Cannot be checked here" in words
    # Hiding reports (a curator's action) also changes the figures.
    with app.app_context(), session_scope() as session:
        for report in session.exec(
            select(OutcomeReport).where(OutcomeReport.treatment_id == tid)
        ).all()[:3]:
            report.hidden = True
            session.add(report)
    hidden = read_table(client.get(PAIR).get_data(as_text=True))
    assert hidden.text[("reports", "fractional-co2-laser")].split()[0] == "9"


# --- literature against practice, in words (plain data) ----------------------------------------


def lit(high: int, *, total: int | None = None) -> compare.Literature:
    """A literature summary with `high` level 1-2 citations."""
    levels = dict.fromkeys(compare.LEVEL_KEYS, 0)
    levels["2"] = high
    levels["unrated"] = (total or high) - high
    return compare.Literature("x", levels, 0, (), 0, None)


def reports(n: int, *, improvement: int, pih: int = 0) -> list[ReportData]:
    """n plain reports with one improvement rating, the first `pih` with PIH."""
    return [
        ReportData(
            id=i,
            treatment="x",
            indication=None,
            fitzpatrick=None,
            improvement=improvement,
            satisfaction=None,
            sessions=None,
            downtime_days=None,
            cost_per_session=None,
            cost_per_course=None,
            currency=None,
            adverse_events=("pih",) if i < pih else (),
        )
        for i in range(n)
    ]


def test_positive_reports_without_trials_are_called_discordant() -> None:
    (finding,) = compare.literature_vs_practice(
        "Needling", lit(0, total=5), summarize(reports(20, improvement=3))
    )
    assert finding.kind == "discordant"
    assert "no systematic review, meta-analysis or randomized trial" in finding.text
    assert "100% (20 of 20; 95% CI 84% to 100%)" in finding.text


def test_poor_reports_against_trials_are_called_discordant() -> None:
    (finding,) = compare.literature_vs_practice(
        "Laser", lit(4), summarize(reports(15, improvement=1))
    )
    assert finding.kind == "discordant"
    assert "fewer than half" in finding.text and "4 systematic reviews" in finding.text


def test_few_reports_never_give_a_rate() -> None:
    (finding,) = compare.literature_vs_practice(
        "Needling", lit(0), summarize(reports(3, improvement=4))
    )
    assert finding.kind == "insufficient"
    assert "too few reports" in finding.text and "%" not in finding.text
    (none,) = compare.literature_vs_practice("Laser", lit(3), summarize([]))
    assert none.kind == "insufficient" and "No outcome reports" in none.text


def test_a_frequent_adverse_event_is_flagged_as_unchecked() -> None:
    findings = compare.literature_vs_practice(
        "Laser", lit(3), summarize(reports(20, improvement=3, pih=10))
    )
    kinds = [f.kind for f in findings]
    assert kinds == ["concordant", "unchecked"]
    assert "post-inflammatory hyperpigmentation" in findings[1].text
    assert "cannot be checked against them" in findings[1].text


def test_literature_and_practice_favouring_different_treatments() -> None:
    found = compare.across_treatments(
        ["Laser", "Needling"],
        [lit(8), lit(0)],
        [summarize(reports(12, improvement=0)), summarize(reports(12, improvement=4))],
    )
    assert len(found) == 1 and found[0].kind == "discordant"
    assert found[0].text.startswith("The literature has more level 1-2 studies on Laser (8)")
    assert "favour Needling" in found[0].text
    # Overlapping intervals: nothing is claimed.
    assert not compare.across_treatments(
        ["Laser", "Needling"],
        [lit(8), lit(0)],
        [summarize(reports(12, improvement=2)), summarize(reports(12, improvement=2))],
    )


# --- selection, permalink, CSV -------------------------------------------------------------------


def test_picker_selection_is_a_clean_permalink(client: FlaskClient) -> None:
    response = client.get(
        "/compare?t=microneedling&t=nonsense&t=microneedling&t=fractional-co2-laser"
        "&t=fractional-erbium-laser&t=non-ablative-fractional-laser&t=microneedling-prp"
        "&indication="
    )
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/compare"
    assert target.query == (
        "t=microneedling&t=fractional-co2-laser&t=fractional-erbium-laser"
        "&t=non-ablative-fractional-laser"
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No treatment is called &#39;nonsense&#39;" in page
    assert "At most 4 treatments are compared" in page
    assert len(read_table(page).text) > 0
    # The picker on the page shows the selection ticked.
    ticked = re.findall(r'name="t" value="([^"]+)" checked', page)
    assert ticked == [
        "microneedling",
        "fractional-co2-laser",
        "fractional-erbium-laser",
        "non-ablative-fractional-laser",
    ]
    assert client.get(PAIR).status_code == 200
    empty = client.get("/compare").get_data(as_text=True)
    assert "No treatments chosen yet" in empty
    single = client.get("/compare?t=microneedling").get_data(as_text=True)
    assert "Only one treatment is chosen: tick at least one more to compare." in single
    assert read_table(single).text[("citations", "microneedling")].strip() == "28"


def test_treatment_page_offers_compare_with(client: FlaskClient) -> None:
    html = client.get("/treatments/microneedling").get_data(as_text=True)
    form = html[html.index('class="compare-with') :]
    form = form[: form.index("</form>")]
    assert 'action="/compare"' in form and 'method="get"' in form
    assert '<input type="hidden" name="t" value="microneedling">' in form
    offered = re.findall(r'type="checkbox" name="t" value="([^"]+)"', form)
    assert "fractional-co2-laser" in offered and "microneedling" not in offered


def test_csv_download_of_the_comparison(client: FlaskClient) -> None:
    response = client.get("/compare.csv?t=microneedling&t=fractional-co2-laser")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert (
        'filename="comparison-microneedling-vs-fractional-co2-laser.csv"'
        in response.headers["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    by = {(r["measure"], r["treatment"]): r for r in rows}
    reports_row = by[("Outcome reports (n)", "microneedling")]
    assert reports_row["value"] == "3" and reports_row["too_few_reports"] == "yes"
    assert reports_row["sources"].startswith("http://localhost/")
    level2 = by[("Level 2: Randomized controlled trial", "fractional-co2-laser")]
    assert level2["value"] == "5"
    assert level2["sources"] == (
        "http://localhost/citations?treatment=fractional-co2-laser&level=2&retracted=exclude"
    )
    empty = by[("Outcome reports (n)", "fractional-co2-laser")]
    assert empty["empty_because"] == "no outcome reports"
    assert client.get("/compare.csv").status_code == 404


def test_csv_neutralises_formulas() -> None:
    assert compare._safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert compare._safe("Plain") == "Plain"


# --- the evidence map -------------------------------------------------------------------------


def test_matrix_cells_match_the_database(any_app: Flask) -> None:
    client = any_app.test_client()
    html = client.get("/matrix").get_data(as_text=True)
    cells = dict(
        re.findall(
            r'<td data-treatment="([^"]+" data-indication="[^"]+)" class="[^"]*">(.*?)</td>',
            html,
            re.DOTALL,
        )
    )
    with any_app.app_context(), session_scope() as session:
        treatments = queries.treatments(session)
        inds = queries.indications(session)
        for t in treatments:
            for i in inds:
                cell = cells[f'{t.slug}" data-indication="{i.slug}']
                n = queries.count_citations(
                    session, queries.CitationFilter(treatment=t.slug, indication=i.slug)
                )
                n_reports = len(
                    queries.visible_reports(session, treatment_id=t.id, indication_id=i.id)
                )
                if n == 0 and n_reports == 0:
                    assert "gap: no citations, no reports" in cell
                    continue
                if n:
                    assert f">{n} citation" in cell
                    href = f"/citations?treatment={t.slug}&amp;indication={i.slug}"
                    assert href in cell
                if n_reports:
                    assert f">{n_reports} report" in cell
    micro_acne = cells['microneedling" data-indication="acne-scars']
    assert ">12 citations" in micro_acne and "L1" in micro_acne
    assert ">1 report<" in cells['microneedling" data-indication="wrinkles']


def test_nav_shows_compare_and_map(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert 'href="/compare">Compare</a>' in html
    assert 'href="/matrix">Evidence map</a>' in html


def test_a_retraction_moves_a_citation_out_of_the_levels(app: Flask) -> None:
    """Retracted items are counted apart, and the cached counts follow the change at once."""
    client = app.test_client()
    before = read_table(client.get(PAIR).get_data(as_text=True))
    assert before.text[("level-2", "fractional-co2-laser")].strip() == "5"
    with app.app_context(), session_scope() as session:
        from datetime import UTC, datetime

        from evidence.models import Citation, CitationLink

        tid, _ = ids(session, "fractional-co2-laser")
        citation = session.exec(
            select(Citation)
            .join(CitationLink, CitationLink.citation_id == Citation.id)  # type: ignore[arg-type]
            .where(CitationLink.treatment_id == tid, Citation.evidence_level == 2)
        ).first()
        assert citation is not None
        citation.retraction_status = "retracted"
        citation.updated_at = datetime.now(UTC)
        session.add(citation)
    after = read_table(client.get(PAIR).get_data(as_text=True))
    assert after.text[("level-2", "fractional-co2-laser")].strip() == "4"
    assert after.text[("flagged", "fractional-co2-laser")].strip() == "1"
    assert after.text[("citations", "fractional-co2-laser")].strip() == "16"
    ((text, href),) = after.links[("flagged", "fractional-co2-laser")]
    listing = client.get(href).get_data(as_text=True)
    assert "<strong>1</strong> citation" in listing and "RETRACTED" in listing
    # The microneedling column (no change) reads the same as before.
    assert after.text[("level-2", "microneedling")] == before.text[("level-2", "microneedling")]


def test_newest_review_and_citation_order_compare_pmids_as_numbers(any_app: Flask) -> None:
    """Same year, PMIDs 9999999 and 10000000: the later record (10000000) is the newest."""
    from evidence.models import Citation, CitationLink

    with any_app.app_context(), session_scope() as session:
        tid, _ = ids(session, "fractional-erbium-laser")
        for pmid in ("9999999", "10000000"):
            c = Citation(pmid=pmid, title=f"Review {pmid}", year=2031, evidence_level=1)
            session.add(c)
            session.flush()
            assert c.id is not None
            session.add(CitationLink(citation_id=c.id, treatment_id=tid, treatment_key=tid))
        session.flush()
        treatment = session.get(Treatment, tid)
        assert treatment is not None
        (lit,) = compare.literature(session, treatments=[treatment])
        assert lit.newest_review is not None and lit.newest_review.pmid == "10000000"
        rows = queries.citation_rows(
            session, queries.CitationFilter(treatment="fractional-erbium-laser")
        )
        assert [r.pmid for r in rows[:2]] == ["10000000", "9999999"]
