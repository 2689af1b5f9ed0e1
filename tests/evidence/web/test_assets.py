"""Responses are compressed; static files are cached long behind URLs that change with them."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from flask import Flask

from evidence.web.assets import STATIC_MAX_AGE


def css_url(app: Flask) -> str:
    """Return the stylesheet URL the home page links to."""
    html = app.test_client().get("/").get_data(as_text=True)
    found = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert found
    return found.group(1)


def test_pages_and_css_are_gzipped_when_the_browser_accepts_it(app: Flask) -> None:
    """A browser sending Accept-Encoding: gzip gets a gzip body that inflates to the page."""
    client = app.test_client()
    plain = client.get("/compare?t=microneedling&t=fractional-co2-laser")
    zipped = client.get(
        "/compare?t=microneedling&t=fractional-co2-laser", headers={"Accept-Encoding": "gzip"}
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers.get("Vary", "")
    assert len(zipped.data) < len(plain.data) / 3
    assert gzip.decompress(zipped.data) == plain.data
    css = client.get(css_url(app), headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip"
    source = (Path(app.static_folder or "") / "style.css").read_bytes()
    assert gzip.decompress(css.data) == source


def test_css_is_cached_and_its_url_changes_with_its_content(app: Flask) -> None:
    """style.css carries ?v=<hash> and max-age a year; editing the file changes the URL."""
    url = css_url(app)
    assert re.fullmatch(r"/static/style\.css\?v=[0-9a-f]{12}", url)
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert f"max-age={STATIC_MAX_AGE}" in response.headers["Cache-Control"]
    assert "no-cache" not in response.headers["Cache-Control"]
    response.close()
    css = Path(app.static_folder or "") / "style.css"
    original = css.read_bytes()
    try:
        css.write_bytes(original + b"\n/* changed */\n")
        import os

        os.utime(css, (css.stat().st_atime, css.stat().st_mtime + 5))
        assert css_url(app) != url
    finally:
        css.write_bytes(original)
