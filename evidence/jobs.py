"""Background PubMed jobs: the huey queue, saved-search helpers and a resumable job runner.

A FetchJob row carries everything needed to resume: the search plan (each date slice's
WebEnv, query_key and retstart) or the PMID list and offset, plus the counts so far.
Each fetched batch is stored and the job's progress saved in the same transaction, so a
worker killed at any point loses at most one batch of work and never stores a record
twice; running the job again continues from the last committed batch.

The queue is huey: SqliteHuey in instance/ by default, RedisHuey when EVIDENCE_REDIS_URL
is set. `evidence worker` runs the consumer; the CLI can also run a job in the foreground.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.ingest import LinkTarget, citation_pmids, import_path, upsert_batch
from evidence.models import FetchJob, SavedSearch, Treatment, utcnow
from pubmed import (
    ConfigurationError,
    EntrezClient,
    EntrezError,
    PubMedError,
    PubmedRecord,
    SearchPlan,
    iter_batches,
    iter_pmid_batches,
    plan_search,
)

ACTIVE_STATES = ("queued", "running", "interrupted")
# A running job whose heartbeat is older than this is taken to be orphaned (worker killed).
STALE_AFTER = timedelta(minutes=2)
SEARCH_BATCH = 500
REFRESH_BATCH = 200

Progress = Callable[[FetchJob], None]


def default_instance_path() -> Path:
    """Return where Flask keeps the instance folder (EVIDENCE_INSTANCE_PATH or ./instance)."""
    configured = os.environ.get("EVIDENCE_INSTANCE_PATH")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "instance"


def make_huey(redis_url: str | None = None, instance_path: Path | None = None) -> Huey:
    """Build the queue: Redis when a URL is given, otherwise SQLite under instance/."""
    if redis_url:
        return RedisHuey("evidence", url=redis_url)
    folder = instance_path or default_instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("evidence", filename=str(folder / "huey.sqlite3"))


huey: Huey = make_huey(os.environ.get("EVIDENCE_REDIS_URL") or None)
_bound_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Bind the app whose settings and database the tasks use (tests may run tasks inline)."""
    global _bound_app
    _bound_app = app
    huey.immediate = bool(app.config.get("HUEY_IMMEDIATE", False))


def _app() -> Flask:
    """Return the bound app, creating one from the environment in a bare worker."""
    if _bound_app is None:
        from evidence import create_app

        init_app(create_app())
    assert _bound_app is not None
    return _bound_app


@huey.task()
def run_job_task(job_id: int) -> str:
    """Queue entry point: run (or resume) one job inside the app's context."""
    app = _app()
    from evidence.db import get_engine

    with app.app_context():
        engine = get_engine(app)
        with Session(engine) as session:
            current = session.get(FetchJob, job_id)
            if current is not None and job_is_live(current):
                # Queued twice (a second click, a restarted worker): one runner is enough.
                return "skipped: already running"
        job = run_job(engine=engine, config=app.config, job_id=job_id)
    return job.state


def enqueue(job_id: int) -> None:
    """Put a job on the queue."""
    run_job_task(job_id)


# --- saved searches ---------------------------------------------------------------------


def ensure_default_searches(session: Session) -> int:
    """Give every treatment its catalogue default query as a saved search; return added."""
    have = set(
        session.exec(select(SavedSearch.treatment_id).where(col(SavedSearch.is_default).is_(True)))
    )
    added = 0
    for treatment in session.exec(select(Treatment).order_by(col(Treatment.position))):
        if treatment.id not in have and treatment.default_query.strip():
            session.add(
                SavedSearch(
                    treatment_id=treatment.id or 0,
                    query=treatment.default_query.strip(),
                    is_default=True,
                )
            )
            added += 1
    if added:
        session.flush()
    return added


