"""Pages fit the window: no sideways scrolling at 1280 px and 390 px; chart text is legible."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PAIR = "/compare?t=microneedling&t=fractional-co2-laser"
PAGES_390 = (PAIR, "/exports", "/api/", "/about/evidence-levels", "/")
PAGES_1280 = ("/matrix", PAIR, "/exports", "/api/", "/about/evidence-levels")

# Elements wider than the page: named in the failure so the culprit is plain.
OVERFLOW_JS = """() => {
  const root = document.scrollingElement;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > root.clientWidth + 1 && getComputedStyle(el).position !== 'fixed') {
      let inScroller = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') { inScroller = true; break; }
      }
      const name = el.tagName.toLowerCase() + '.' + (el.getAttribute('class') || '');
      if (!inScroller) wide.push(name + ' ' + Math.round(r.right));
    }
  }
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide.slice(0, 8)};
}"""


def overflow(page: Page, url: str, width: int) -> dict[str, object]:
    """Open a page at a viewport width and measure how far it runs past the window."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate(OVERFLOW_JS)  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", PAGES_390)
def test_pages_do_not_scroll_sideways_on_a_phone(
    page: Page, live_server: LiveServer, path: str
) -> None:
    """At 390 px (a phone) the page is no wider than the window; wide tables scroll inside."""
    got = overflow(page, live_server.url + path, 390)
    assert got["scroll"] <= got["client"], got  # type: ignore[operator]


@pytest.mark.parametrize("path", PAGES_1280)
def test_pages_fit_a_laptop_window(page: Page, live_server: LiveServer, path: str) -> None:
    """At 1280 px nothing is cut or scrolls sideways (the evidence map included)."""
    got = overflow(page, live_server.url + path, 1280)
    assert got["scroll"] <= got["client"], got  # type: ignore[operator]


def test_the_evidence_map_is_not_cut_at_1280(page: Page, live_server: LiveServer) -> None:
    """Every indication column of /matrix shows in a 1280 px window, none hidden in a scroller."""
    overflow(page, live_server.url + "/matrix", 1280)
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('.table-scroll')]
            .filter(box => box.scrollWidth > box.clientWidth + 1)
            .map(box => [box.scrollWidth, box.clientWidth])"""
    )
    assert hidden == []
    last = page.locator("table.matrix thead th").last.bounding_box()
    assert last is not None and last["x"] + last["width"] <= 1280


def test_chart_legends_render_at_ten_pixels_or_more(page: Page, live_server: LiveServer) -> None:
    """On the compare page at 1280 px, the smallest legend text is at least 10 px tall."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + PAIR)
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('figure.chart svg')].flatMap(svg => {
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          return [...svg.querySelectorAll('[id*="legend"] text')].map(
            t => parseFloat(getComputedStyle(t).fontSize) * scale);
        })"""
    )
    assert sizes, "no legend text found"
    assert min(sizes) >= 10, sorted(sizes)[:5]
