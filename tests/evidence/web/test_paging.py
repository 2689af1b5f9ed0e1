"""Every paged page reads its page number the same way: a bad one shows the first or last page."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from evidence.db import session_scope
from evidence.models import User
from evidence.web.pager import Pager, page_number
from tests.evidence.web.test_auth import login, make_user

FIRST = ["abc", "²", "-1", "0", "", "1.5", " ", "１"]  # "１": a full-width digit
LAST = ["9" * 12, "9" * 5000, "99999"]

# (url, page argument, whether the snapshot fills several pages): every paged list in the app.
PAGED = [
    ("/citations", "page", True),
    ("/citations?status=unlinked", "page", False),
    ("/treatments/microneedling", "page", True),
    ("/treatments/microneedling", "rep_page", False),
    ("/indications/acne-scars", "page", True),
    ("/reports", "page", False),
    ("/admin/audit", "page", True),
]


def _shown_page(html: str, param: str = "page") -> tuple[int, int] | None:
    """Return (page, pages) from the pager, None when the list fits on one page.

    The reports section of a treatment page (rep_page) has its own pager after the
    citation table's.
    """
    if param == "rep_page":
        html = html.split('id="reports"', 1)[1]
    found = re.findall(r"<span>Page (\d+) of (\d+)</span>", html)
    return (int(found[0][0]), int(found[0][1])) if found else None


@pytest.fixture
def admin(any_app: Flask) -> FlaskClient:
    """An admin's client, after enough audited writes for two audit-log pages (50 a page)."""
    app = any_app
    user_id = make_user(app, "admin@example.org", "admin")
    for n in range(60):
        with app.app_context(), session_scope() as session:
            user = session.get(User, user_id)
            assert user is not None
            user.name = f"Admin {n}"
    client = app.test_client()
    login(client, "admin@example.org")
    return client


@pytest.mark.parametrize(("url", "param", "several"), PAGED)
def test_bad_page_numbers_show_the_first_or_last_page(
    admin: FlaskClient, url: str, param: str, several: bool
) -> None:
    client = admin  # an admin sees every page, the audit log included
    if several:  # else only the status is checked: the list has one page
        assert _shown_page(client.get(url).text, param) is not None, url
    join = "&" if "?" in url else "?"
    plain = client.get(url)
    assert plain.status_code == 200
    first = _shown_page(plain.text, param)
    for raw in FIRST:
        resp = client.get(f"{url}{join}{param}={raw}")
        assert resp.status_code == 200, (url, param, raw)
        assert _shown_page(resp.text, param) == first, (url, param, raw)
    for raw in LAST:
        resp = client.get(f"{url}{join}{param}={raw}")
        assert resp.status_code == 200, (url, param, raw)
        shown = _shown_page(resp.text, param)
        assert shown is None or shown[0] == shown[1], (url, param, raw)
    # NUL bytes are refused before any view reads them (evidence.web.hardening).
    assert client.get(f"{url}{join}{param}=%00").status_code == 400


def test_page_numbers_are_read_as_the_first_or_last_page() -> None:
    """The parse itself, and the clamping to the pages there are."""
    assert page_number("abc") == page_number("²") == page_number("-1") == 1
    assert page_number("0") == page_number(None) == page_number("") == 1
    assert page_number("7") == 7 and page_number(" 7 ") == 7
    assert page_number("9" * 5000) > 10**9
    pager = Pager.from_args({"page": "9" * 5000}, 51, per_page=25)
    assert (pager.page, pager.pages, pager.offset) == (3, 3, 50)
    assert Pager.from_args({}, 0, per_page=25).pages == 1
    assert Pager.from_args({"rep_page": "2"}, 30, per_page=25, param="rep_page").page == 2


def test_citations_pager_walks_every_page(client: FlaskClient) -> None:
    html = client.get("/citations?page=2").text
    assert _shown_page(html) == (2, 3)
    assert 'href="/citations?page=1" rel="prev"' in html
    assert 'href="/citations?page=3" rel="next"' in html
    last = client.get("/citations?page=99999").text
    assert _shown_page(last) == (3, 3) and 'rel="next"' not in last