def find_or_create_search(
    session: Session,
    *,
    treatment: Treatment,
    indication_id: int | None = None,
    query: str | None = None,
    user_id: int | None = None,
) -> SavedSearch:
    """Return the saved search for this treatment/indication/query, creating it if new."""
    ensure_default_searches(session)
    if query is None and indication_id is None:
        default = session.exec(
            select(SavedSearch).where(
                SavedSearch.treatment_id == treatment.id, col(SavedSearch.is_default).is_(True)
            )
        ).first()
        if default is not None:
            return default
    text = (query or treatment.default_query).strip()
    if not text:
        raise ValueError(f"treatment {treatment.slug!r} has no default query: pass --query")
    existing = session.exec(
        select(SavedSearch).where(
            SavedSearch.treatment_id == treatment.id,
            SavedSearch.indication_id == indication_id,
            SavedSearch.query == text,
        )
    ).first()
    if existing is not None:
        return existing
    search = SavedSearch(
        treatment_id=treatment.id or 0,
        indication_id=indication_id,
        query=text,
        is_default=False,
        created_by_id=user_id,
    )
    session.add(search)
    session.flush()
    return search


# --- job creation -----------------------------------------------------------------------


def _active_job(session: Session, **where: Any) -> FetchJob | None:
    """Return the newest unfinished job matching the filters."""
    stmt = select(FetchJob).where(col(FetchJob.state).in_(ACTIVE_STATES))
    for name, value in where.items():
        stmt = stmt.where(getattr(FetchJob, name) == value)
    return session.exec(stmt.order_by(col(FetchJob.id).desc())).first()


def start_search_job(
    session: Session,
    search: SavedSearch,
    *,
    max_records: int | None = None,
    user_id: int | None = None,
) -> FetchJob:
    """Return the search's unfinished job (to resume it) or create a new one."""
    job = _active_job(session, kind="search", saved_search_id=search.id)
    if job is not None:
        return job
    job = FetchJob(
        kind="search",
        saved_search_id=search.id,
        params=json.dumps({"max": max_records}),
        created_by_id=user_id,
    )
    session.add(job)
    session.flush()
    return job


def start_refresh_job(
    session: Session, *, pmids: list[int] | None = None, user_id: int | None = None
) -> FetchJob:
    """Create a job that re-fetches the given PMIDs (or every stored one)."""
    params = {"pmids": pmids} if pmids else {"all": True}
    job = FetchJob(kind="refresh", params=json.dumps(params), created_by_id=user_id)
    session.add(job)
    session.flush()
    return job


def start_import_job(
    session: Session,
    path: Path,
    *,
    treatment_id: int | None = None,
    indication_id: int | None = None,
    user_id: int | None = None,
    remove_after: bool = False,
) -> FetchJob:
    """Create a job that imports one file (all-or-nothing); `remove_after` deletes it after."""
    params = {
        "path": str(path.resolve()),
        "treatment_id": treatment_id,
        "indication_id": indication_id,
        "remove_after": remove_after,
    }
    job = FetchJob(kind="import", params=json.dumps(params), created_by_id=user_id)
    session.add(job)
    session.flush()
    return job


def job_is_live(job: FetchJob) -> bool:
    """True when a worker is running the job right now (recent heartbeat)."""
    if job.state != "running" or job.heartbeat_at is None:
        return False
    beat = job.heartbeat_at
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - beat < STALE_AFTER


def job_status(job: FetchJob) -> dict[str, Any]:
    """Return the JSON the progress bar polls."""
    resume = json.loads(job.resume) if job.resume else {}
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    elif job.state == "done":
        percent = 100
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "added": job.added,
        "updated": job.updated,
        "errors": job.errors,
        "error": job.error,
        "attempts": job.attempts,
        "percent": percent,
        "finished": job.state in ("done", "failed"),
        "report": resume.get("report"),
        "note": resume.get("note"),
    }


# --- the runner ---------------------------------------------------------------------------


def client_from_config(config: Mapping[str, Any]) -> EntrezClient:
    """Build the PubMed client from the app's NCBI_* settings."""
    options = dict(config.get("PUBMED_CLIENT_OPTIONS") or {})
    return EntrezClient(
        email=config.get("NCBI_EMAIL"),
        api_key=config.get("NCBI_API_KEY"),
        base_url=config.get("NCBI_EUTILS_URL") or "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/",
        **options,
    )


