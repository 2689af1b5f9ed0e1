"""`evidence db backup PATH` then `evidence db restore PATH` gives back the database as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, func, select

from evidence.db import get_engine
from evidence.models import Citation, OutcomeReport
from tests.conftest import run_cli
from tests.evidence.practice.test_reports import account, submit


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context(), Session(get_engine()) as session:
        reports = session.exec(select(func.count()).select_from(OutcomeReport)).one()
        citations = session.exec(select(func.count()).select_from(Citation)).one()
    return int(reports), int(citations)


def test_round_trip(any_app: Flask, tmp_path: Path) -> None:
    client = account(any_app, "doc@clinic.example", "practitioner")
    assert submit(client).status_code == 302
    before = _counts(any_app)
    dump = tmp_path / "evidence.backup"
    made = run_cli(any_app, "db", "backup", str(dump))
    assert made.exit_code == 0, made.output
    assert dump.stat().st_size > 10_000
    # A second backup to the same file is refused: a backup never overwrites.
    again = run_cli(any_app, "db", "backup", str(dump))
    assert again.exit_code == 1 and "never overwrites" in again.output

    assert submit(client, notes="written after the backup").status_code == 302
    assert _counts(any_app)[0] == before[0] + 1
    restored = run_cli(any_app, "db", "restore", str(dump), "--yes")
    assert restored.exit_code == 0, restored.output
    assert _counts(any_app) == before
    # The app serves the restored data (the pool reconnected) and still accepts writes.
    page = any_app.test_client().get("/reports").get_data(as_text=True)
    assert "written after the backup" not in page
    assert submit(account(any_app, "doc2@clinic.example", "practitioner")).status_code == 302


def test_restore_refuses_what_is_not_a_backup(app: Flask, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    before = _counts(app)
    result = run_cli(app, "db", "restore", str(junk), "--yes")
    assert result.exit_code == 1
    assert "not an SQLite database" in result.output or "cannot be opened" in result.output
    assert _counts(app) == before


@pytest.mark.parametrize("answer", ["n\n"])
def test_restore_asks_first(app: Flask, tmp_path: Path, answer: str) -> None:
    dump = tmp_path / "b.sqlite3"
    assert run_cli(app, "db", "backup", str(dump)).exit_code == 0
    result = run_cli(app, "db", "restore", str(dump), input=answer)
    assert result.exit_code == 1 and "Aborted" in result.output
