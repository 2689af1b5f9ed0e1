"""The citation table, one citation's full record, and curators' screening of its links."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from evidence import queries
from evidence.db import get_session
from evidence.literature import curation, duplicates, extraction, retractions
from evidence.models import Citation, Role
from evidence.web.auth import current_account, roles_required
from evidence.web.tables import citation_table

bp = Blueprint("citations", __name__)


@bp.get("/citations")
def index() -> str:
    """All citations, filterable by treatment, indication, level, year, type and text."""
    session = get_session()
    flt = queries.CitationFilter.from_args(request.args)
    return render_template("citations/index.html", table=citation_table(session, flt, request.args))


@bp.get("/citations/<pmid>")
def detail(pmid: str) -> str | Response:
    """The full record of one citation."""
    session = get_session()
    record = queries.citation_detail(session, pmid)
    if record is None and (kept := duplicates.merged_into(session, pmid)):
        flash(f"PMID {pmid} was merged into PMID {kept}, a record of the same study.", "info")
        return redirect(url_for("citations.detail", pmid=kept))
    if record is None:
        abort(404, description=f"No citation with PMID {pmid} is in the database.")
    studies = extraction.studies_for_citation(session, record.citation)
    return render_template(
        "citations/detail.html",
        r=record,
        notices=retractions.notices_for(session, record.citation.id or 0),
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        studies=studies,
        facts=extraction.field_facts(session, record.citation),
        event_labels=extraction.EVENT_LABELS,
        user_names=extraction.user_names(session, studies),
    )


def _citation_or_404(pmid: str) -> Citation:
    """Return the citation with this PMID or answer 404."""
    citation = get_session().exec(select(Citation).where(Citation.pmid == pmid)).first()
    if citation is None:
        abort(404, description=f"No citation with PMID {pmid} is in the database.")
    return citation


@bp.post("/citations/<pmid>/links/<int:link_id>/status")
@roles_required(Role.CURATOR)
def set_link_status(pmid: str, link_id: int) -> Response:
    """Include, exclude (with a reason) or return a link to candidate."""
    session = get_session()
    account = current_account()
    assert account is not None and account.id is not None
    try:
        curation.set_link_status(
            session,
            citation=_citation_or_404(pmid),
            link_id=link_id,
            status=request.form.get("status", ""),
            reason=request.form.get("reason"),
            user_id=account.id,
        )
    except curation.CurationError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("citations.detail", pmid=pmid, _anchor="links-h"))
    session.commit()
    flash("Screening decision recorded.", "success")
    return redirect(url_for("citations.detail", pmid=pmid, _anchor="links-h"))


@bp.post("/citations/<pmid>/links")
@roles_required(Role.CURATOR)
def add_link(pmid: str) -> Response:
    """Link the citation to a treatment and/or indication, as included."""
    session = get_session()
    account = current_account()
    assert account is not None and account.id is not None
    try:
        curation.add_link(
            session,
            citation=_citation_or_404(pmid),
            treatment_slug=request.form.get("treatment") or None,
            indication_slug=request.form.get("indication") or None,
            user_id=account.id,
        )
    except curation.CurationError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("citations.detail", pmid=pmid, _anchor="links-h"))
    session.commit()
    flash("Link added.", "success")
    return redirect(url_for("citations.detail", pmid=pmid, _anchor="links-h"))