def run_job(
    *,
    engine: Engine,
    config: Mapping[str, Any],
    job_id: int,
    progress: Progress | None = None,
    client: EntrezClient | None = None,
) -> FetchJob:
    """Run or resume a job to the end; return its final row (detached)."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(FetchJob, job_id)
        if job is None:
            raise LookupError(f"no fetch job {job_id}")
        if job.state in ("done", "failed"):
            return job
        job.attempts += 1
        job.state = "running"
        job.error = None
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        session.commit()
        try:
            if job.kind == "import":
                _run_import(session, engine, job, config, client)
            else:
                client = client or client_from_config(config)
                if job.kind == "search":
                    _run_search(session, job, client, progress)
                elif job.kind == "refresh":
                    _run_refresh(session, job, client, progress)
                else:
                    raise ValueError(f"unknown job kind {job.kind!r}")
            if job.state == "running":
                job.state = "done"
            job.finished_at = utcnow()
            session.commit()
        except (ConfigurationError, EntrezError, ValueError) as exc:
            # Retrying will not help (no email, a query NCBI refuses): stop for good.
            _stop(session, job, "failed", exc)
        except (PubMedError, OSError) as exc:
            # Network trouble past the retry budget: keep the state, resume on the next run.
            _stop(session, job, "interrupted", exc)
        except BaseException as exc:
            _stop(session, job, "interrupted", exc)
            raise
        if progress:
            progress(job)
        return job


def _stop(session: Session, job: FetchJob, state: str, exc: BaseException) -> None:
    """Roll back the batch in flight and record why the job stopped."""
    session.rollback()
    job = session.get(FetchJob, job.id) or job
    job.state = state
    job.error = f"{type(exc).__name__}: {exc}"[:2000]
    job.heartbeat_at = utcnow()
    session.add(job)
    session.commit()


def _resume(job: FetchJob) -> dict[str, Any]:
    """Return the job's saved resume state."""
    loaded: dict[str, Any] = json.loads(job.resume) if job.resume else {}
    return loaded


def _save_batch_progress(session: Session, job: FetchJob, state: dict[str, Any]) -> None:
    """Save progress in the open transaction (the batch's rows go in with it) and commit."""
    job.resume = json.dumps(state)
    job.heartbeat_at = utcnow()
    session.add(job)
    session.commit()


def _run_search(
    session: Session, job: FetchJob, client: EntrezClient, progress: Progress | None
) -> None:
    """Fetch a saved search's records batch by batch, resuming from the saved plan."""
    search = session.get(SavedSearch, job.saved_search_id)
    if search is None:
        raise ValueError(f"job {job.id}: saved search {job.saved_search_id} is gone")
    params = json.loads(job.params or "{}")
    state = _resume(job)
    if "plan" in state:
        plan = SearchPlan.from_dict(state["plan"])
    else:
        plan = plan_search(client, search.query, max_records=params.get("max"))
        state = {"plan": plan.to_dict(), "linked": 0, "got": 0}
        job.total = plan.expected
        first = plan.slices[0] if plan.slices else None
        job.webenv = first.webenv if first else None
        job.query_key = first.query_key if first else None
        _save_batch_progress(session, job, state)
    if progress:
        progress(job)
    link = LinkTarget(
        treatment_id=search.treatment_id,
        indication_id=search.indication_id,
        found_by=f"search:{search.id}",
        saved_search_id=search.id,
    )
    for batch in iter_batches(client, plan, batch_size=SEARCH_BATCH):
        counts = upsert_batch(session, batch.items, source="entrez", link=link)
        plan.advance(batch)
        job.done = plan.done
        job.added += counts.added
        job.updated += counts.updated
        state.update(
            plan=plan.to_dict(),
            linked=state["linked"] + counts.linked,
            got=state["got"] + counts.read,
        )
        _save_batch_progress(session, job, state)
        if progress:
            progress(job)
    notes = []
    if state["got"] < plan.expected:
        notes.append(f"expected {plan.expected} records, got {state['got']}")
        job.errors = plan.expected - state["got"]
    if plan.unreachable:
        notes.append(f"{plan.unreachable} hits could not be reached (one day above 10,000)")
    state["note"] = "; ".join(notes) or f"expected {plan.expected}, got {state['got']}"
    job.resume = json.dumps(state)
    search.last_run_at = utcnow()
    search.last_hit_count = plan.total
    search.new_since_last_run = state["linked"]
    session.add(search)


