"""The audit log page (admins): every write, newest first, filterable by table and actor."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from sqlmodel import col, func, select

from evidence import audit
from evidence.db import get_session
from evidence.models import AuditEntry, Role
from evidence.web.auth import roles_required
from evidence.web.pager import Pager

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
    pager = Pager.from_args(request.args, total, per_page=PER_PAGE)
    entries = session.exec(
        stmt.order_by(col(AuditEntry.id).desc()).offset(pager.offset).limit(pager.per_page)
    ).all()
    tables = session.exec(select(AuditEntry.table_name).distinct().order_by("table_name")).all()
    return render_template(
        "admin/audit.html",
        entries=entries,
        paging=pager,
        tables=tables,
        table=table,
        actor=actor,
    )
