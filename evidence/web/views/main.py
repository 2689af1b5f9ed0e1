"""Home page, health check and the evidence-level rules."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from evidence import queries
from evidence.db import get_session
from evidence.literature.levels import FLAG_TYPES, LEVEL_TABLE, TITLE_SIGNALS
from evidence.web import cache

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> str:
    """List the treatments with citation counts by level and report counts.

    The same for every visitor: served from the shared cache until the data changes.
    """

    def render() -> str:
        session = get_session()
        return render_template(
            "main/home.html",
            summaries=queries.treatment_summaries(session),
            indications=queries.indications(session),
        )

    return cache.visitor_page("home", render)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Answer load balancers: 200 when the database answers, 503 when it does not."""
    try:
        get_session().exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as exc:  # noqa: BLE001 -- any database failure means unhealthy
        return {"status": "unavailable", "database": type(exc).__name__}, 503
    return {"status": "ok", "database": "ok"}, 200


@bp.get("/about/evidence-levels")
def evidence_levels() -> str:
    """Show the rule table evidence levels are derived by."""
    return render_template(
        "main/levels.html", table=LEVEL_TABLE, flags=FLAG_TYPES, signals=TITLE_SIGNALS
    )
