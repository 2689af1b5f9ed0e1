"""A practitioner registers and reports an outcome; an anonymous visitor cannot post (Chromium)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def register_practitioner(page: Page, base: str, email: str) -> None:
    """Register through the form, declaring a practitioner."""
    page.goto(base + "/")
    page.get_by_role("link", name="Register").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    assert serious_violations(page) == []
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_label(re.compile("I treat patients")).check()
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("header .account")).to_contain_text(email)
    expect(page.locator("header .account .role-badge")).to_have_text("practitioner")


def test_practitioner_reports_microneedling_on_acne_scars_in_type_v_with_pih(
    page: Page, live_server: LiveServer
) -> None:
    """Register, submit, see the report on the treatment page and in the statistics."""
    base = live_server.url
    register_practitioner(page, base, "doc@clinic.example")

    page.get_by_role("link", name="Report an outcome").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report an outcome")
    assert serious_violations(page) == []
    page.get_by_label("Treatment", exact=True).select_option("microneedling")
    page.get_by_label("Indication", exact=True).select_option("acne-scars")
    page.get_by_label("Number of sessions").fill("3")
    page.get_by_label("Interval between sessions (weeks)").fill("4")
    page.get_by_label("Fitzpatrick skin type").select_option(label="Type V")
    page.get_by_label("Age band").select_option("25-34")
    page.get_by_label("Device").fill("motorised pen")
    page.get_by_label("Needle depth (mm)").fill("1.5")
    page.get_by_label("2: 26-50%").check()
    page.get_by_label("Post-inflammatory hyperpigmentation (PIH)").check()
    page.get_by_label("Downtime (days)").fill("3")
    page.get_by_label("Cost per session").fill("250")
    page.get_by_label("Currency (ISO code, e.g. USD)").fill("USD")
    page.get_by_role("button", name="Save report").click()

    expect(page.get_by_text("Report saved. Thank you.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Outcome report #")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Acne scars")
    expect(facts).to_contain_text("Post-inflammatory hyperpigmentation (PIH)")
    expect(page.locator("table.history")).to_contain_text("created")
    report_id = re.search(r"/reports/(\d+)$", page.url)
    assert report_id
    assert serious_violations(page) == []

    # The treatment page lists it and counts it in the skin type IV-VI statistics.
    page.get_by_role("link", name="Microneedling (collagen induction therapy)").first.click()
    expect(page.locator(f"#report-{report_id.group(1)}")).to_be_visible()
    stats = page.locator("table.stats").first
    dark = stats.locator("thead th", has_text="Skin type IV–VI")
    expect(dark).to_contain_text("1 report")
    expect(dark).to_contain_text("too few reports")
    pih_row = stats.locator("tbody tr", has_text="Post-inflammatory hyperpigmentation")
    # Columns: all reports, I-III, IV-VI, not stated.
    expect(pih_row.locator("td").nth(2)).to_have_text("1 of 1")
    assert serious_violations(page) == []

    # The figure links to exactly the reports it was computed from.
    dark.get_by_role("link", name="1 report").click()
    expect(page).to_have_url(re.compile(r"/reports\?treatment=microneedling&skin=IV-VI"))
    expect(page.locator("article.report")).to_have_count(1)
    expect(page.locator(f"#report-{report_id.group(1)}")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("link", name="My reports").click()
    expect(page.locator("article.report")).to_have_count(1)
    assert serious_violations(page) == []


def test_identifiers_are_refused_beside_the_field_and_typing_kept(
    page: Page, live_server: LiveServer
) -> None:
    """A phone number in the notes is refused with what to remove; the rest stays filled in."""
    base = live_server.url
    register_practitioner(page, base, "doc2@clinic.example")
    page.goto(base + "/reports/new")
    page.get_by_label("Device").fill("roller 1.0 mm")
    page.get_by_label("Notes", exact=False).fill("Patient asked to be called on 555-123-4567")
    page.get_by_role("button", name="Save report").click()
    expect(page.get_by_role("alert")).to_contain_text("The form could not be saved")
    notes_error = page.locator("#notes-error")
    expect(notes_error).to_contain_text("Remove the phone number “555-123-4567”")
    expect(page.locator("#improvement-error")).to_contain_text("Choose the improvement")
    expect(page.get_by_label("Device")).to_have_value("roller 1.0 mm")
    expect(page.locator("#notes")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []


def test_anonymous_visitor_cannot_post(page: Page, live_server: LiveServer) -> None:
    """The form sends visitors to log in, and a forged post saves nothing."""
    base = live_server.url
    page.goto(base + "/treatments/microneedling")
    before = page.locator("#rep-h").inner_text()
    page.get_by_role("link", name="Report an outcome").first.click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    assert serious_violations(page) == []
    token = page.locator('input[name="csrf_token"]').get_attribute("value")
    response = page.request.post(
        base + "/reports/new",
        form={
            "csrf_token": token or "",
            "treatment": "microneedling",
            "indication": "acne-scars",
            "fitzpatrick": "5",
            "improvement": "4",
        },
        max_redirects=0,
    )
    assert response.status == 302 and "/login" in response.headers["location"]
    page.goto(base + "/treatments/microneedling")
    expect(page.locator("#rep-h")).to_have_text(before)


def test_account_pages_pass_axe(page: Page, live_server: LiveServer, app: Flask) -> None:
    """Log in, the admin's user list, the password and upload pages, a curator's view."""
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="admin@clinic.example", password=PASSWORD, role="admin")
    base = live_server.url
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("admin@clinic.example")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#password-error")).to_have_text("E-mail or password not recognised.")
    assert serious_violations(page) == []
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .account")).to_contain_text("admin@clinic.example")
    for path, heading in [
        ("/admin/users", "Users"),
        ("/account/password", "Change your password"),
        ("/reports/upload", "Upload outcome reports (CSV)"),
        ("/reports?treatment=microneedling", "Outcome reports: Microneedling"),
    ]:
        page.goto(base + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        assert serious_violations(page) == [], path
    # A quoted report, seen by an admin (curation form included).
    page.goto(base + "/treatments/microneedling")
    page.locator("article.report h3 a").first.click()
    expect(page.get_by_role("heading", name="Curation")).to_be_visible()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("header .account")).to_contain_text("Log in")
