"""Migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import evidence.models  # noqa: F401  (registers the tables)
from evidence import migrate
from evidence.db import make_engine


def _check_schema_matches_models(url: str) -> None:
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        tables = set(insp.get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        for name, table in SQLModel.metadata.tables.items():
            db_cols = {c["name"] for c in insp.get_columns(name)}
            assert {c.name for c in table.columns} == db_cols, name
        assert migrate.current_revision(engine) == migrate.head_revision(url)
    finally:
        engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    migrate.upgrade(url)
    _check_schema_matches_models(url)
    migrate.downgrade(url, "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    migrate.upgrade(url)
    _check_schema_matches_models(url)


@pytest.mark.postgres
def test_postgres_schema_matches_models(pg_url: str) -> None:
    _check_schema_matches_models(pg_url)


@pytest.mark.postgres
def test_postgres_downgrade_and_upgrade_again(pg_url: str) -> None:
    # A separate database so the shared test database keeps its schema.
    base = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = "evidence_mig_roundtrip"
    with base.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        migrate.upgrade(url)
        _check_schema_matches_models(url)
    finally:
        with base.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        base.dispose()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
