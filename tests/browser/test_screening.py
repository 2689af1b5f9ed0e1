"""A curator screens with the keyboard in Chromium; the PRISMA page shows the flow and downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation, CitationLink, ScreeningDecision
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer
from tests.evidence.screening_helpers import QUEUE, candidates, record, store

pytestmark = pytest.mark.browser
PASSWORD = "a long enough passphrase"


def _login(page: Page, base: str, app: Flask, email: str) -> None:
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email=email, password=PASSWORD, role="curator")
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _status(app: Flask, pmid: str) -> str:
    with app.app_context(), session_scope() as session:
        cid = session.exec(select(Citation.id).where(Citation.pmid == pmid)).one()
        link = session.exec(select(CitationLink).where(CitationLink.citation_id == cid)).one()
        return link.status


def _shown_pmid(page: Page) -> str:
    return page.locator(".screen-record .journal a").first.inner_text()


def test_curator_screens_with_the_keyboard(page: Page, live_server: LiveServer, app: Flask) -> None:
    pmids = [str(p) for p in candidates(app, 4)]
    base = live_server.url
    _login(page, base, app, "keys@clinic.example")
    page.goto(base + QUEUE)
    expect(page.locator("#screening-keys")).to_be_visible()  # the script shows the key help
    assert serious_violations(page) == []

    first = _shown_pmid(page)
    page.keyboard.press("i")
    expect(page.get_by_text("Included: record")).to_be_visible()
    assert _status(app, first) == "included"

    second = _shown_pmid(page)
    page.keyboard.press("x")  # no reason chosen yet: focus goes to the reason list
    reason = page.get_by_label("Reason for excluding")
    expect(reason).to_be_focused()
    reason.select_option("wrong-population")
    page.get_by_label("Details (optional; needed for Other)").fill("pigs")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Excluded: record")).to_be_visible()
    assert _status(app, second) == "excluded"

    third = _shown_pmid(page)
    page.keyboard.press("m")
    expect(page.get_by_text("Marked maybe: record")).to_be_visible()
    expect(page.get_by_role("heading", name="Records you marked maybe")).to_be_visible()

    page.keyboard.press("u")  # undo the maybe: that record is shown again
    expect(page.get_by_text("Undone: your maybe")).to_be_visible()
    assert _shown_pmid(page) == third
    assert serious_violations(page) == []
    with app.app_context(), session_scope() as session:
        decisions = [d.decision for d in session.exec(select(ScreeningDecision))]
    assert decisions == ["include", "exclude", "maybe", "undo"]
    assert {first, second, third} <= set(pmids)


def test_prisma_page_shows_the_flow_and_offers_downloads(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    candidates(app, 2)
    base = live_server.url
    _login(page, base, app, "flow@clinic.example")
    page.goto(base + QUEUE)
    page.get_by_role("button", name="Include").click()
    page.goto(base + "/screening")
    page.get_by_role(
        "link",
        name="PRISMA flow of Microneedling (collagen induction therapy) for Acne scars (atrophic)",
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PRISMA 2020 flow")
    diagram = page.get_by_role("img", name="PRISMA 2020 flow diagram")
    expect(diagram).to_be_visible()
    expect(diagram).to_contain_text("Records screened")
    expect(
        page.locator('td[data-item="Records identified: Import file test-candidates.xml"]')
    ).to_have_text("2")
    expect(page.get_by_text("The counts do not add up")).to_have_count(0)
    assert serious_violations(page) == []
    with page.expect_download() as info:
        page.get_by_role("link", name="counts as CSV").click()
    download = info.value
    assert download.suggested_filename == "prisma-microneedling-acne-scars.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "Records identified: Import file test-candidates.xml,2" in text


def test_duplicates_and_disagreements_pages_pass_axe_and_a_merge_is_recorded(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    title = "Fractional needling for acne scars in skin types IV to VI: a trial"
    store(app, [record(95000001, title, doi="10.1000/x1", author="Okafor")])
    store(app, [record(95000002, title.upper(), doi="10.1000/x2", author="Okafor")])
    base = live_server.url
    _login(page, base, app, "dups@clinic.example")
    page.goto(base + "/duplicates")
    expect(page.get_by_role("heading", name="Near-duplicates to decide (1)")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Merge into the kept record").click()
    expect(page.get_by_text("PMID 95000002 merged into the kept record.")).to_be_visible()
    decided = page.locator("table.dup-decided tbody tr")
    expect(decided).to_have_count(1)
    expect(decided).to_contain_text("dups@clinic.example")
    assert serious_violations(page) == []
    page.goto(base + QUEUE + "/conflicts")
    expect(page.get_by_text("No disagreement awaits a resolution.")).to_be_visible()
    assert serious_violations(page) == []
