"""The citation table and one citation's full record."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from evidence import queries
from evidence.db import get_session
from evidence.tables import citation_table

bp = Blueprint("citations", __name__)


@bp.get("/citations")
def index() -> str:
    """All citations, filterable by treatment, indication, level, year, type and text."""
    session = get_session()
    flt = queries.CitationFilter.from_args(request.args)
    return render_template("citations/index.html", table=citation_table(session, flt, request.args))


@bp.get("/citations/<pmid>")
def detail(pmid: str) -> str:
    """The full record of one citation."""
    record = queries.citation_detail(get_session(), pmid)
    if record is None:
        abort(404, description=f"No citation with PMID {pmid} is in the database.")
    return render_template("citations/detail.html", r=record)
