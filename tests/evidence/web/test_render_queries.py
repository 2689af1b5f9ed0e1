"""Templates only show what their view computed: no page runs SQL while its template renders.

A template that calls a global reaching the database hides a query from the view (and from
anyone reading it), runs it once per call, and cannot be cached with the view's data. Each
main page is requested here with a counter on the engine that is armed only between Flask's
`before_render_template` and `template_rendered` signals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, before_render_template, template_rendered
from sqlalchemy import event
from sqlmodel import select

from evidence.db import get_engine, session_scope
from evidence.models import OutcomeReport
from tests.evidence.web.test_auth import login, make_user

PAIR = "t=fractional-co2-laser&t=microneedling&indication=acne-scars"

PUBLIC_PAGES = [
    "/",
    "/treatments/microneedling",
    "/treatments/microneedling?rep_skin=IV-VI&level=2",
    "/indications",
    "/indications/acne-scars",
    "/citations",
    "/citations?status=unlinked",
    "/citations?q=acne",
    "/citations/24919799",
    f"/compare?{PAIR}",
    "/compare?t=microneedling",
    f"/compare/summary?{PAIR}",
    f"/compare/forest?{PAIR}&outcome=pih",
    "/matrix",
    "/reports",
    "/reports?treatment=microneedling",
    "/searches",
    "/exports",
    "/about/evidence-levels",
    "/api/",
]

CURATOR_PAGES = [
    "/treatments/microneedling",
    "/searches",
    "/screening",
    "/screening/microneedling/acne-scars",
    "/prisma/microneedling/acne-scars",
    "/duplicates",
    "/reports",
]

ADMIN_PAGES = ["/admin/audit", "/admin/users"]


class RenderQueries:
    """Collect the SQL statements executed while any template renders."""

    def __init__(self) -> None:
        self.depth = 0
        self.statements: list[str] = []

    def started(self, sender: Any, template: Any, context: Any, **extra: Any) -> None:
        self.depth += 1

    def finished(self, sender: Any, template: Any, context: Any, **extra: Any) -> None:
        self.depth -= 1

    def executed(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.depth > 0:
            self.statements.append(" ".join(statement.split())[:200])


@pytest.fixture
def render_queries(any_app: Flask) -> Iterator[RenderQueries]:
    """Arm a counter of SQL run inside template rendering (on SQLite and PostgreSQL)."""
    app = any_app
    counter = RenderQueries()
    with app.app_context():
        engine = get_engine()
    event.listen(engine, "before_cursor_execute", counter.executed)
    before_render_template.connect(counter.started, app)
    template_rendered.connect(counter.finished, app)
    try:
        yield counter
    finally:
        template_rendered.disconnect(counter.finished, app)
        before_render_template.disconnect(counter.started, app)
        event.remove(engine, "before_cursor_execute", counter.executed)


def _check(app: Flask, counter: RenderQueries, pages: list[str], client: Any = None) -> None:
    client = client or app.test_client()
    found: dict[str, list[str]] = {}
    for url in pages:
        counter.statements.clear()
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "<html" in resp.text, url  # a rendered page, not a redirect or JSON
        if counter.statements:
            found[url] = list(counter.statements)
    assert not found, "SQL while rendering:\n" + "\n".join(
        f"{url}: {len(sql)} statements, first: {sql[0]}" for url, sql in found.items()
    )


def test_public_pages_run_no_sql_while_rendering(
    any_app: Flask, render_queries: RenderQueries
) -> None:
    app = any_app
    with app.app_context(), session_scope() as session:
        report = session.exec(select(OutcomeReport)).first()
        assert report is not None
        pages = [*PUBLIC_PAGES, f"/reports/{report.id}"]
    _check(app, render_queries, pages)


def test_signed_in_pages_run_no_sql_while_rendering(
    any_app: Flask, render_queries: RenderQueries
) -> None:
    app = any_app
    make_user(app, "curator@example.org", "curator")
    curator = app.test_client()
    login(curator, "curator@example.org")
    _check(app, render_queries, CURATOR_PAGES, curator)
    make_user(app, "admin@example.org", "admin")
    admin = app.test_client()
    login(admin, "admin@example.org")
    _check(app, render_queries, ADMIN_PAGES, admin)


def test_the_counter_sees_sql_run_inside_a_template(
    any_app: Flask, render_queries: RenderQueries
) -> None:
    """The check itself: a template that reaches the database is caught."""
    app = any_app
    from sqlalchemy import text

    def hits() -> int:
        with get_engine().connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM treatment")).scalar_one())

    with app.test_request_context("/"):
        from flask import render_template_string

        assert render_template_string("{{ hits() }}", hits=hits).strip() != "0"
    assert any("treatment" in s for s in render_queries.statements)
