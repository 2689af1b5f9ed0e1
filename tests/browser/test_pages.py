"""A visitor opens the home page, a treatment page and a citation page in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_home_page_lists_treatments_and_passes_axe(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    expect(page).to_have_title(re.compile("Treatments"))
    cards = page.locator(".treatment-card")
    expect(cards).to_have_count(6)
    micro = page.locator('.treatment-card[data-slug="microneedling"]')
    expect(micro.locator(".citation-count")).to_have_text("28")
    expect(micro.locator(".report-count")).to_have_text("3")
    assert serious_violations(page) == []


def test_visitor_filters_a_treatment_page(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Fractional CO2 laser").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fractional CO2 laser")
    expect(page.locator("p.count")).to_contain_text("17 citations")
    filters = page.get_by_role("search", name="Filter citations")
    filters.get_by_role("combobox", name="Evidence level").select_option("2")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"level=2"))
    expect(page.locator("p.count")).to_contain_text("5 citations")
    rows = page.locator("table.citations tbody tr")
    expect(rows).to_have_count(5)
    for i in range(5):
        expect(rows.nth(i).locator(".badge").first).to_have_text("L2")
    assert serious_violations(page) == []


def test_visitor_opens_a_citation(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/treatments/microneedling?level=2")
    page.get_by_role("link", name=re.compile("Efficacy of a needling device")).click()
    expect(page).to_have_url(re.compile(r"/citations/24919799$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Efficacy of a needling device")
    expect(page.get_by_text("Level 2: Randomized controlled trial")).to_be_visible()
    expect(page.get_by_text(re.compile("Why: publication type"))).to_be_visible()
    expect(page.get_by_role("link", name="24919799")).to_have_attribute(
        "href", "https://pubmed.ncbi.nlm.nih.gov/24919799/"
    )
    expect(page.get_by_text("The offline snapshot carries no abstract.")).to_be_visible()
    assert serious_violations(page) == []


def test_indication_page_passes_axe(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/indications/burn-scars")
    expect(page.get_by_role("heading", level=1)).to_have_text("Burn scars")
    assert serious_violations(page) == []
