"""The audit log page (admins): every write, newest first, filterable by table and actor."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from sqlmodel import col, func, select

from evidence import audit
from evidence.db import get_session
from evidence.models import AuditEntry, Role
from evidence.web.auth import roles_required

bp = Blueprint("audit", __name__)
PER_PAGE = 50


def init_app(app: Flask) -> None:
    """Record every write of every session from now on."""
    audit.install()


@bp.get("/admin/audit")
@roles_required(Role.ADMIN)
def index() -> str:
    """List audit entries, newest first, 50 a page."""
    session = get_session()
    table = (request.args.get("table") or "").strip() or None
    actor = (request.args.get("actor") or "").strip() or None
    stmt = select(AuditEntry)
    if table:
        stmt = stmt.where(AuditEntry.table_name == table)
    if actor:
        stmt = stmt.where(func.lower(col(AuditEntry.actor)).contains(actor.lower()))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    pages = max(1, -(-total // PER_PAGE))
    raw = request.args.get("page", "1")
    page = min(max(int(raw) if raw.isdigit() and len(raw) < 9 else 1, 1), pages)
    entries = session.exec(
        stmt.order_by(col(AuditEntry.id).desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    tables = session.exec(select(AuditEntry.table_name).distinct().order_by("table_name")).all()
    return render_template(
        "admin/audit.html",
        entries=entries,
        total=total,
        page=page,
        pages=pages,
        tables=tables,
        table=table,
        actor=actor,
    )
