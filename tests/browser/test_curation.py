"""A curator screens a citation's link in Chromium."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser
PASSWORD = "a long enough passphrase"


def test_curator_excludes_a_link_with_a_reason(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="cur@clinic.example", password=PASSWORD, role="curator")
    base = live_server.url
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("cur@clinic.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + "/citations/24919799")
    link = page.locator("li.link").first
    expect(link.locator(".link-status")).to_have_text("included")
    assert serious_violations(page) == []
    link.get_by_label("Reason").fill("device not a microneedling pen")
    link.get_by_role("button", name="Exclude").click()
    expect(page.get_by_text("Screening decision recorded.")).to_be_visible()
    expect(page.locator("li.link").first.locator(".link-status")).to_have_text("excluded")
    expect(page.get_by_text("excluded because device not a microneedling pen")).to_be_visible()
    page.goto(base + "/treatments/microneedling")
    expect(page.locator("p.count")).to_contain_text("27 citations")


def test_curator_import_page_passes_axe(page: Page, live_server: LiveServer, app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="cur2@clinic.example", password=PASSWORD, role="curator")
    base = live_server.url
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("cur2@clinic.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(base + "/searches")
    page.get_by_role("link", name="Import records from a file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import PubMed records from a file")
    assert serious_violations(page) == []
    page.get_by_label("File", exact=True).set_input_files(
        files=[{"name": "notes.docx", "mimeType": "application/octet-stream", "buffer": b"x"}]
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("notes.docx: not a file this import reads")).to_be_visible()
