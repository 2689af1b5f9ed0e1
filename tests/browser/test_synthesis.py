"""A physician reads what the studies found in Chromium: pooled PIH, forest plot, certainty, axe.

Studies are written as the extraction form writes them (tests/evidence/test_findings_db.py);
a second extracted study changes the estimate on the next page load.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence import compare
from evidence.db import session_scope
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer
from tests.evidence.test_findings_db import _ids, add_split_face_study

pytestmark = pytest.mark.browser
URL = "/compare?t=microneedling&t=fractional-co2-laser&indication=acne-scars"


def test_pooled_pih_forest_plot_and_a_new_study_changes_it(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    with app.app_context(), session_scope() as session:
        _acne, _mn, _co2, (first, second) = _ids(session)
        # CO2 side first: 30% PIH with CO2, 6.67% with microneedling (as PMID 39640445 states).
        add_split_face_study(session, citation_id=first, pih=(30.0, 6.67))
    compare.clear_cache()
    page.goto(live_server.url + URL)
    block = page.locator("#studies-found")
    expect(block.get_by_role("heading", name="What the studies found")).to_be_visible()
    pih = block.locator(
        'table.findings[data-block="microneedling-vs-fractional-co2-laser"] tr[data-outcome="pih"]'
    )
    expect(pih.locator("td.effect")).to_contain_text("RR 0.22 (0.05 to 0.94)")
    expect(pih).to_contain_text("favours Microneedling")
    expect(pih).to_contain_text("1 / 30")
    expect(pih.locator(".unverified")).to_be_visible()
    pair = block.locator('table.findings[data-block="microneedling-vs-fractional-co2-laser"]')
    grade = pair.locator('tr[data-outcome="goodman-baron-qualitative"]')
    expect(grade.locator("td.effect")).to_contain_text("MD +0.83, no interval")
    # Certainty opens to its GRADE steps, each with its rule.
    pih.locator("details.certainty summary").click()
    expect(pih.locator(".grade-steps li")).to_have_count(6)
    expect(pih.locator(".grade-steps")).to_contain_text("fewer than 300 participants")
    assert serious_violations(page) == []

    pih.get_by_role("link", name=re.compile("^Forest plot")).click()
    expect(page).to_have_url(re.compile(r"/compare/forest\?.*outcome=pih"))
    figure = page.get_by_role("img", name=re.compile("Forest plot: Post-inflammatory"))
    expect(figure).to_be_visible()
    expect(page.locator("figure.forest figcaption")).to_contain_text("One study only")
    expect(page.locator("table.forest-rows")).to_contain_text("9/30 derived from the stated 30%")
    assert serious_violations(page) == []

    # A curator extracts a second study; the pooled estimate changes on the next load.
    with app.app_context(), session_scope() as session:
        add_split_face_study(session, citation_id=second, pih=(20.0, 10.0))
    compare.clear_cache()
    page.goto(live_server.url + URL)
    pih = page.locator('table.findings tr[data-outcome="pih"]').first
    expect(pih).to_contain_text("2 / 60")
    expect(pih.locator("td.effect")).not_to_contain_text("RR 0.22 (0.05 to 0.94)")
    expect(pih.locator("td.effect")).to_contain_text("REML")
    pih.get_by_role("link", name=re.compile("^Forest plot")).click()
    expect(page.locator("figure.forest figcaption")).to_contain_text("2 studies, 60 participants")
    assert serious_violations(page) == []
