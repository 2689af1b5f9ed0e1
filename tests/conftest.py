"""Shared fixtures: apps on SQLite (always) and PostgreSQL (when configured), a live server,
and Playwright pointed at Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

# Keep generated instance files (secret key, SQLite) out of the repository during tests.
_INSTANCE = tempfile.mkdtemp(prefix="evidence-test-instance-")
os.environ["EVIDENCE_INSTANCE_PATH"] = _INSTANCE
os.environ.setdefault("NCBI_EUTILS_URL", "http://127.0.0.1:9/entrez/eutils/")

from evidence import create_app, migrate, snapshot  # noqa: E402
from evidence.db import get_engine, session_scope  # noqa: E402

PG_ENV = "EVIDENCE_TEST_DATABASE_URL"


def make_test_app(url: str, **config: Any) -> Flask:
    """Create an app bound to a database URL, with test settings and a cache of its own.

    Each app gets a fresh cache directory, so no test sees another's cached pages or charts;
    two apps share a cache only when a test passes them the same CACHE_DIR, as two workers of
    one deployment would (an app given REDIS_URL caches in Redis instead).
    """
    settings: dict[str, Any] = {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "test-secret",
        "CACHE_DIR": tempfile.mkdtemp(prefix="cache-", dir=_INSTANCE),
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the snapshot loaded, built once and copied per test."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    app = make_test_app(url)
    with app.app_context():
        with session_scope() as session:
            snapshot.load(session)
        get_engine().dispose()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head (skips without one)."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests are skipped, not passed")
    name = f"evidence_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    """Empty every table (keeping the schema) and reload the snapshot."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
    engine.dispose()


def _app_for(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Flask]:
    """Yield an app with the snapshot loaded on the chosen backend."""
    if backend == "sqlite":
        db_path = tmp_path / "evidence.sqlite3"
        shutil.copy(sqlite_template, db_path)
        app = make_test_app(f"sqlite:///{db_path}")
    else:
        url = request.getfixturevalue("pg_url")
        _reset_postgres(url)
        app = make_test_app(url)
        with app.app_context(), session_scope() as session:
            snapshot.load(session)
    yield app
    with app.app_context():
        get_engine().dispose()


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app on a fresh SQLite copy with the snapshot loaded."""
    yield from _app_for("sqlite", request, tmp_path, sqlite_template)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    """The same app on SQLite and on PostgreSQL: tests using it run on both."""
    yield from _app_for(request.param, request, tmp_path, sqlite_template)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the SQLite app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner for the SQLite app."""
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    """Return the CSRF token embedded in a page's form."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


# --- live server and browser --------------------------------------------------------------


class LiveServer:
    """The app served by werkzeug in a background thread on an ephemeral port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """Serve the SQLite app for browser tests."""
    with LiveServer(app) as server:
        yield server


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium (never a downloaded browser), offline-friendly flags."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is not installed: run `make test`, which installs it from Debian")
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


def run_cli(app: Flask, *args: str, input: str | None = None) -> Any:
    """Invoke the `evidence` command (the FlaskGroup users type) against a test app."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from evidence.cli import main

    info = ScriptInfo(create_app=lambda: app)
    return CliRunner().invoke(main, list(args), obj=info, input=input, catch_exceptions=False)
