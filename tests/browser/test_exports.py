"""A researcher downloads the microneedling table as CSV (chosen columns) and RIS (Chromium)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import rispy
from flask import Flask
from playwright.sync_api import Page, expect

from evidence.db import session_scope
from evidence.web import auth
from tests.browser.conftest import serious_violations
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def test_researcher_downloads_microneedling_as_csv_with_chosen_columns_and_ris(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/treatments/microneedling")
    export = page.locator("details.export")
    export.locator("summary").click()
    expect(export.locator("summary")).to_have_text("Export these 28 citations")
    assert serious_violations(page) == []

    export.get_by_label("CSV").check()
    for label in ("Journal", "DOI", "PMCID", "Publication types", "MeSH terms", "Indications"):
        export.get_by_label(label, exact=True).uncheck()
    export.get_by_label("Abstract", exact=True).check()
    with page.expect_download() as info:
        export.get_by_role("button", name="Download").click()
    download = info.value
    assert re.fullmatch(
        r"citations-microneedling-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename
    )
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "pmid",
        "title",
        "authors",
        "year",
        "evidence_level",
        "retraction_status",
        "treatments",
        "abstract",
    ]
    assert len(rows) == 1 + 28
    assert all("Microneedling" in row[6] for row in rows[1:])

    with page.expect_download() as info:
        export.get_by_role("link", name="RIS").click()
    ris = info.value
    assert ris.suggested_filename.endswith(".ris")
    entries = rispy.loads(Path(ris.path()).read_text(encoding="utf-8"))
    assert len(entries) == 28
    assert {e["accession_number"] for e in entries} == {r[0] for r in rows[1:]}
    assert all("Evidence level:" in e["notes"][0] for e in entries)


def test_export_api_and_token_pages_pass_axe(
    page: Page, live_server: LiveServer, app: Flask
) -> None:
    page.goto(live_server.url + "/exports?treatment=microneedling")
    expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    expect(page.locator("section").first).to_contain_text("28 citations match")
    assert serious_violations(page) == []

    page.get_by_role("link", name="API", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API for researchers")
    assert serious_violations(page) == []

    with app.app_context(), session_scope() as session:
        auth.create_user(session, email="doc@example.org", password=PASSWORD, role="practitioner")
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill("doc@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/account/tokens")
    page.get_by_label("Token name").fill("clinic laptop")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token")
    expect(token).to_have_text(re.compile(r"^evt_[\w-]{20,}$"))
    assert serious_violations(page) == []
    page.get_by_role("button", name="Revoke token clinic laptop").click()
    expect(page.locator("table.tokens")).to_contain_text("revoked")
    assert serious_violations(page) == []
