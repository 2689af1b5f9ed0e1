"""One treatment: summary, its citations and its outcome reports."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from evidence import queries
from evidence.db import get_session
from evidence.literature import living
from evidence.web.tables import citation_table, report_panel

bp = Blueprint("treatments", __name__)


@bp.get("/treatments/<slug>")
def detail(slug: str) -> str:
    """Show a treatment with its filterable citations and its outcome reports."""
    session = get_session()
    treatment = queries.treatment_by_slug(session, slug)
    if treatment is None or treatment.id is None:
        abort(404, description=f"No treatment is called {slug!r}.")
    flt = queries.CitationFilter.from_args(request.args, treatment=slug)
    table = citation_table(session, flt, request.args)
    return render_template(
        "treatments/detail.html",
        treatment=treatment,
        levels=queries.level_counts(session, treatment_id=treatment.id),
        table=table,
        panel=report_panel(session, treatment=treatment, args=request.args),
        compare_choices=[t for t in table.treatments if t.slug != slug],
        news=living.page_news(f"treatment:{slug}", treatment_id=treatment.id),
    )
