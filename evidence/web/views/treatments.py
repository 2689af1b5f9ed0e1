"""One treatment: summary, its citations and its outcome reports."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from evidence import queries
from evidence.db import get_session
from evidence.literature import living
from evidence.practice.reports import ReportFilter
from evidence.web.tables import citation_table
from evidence.web.views.reports import PANEL_PREFIX

bp = Blueprint("treatments", __name__)


@bp.get("/treatments/<slug>")
def detail(slug: str) -> str:
    """Show a treatment with its filterable citations (the reports section renders itself)."""
    session = get_session()
    treatment = queries.treatment_by_slug(session, slug)
    if treatment is None or treatment.id is None:
        abort(404, description=f"No treatment is called {slug!r}.")
    flt = queries.CitationFilter.from_args(request.args, treatment=slug)
    # The reports section parses its own (rep_) filters while rendering: read them now too,
    # so the page can say above the content what it ignored.
    ReportFilter.from_args(request.args, prefix=PANEL_PREFIX)
    return render_template(
        "treatments/detail.html",
        treatment=treatment,
        levels=queries.level_counts(session, treatment_id=treatment.id),
        table=citation_table(session, flt, request.args),
        news=living.page_news(f"treatment:{slug}", treatment_id=treatment.id),
    )
