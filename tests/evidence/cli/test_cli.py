"""The `evidence` command as a user types it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from evidence import migrate
from evidence.config import instance_secret_key
from tests.conftest import make_test_app, run_cli


def test_upgrade_then_load_twice_adds_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    app = make_test_app(url)
    result = run_cli(app, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"database at {migrate.head_revision(url)}" in result.output
    first = run_cli(app, "snapshot", "load")
    assert first.exit_code == 0, first.output
    assert "63 citations" in first.output and "3 outcome reports" in first.output
    second = run_cli(app, "snapshot", "load")
    assert second.exit_code == 0
    assert "added 0 treatments, 0 indications, 0 citations, 0 links, 0 outcome reports" in (
        second.output
    )


def test_routes_lists_the_pages(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    result = run_cli(app, "routes")
    assert result.exit_code == 0, result.output
    for rule in ("/treatments/<slug>", "/citations/<pmid>", "/healthz"):
        assert rule in result.output


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = instance_secret_key(str(tmp_path))
    second = instance_secret_key(str(tmp_path))
    assert first == second and len(first) == 64
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_settings_come_from_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from evidence import create_app

    monkeypatch.setenv("EVIDENCE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("EVIDENCE_DATABASE_URL", "sqlite:///" + str(tmp_path / "x.sqlite3"))
    monkeypatch.setenv("NCBI_EMAIL", "someone@example.org")
    monkeypatch.setenv("NCBI_EUTILS_URL", "http://127.0.0.1:1/eutils/")
    monkeypatch.delenv("EVIDENCE_SECRET_KEY", raising=False)
    app = create_app()
    assert app.config["DATABASE_URL"].endswith("x.sqlite3")
    assert app.config["NCBI_EMAIL"] == "someone@example.org"
    assert app.config["NCBI_EUTILS_URL"] == "http://127.0.0.1:1/eutils/"
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
