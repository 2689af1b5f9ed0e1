"""A curator schedules a search in Chromium; the treatment page then lists what is new."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.literature import living
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer
from tests.evidence.pubmed_helpers import use_fake
from tests.fake_eutils import FakeEutils, synthetic_corpus

pytestmark = pytest.mark.browser
PASSWORD = "a long enough passphrase"


def test_curator_schedules_a_search_and_sees_what_is_new(
    page: Page, live_server: LiveServer, app: Flask, tmp_path: Path
) -> None:
    app.config["LIVING_VISIT_GAP_SECONDS"] = 0
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="live@clinic.example", password=PASSWORD, role="curator")
    base = live_server.url
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("live@clinic.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + "/searches?treatment=microneedling")
    row = page.locator("table.searches tbody tr").first
    row.get_by_label("Schedule of search").select_option("weekly")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text("now runs weekly")).to_be_visible()
    assert serious_violations(page) == []
    page.screenshot(path=str(tmp_path / "searches.png"), full_page=True)

    page.goto(base + "/treatments/microneedling")
    expect(page.get_by_text("This is your first visit here")).to_be_visible()
    with FakeEutils(synthetic_corpus(12, files=("pubmed1.xml",))) as server:
        use_fake(app, server)
        assert len(living.run_due_searches(app)) == 1
    page.goto(base + "/searches?treatment=microneedling")
    expect(page.locator("td.search-run").first).to_contain_text("12 hits, 12 new, 0 updated")
    page.goto(base + "/treatments/microneedling")
    news = page.locator("section.new-since")
    expect(news).to_contain_text("12 new candidates from searches and imports")
    expect(news.locator("li")).to_have_count(12)
    assert serious_violations(page) == []
    page.screenshot(path=str(tmp_path / "treatment-new-since.png"), full_page=False)
