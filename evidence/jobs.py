"""Background PubMed jobs: the huey queue, saved-search helpers and a resumable job runner.

A FetchJob row carries everything needed to resume: the search plan (each date slice's
WebEnv, query_key and retstart) or the PMID list and offset, plus the counts so far.
Each fetched batch is stored and the job's progress saved in the same transaction, so a
worker killed at any point loses at most one batch of work and never stores a record
twice; running the job again continues from the last committed batch.

The queue is huey, built by `init_app` from the app's config (create_app calls it):
SqliteHuey under the instance folder by default, RedisHuey when EVIDENCE_REDIS_URL is set.
`evidence worker` runs the consumer; the CLI can also run a job in the foreground.

A runner holds a lease on its job (runner = host:pid:process start, lease_expires_at renewed
by a heartbeat thread). A job whose lease lapsed, or whose runner process on this host is
gone, is dead: the periodic reaper and every start-up queue it again, and a job whose
runners died MAX_DEATHS times (killed, out of memory) is failed with a message instead.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from evidence.joberrors import describe_failure
from evidence.literature.ingest import LinkTarget, citation_pmids, import_path, upsert_batch
from evidence.models import (
    JOB_FINAL_STATES,
    CitationSource,
    FetchJob,
    JobKind,
    JobState,
    SavedSearch,
    Treatment,
    utcnow,
)
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

if TYPE_CHECKING:
    from huey import Huey

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED)
# A running job whose heartbeat is older than this is taken to be orphaned (worker killed).
STALE_AFTER = timedelta(minutes=2)
SEARCH_BATCH = 500
REFRESH_BATCH = 200

Progress = Callable[[FetchJob], None]


LEASE = timedelta(seconds=60)
# A job whose runner died this many times (SIGKILL, out of memory) is given up, not re-run.
MAX_DEATHS = 3
EXTENSION = "evidence.jobs"


@dataclass
class JobQueue:
    """The app's queue (app.extensions["evidence.jobs"]): huey and the tasks bound to it."""

    huey: Huey
    run_job_task: Any
    reap_task: Any
    due_searches_task: Any
    digest_task: Any


def make_huey(
    redis_url: str | None = None, sqlite_path: Path | None = None, *, immediate: bool = False
) -> Huey:
    """Build a queue: Redis when a URL is given, otherwise SQLite at `sqlite_path`."""
    from huey import RedisHuey, SqliteHuey  # loads redis and multiprocessing: only when used

    if redis_url:
        return RedisHuey("evidence", url=redis_url, immediate=immediate)
    if sqlite_path is None:
        raise ValueError("a SQLite queue needs a file path")
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("evidence", filename=str(sqlite_path), immediate=immediate)


_BUILD_LOCK = threading.Lock()


def init_app(app: Flask) -> None:
    """Give the app its queue, built from its config on first use (`get_queue`).

    REDIS_URL (EVIDENCE_REDIS_URL) selects RedisHuey; otherwise SqliteHuey at
    QUEUE_SQLITE_PATH (default instance/huey.sqlite3). HUEY_IMMEDIATE runs tasks inline.
    Built lazily so that a command that never queues anything does not load huey.
    """
    app.extensions[EXTENSION] = None


def _build_queue(app: Flask) -> JobQueue:
    """Build the app's queue from its config and register the tasks, bound to this app."""
    from huey import crontab

    path = app.config.get("QUEUE_SQLITE_PATH") or Path(app.instance_path) / "huey.sqlite3"
    queue = make_huey(
        app.config.get("REDIS_URL") or None,
        Path(path),
        immediate=bool(app.config.get("HUEY_IMMEDIATE", False)),
    )

    @queue.task(name="run_job")
    def run_job_task(job_id: int) -> str:
        """Queue entry point: run (or resume) one job inside this app's context."""
        return _run_queued_job(app, job_id)

    @queue.periodic_task(crontab(minute="*"), name="reap_dead_runners")
    def reap_task() -> list[int]:
        """Every minute: queue again the jobs whose runner died (lease lapsed, process gone)."""
        with app.app_context():
            from evidence.db import get_engine

            with Session(get_engine(app)) as session:
                requeued = requeue_orphans(session, queue=extension, dead_only=True)
                session.commit()
        return requeued

    @queue.periodic_task(crontab(minute="17"), name="run_due_searches")
    def due_searches_task() -> list[int]:
        """Every hour: run the saved searches whose schedule says they are due."""
        from evidence.literature.living import run_due_searches

        return run_due_searches(app)

    @queue.periodic_task(crontab(day_of_week="1", hour="7", minute="0"), name="send_digests")
    def digest_task() -> list[str]:
        """Mondays at 07:00 UTC: e-mail the weekly digests (when an SMTP host is set)."""
        from evidence.literature.digests import send_digests

        return send_digests(app)

    extension = JobQueue(
        huey=queue,
        run_job_task=run_job_task,
        reap_task=reap_task,
        due_searches_task=due_searches_task,
        digest_task=digest_task,
    )
    return extension


