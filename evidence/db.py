"""Engine and session handling: one engine per app, one session per request."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, create_engine, select


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url and url != "sqlite://":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(app: Flask | None = None) -> Engine:
    """Return the app's engine, creating it on first use."""
    app = app or current_app
    engine: Engine | None = app.extensions.get("evidence_engine")
    if engine is None:
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["evidence_engine"] = engine
    return engine


def get_session() -> Session:
    """Return the request's session, opened on first use and closed on teardown."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(), expire_on_commit=False)
    session: Session = g.db_session
    return session


@contextmanager
def session_scope(app: Flask | None = None) -> Iterator[Session]:
    """A session for CLI commands and jobs: commits on success, rolls back on error."""
    with Session(get_engine(app), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def close_session(_exc: BaseException | None = None) -> None:
    """Close the request's session, rolling back anything left uncommitted."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


SIDES = ("literature", "practice", "extraction")


def data_versions(session: Session) -> dict[str, str]:
    """Return each side's data version: a hash of its tokens in data_version (one small read).

    Triggers (migration 0012_data_versions) replace a side's token on every write to the
    tables it is computed from, so a version changes exactly when its data may have.
    """
    from evidence.models import DataVersion

    tokens: dict[str, list[str]] = {side: [] for side in SIDES}
    rows = session.exec(
        select(DataVersion.side, DataVersion.shard, DataVersion.token).order_by(
            col(DataVersion.side), col(DataVersion.shard)
        )
    )
    for side, shard, token in rows:
        tokens.setdefault(side, []).append(f"{shard}:{token}")
    return {
        side: hashlib.sha256(",".join(parts).encode()).hexdigest()[:16]
        for side, parts in tokens.items()
    }


def init_app(app: Flask) -> None:
    """Register teardown so each request's session is closed."""
    app.teardown_appcontext(close_session)
