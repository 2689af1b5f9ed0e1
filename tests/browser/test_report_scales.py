"""The report form's Goodman-Baron fieldset follows the indication; scales reach the stats."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.practice import reports
from evidence.web.auth import find_user
from tests.browser.conftest import serious_violations
from tests.browser.test_reports import register_practitioner
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_goodman_baron_shows_for_acne_scars_only_and_reaches_the_stats(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    """Choosing another indication hides the grade; ten graded reports fill the stats row."""
    base = live_server.url
    register_practitioner(page, base, "doc@clinic.example")
    page.goto(base + "/reports/new?treatment=microneedling")
    grade = page.locator("#goodman-baron")
    indication = page.get_by_label("Indication", exact=True)
    indication.select_option("wrinkles")
    expect(grade).to_be_hidden()
    indication.select_option("acne-scars")
    expect(grade).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_label("Goodman-Baron grade before treatment").select_option("3")
    page.get_by_label("Goodman-Baron grade at follow-up").select_option("2")
    # A grade already chosen stays in view even if the indication changes.
    indication.select_option("wrinkles")
    expect(grade).to_be_visible()
    indication.select_option("acne-scars")
    page.get_by_label("GAIS (Global Aesthetic Improvement Scale)").select_option("2")
    page.get_by_label("2: 26-50%").check()
    if os.environ.get("EVIDENCE_SHOTS"):  # for a reviewer's own look, never in CI
        page.screenshot(path=os.environ["EVIDENCE_SHOTS"] + "/report-form.png", full_page=True)
    page.get_by_role("button", name="Save report").click()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("before 3 (moderate); after 2 (mild); change -1")
    expect(facts).to_contain_text("2: very improved")

    with app.app_context(), session_scope() as session:
        doc = find_user(session, "doc@clinic.example")
        assert doc is not None
        for before, after, gais in [(4, 2, 1), (3, 3, 4), (2, 1, 2)] * 3:
            data = reports.ReportInput(
                treatment="microneedling",
                indication="acne-scars",
                improvement=2,
                goodman_baron_before=before,
                goodman_baron_after=after,
                gais=gais,
            )
            reports.create_report(session, data=data, reporter=doc)
    page.goto(base + "/treatments/microneedling#reports")
    stats = page.locator("table.stats").first
    row = stats.locator("tbody tr", has_text="Change in Goodman-Baron grade")
    # (-1 + 3 * (-2 + 0 - 1)) / 10 = -1.0 over ten reports.
    expect(row.locator("td").first).to_contain_text("-1.0 grade")
    expect(row.locator("td").first).to_contain_text("10 reports; 95% CI")
    gais_row = stats.locator("tbody tr", has_text="Mean GAIS")
    expect(gais_row.locator("td").first).to_contain_text("2.3 / 5")
    assert serious_violations(page) == []
    if os.environ.get("EVIDENCE_SHOTS"):
        page.locator("#reports").screenshot(path=os.environ["EVIDENCE_SHOTS"] + "/stats.png")
