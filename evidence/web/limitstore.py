"""A `limits` storage in the app's own SQL database: rate-limit counts every process shares.

Flask-Limiter keeps its counts in Redis when EVIDENCE_REDIS_URL is set. Without Redis they
live here (storage URI `evidence+sql://`), in two tables of the app's database (migration
0013_rate_limits), so the gunicorn workers of `evidence serve` count one failed login once,
whichever worker answered it. limits itself offers no SQL storage; this one implements its
`Storage` and `MovingWindowSupport` interfaces (the app's strategy is the moving window).

A moving-window hit is one row per counted request. Deciding whether a hit fits must not
race between processes: on PostgreSQL a transaction-scoped advisory lock on the key makes
the check-and-insert one step; on SQLite the hit is inserted first (taking the database's
write lock, which waits on the busy timeout) and counted after, and rolled back if it does
not fit. Rows past their window are deleted with their key's next hit, and once a minute
across all keys.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from limits.storage import MovingWindowSupport, Storage
from sqlalchemy import case, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from evidence.models import RateLimitCounter, RateLimitEntry

ENTRY = RateLimitEntry.__table__  # type: ignore[attr-defined]
COUNTER = RateLimitCounter.__table__  # type: ignore[attr-defined]
SCHEME = "evidence+sql"
logger = logging.getLogger(__name__)
PURGE_EVERY = 60.0  # seconds between sweeps of expired rows across all keys


def _lock_id(key: str) -> int:
    """Return a stable signed 64-bit number for a key (PostgreSQL advisory lock ids)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), signed=True)


class SQLStorage(Storage, MovingWindowSupport):
    """Rate-limit counts in the app's database (SQLite or PostgreSQL), shared by processes."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        engine: Callable[[], Engine],
        **options: Any,
    ) -> None:
        """Take a callable returning the engine: the app creates (and re-creates) it lazily."""
        self._engine = engine
        self._next_purge = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        """Errors that mean the storage is unreachable (Flask-Limiter then counts in memory)."""
        return SQLAlchemyError

    # --- the moving window (the strategy the app uses) ------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count `amount` hits if the window still has room for them; say whether it had."""
        if amount > limit:
            return False
        now = time.time()
        with self._engine().connect() as conn, conn.begin() as transaction:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _lock_id(key)})
            # Insert before counting: on SQLite the insert takes the write lock, so no other
            # process counts between our count and our insert.
            row = {"key": key, "at": now, "expires_at": now + expiry}
            conn.execute(insert(ENTRY), [row] * amount)
            in_window = conn.execute(
                select(func.count())
                .select_from(ENTRY)
                .where(ENTRY.c.key == key, ENTRY.c.at > now - expiry)
            ).scalar_one()
            if in_window > limit:
                transaction.rollback()
                return False
            conn.execute(delete(ENTRY).where(ENTRY.c.key == key, ENTRY.c.at <= now - expiry))
        self._maybe_purge(now)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """Return the oldest hit still in the window (or now) and the number of hits in it."""
        now = time.time()
        with self._engine().connect() as conn:
            oldest, count = conn.execute(
                select(func.min(ENTRY.c.at), func.count()).where(
                    ENTRY.c.key == key, ENTRY.c.at > now - expiry
                )
            ).one()
        if not count:
            return now, 0
        return float(oldest), int(count)

    # --- fixed windows (the Storage interface; the app's strategy does not call these) -----

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add to a fixed-window counter, starting a new window when the last one expired."""
        now = time.time()
        with self._engine().begin() as conn:
            upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            values = upsert(COUNTER).values(key=key, count=amount, expires_at=now + expiry)
            expired = COUNTER.c.expires_at <= now
            stmt = values.on_conflict_do_update(
                index_elements=[COUNTER.c.key],
                set_={
                    "count": case((expired, amount), else_=COUNTER.c.count + amount),
                    "expires_at": case((expired, now + expiry), else_=COUNTER.c.expires_at),
                },
            ).returning(COUNTER.c.count)
            count = int(conn.execute(stmt).scalar_one())
        self._maybe_purge(now)
        return count

    def get(self, key: str) -> int:
        """Return a fixed-window counter's value (0 once its window expired)."""
        with self._engine().connect() as conn:
            value = conn.execute(
                select(COUNTER.c.count).where(
                    COUNTER.c.key == key, COUNTER.c.expires_at > time.time()
                )
            ).scalar()
        return int(value or 0)

    def get_expiry(self, key: str) -> float:
        """Return when a fixed-window counter expires (now if there is none)."""
        now = time.time()
        with self._engine().connect() as conn:
            value = conn.execute(
                select(COUNTER.c.expires_at).where(COUNTER.c.key == key, COUNTER.c.expires_at > now)
            ).scalar()
        return float(value) if value is not None else now

    # --- housekeeping -----------------------------------------------------------------------

    def check(self) -> bool:
        """Say whether the database answers (Flask-Limiter asks before leaving its fallback)."""
        try:
            with self._engine().connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count; return how many rows went."""
        with self._engine().begin() as conn:
            gone = conn.execute(delete(ENTRY)).rowcount + conn.execute(delete(COUNTER)).rowcount
        return int(gone)

    def clear(self, key: str) -> None:
        """Forget one key's counts."""
        with self._engine().begin() as conn:
            conn.execute(delete(ENTRY).where(ENTRY.c.key == key))
            conn.execute(delete(COUNTER).where(COUNTER.c.key == key))

    def _maybe_purge(self, now: float) -> None:
        """Once a minute per process, delete every key's expired rows.

        In a transaction of its own, after the hit's: two processes sweeping at once may
        wait for (or, on PostgreSQL, deadlock on) each other's rows, and a failed sweep must
        never refuse or lose a hit. Rows it leaves are swept next time.
        """
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        try:
            with self._engine().begin() as conn:
                conn.execute(delete(ENTRY).where(ENTRY.c.expires_at <= now))
                conn.execute(delete(COUNTER).where(COUNTER.c.expires_at <= now))
        except SQLAlchemyError as exc:
            logger.warning("rate-limit sweep failed, left for the next one: %s", exc)
