"""A curator extracts a two-arm study in Chromium; a second curator verifies it."""

from __future__ import annotations

import os

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
PASSWORD = "a long enough passphrase"
PMID = "34854067"
SHOTS = os.environ.get("EVIDENCE_SCREENSHOTS")  # a folder to save screenshots in, if set


def _login(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_extract_fix_an_error_save_and_verify(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    with app.app_context(), session_scope() as session:
        for email in ("one@clinic.example", "two@clinic.example"):
            auth.create_user(session, email=email, password=PASSWORD, role="curator")
    base = live_server.url
    _login(page, base, "one@clinic.example")
    page.goto(f"{base}/citations/{PMID}")
    page.get_by_role("link", name="Extract a study from this citation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Extract a study")
    page.locator("#design").select_option("randomized split-face")
    page.locator("#split_face").select_option("yes")
    page.locator("#indication").select_option("acne-scars")
    page.locator("#n_enrolled").fill("24")
    page.locator("#arms-0-treatment").select_option("microneedling")
    page.locator("#arms-0-sessions").fill("3")
    page.locator("#arms-1-treatment").select_option("fractional-co2-laser")
    page.locator("#arms-1-sessions").fill("3")
    page.locator("#outcomes-0-arm").select_option("1")
    page.locator("#outcomes-0-measure_as_stated").fill("Goodman-Baron qualitative grade")
    page.locator("#outcomes-0-final").fill("2.2")
    page.locator("#adverse_events-0-arm").select_option("2")
    page.locator("#adverse_events-0-event").select_option("pih")
    page.locator("#adverse_events-0-events").fill("30")
    page.locator("#adverse_events-0-n").fill("24")
    # The "Add a row" button is shown by extraction-rows.js and copies the last row.
    page.get_by_role("button", name="Add a row").nth(2).click()
    expect(page.locator("#adverse_events-2-events")).to_have_value("")
    page.get_by_role("button", name="Save extraction").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("30 events is above n 24")
    expect(page.locator("#adverse_events-0-events")).to_have_value("30")
    expect(page.locator("#arms-1-treatment")).to_have_value("fractional-co2-laser")
    expect(page.locator("#outcomes-0-final")).to_have_value("2.2")
    assert serious_violations(page) == []
    _shot(page, "extraction-form-error.png")
    page.locator("#adverse_events-0-events").fill("3")
    page.get_by_role("button", name="Save extraction").click()
    expect(page.get_by_text("Extraction saved.")).to_be_visible()
    study = page.locator("article.study")
    expect(study.locator(".badge-unverified")).to_have_text("unverified")
    expect(study.locator("table.study-adverse")).to_contain_text("3/24")
    expect(study.locator("table.study-arms")).to_contain_text("Fractional CO2 laser")
    # The extracting curator's own verification is refused.
    study.get_by_role("button", name="Mark verified (second curator)").click()
    expect(page.get_by_text("cannot verify their own extraction")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    _login(page, base, "two@clinic.example")
    page.goto(f"{base}/citations/{PMID}")
    page.locator("article.study").get_by_role("button", name="Mark verified").click()
    expect(page.get_by_text("Extraction verified.")).to_be_visible()
    expect(page.locator("article.study .badge-verified")).to_have_text("verified")
    assert serious_violations(page) == []
    _shot(page, "extraction-citation-page.png")
