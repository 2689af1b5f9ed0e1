"""Living evidence pages: search schedules (curators), Atom feeds, the e-mail digest preference."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import BooleanField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # not in stubs yet
from wtforms.validators import InputRequired

from evidence import queries
from evidence.db import get_session
from evidence.literature import digests, feeds, living
from evidence.models import ROLES, SEARCH_SCHEDULES, Role, SavedSearch, SearchSchedule
from evidence.web.auth import current_account, roles_required

bp = Blueprint("living", __name__)


class ScheduleForm(FlaskForm):
    """A saved search's schedule: off, weekly or monthly."""

    schedule = SelectField(
        "Schedule",
        choices=[SelectChoice(value, living.SCHEDULE_LABELS[value]) for value in SEARCH_SCHEDULES],
        validators=[InputRequired()],
    )
    submit = SubmitField("Save schedule")


def schedule_form(search: SavedSearch) -> ScheduleForm:
    """Return the schedule form for one row of /searches (prefixed: one per row)."""
    return ScheduleForm(prefix=f"search-{search.id}", data={"schedule": search.schedule})


@bp.post("/searches/<int:search_id>/schedule")
@roles_required(Role.CURATOR)
def schedule(search_id: int) -> BaseResponse:
    """Set how often the periodic task runs a saved search."""
    session = get_session()
    search = session.get(SavedSearch, search_id)
    if search is None:
        abort(404, description="No such saved search.")
    form = ScheduleForm(prefix=f"search-{search_id}")
    if not form.validate_on_submit():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        flash(f"Schedule not saved: {problems}", "error")
        return redirect(url_for("searches.index"))
    living.set_schedule(session, search, form.schedule.data or SearchSchedule.OFF)
    session.commit()
    word = living.SCHEDULE_LABELS[search.schedule].lower()
    flash(
        f"Search {search_id} now runs {word}."
        if search.schedule != SearchSchedule.OFF
        else f"Search {search_id} is no longer scheduled.",
        "success",
    )
    return redirect(url_for("searches.index", _anchor=f"search-{search_id}"))


class DigestForm(FlaskForm):
    """Opt in or out of the weekly e-mail digest."""

    weekly = BooleanField("E-mail me a weekly digest of newly included and flagged citations")
    submit = SubmitField("Save e-mail preference")


@bp.get("/account/digest")
@roles_required(*ROLES)
def digest_page() -> str:
    """The account page's e-mail digest preference."""
    account = current_account()
    assert account is not None
    sub = digests.subscription(get_session(), account.id)
    form = DigestForm(data={"weekly": bool(sub and sub.active)})
    return render_template(
        "living/digest.html", form=form, smtp=bool(current_app.config.get("SMTP_HOST"))
    )


@bp.post("/account/digest")
@roles_required(*ROLES)
def digest_save() -> BaseResponse | tuple[str, int]:
    """Save the digest preference."""
    account = current_account()
    assert account is not None
    form = DigestForm()
    if not form.validate_on_submit():
        flash("Preference not saved: the form had expired, please try again.", "error")
        smtp = bool(current_app.config.get("SMTP_HOST"))
        return render_template("living/digest.html", form=form, smtp=smtp), 400
    session = get_session()
    digests.set_opt_in(session, account.id, bool(form.weekly.data))
    session.commit()
    flash("You will get the weekly digest." if form.weekly.data else "No more digests.", "success")
    return redirect(url_for("living.digest_page"))


def _atom(title: str, page_url: str, entries: list[feeds.FeedEntry]) -> Response:
    """Answer with an Atom document."""
    body = feeds.build_atom(
        title=title,
        feed_url=request.url,
        page_url=page_url,
        entries=entries,
        citation_url=lambda pmid: url_for("citations.detail", pmid=pmid, _external=True),
    )
    return Response(body, mimetype="application/atom+xml")


@bp.get("/treatments/<slug>/feed.atom")
def treatment_feed(slug: str) -> Response:
    """New included citations and retraction notices for a treatment, as Atom."""
    session = get_session()
    treatment = queries.treatment_by_slug(session, slug)
    if treatment is None or treatment.id is None:
        abort(404, description=f"No treatment is called {slug!r}.")
    entries = feeds.feed_entries(session, treatment_id=treatment.id)
    page = url_for("treatments.detail", slug=slug, _external=True)
    return _atom(f"{treatment.name}: new evidence", page, entries)


@bp.get("/indications/<slug>/feed.atom")
def indication_feed(slug: str) -> Response:
    """New included citations and retraction notices for an indication, as Atom."""
    session = get_session()
    indication = queries.indication_by_slug(session, slug)
    if indication is None or indication.id is None:
        abort(404, description=f"No indication is called {slug!r}.")
    entries = feeds.feed_entries(session, indication_id=indication.id)
    page = url_for("indications.detail", slug=slug, _external=True)
    return _atom(f"{indication.name}: new evidence", page, entries)
