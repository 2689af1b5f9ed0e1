"""Outcome reports: submit, view with history, edit, hide, list with filters, CSV in and out."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import Session

from evidence import queries
from evidence.db import get_session
from evidence.models import ADVERSE_EVENTS, ROLES, OutcomeReport, Role, User
from evidence.practice import reports as data
from evidence.web.auth import current_account, has_role, roles_required
from evidence.web.forms import HideForm, ReportForm, UploadForm, options
from evidence.web.tables import report_list

bp = Blueprint("reports", __name__)


def _form_choices(session: Session, form: ReportForm) -> None:
    """Fill the treatment and indication choices from the catalogue."""
    form.treatment.choices = options((t.slug, t.name) for t in queries.treatments(session))
    form.indication.choices = options(
        [("", "Not listed / not stated")]
        + [
            (i.slug, i.name + ("" if i.in_catalogue else " (other)"))
            for i in queries.indications(session)
        ]
    )


def _user(session: Session) -> User:
    """Return the logged-in account's row (roles_required has already checked login)."""
    account = current_account()
    user = session.get(User, account.id) if account else None
    if user is None:
        abort(403)
    return user


def _report_or_404(session: Session, report_id: int) -> OutcomeReport:
    """Return a report, or 404; hidden ones only for curators, admins and their reporter."""
    report = session.get(OutcomeReport, report_id)
    if report is None:
        abort(404, description="No such report.")
    if report.hidden:
        account = current_account()
        own = account is not None and account.id == report.reporter_id
        if not (own or has_role(Role.CURATOR)):
            abort(404, description="This report has been hidden by a curator.")
    return report


def _put_errors(form: ReportForm, errors: dict[str, list[str]]) -> None:
    """Show errors found by the data layer beside their fields."""
    for name, messages in errors.items():
        target = getattr(form, name, None)
        if target is None:
            target = form.notes
        target.errors = [*target.errors, *messages]


@bp.route("/reports/new", methods=["GET", "POST"])
@roles_required(Role.PRACTITIONER)
def new() -> Any:
    """The report form; saves a de-identified report and shows it."""
    session = get_session()
    form = ReportForm()
    _form_choices(session, form)
    if request.method == "GET":
        form.treatment.data = request.args.get("treatment") or form.treatment.data
        form.indication.data = request.args.get("indication") or form.indication.data
    if form.validate_on_submit():
        try:
            report = data.create_report(session, data=form.to_input(), reporter=_user(session))
        except data.ReportError as exc:
            session.rollback()
            _put_errors(form, exc.errors)
        else:
            session.commit()
            flash("Report saved. Thank you.", "success")
            return redirect(url_for("reports.detail", report_id=report.id))
    status = 400 if form.errors else 200
    return render_template("reports/form.html", form=form, report=None), status


@bp.get("/reports/<int:report_id>")
def detail(report_id: int) -> str:
    """One report with its history."""
    session = get_session()
    report = _report_or_404(session, report_id)
    assert report.id is not None
    reporter = session.get(User, report.reporter_id) if report.reporter_id else None
    return render_template(
        "reports/detail.html",
        report=report,
        reporter_role=reporter.role if reporter else None,
        names=queries.name_maps(session),
        events=queries.adverse_events_by_report(session, [report.id]),
        history=data.history(session, report.id),
        can_edit=data.can_edit(report, current_account()),
        hide_form=HideForm(formdata=None) if has_role(Role.CURATOR) else None,
    )


def _prefill(session: Session, form: ReportForm, report: OutcomeReport) -> None:
    """Put a stored report's slugs and adverse events into its edit form."""
    assert report.id is not None
    names = queries.name_maps(session)
    form.treatment.data = names.treatments[report.treatment_id].slug
    form.indication.data = (
        names.indications[report.indication_id].slug if report.indication_id else ""
    )
    form.adverse_events.data = [
        e.event for e in queries.adverse_events_by_report(session, [report.id])[report.id]
    ]


def _save_edit(session: Session, form: ReportForm, report: OutcomeReport) -> Any:
    """Save a valid edit: the redirect, the 409 page of a stale edit, or None (errors shown)."""
    try:
        changes = data.update_report(
            session,
            report=report,
            data=form.to_input(),
            editor=_user(session),
            expected_version=_version(form.version.data),
        )
    except data.ReportError as exc:
        session.rollback()
        if "version" in exc.errors:  # a stale edit: say so above the form, keep the input
            for message in exc.errors["version"]:
                flash(message, "error")
            return render_template("reports/form.html", form=form, report=report), 409
        _put_errors(form, exc.errors)
        return None
    session.commit()
    flash("Report updated." if changes else "Nothing changed.", "success")
    return redirect(url_for("reports.detail", report_id=report.id))


