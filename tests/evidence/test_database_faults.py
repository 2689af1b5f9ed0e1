"""The database goes away mid-request: a 503 page without a traceback, then service resumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from evidence.db import get_engine, get_session
from tests.conftest import make_test_app


def _assert_unavailable_page(response) -> None:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Temporarily unavailable" in html and "try again" in html
    assert "Traceback" not in html and "OperationalError" not in html and "sqlite" not in html
    assert response.headers["Content-Security-Policy"]


def test_sqlite_file_gone_then_back(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/treatments/microneedling").status_code == 200
    path = Path(make_url(app.config["DATABASE_URL"]).database or "")
    moved = path.with_suffix(".away")
    os.rename(path, moved)
    try:
        # The pool would keep the open file alive: a restarted server opens it afresh.
        with app.app_context():
            get_engine().dispose()
        _assert_unavailable_page(client.get("/treatments/microneedling"))
        api = client.get("/api/v1/treatments")
        assert api.status_code == 503 and api.get_json()["error"] == "unavailable"
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.rename(moved, path)
    response = client.get("/treatments/microneedling")
    assert response.status_code == 200 and "Microneedling" in response.get_data(as_text=True)


def _app_with_dying_route(url: str) -> Flask:
    """The real app plus one route whose connection is terminated halfway through."""

    def hook(app: Flask) -> None:
        def dies_midway() -> str:
            session = get_session()
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            # The server ends this very connection, as a restart or failover would.
            session.exec(text("SELECT pg_terminate_backend(pg_backend_pid())"))  # type: ignore[call-overload]
            return "unreachable"

        app.add_url_rule("/_test/dies-midway", view_func=dies_midway)

    return make_test_app(url, EXTRA_INIT=[hook])


@pytest.mark.postgres
def test_postgres_connection_killed_mid_request(pg_url: str) -> None:
    app = _app_with_dying_route(pg_url)
    client = app.test_client()
    assert client.get("/").status_code == 200
    _assert_unavailable_page(client.get("/_test/dies-midway"))
    # The next request gets a fresh connection.
    assert client.get("/").status_code == 200
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}
    with app.app_context():
        get_engine().dispose()
