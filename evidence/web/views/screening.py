"""Screening queues, two-reviewer conflicts, PRISMA counts and diagrams, duplicate decisions."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # not in stubs yet
from wtforms.validators import Length, Optional

from evidence import queries
from evidence.db import get_session
from evidence.literature import duplicates, prisma, screening
from evidence.models import Citation, Decision, DuplicateState, Role
from evidence.output import charts
from evidence.web.auth import current_account, roles_required

bp = Blueprint("screening", __name__)


def _reason_choices() -> list[SelectChoice]:
    """The exclusion reasons as select options, after a prompt."""
    return [
        SelectChoice("", "Choose a reason"),
        *(SelectChoice(k, v) for k, v in screening.EXCLUSION_REASONS),
    ]


class DecideForm(FlaskForm):
    """Include or mark maybe (prefix 'd')."""

    link_id = HiddenField()
    include = SubmitField("Include")
    maybe = SubmitField("Maybe")


class ExcludeForm(FlaskForm):
    """Exclude with a listed reason and optional words (prefix 'x')."""

    link_id = HiddenField()
    reason_code = SelectField(
        "Reason for excluding", choices=_reason_choices, validate_choice=False
    )
    reason_text = StringField(
        "Details (optional; needed for Other)", validators=[Optional(), Length(max=500)]
    )
    exclude = SubmitField("Exclude")


class UndoForm(FlaskForm):
    """Undo the curator's latest decision (prefix 'u')."""

    undo = SubmitField("Undo my last decision")


class SettingsForm(FlaskForm):
    """The project's reviewer mode (prefix 's')."""

    two_reviewer = BooleanField(
        "Two reviewers: each record is screened by two curators independently"
    )
    save = SubmitField("Save setting")


class ResolveForm(FlaskForm):
    """A third curator's resolution (prefix 'r<link id>')."""

    reason_code = SelectField("Reason if excluding", choices=_reason_choices, validate_choice=False)
    reason_text = StringField("Details", validators=[Optional(), Length(max=500)])
    include = SubmitField("Resolve: include")
    exclude = SubmitField("Resolve: exclude")


class DuplicateForm(FlaskForm):
    """Merge a near-duplicate pair or keep its records apart (prefix 'p<pair id>')."""

    merge = SubmitField("Merge into the kept record")
    keep = SubmitField("Keep separate")


def _cell_or_404(treatment: str, indication: str) -> screening.Cell:
    """Return the cell named in the URL or answer 404."""
    cell = screening.find_cell(get_session(), treatment, indication)
    if cell is None:
        abort(404, description=f"No treatment {treatment!r} with indication {indication!r}.")
    return cell


def _user_id() -> int:
    """Return the logged-in curator's id."""
    account = current_account()
    assert account is not None
    return account.id


def _queue_url(cell: screening.Cell, link: int | None = None) -> str:
    """URL of a cell's screening queue (optionally showing one record)."""
    return url_for(
        "screening.queue", treatment=cell.treatment.slug, indication=cell.indication_slug, link=link
    )


@bp.get("/screening")
def index() -> str:
    """Every treatment x indication with links: candidates to screen, PRISMA, duplicates."""
    session = get_session()
    return render_template(
        "screening/index.html",
        cells=screening.cell_summaries(session),
        pending_duplicates=duplicates.state_counts(session).get(DuplicateState.PENDING, 0),
    )


@bp.get("/screening/<treatment>")
def queue_without_indication(treatment: str) -> BaseResponse:
    """A treatment's records that name no indication."""
    return redirect(
        url_for("screening.queue", treatment=treatment, indication=screening.NO_INDICATION)
    )


def _render_queue(
    cell: screening.Cell, *, exclude_form: ExcludeForm | None = None, status: int = 200
) -> tuple[str, int]:
    """Render the queue page, keeping a refused exclusion's input."""
    session = get_session()
    user_id = _user_id()
    q = screening.queue(session, cell=cell, user_id=user_id)
    wanted = request.args.get("link", type=int)
    raw_id = exclude_form.link_id.data or "" if exclude_form is not None else ""
    if raw_id.isdigit():
        wanted = int(raw_id)
    current = next((lk for lk in q.awaiting + q.maybes if lk.id == wanted), None)
    if current is None and q.awaiting:
        current = q.awaiting[0]
    record = None
    if current is not None:
        citation = session.get(Citation, current.citation_id)
        assert citation is not None
        record = queries.citation_detail(session, citation.pmid)
    decide = DecideForm(prefix="d", formdata=None)
    exclude = exclude_form or ExcludeForm(prefix="x", formdata=None)
    if current is not None:
        decide.link_id.data = str(current.id)
        exclude.link_id.data = str(current.id)
    settings = SettingsForm(prefix="s", formdata=None, two_reviewer=q.project.two_reviewer)
    position = q.awaiting.index(current) + 1 if current in q.awaiting else None
    return (
        render_template(
            "screening/queue.html",
            cell=cell,
            q=q,
            current=current,
            record=record,
            position=position,
            decide=decide,
            exclude=exclude,
            undo=UndoForm(prefix="u", formdata=None),
            settings=settings,
            maybe_titles={
                lk.id: getattr(session.get(Citation, lk.citation_id), "title", "")
                for lk in q.maybes
            },
        ),
        status,
    )