def _run_refresh(
    session: Session, job: FetchJob, client: EntrezClient, progress: Progress | None
) -> None:
    """Re-fetch known PMIDs (completes snapshot records, picks up retraction notices)."""
    state = _resume(job)
    if "pmids" not in state:
        params = json.loads(job.params or "{}")
        pmids = params.get("pmids") or citation_pmids(session)
        state = {"pmids": pmids, "offset": 0, "missing": []}
        job.total = len(pmids)
        _save_batch_progress(session, job, state)
    if progress:
        progress(job)
    pmids = state["pmids"]
    for batch in iter_pmid_batches(client, pmids, start=state["offset"], batch_size=REFRESH_BATCH):
        counts = upsert_batch(session, batch.items, source="entrez")
        got = {i.pmid for i in batch.items if isinstance(i, PubmedRecord)}
        missing = [p for p in pmids[batch.retstart : batch.next_retstart] if p not in got]
        state["missing"].extend(missing)
        state["offset"] = batch.next_retstart
        job.done = batch.next_retstart
        job.added += counts.added
        job.updated += counts.updated
        job.errors = len(state["missing"])
        _save_batch_progress(session, job, state)
        if progress:
            progress(job)
    if state["missing"]:
        shown = ", ".join(map(str, state["missing"][:20]))
        state["note"] = f"{len(state['missing'])} PMIDs not returned by PubMed: {shown}"
        job.resume = json.dumps(state)


def _run_import(
    session: Session,
    engine: Engine,
    job: FetchJob,
    config: Mapping[str, Any],
    client: EntrezClient | None,
) -> None:
    """Import one file in its own transaction and keep the report on the job."""
    params = json.loads(job.params or "{}")
    link = None
    if params.get("treatment_id") or params.get("indication_id"):
        link = LinkTarget(
            treatment_id=params.get("treatment_id"), indication_id=params.get("indication_id")
        )
    if client is None and config.get("NCBI_EMAIL"):
        client = client_from_config(config)
    path = Path(params["path"])
    try:
        report = import_path(
            engine,
            path,
            link=link,
            client=client,
            max_inflated=config.get("IMPORT_MAX_INFLATED_BYTES"),
        )
    finally:
        if params.get("remove_after"):
            # An uploaded copy: imported or refused, it has no further use under instance/.
            path.unlink(missing_ok=True)
    job.total = report.read
    job.done = report.read if report.ok else 0
    job.added, job.updated = report.added, report.updated
    job.errors = len(report.rejected)
    job.resume = json.dumps({"report": asdict(report), "note": report.summary()})
    if not report.ok:
        job.state = "failed"
        job.error = "; ".join(report.rejected)[:2000]


def requeue_orphans(session: Session) -> list[int]:
    """Queue again the jobs a killed worker left behind (stale 'running', 'interrupted')."""
    orphans = [
        job.id
        for job in session.exec(
            select(FetchJob).where(col(FetchJob.state).in_(("running", "interrupted")))
        )
        if job.id is not None and not job_is_live(job)
    ]
    for job_id in orphans:
        enqueue(job_id)
    return orphans


def start_embedded_consumer(app: Flask, *, workers: int = 1) -> Any:
    """Run the queue's consumer in daemon threads of this process (the `make run` default).

    One machine needs no separate `evidence worker`: `evidence serve` starts this. The main
    thread belongs to the web server, so huey's signal handlers and main loop are not used;
    a job cut short when the server stops resumes on the next run like any interrupted job.
    """
    init_app(app)
    with app.app_context():
        from evidence.db import get_engine

        with Session(get_engine(app)) as session:
            requeue_orphans(session)
            session.commit()
    consumer = huey.create_consumer(workers=workers, worker_type="thread")
    consumer.scheduler.start()
    for _name, thread in consumer.worker_threads:
        thread.start()
    return consumer
