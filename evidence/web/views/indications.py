"""One indication: its citations across treatments and its outcome reports."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from evidence import queries
from evidence.db import get_session
from evidence.web.tables import citation_table

bp = Blueprint("indications", __name__)


@bp.get("/indications")
def index() -> str:
    """List the indications with their citation counts."""
    session = get_session()
    rows = [
        (ind, queries.count_citations(session, queries.CitationFilter(indication=ind.slug)))
        for ind in queries.indications(session)
    ]
    return render_template("indications/index.html", rows=rows)


@bp.get("/indications/<slug>")
def detail(slug: str) -> str:
    """Show an indication with its filterable citations and its reports."""
    session = get_session()
    indication = queries.indication_by_slug(session, slug)
    if indication is None or indication.id is None:
        abort(404, description=f"No indication is called {slug!r}.")
    reports = queries.visible_reports(session, indication_id=indication.id)
    flt = queries.CitationFilter.from_args(request.args, indication=slug)
    return render_template(
        "indications/detail.html",
        indication=indication,
        levels=queries.level_counts(session, indication_id=indication.id),
        table=citation_table(session, flt, request.args),
        reports=reports,
        names=queries.name_maps(session),
        events=queries.adverse_events_by_report(
            session, [r.id for r in reports if r.id is not None]
        ),
    )