def get_queue(app: Flask | None = None) -> JobQueue:
    """Return the queue of `app` (default: the current app), building it on first use."""
    target: Flask = app or current_app._get_current_object()  # type: ignore[attr-defined]
    queue: JobQueue | None = target.extensions[EXTENSION]
    if queue is None:
        with _BUILD_LOCK:
            queue = target.extensions[EXTENSION]
            if queue is None:
                queue = target.extensions[EXTENSION] = _build_queue(target)
    return queue


def _run_queued_job(app: Flask, job_id: int) -> str:
    """Run a queued job unless a live runner already holds it."""
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


def enqueue(job_id: int, app: Flask | None = None) -> None:
    """Put a job on the app's queue."""
    get_queue(app).run_job_task(job_id)


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
    job = _active_job(session, kind=JobKind.SEARCH, saved_search_id=search.id)
    if job is not None:
        return job
    job = FetchJob(
        kind=JobKind.SEARCH,
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
    job = FetchJob(kind=JobKind.REFRESH, params=json.dumps(params), created_by_id=user_id)
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
    job = FetchJob(kind=JobKind.IMPORT, params=json.dumps(params), created_by_id=user_id)
    session.add(job)
    session.flush()
    return job


def _process_start(pid: int) -> str | None:
    """Return a process's start time from /proc (tells a reused PID apart), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces) start at state; starttime is 22nd.
    return stat.rsplit(")", 1)[1].split()[19]


def runner_identity() -> str:
    """Return this process's identity as a job runner: host:pid:start."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid) or '-'}"


def _runner_alive(runner: str) -> bool | None:
    """True/False when the runner is a process on this host; None when it is elsewhere."""
    host, _, rest = runner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    now_start = _process_start(pid)
    if start not in ("", "-") and now_start is not None and now_start != start:
        return False  # the PID was reused by another process
    # A zombie was killed and waits to be reaped by its parent.
    return not (now_start is not None and _process_state(pid) == "Z")


def _process_state(pid: int) -> str | None:
    """Return the one-letter state of a process from /proc (Z for a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _aware(moment: datetime) -> datetime:
    """Treat a naive timestamp from the database as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def job_is_live(job: FetchJob) -> bool:
    """True when a runner holds the job right now: its lease is current and its process lives."""
    if job.state != JobState.RUNNING:
        return False
    if job.runner:
        alive = _runner_alive(job.runner)
        if alive is False:
            return False
    if job.lease_expires_at is not None:
        return utcnow() < _aware(job.lease_expires_at)
    if job.heartbeat_at is None:
        return False
    return utcnow() - _aware(job.heartbeat_at) < LEASE


class _LeaseKeeper:
    """Renews a job's lease from a daemon thread while the runner works on a slow batch."""

    def __init__(self, engine: Engine, job_id: int, runner: str) -> None:
        """Prepare the renewal thread for one job."""
        self.engine, self.job_id, self.runner = engine, job_id, runner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name=f"lease-{job_id}")

    def start(self) -> None:
        """Start renewing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing (the runner records the final state itself)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _renew(self) -> None:
        """Push the lease forward every quarter lease, while this runner still holds it."""
        while not self._stop.wait(LEASE.total_seconds() / 4):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(FetchJob)
                        .where(
                            col(FetchJob.id) == self.job_id,
                            col(FetchJob.runner) == self.runner,
                            col(FetchJob.state) == JobState.RUNNING,
                        )
                        .values(lease_expires_at=utcnow() + LEASE)
                    )
            except Exception:  # noqa: BLE001  (a locked database: try again next round)
                continue


def _without_paths(value: Any, path: str | None) -> Any:
    """Replace an uploaded file's absolute path by its name in a status text (or list)."""
    if not path:
        return value
    name = Path(path).name
    if isinstance(value, str):
        return value.replace(path, name)
    if isinstance(value, list):
        return [_without_paths(v, path) for v in value]
    if isinstance(value, dict):
        return {k: _without_paths(v, path) for k, v in value.items()}
    return value


