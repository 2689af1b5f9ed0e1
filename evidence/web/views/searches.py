"""Saved PubMed searches per treatment, the run button, and live job progress."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import Session, col, select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from evidence import jobs, queries
from evidence.db import get_session
from evidence.literature import living
from evidence.models import FetchJob, Indication, JobKind, Role, SavedSearch, Treatment
from evidence.web.auth import current_account, has_role, roles_required
from evidence.web.hardening import safe_upload_name
from evidence.web.views.living import schedule_form

bp = Blueprint("searches", __name__)


def _user_id() -> int | None:
    """Return the logged-in user's id, if any."""
    account = current_account()
    return account.id if account is not None else None


def search_rows(session: Session, treatment_id: int | None = None) -> list[dict[str, Any]]:
    """Return each saved search with its treatment, indication and latest job."""
    stmt = select(SavedSearch).order_by(col(SavedSearch.treatment_id), col(SavedSearch.id))
    if treatment_id is not None:
        stmt = stmt.where(SavedSearch.treatment_id == treatment_id)
    searches = list(session.exec(stmt))
    latest: dict[int, FetchJob] = {}
    ids = [s.id for s in searches if s.id is not None]
    if ids:
        for job in session.exec(
            select(FetchJob)
            .where(col(FetchJob.saved_search_id).in_(ids))
            .order_by(col(FetchJob.id))
        ):
            if job.saved_search_id is not None:
                latest[job.saved_search_id] = job
    treatments = {t.id: t for t in session.exec(select(Treatment))}
    indications = {i.id: i for i in session.exec(select(Indication))}
    return [
        {
            "search": s,
            "treatment": treatments.get(s.treatment_id),
            "indication": indications.get(s.indication_id) if s.indication_id else None,
            "job": latest.get(s.id or 0),
        }
        for s in searches
    ]


@bp.get("/searches")
def index() -> str:
    """Saved searches for every treatment (or one, with ?treatment=slug)."""
    session = get_session()
    slug = request.args.get("treatment")
    treatment = queries.treatment_by_slug(session, slug) if slug else None
    if slug and treatment is None:
        abort(404, description=f"No treatment is called {slug!r}.")
    rows = search_rows(session, treatment.id if treatment else None)
    can_run = has_role(Role.CURATOR)
    forms = {r["search"].id: schedule_form(r["search"]) for r in rows} if can_run else {}
    return render_template(
        "searches/index.html",
        rows=rows,
        runs=living.recent_runs(session, [r["search"].id for r in rows if r["search"].id]),
        treatment=treatment,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        can_run=can_run,
        schedule_forms=forms,
    )


@bp.post("/searches")
@roles_required(Role.CURATOR)
def create() -> Response:
    """Save a new query for a treatment (and optionally an indication)."""
    session = get_session()
    treatment = queries.treatment_by_slug(session, request.form.get("treatment", ""))
    if treatment is None:
        abort(400, description="Choose a treatment.")
    indication_id = None
    if request.form.get("indication"):
        indication = queries.indication_by_slug(session, request.form["indication"])
        if indication is None:
            abort(400, description="Unknown indication.")
        indication_id = indication.id
    query = (request.form.get("query") or "").strip()
    if not query or len(query) > 4000:
        abort(400, description="Write a PubMed query (at most 4,000 characters).")
    jobs.find_or_create_search(
        session, treatment=treatment, indication_id=indication_id, query=query, user_id=_user_id()
    )
    session.commit()
    flash("Search saved.", "success")
    return redirect(url_for("searches.index", treatment=treatment.slug))


@bp.post("/searches/<int:search_id>/run")
@roles_required(Role.CURATOR)
def run(search_id: int) -> Response:
    """Start (or resume) the search's background job and show its progress."""
    session = get_session()
    search = session.get(SavedSearch, search_id)
    if search is None:
        abort(404, description="No such saved search.")
    job = jobs.start_search_job(session, search, user_id=_user_id())
    session.commit()
    assert job.id is not None
    if not jobs.job_is_live(job):
        jobs.enqueue(job.id)
    return redirect(url_for("searches.job_page", job_id=job.id))


