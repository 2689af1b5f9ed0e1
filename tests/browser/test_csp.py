"""The main pages run under the strict Content-Security-Policy without a single violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import LiveServer
from tests.evidence.web.test_auth import PASSWORD, make_user

pytestmark = pytest.mark.browser

# Recorded from inside the page: every securitypolicyviolation event, as "directive uri".
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""

PAGES = (
    "/",
    "/treatments/microneedling",
    "/citations/24919799",
    "/indications/burn-scars",
    "/citations",
    "/compare?t=microneedling&t=fractional-co2-laser",
    "/matrix",
    "/about/evidence-levels",
    "/reports",
    "/reports/new",
    "/searches",
    "/searches/import",
    "/exports",
    "/api/",
    "/account/tokens",
)


def test_main_pages_report_no_csp_violation(page: Page, live_server: LiveServer) -> None:
    make_user(live_server.app, "admin@example.org", "admin")
    console: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            console.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(live_server.url + "/login")
    page.get_by_label("E-mail").fill("admin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("admin@example.org")).to_be_visible()
    violations: list[str] = []
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status < 400, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        violations += [f"{path}: {v}" for v in page.evaluate("window.__csp")]
    assert violations == []
    assert console == []


def test_charts_keep_their_styling_under_the_policy(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url + "/compare?t=microneedling&t=fractional-co2-laser")
    bar = page.locator("#fig-levels svg path[fill]").first
    expect(bar).to_be_visible()
    # The presentation attributes take effect: the first filled path is not default black.
    fill = bar.evaluate("el => getComputedStyle(el).fill")
    assert fill and fill != "rgb(0, 0, 0)"
    text = page.locator("#fig-levels svg text").first
    assert text.evaluate("el => getComputedStyle(el).fontFamily").startswith(
        ("DejaVu", "'DejaVu", '"DejaVu')
    )
    page.screenshot(path="/tmp/i12-compare.png", full_page=True)