def job_status(job: FetchJob) -> dict[str, Any]:
    """Return the JSON the progress bar polls (no server path: an upload shows its name)."""
    resume = json.loads(job.resume) if job.resume else {}
    path = json.loads(job.params or "{}").get("path") if job.kind == JobKind.IMPORT else None
    percent = None
    if job.total:
        percent = min(100, round(100 * job.done / job.total))
    elif job.state == JobState.DONE:
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
        "error": _without_paths(job.error, path),
        "attempts": job.attempts,
        "deaths": job.deaths,
        "percent": percent,
        "finished": job.state in JOB_FINAL_STATES,
        "report": _without_paths(resume.get("report"), path),
        "note": _without_paths(resume.get("note"), path),
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
        if job.state in JOB_FINAL_STATES:
            return job
        job.attempts += 1
        job.state = JobState.RUNNING
        job.error = None
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        job.runner = runner_identity()
        job.lease_expires_at = utcnow() + LEASE
        session.commit()
        lease = _LeaseKeeper(engine, job_id, job.runner)
        lease.start()
        try:
            if job.kind == JobKind.IMPORT:
                _run_import(session, engine, job, config, client)
            else:
                client = client or client_from_config(config)
                if job.kind == JobKind.SEARCH:
                    _run_search(session, job, client, progress)
                elif job.kind == JobKind.REFRESH:
                    _run_refresh(session, job, client, progress)
                else:
                    raise ValueError(f"unknown job kind {job.kind!r}")
            if job.state == JobState.RUNNING:
                job.state = JobState.DONE
            job.finished_at = utcnow()
            job.lease_expires_at = None
            session.commit()
        except (ConfigurationError, EntrezError, ValueError) as exc:
            # Retrying will not help (no email, a query NCBI refuses): stop for good.
            _stop(session, job, JobState.FAILED, exc)
        except (PubMedError, OSError) as exc:
            # Network trouble past the retry budget: keep the state, resume on the next run.
            _stop(session, job, JobState.INTERRUPTED, exc)
        except BaseException as exc:
            _stop(session, job, JobState.INTERRUPTED, exc)
            raise
        finally:
            lease.stop()
        if progress:
            progress(job)
        return job


def _stop(session: Session, job: FetchJob, state: str, exc: BaseException) -> None:
    """Roll back the batch in flight and record why the job stopped."""
    session.rollback()
    job = session.get(FetchJob, job.id) or job
    job.state = state
    job.error = describe_failure(exc)[:2000]
    job.heartbeat_at = utcnow()
    job.lease_expires_at = None
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
    job.lease_expires_at = utcnow() + LEASE
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
        counts = upsert_batch(session, batch.items, source=CitationSource.ENTREZ, link=link)
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
        counts = upsert_batch(session, batch.items, source=CitationSource.ENTREZ)
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
        job.state = JobState.FAILED
        job.error = "; ".join(report.rejected)[:2000]


def requeue_orphans(
    session: Session, *, queue: JobQueue | None = None, dead_only: bool = False
) -> list[int]:
    """Queue again the jobs whose runner died, and (at start-up) the interrupted ones.

    A dead runner counts against the job: after MAX_DEATHS the job is failed with a message,
    so a job that runs its worker out of memory is not retried at every start-up.
    """
    states = (JobState.RUNNING,) if dead_only else (JobState.RUNNING, JobState.INTERRUPTED)
    requeued: list[int] = []
    for job in session.exec(select(FetchJob).where(col(FetchJob.state).in_(states))):
        if job.id is None or job_is_live(job):
            continue
        if job.state == JobState.RUNNING:
            job.deaths += 1
            who = job.runner or "unknown runner"
            if job.deaths >= MAX_DEATHS:
                job.state = JobState.FAILED
                job.error = (
                    f"gave up after {job.deaths} runs whose worker died ({who} last): "
                    "it was killed or ran out of memory each time; stored batches are kept"
                )
                job.lease_expires_at = None
                session.add(job)
                continue
            job.state = JobState.INTERRUPTED
            job.error = f"the worker running it died ({who}); queued again"
            job.lease_expires_at = None
            session.add(job)
        requeued.append(job.id)
    # Commit before queueing: an immediate queue runs the job in this call.
    session.commit()
    for job_id in requeued:
        (queue or get_queue()).run_job_task(job_id)
    return requeued


def start_embedded_consumer(app: Flask, *, workers: int = 1) -> Any:
    """Run the queue's consumer in daemon threads of this process (the `make run` default).

    One machine needs no separate `evidence worker`: `evidence serve` starts this. The main
    thread belongs to the web server, so huey's signal handlers and main loop are not used;
    a job cut short when the server stops resumes on the next run like any interrupted job.
    """
    queue = get_queue(app)
    with app.app_context():
        from evidence.db import get_engine

        with Session(get_engine(app)) as session:
            requeue_orphans(session, queue=queue)
    consumer = queue.huey.create_consumer(workers=workers, worker_type="thread")
    consumer.scheduler.start()
    for _name, thread in consumer.worker_threads:
        thread.start()
    return consumer