def _job_or_404(job_id: int) -> FetchJob:
    """Load a job or answer 404; an import job (an uploaded file) is for curators only."""
    job = get_session().get(FetchJob, job_id)
    if job is None:
        abort(404, description="No such job.")
    if job.kind == JobKind.IMPORT and not has_role(Role.CURATOR):
        abort(403, description="File imports are shown to curators only.")
    return job


@bp.get("/searches/jobs/<int:job_id>")
def job_page(job_id: int) -> str:
    """A job's progress bar (updated by a small script polling the JSON status)."""
    job = _job_or_404(job_id)
    search = get_session().get(SavedSearch, job.saved_search_id) if job.saved_search_id else None
    return render_template("searches/job.html", job=job, status=jobs.job_status(job), search=search)


@bp.get("/searches/jobs/<int:job_id>.json")
def job_json(job_id: int) -> Response:
    """A job's state as JSON: total, done, added, updated, errors, percent."""
    response = jsonify(jobs.job_status(_job_or_404(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


IMPORT_SUFFIXES = (".xml", ".xml.gz", ".gz", ".nbib", ".txt", ".medline")


def _import_page(session: Session, **chosen: Any) -> str:
    """Render the import form (with the treatment and indication chosen, after a refusal)."""
    return render_template(
        "searches/import.html",
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        suffixes=IMPORT_SUFFIXES,
        **chosen,
    )


def upload_problem(upload: FileStorage | None, name: str) -> str | None:
    """Say why an uploaded file cannot be imported (`name`: its safe name), None when it can."""
    raw_name = (upload.filename or "") if upload is not None else ""
    if upload is not None and (".." in raw_name or "/" in raw_name or "\\" in raw_name):
        # A name that climbs or names directories is refused, not quietly rewritten.
        return f"{raw_name}: a file name may not contain '..', '/' or '\\'. Rename the file."
    if upload is None or not name:
        return "Choose a file to import."
    if not name.lower().endswith(IMPORT_SUFFIXES):
        return (
            f"{name}: not a file this import reads. Use PubMed XML (.xml, .xml.gz), "
            "a MEDLINE export (.nbib, .txt) or a list of PMIDs (.txt)."
        )
    return None


def store_upload(upload: FileStorage, name: str) -> Path:
    """Save an upload under instance/uploads, with a unique prefix, and return its path."""
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    # A unique prefix: two curators may upload files with the same name.
    path = folder / f"{uuid.uuid4().hex[:12]}-{name}"
    upload.save(path)
    return path


@bp.get("/searches/import")
@roles_required(Role.CURATOR)
def import_form() -> str:
    """The upload form for PubMed XML, MEDLINE (.nbib) and PMID-list files."""
    return _import_page(get_session())


@bp.post("/searches/import")
@roles_required(Role.CURATOR)
def import_upload() -> Response | tuple[str, int]:
    """Store an uploaded file under instance/uploads and import it as a background job."""
    session = get_session()
    upload = request.files.get("file")
    name = safe_upload_name((upload.filename or "") if upload is not None else "")
    problem = upload_problem(upload, name)
    if problem or upload is None:
        flash(problem or "Choose a file to import.", "error")
        chosen = {f"chosen_{k}": request.form.get(k) for k in ("treatment", "indication")}
        return _import_page(session, **chosen), 400
    treatment = queries.treatment_by_slug(session, request.form.get("treatment", ""))
    indication = queries.indication_by_slug(session, request.form.get("indication", ""))
    job = jobs.start_import_job(
        session,
        store_upload(upload, name),
        treatment_id=treatment.id if treatment else None,
        indication_id=indication.id if indication else None,
        user_id=_user_id(),
        remove_after=True,
    )
    session.commit()
    assert job.id is not None
    jobs.enqueue(job.id)
    flash(f"{name} is being imported in the background.", "success")
    return redirect(url_for("searches.job_page", job_id=job.id))