@bp.get("/screening/<treatment>/<indication>")
@roles_required(Role.CURATOR)
def queue(treatment: str, indication: str) -> tuple[str, int]:
    """The curator's screening queue: one candidate at a time, with its abstract."""
    return _render_queue(_cell_or_404(treatment, indication))


DECISION_WORDS = {
    Decision.INCLUDE: "Included",
    Decision.EXCLUDE: "Excluded",
    Decision.MAYBE: "Marked maybe",
}


@dataclass
class PostedDecision:
    """What the screening buttons posted: the decision, its record and reason, if valid."""

    decision: Decision
    raw_id: str
    valid: bool
    exclude_form: ExcludeForm | None = None  # the exclude form, re-shown with its errors
    reason_code: str | None = None
    reason_free: str | None = None

    @property
    def link_id(self) -> int | None:
        """The record's link id, None when the form was incomplete or the id malformed."""
        ok = self.valid and self.raw_id.isascii() and self.raw_id.isdigit()
        return int(self.raw_id) if ok else None


def posted_decision() -> PostedDecision:
    """Read the decide form (include, maybe) or the exclude form (with its reason)."""
    if "x-exclude" in request.form:
        form = ExcludeForm(prefix="x")
        return PostedDecision(
            Decision.EXCLUDE,
            form.link_id.data or "",
            form.validate(),
            form,
            form.reason_code.data,
            form.reason_text.data,
        )
    decide_form = DecideForm(prefix="d")
    decision = Decision.MAYBE if "d-maybe" in request.form else Decision.INCLUDE
    return PostedDecision(decision, decide_form.link_id.data or "", decide_form.validate())


@bp.post("/screening/<treatment>/<indication>/decide")
@roles_required(Role.CURATOR)
def decide(treatment: str, indication: str) -> BaseResponse | tuple[str, int]:
    """Record include, maybe or exclude on one record."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    posted = posted_decision()
    if posted.link_id is None:
        flash("The form was not complete or has expired; try again.", "error")
        return _render_queue(cell, exclude_form=posted.exclude_form, status=400)
    try:
        row = screening.record_decision(
            session,
            cell=cell,
            link_id=posted.link_id,
            user_id=_user_id(),
            decision=posted.decision,
            reason_code=posted.reason_code,
            reason_free=posted.reason_free,
        )
    except screening.ScreeningError as exc:
        session.rollback()
        flash(str(exc), "error")
        return _render_queue(cell, exclude_form=posted.exclude_form, status=400)
    session.commit()
    words = DECISION_WORDS[posted.decision]
    flash(f"{words}: record {row.link_id}. Press u or use Undo to take it back.", "success")
    return redirect(_queue_url(cell))


@bp.post("/screening/<treatment>/<indication>/undo")
@roles_required(Role.CURATOR)
def undo(treatment: str, indication: str) -> BaseResponse:
    """Reverse the curator's latest decision in this project (the reversal is recorded)."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    form = UndoForm(prefix="u")
    if not form.validate():
        flash("The form has expired; try again.", "error")
        return redirect(_queue_url(cell))
    try:
        last = screening.undo_last(session, cell=cell, user_id=_user_id())
    except screening.ScreeningError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(_queue_url(cell))
    session.commit()
    flash(f"Undone: your {last.decision} on record {last.link_id}.", "success")
    return redirect(_queue_url(cell, link=last.link_id))


@bp.post("/screening/<treatment>/<indication>/settings")
@roles_required(Role.CURATOR)
def settings(treatment: str, indication: str) -> BaseResponse:
    """Switch the project between one and two reviewers."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    form = SettingsForm(prefix="s")
    if not form.validate():
        flash("The form has expired; try again.", "error")
        return redirect(_queue_url(cell))
    screening.set_two_reviewer(
        session, cell=cell, enabled=bool(form.two_reviewer.data), user_id=_user_id()
    )
    session.commit()
    flash(
        "Two-reviewer screening is on."
        if form.two_reviewer.data
        else "One reviewer decides each record.",
        "success",
    )
    return redirect(_queue_url(cell))


@bp.get("/screening/<treatment>/<indication>/conflicts")
@roles_required(Role.CURATOR)
def conflicts(treatment: str, indication: str) -> str:
    """Records two reviewers decided differently, for a third curator to resolve."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    items = screening.conflicts(session, cell=cell)
    forms = {c.link.id: ResolveForm(prefix=f"r{c.link.id}", formdata=None) for c in items}
    return render_template(
        "screening/conflicts.html",
        cell=cell,
        items=items,
        forms=forms,
        me=_user_id(),
        agreement=screening.agreement(session, cell=cell),
        reasons=screening.REASON_LABELS,
    )


