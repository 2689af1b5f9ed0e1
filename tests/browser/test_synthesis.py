"""A physician reads what the studies found in Chromium: pooled PIH, forest plot, certainty, axe.

The snapshot's split-face study (PMID 39640445) gives the pooled PIH ratio; a second study,
written as the extraction form writes it (tests/evidence/synthesis/test_findings_db.py), changes it.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer
from tests.evidence.synthesis.test_findings_db import _ids, add_split_face_study

pytestmark = pytest.mark.browser
URL = "/compare?t=microneedling&t=fractional-co2-laser&indication=acne-scars"
PASSWORD = "a long enough passphrase"


def test_pooled_pih_forest_plot_and_a_new_study_changes_it(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    # The snapshot's PMID 39640445: split-face, PIH 30% with CO2, 6.67% with microneedling.
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
        _acne, _mn, _co2, (first, _second) = _ids(session)
        add_split_face_study(session, citation_id=first, pih=(20.0, 10.0))
    page.goto(live_server.url + URL)
    pih = page.locator('table.findings tr[data-outcome="pih"]').first
    expect(pih).to_contain_text("2 / 60")
    expect(pih.locator("td.effect")).not_to_contain_text("RR 0.22 (0.05 to 0.94)")
    expect(pih.locator("td.effect")).to_contain_text("REML")
    pih.get_by_role("link", name=re.compile("^Forest plot")).click()
    expect(page.locator("figure.forest figcaption")).to_contain_text("2 studies, 60 participants")
    assert serious_violations(page) == []


def test_a_curator_extracts_a_study_in_the_form_and_the_estimate_changes(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    """The extraction form's saved study enters the pooled PIH ratio on the compare page."""
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="cur@clinic.example", password=PASSWORD, role="curator")
    base = live_server.url
    page.goto(base + URL)
    pih = page.locator('table.findings tr[data-outcome="pih"]').first
    expect(pih).to_contain_text("1 / 30")
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("cur@clinic.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # PMID 24919799 is a split-face microneedling study; a curator adds a second extraction.
    page.goto(base + "/citations/24919799/extraction")
    page.locator("#design").select_option("randomized split-face")
    page.locator("#split_face").select_option("yes")
    page.locator("#indication").select_option("acne-scars")
    page.locator("#n_enrolled").fill("20")
    page.locator("#arms-0-treatment").select_option("microneedling")
    page.locator("#arms-1-treatment").select_option("fractional-co2-laser")
    for row, arm, events in ((0, "1", "1"), (1, "2", "5")):
        page.locator(f"#adverse_events-{row}-arm").select_option(arm)
        page.locator(f"#adverse_events-{row}-event").select_option("pih")
        page.locator(f"#adverse_events-{row}-events").fill(events)
        page.locator(f"#adverse_events-{row}-n").fill("20")
    page.get_by_role("button", name="Save extraction").click()
    expect(page.get_by_text("Extraction saved.")).to_be_visible()
    page.goto(base + URL)
    pih = page.locator('table.findings tr[data-outcome="pih"]').first
    expect(pih).to_contain_text("2 / 50")
    expect(pih.locator("td.effect")).to_contain_text("REML")
    expect(pih.locator("td.effect")).not_to_contain_text("RR 0.22 (0.05 to 0.94)")
    expect(pih.locator('a[href="/citations/24919799"]')).to_be_visible()
    assert serious_violations(page) == []
