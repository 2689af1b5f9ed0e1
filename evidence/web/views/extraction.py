"""Curators' extraction of what a citation's study found: form, verification, CSV in and out."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlmodel import Session, col, select
from werkzeug.wrappers import Response as WzResponse
from wtforms import FieldList

from evidence.db import get_session
from evidence.literature import extraction, extraction_csv
from evidence.literature.extraction_forms import (
    ExtractionForm,
    ExtractionUploadForm,
    VerifyForm,
    field_for,
    form_to_record,
    record_to_formdata,
)
from evidence.models import Citation, Indication, OutcomeMeasure, Role, Study, Treatment
from evidence.web.auth import current_account, roles_required

bp = Blueprint("extraction", __name__)


def _citation_or_404(pmid: str) -> Citation:
    """Return the citation with this PMID or answer 404."""
    citation = get_session().exec(select(Citation).where(Citation.pmid == pmid)).first()
    if citation is None:
        abort(404, description=f"No citation with PMID {pmid} is in the database.")
    return citation


def _study_or_404(citation: Citation, study_id: int) -> Study:
    """Return the citation's study with this id or answer 404."""
    study = get_session().get(Study, study_id)
    if study is None or study.citation_id != citation.id:
        abort(404, description="No such study on this citation.")
    return study


def _choices(form: ExtractionForm) -> None:
    """Fill the form's catalogue choices from the database."""
    session = get_session()
    extraction.ensure_measures(session)
    treatments = session.exec(select(Treatment).order_by(col(Treatment.position)))
    indications = session.exec(select(Indication).order_by(col(Indication.position)))
    measures = session.exec(select(OutcomeMeasure).order_by(col(OutcomeMeasure.position)))
    form.set_choices(
        [(t.slug, t.name) for t in treatments],
        [(i.slug, i.name) for i in indications],
        [(m.slug, m.name) for m in measures],
    )


def _extraction_form(session: Session, study: Study | None) -> ExtractionForm:
    """The form: a stored study's values (plus a spare row of each) on GET, else the post."""
    if request.method == "GET" and study is not None:
        form = ExtractionForm(data=record_to_formdata(extraction.study_record(session, study)))
        for rows in (form.arms, form.outcomes, form.adverse_events):
            rows.append_entry()  # one spare row of each, for typing without JavaScript
    else:
        form = ExtractionForm()
    _choices(form)
    return form


def _save(
    session: Session, citation: Citation, study: Study | None, form: ExtractionForm
) -> tuple[Study | None, list[tuple[str, str]]]:
    """Save a valid posted form: (the saved study, []) or (None, problems by field id)."""
    rec, where = form_to_record(form)
    account = current_account()
    assert account is not None
    try:
        saved = extraction.save_study(session, citation, rec, user_id=account.id, study=study)
    except extraction.ExtractionError as exc:
        session.rollback()
        return None, [(field_for(key, where), msg) for key, msg in exc.problems]
    session.commit()
    return saved, []


@bp.route("/citations/<pmid>/extraction", methods=["GET", "POST"])
@bp.route("/citations/<pmid>/extraction/<int:study_id>", methods=["GET", "POST"])
@roles_required(Role.CURATOR)
def edit(pmid: str, study_id: int | None = None) -> str | WzResponse:
    """Extract a new study from the citation, or edit an extracted one."""
    session = get_session()
    citation = _citation_or_404(pmid)
    study = _study_or_404(citation, study_id) if study_id is not None else None
    form = _extraction_form(session, study)
    problems: list[tuple[str, str]] = []
    if form.validate_on_submit():
        saved, problems = _save(session, citation, study, form)
        if saved is not None:
            flash("Extraction saved. It shows as unverified until a second curator verifies it.",
                  "success")  # fmt: skip
            return redirect(url_for("citations.detail", pmid=pmid, _anchor=f"study-{saved.id}"))
    elif request.method == "POST":
        problems = [(name, "; ".join(errs)) for name, errs in _flat_errors(form).items()]
    status = 422 if problems else 200
    html = render_template(
        "extraction/form.html",
        form=form,
        citation=citation,
        study=study,
        problems=problems,
        problem_fields={f for f, _ in problems},
        views=extraction.studies_for_citation(session, citation) if study else [],
    )
    return (html, status) if status != 200 else html  # type: ignore[return-value]


def _flat_errors(form: ExtractionForm) -> dict[str, list[str]]:
    """Return WTForms' errors keyed by field id (arms-0-n ...)."""
    out: dict[str, list[str]] = {}
    for field in form:
        if isinstance(field, FieldList):
            for entry in field:
                for sub in entry.form:
                    if sub.errors:
                        out[sub.id] = [str(e) for e in sub.errors]
        elif field.errors:
            out[field.id] = [str(e) for e in field.errors]
    return out


@bp.post("/citations/<pmid>/extraction/<int:study_id>/verify")
@roles_required(Role.CURATOR)
def verify(pmid: str, study_id: int) -> WzResponse:
    """A second curator marks the extraction verified."""
    session = get_session()
    citation = _citation_or_404(pmid)
    study = _study_or_404(citation, study_id)
    form = VerifyForm()
    account = current_account()
    assert account is not None and account.id is not None
    if not form.validate_on_submit():
        flash("The form expired; try again.", "error")
    else:
        try:
            extraction.verify_study(session, study, user_id=account.id)
        except extraction.ExtractionError as exc:
            session.rollback()
            flash(exc.problems[0][1], "error")
        else:
            session.commit()
            flash("Extraction verified.", "success")
    return redirect(url_for("citations.detail", pmid=pmid, _anchor=f"study-{study_id}"))


@bp.route("/extraction/import", methods=["GET", "POST"])
@roles_required(Role.CURATOR)
def upload() -> str | tuple[str, int]:
    """Import extraction rows from a CSV file (all or nothing)."""
    form = ExtractionUploadForm()
    errors: list[extraction_csv.RowError] = []
    result = None
    if form.validate_on_submit():
        session = get_session()
        account = current_account()
        raw = form.file.data.read(extraction_csv.MAX_BYTES + 1)
        try:
            result = extraction_csv.import_csv(
                session, raw, user_id=account.id if account else None
            )
        except extraction_csv.ImportFailed as exc:
            session.rollback()
            errors = exc.errors
        else:
            session.commit()
    html = render_template("extraction/upload.html", form=form, errors=errors, result=result)
    return (html, 422) if errors else html


@bp.get("/extraction/export.csv")
def export() -> Response:
    """Every extracted study as CSV in the documented long format."""
    text = extraction_csv.export_csv(get_session())
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=extraction.csv"},
    )