@bp.post("/screening/<treatment>/<indication>/resolve/<int:link_id>")
@roles_required(Role.CURATOR)
def resolve(treatment: str, indication: str, link_id: int) -> BaseResponse:
    """Record a third curator's resolution; it becomes the record's status."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    form = ResolveForm(prefix=f"r{link_id}")
    back = url_for("screening.conflicts", treatment=treatment, indication=indication)
    if not form.validate():
        flash("The form was not complete or has expired; try again.", "error")
        return redirect(back)
    decision = Decision.EXCLUDE if form.exclude.data else Decision.INCLUDE
    try:
        screening.resolve(
            session,
            cell=cell,
            link_id=link_id,
            user_id=_user_id(),
            decision=decision,
            reason_code=form.reason_code.data,
            reason_free=form.reason_text.data,
        )
    except screening.ScreeningError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(back)
    session.commit()
    flash(f"Resolved: record {link_id} {decision}d.", "success")
    return redirect(back)


# --- PRISMA ------------------------------------------------------------------------------------


@bp.get("/prisma/<treatment>/<indication>")
def prisma_page(treatment: str, indication: str) -> str:
    """PRISMA 2020 counts and flow diagram of one treatment x indication."""
    cell = _cell_or_404(treatment, indication)
    session = get_session()
    counts = prisma.counts(session, cell=cell)
    svg = charts.inline_svg(
        prisma.render(counts, "svg"),
        chart_id="prisma",
        title=f"PRISMA 2020 flow diagram: {cell.label}",
        description=prisma.describe(counts),
    )
    agreement = screening.agreement(session, cell=cell) if counts.two_reviewer else None
    return render_template(
        "screening/prisma.html", cell=cell, p=counts, svg=svg, agreement=agreement
    )


@bp.get("/prisma/<treatment>/<indication>/prisma.<any(svg, png, csv):fmt>")
def prisma_download(treatment: str, indication: str, fmt: str) -> Response:
    """The PRISMA diagram as SVG or PNG, or its counts as CSV."""
    cell = _cell_or_404(treatment, indication)
    counts = prisma.counts(get_session(), cell=cell)
    name = f"prisma-{cell.treatment.slug}-{cell.indication_slug}.{fmt}"
    if fmt == "csv":
        response = Response(prisma.to_csv(counts).encode("utf-8-sig"), mimetype="text/csv")
    else:
        response = Response(prisma.render(counts, fmt), mimetype=prisma.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- duplicates --------------------------------------------------------------------------------


@bp.get("/duplicates")
@roles_required(Role.CURATOR)
def duplicates_page() -> str:
    """Near-duplicates to decide, and the record of merged, kept and linked pairs."""
    session = get_session()
    rows = duplicates.pairs(session)
    pending = [r for r in rows if r.pair.state == DuplicateState.PENDING]
    forms = {r.pair.id: DuplicateForm(prefix=f"p{r.pair.id}", formdata=None) for r in pending}
    return render_template(
        "screening/duplicates.html",
        pending=pending,
        decided=[r for r in rows if r.pair.state != DuplicateState.PENDING],
        forms=forms,
    )


@bp.post("/duplicates/<int:pair_id>")
@roles_required(Role.CURATOR)
def decide_duplicate(pair_id: int) -> BaseResponse:
    """Merge a near-duplicate pair or keep it separate (who and when are recorded)."""
    session = get_session()
    form = DuplicateForm(prefix=f"p{pair_id}")
    if not form.validate() or not (form.merge.data or form.keep.data):
        flash("Choose merge or keep separate.", "error")
        return redirect(url_for("screening.duplicates_page"))
    try:
        pair = duplicates.decide(
            session,
            pair_id=pair_id,
            action="merge" if form.merge.data else "keep",
            user_id=_user_id(),
        )
    except duplicates.DuplicateError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("screening.duplicates_page"))
    session.commit()
    verb = (
        "merged into the kept record"
        if pair.state == DuplicateState.MERGED
        else "kept as a separate record"
    )
    flash(f"PMID {pair.other_pmid} {verb}.", "success")
    return redirect(url_for("screening.duplicates_page"))


@bp.get("/duplicates.csv")
@roles_required(Role.CURATOR)
def duplicates_csv() -> Response:
    """Every duplicate pair and its decision, as CSV."""
    response = Response(
        duplicates.decisions_csv(get_session()).encode("utf-8-sig"), mimetype="text/csv"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="duplicate-decisions.csv"'
    return response