@bp.route("/reports/<int:report_id>/edit", methods=["GET", "POST"])
@roles_required(Role.PRACTITIONER)
def edit(report_id: int) -> Any:
    """Edit one's own report; every change is kept in its history."""
    session = get_session()
    report = _report_or_404(session, report_id)
    if not data.can_edit(report, current_account()):
        abort(403, description="Only the practitioner who submitted a report can edit it.")
    form = ReportForm(obj=report) if request.method == "GET" else ReportForm()
    _form_choices(session, form)
    if request.method == "GET":
        _prefill(session, form, report)
    if form.validate_on_submit():
        done = _save_edit(session, form, report)
        if done is not None:
            return done
    status = 400 if form.errors else 200
    return render_template("reports/form.html", form=form, report=report), status


def _version(raw: Any) -> int | None:
    """Return the version an edit form started from (None when absent or malformed)."""
    text = str(raw or "")
    return int(text) if text.isdigit() and len(text) <= 10 else None


@bp.post("/reports/<int:report_id>/hide")
@roles_required(Role.CURATOR)
def hide(report_id: int) -> Any:
    """Hide a report from pages and statistics, with a reason (never deleted)."""
    return _set_hidden(report_id, hidden=True)


@bp.post("/reports/<int:report_id>/unhide")
@roles_required(Role.CURATOR)
def unhide(report_id: int) -> Any:
    """Show a hidden report again, with a reason."""
    return _set_hidden(report_id, hidden=False)


def _set_hidden(report_id: int, *, hidden: bool) -> Any:
    """Hide or show a report after checking the reason form."""
    session = get_session()
    report = session.get(OutcomeReport, report_id)
    if report is None:
        abort(404, description="No such report.")
    form = HideForm()
    if not form.validate_on_submit():
        flash("Give the reason.", "error")
        return redirect(url_for("reports.detail", report_id=report_id)), 303
    if hidden:
        data.hide_report(session, report=report, reason=form.reason.data or "", by=_user(session))
    else:
        data.unhide_report(session, report=report, reason=form.reason.data or "", by=_user(session))
    session.commit()
    flash("Report hidden." if hidden else "Report shown again.", "success")
    return redirect(url_for("reports.detail", report_id=report_id)), 303


@bp.get("/reports/mine")
@roles_required(Role.PRACTITIONER)
def mine() -> str:
    """The practitioner's own reports, hidden ones included (with their reason)."""
    session = get_session()
    account = current_account()
    assert account is not None
    rows = data.reports_by(session, reporter_id=account.id)
    return render_template(
        "reports/mine.html",
        reports=rows,
        names=queries.name_maps(session),
        events=queries.adverse_events_by_report(session, [r.id for r in rows if r.id]),
    )


@bp.get("/reports/template.csv")
def csv_template() -> Response:
    """Download the CSV template for bulk reports."""
    session = get_session()
    body = data.csv_template(
        [t.slug for t in queries.treatments(session)],
        [i.slug for i in queries.indications(session)],
    )
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=outcome-reports-template.csv"},
    )


@bp.route("/reports/upload", methods=["GET", "POST"])
@roles_required(Role.PRACTITIONER)
def upload() -> Any:
    """Upload a CSV of reports: every row is checked, and one bad row saves none."""
    form = UploadForm()
    result = None
    if form.validate_on_submit():
        session = get_session()
        content = form.file.data.read()
        result = data.import_csv(session, content=content, reporter=_user(session))
        if result.ok:
            session.commit()
            flash(f"Imported {len(result.saved)} reports.", "success")
            return redirect(url_for("reports.mine"))
        session.rollback()
    status = 400 if form.errors or (result and not result.ok) else 200
    return render_template(
        "reports/upload.html", form=form, result=result, labels=data.FIELD_LABELS
    ), status


# --- the list ---------------------------------------------------------------------------------


@bp.get("/reports")
def index() -> str:
    """All visible reports, filterable by treatment, indication, skin type, role and date."""
    session = get_session()
    treatment_slug = request.args.get("treatment") or None
    treatment = queries.treatment_by_slug(session, treatment_slug) if treatment_slug else None
    flt = data.ReportFilter.from_args(
        request.args,
        may_see_hidden=has_role(Role.CURATOR),
        treatment=treatment.slug if treatment else None,
    )
    return render_template(
        "reports/index.html",
        flt=flt,
        reports=report_list(session, flt, request.args),
        treatment=treatment,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        roles=ROLES,
        adverse_events=ADVERSE_EVENTS,
        has_labels=data.HAS_FILTERS,
    )
