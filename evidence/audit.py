"""The audit log: every ORM write is recorded (who, what, when) in the write's own transaction.

One session event (`after_flush`) sees every insert, update and delete of every session, the
request's, the command line's and the background jobs', so no write route can forget it.
Bulk Core statements (the record upserts of an import or a fetch) are not ORM writes: those
are recorded through their job's row, whose creation and every change of state are logged.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from evidence.models import AuditEntry, FetchJob, utcnow

AUDIT_TABLE: Any = AuditEntry.__table__  # type: ignore[attr-defined]
# Job rows change on every batch (progress, heartbeat): only their state changes are writes
# a reader of the log cares about.
_PROGRESS_ONLY = {FetchJob: {"state"}}


def _actor() -> tuple[int | None, str, str]:
    """Return (user id, actor, origin) for the write being flushed."""
    if has_request_context():
        # Flask-Login's loaded user, if any; never loaded here (that would query mid-flush).
        user = g.get("_login_user")
        origin = f"{request.method} {request.path}"[:300]
        if user is not None and getattr(user, "is_authenticated", False):
            return getattr(user, "id", None), str(getattr(user, "email", "?")), origin
        return None, "anonymous", origin
    command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:3]]) if sys.argv else ""
    return None, "system (command line or background job)", command[:300] or "system"


def _row_id(obj: Any) -> str | None:
    """Return the row's primary key as text."""
    # The key from the row's column values: after the INSERT, before the identity is set.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    if not key or all(part is None for part in key):
        return None
    return ",".join(str(part) for part in key)[:60]


def _changed(obj: Any) -> list[str]:
    """Return the names of the columns an update changed."""
    state = inspect(obj)
    return [a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()]


def entries_for_flush(session: OrmSession) -> list[dict[str, Any]]:
    """Build one audit row per object the flush inserted, changed or deleted."""
    user_id, actor, origin = _actor()
    now = utcnow()
    rows = []
    groups = (("insert", session.new), ("update", session.dirty), ("delete", session.deleted))
    for action, objects in groups:
        for obj in objects:
            if isinstance(obj, AuditEntry) or not hasattr(obj, "__table__"):
                continue
            if action == "update":
                fields = _changed(obj)
                watched = next((w for t, w in _PROGRESS_ONLY.items() if isinstance(obj, t)), None)
                if not fields or (watched is not None and not watched & set(fields)):
                    continue
            elif action == "insert":
                fields = [a.key for a in inspect(obj).mapper.column_attrs]
            else:
                fields = []
            rows.append(
                {
                    "at": now,
                    "user_id": user_id,
                    "actor": actor[:320],
                    "action": action,
                    "table_name": obj.__table__.name,
                    "row_id": _row_id(obj),
                    "fields": ", ".join(fields),
                    "origin": origin,
                }
            )
    return rows


def _after_flush(session: OrmSession, _flush: UOWTransaction) -> None:
    """Write the flush's audit rows on the flush's own connection (same transaction)."""
    rows = entries_for_flush(session)
    if rows:
        session.connection().execute(insert(AUDIT_TABLE), rows)


def install() -> None:
    """Listen to every session's flushes (idempotent: one listener per process)."""
    if not event.contains(OrmSession, "after_flush", _after_flush):
        event.listen(OrmSession, "after_flush", _after_flush)
