"""Every page carries the security headers; no page has inline script or inline style."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from evidence.web.security import CONTENT_SECURITY_POLICY
from tests.evidence.web.test_auth import login, make_user

# Pages that would log the admin out or only redirect are still checked, just not followed.
NOT_FOLLOWED = ("/logout",)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"|\son[a-z]+=\"", re.IGNORECASE)


def _check_headers(path: str, response) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    assert headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, path
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", path
    assert "Strict-Transport-Security" not in headers, f"{path}: HSTS over plain HTTP"


def _crawl(client: FlaskClient, starts: list[str], limit: int = 400) -> dict[str, int]:
    """Fetch the start pages and every same-site link from them; check each response."""
    seen: dict[str, int] = {}
    queue = deque(starts)
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        with client.get(path) as response:
            seen[path] = response.status_code
            _check_headers(path, response)
            assert response.status_code < 500, f"{path}: {response.status_code}"
            html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        if not html:
            continue
        assert not INLINE_SCRIPT.search(html), f"{path}: inline <script>"
        assert not INLINE_STYLE.search(html), f"{path}: inline style or event handler"
        for href in re.findall(r'href="([^"#]+)', html):
            url = urlsplit(urljoin("http://localhost" + path, href.replace("&amp;", "&")))
            if url.netloc != "localhost" or url.path.startswith(NOT_FOLLOWED):
                continue
            # One page per route and query shape is enough: skip page 2, 3 ... of a table.
            target = url.path + (f"?{url.query}" if url.query and "page=" not in url.query else "")
            if target not in seen:
                queue.append(target)
    return seen


def _get_rules(app: Flask) -> list[str]:
    """Every GET route that takes no argument."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and not rule.arguments and rule.endpoint != "static"
    )


def test_every_page_carries_the_headers_and_nothing_inline(app: Flask) -> None:
    make_user(app, "admin@example.org", "admin")
    client = app.test_client()
    anonymous = _crawl(app.test_client(), ["/", *_get_rules(app)])
    assert login(client, "admin@example.org").status_code == 302
    seen = _crawl(client, ["/", *_get_rules(app)])
    # The crawl reached the routes with arguments too (a treatment, a citation, a report).
    reached = {urlsplit(p).path.split("/")[1] for p in seen}
    assert {"treatments", "citations", "indications", "compare"} <= reached
    assert len(seen) > 50 and len(anonymous) > 20
    # Error pages carry them too.
    for path in ("/no-such-page", "/citations/0"):
        response = client.get(path)
        assert response.status_code == 404
        _check_headers(path, response)
    _check_headers("/api/v1/nothing", client.get("/api/v1/nothing"))


def test_hsts_only_over_https_or_a_trusted_proxy_saying_https(app: Flask) -> None:
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://evidence.example.org")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    forwarded = {"X-Forwarded-Proto": "https"}
    # Without EVIDENCE_TRUSTED_PROXIES a forged header changes nothing.
    assert "Strict-Transport-Security" not in client.get("/", headers=forwarded).headers


def test_hsts_behind_a_trusted_proxy(app: Flask) -> None:
    from tests.conftest import make_test_app

    behind = make_test_app(app.config["DATABASE_URL"], TRUSTED_PROXIES=1)
    client = behind.test_client()
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/").headers
