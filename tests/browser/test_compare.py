"""A physician compares treatments in Chromium: cells against the database, the picker, axe-core."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from evidence import queries
from evidence.db import session_scope
from evidence.practice.outcomes import report_data
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


def expected_cells(app: Flask, slug: str) -> dict[str, str]:
    """Work out, from the database, what a treatment's key cells must say."""
    with app.app_context(), session_scope() as session:
        treatment = queries.treatment_by_slug(session, slug)
        assert treatment is not None and treatment.id is not None
        levels = queries.level_counts(session, treatment_id=treatment.id)
        total = queries.count_citations(session, queries.CitationFilter(treatment=slug))
        n = len(report_data(session, treatment=slug))
    cells = {f"level-{k}": str(v) for k, v in levels.items()}
    cells["citations"] = str(total)
    cells["reports"] = f"{n}" if n else "no outcome reports"
    return cells


def cell(page: Page, row: str, slug: str) -> Locator:
    """Locate one comparison cell."""
    return page.locator(f'table.compare tr[data-row="{row}"] td[data-treatment="{slug}"]')


def check_column(page: Page, app: Flask, slug: str) -> None:
    """Assert a column's literature counts and report count equal the database's."""
    for row, text in expected_cells(app, slug).items():
        located = cell(page, row, slug)
        if row == "reports" and text.isdigit():
            expect(located).to_contain_text(re.compile(rf"^\s*{text}\b"))
        else:
            expect(located).to_have_text(re.compile(rf"^\s*{re.escape(text)}\s*$"))


def test_compare_page_change_selection_and_axe(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    page.goto(live_server.url + "/compare?t=microneedling&t=fractional-co2-laser")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare treatments")
    headers = page.locator("table.compare thead th[data-treatment]")
    expect(headers).to_have_count(2)
    check_column(page, app, "microneedling")
    check_column(page, app, "fractional-co2-laser")
    # The seed thread's three reports: counted, marked, never a bare percentage.
    reports = cell(page, "reports", "microneedling")
    expect(reports.locator(".too-few")).to_have_text("too few reports")
    expect(cell(page, "responders", "microneedling")).to_contain_text("1 of 2")
    expect(cell(page, "responders", "microneedling")).not_to_contain_text("%")
    expect(cell(page, "reports", "fractional-co2-laser")).to_have_text(
        re.compile(r"^\s*no outcome reports\s*$")
    )
    # A number is a link to its sources: follow one.
    cell(page, "level-2", "fractional-co2-laser").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/citations\?treatment=fractional-co2-laser&level=2"))
    expect(page.locator("p.count")).to_contain_text("5 citations")
    page.go_back()
    # Four charts, inline and labelled.
    charts = page.locator("figure.chart svg[role=img]")
    expect(charts).to_have_count(4)
    for i in range(4):
        expect(charts.nth(i)).to_be_visible()
    expect(page.get_by_role("img", name="Citations by evidence level")).to_be_visible()
    assert serious_violations(page) == []

    # Change the selection with the picker.
    picker = page.get_by_role("form", name="Choose treatments to compare")
    picker.get_by_role("checkbox", name="Fractional CO2 laser").uncheck()
    picker.get_by_role("checkbox", name="Microneedling radiofrequency").check()
    picker.get_by_role("checkbox", name="Non-ablative fractional laser").check()
    picker.get_by_role("combobox", name="Indication").select_option("acne-scars")
    picker.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(
        live_server.url + "/compare?t=microneedling&t=non-ablative-fractional-laser"
        "&t=microneedling-radiofrequency&indication=acne-scars"
    )
    expect(headers).to_have_count(3)
    expect(page.locator("table.compare caption")).to_contain_text("for Acne scars (atrophic)")
    with app.app_context(), session_scope() as session:
        acne = queries.indication_by_slug(session, "acne-scars")
        assert acne is not None
        for slug in (
            "microneedling",
            "non-ablative-fractional-laser",
            "microneedling-radiofrequency",
        ):
            treatment = queries.treatment_by_slug(session, slug)
            assert treatment is not None
            levels = queries.level_counts(session, treatment_id=treatment.id, indication_id=acne.id)
            for key in ("1", "2", "unrated"):
                expect(cell(page, f"level-{key}", slug)).to_have_text(
                    re.compile(rf"^\s*{levels[key]}\s*$")
                )
    expect(cell(page, "reports", "microneedling")).to_have_text(
        re.compile(r"^\s*no outcome reports for this indication\s*$")
    )
    assert serious_violations(page) == []


def test_compare_with_from_a_treatment_page(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/treatments/microneedling")
    form = page.get_by_role("form", name=re.compile("Compare Microneedling"))
    form.get_by_role("checkbox", name="Fractional CO2 laser").check()
    form.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(live_server.url + "/compare?t=microneedling&t=fractional-co2-laser")
    expect(page.locator("table.compare thead th[data-treatment]")).to_have_count(2)


def test_evidence_map_passes_axe(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/matrix")
    expect(page.get_by_role("heading", level=1)).to_have_text("Evidence map")
    micro_acne = page.locator('td[data-treatment="microneedling"][data-indication="acne-scars"]')
    expect(micro_acne.get_by_role("link", name="12 citations")).to_be_visible()
    micro_acne.get_by_role("link", name="12 citations").click()
    expect(page).to_have_url(re.compile(r"treatment=microneedling&indication=acne-scars"))
    expect(page.locator("p.count")).to_contain_text("12 citations")
    page.go_back()
    expect(page.locator("td.gap").first).to_contain_text("gap")
    assert serious_violations(page) == []
