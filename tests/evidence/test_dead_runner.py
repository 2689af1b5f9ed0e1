"""A worker killed with SIGKILL mid-batch: its job is seen as dead at once and resumes once.

The worker is a real `evidence worker` subprocess on a SQLite queue and database of this
test, fetching from the local fake E-utilities server (tests/fake_eutils.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from evidence import jobs
from evidence.db import session_scope
from evidence.models import Citation, FetchJob, utcnow
from tests.conftest import make_test_app
from tests.evidence.pubmed_helpers import count_rows, pmid_counts, use_fake
from tests.evidence.test_jobs import _search_job
from tests.fake_eutils import FakeEutils, synthetic_corpus

CORPUS = 1_150
EVIDENCE = Path(sys.executable).with_name("evidence")


@pytest.fixture
def worker_app(tmp_path: Path, sqlite_template: Path) -> Iterator[Flask]:
    """An app whose database and SQLite queue live in this test's own folder."""
    instance = tmp_path / "instance"
    instance.mkdir()
    db_path = tmp_path / "evidence.sqlite3"
    shutil.copy(sqlite_template, db_path)
    app = make_test_app(f"sqlite:///{db_path}", QUEUE_SQLITE_PATH=str(instance / "huey.sqlite3"))
    app.config["WORKER_INSTANCE"] = str(instance)
    yield app


def _job(app: Flask, job_id: int) -> FetchJob:
    """Load a job row."""
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None
        return job


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll until the condition holds, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _start_worker(app: Flask, server: FakeEutils, log: Path) -> subprocess.Popen[bytes]:
    """Start `evidence worker` against the app's database and queue, as a shell would."""
    env = dict(os.environ)
    env.update(
        EVIDENCE_DATABASE_URL=app.config["DATABASE_URL"],
        EVIDENCE_INSTANCE_PATH=app.config["WORKER_INSTANCE"],
        EVIDENCE_SECRET_KEY="worker-test",
        NCBI_EUTILS_URL=server.base_url,
        NCBI_EMAIL="tests@example.org",
        NCBI_API_KEY="test-key",
    )
    env.pop("EVIDENCE_REDIS_URL", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(EVIDENCE), "worker", "--workers", "1"], env=env, stdout=out, stderr=out
        )


def test_worker_killed_mid_batch_resumes_and_stores_each_record_once(
    worker_app: Flask, tmp_path: Path
) -> None:
    """SIGKILL during the second batch: the job is not live, a new worker resumes it."""
    app = worker_app
    log = tmp_path / "worker.log"
    with FakeEutils(synthetic_corpus(CORPUS, files=("pubmed1.xml",)), fault_delay=5.0) as server:
        use_fake(app, server)
        server.inject("ok", "efetch")
        server.inject("timeout", "efetch")  # the second batch answers after 5 s: kill it then
        job_id = _search_job(app)
        jobs.enqueue(job_id, app)
        first = _start_worker(app, server, log)
        try:
            _wait(lambda: _job(app, job_id).done == jobs.SEARCH_BATCH, "the first batch")
            _wait(
                lambda: sum(r.endpoint == "efetch" for r in server.requests) >= 2,
                "the second batch's request",
            )
            assert _job(app, job_id).state == "running"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        killed = _job(app, job_id)
        # The row still says running, but nobody holds it: the Run button would queue it again.
        assert killed.state == "running" and killed.done == jobs.SEARCH_BATCH
        assert not jobs.job_is_live(killed)
        assert count_rows(app, Citation, source="entrez") == jobs.SEARCH_BATCH

        second = _start_worker(app, server, log)
        try:
            _wait(lambda: _job(app, job_id).state in ("done", "failed"), "the resumed job")
        finally:
            second.send_signal(signal.SIGINT)
            try:
                second.wait(timeout=15)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait()
        fetches = [r.params.get("retstart") for r in server.requests if r.endpoint == "efetch"]
    finished = _job(app, job_id)
    assert finished.state == "done", (finished.error, log.read_text()[-2000:])
    assert (finished.done, finished.added, finished.deaths) == (CORPUS, CORPUS, 1)
    assert finished.attempts == 2
    assert count_rows(app, Citation, source="entrez") == CORPUS
    assert all(n == 1 for n in pmid_counts(app).values())
    # The committed first batch was not fetched again; the killed one was.
    assert fetches.count("0") == 1 and fetches.count(str(jobs.SEARCH_BATCH)) == 2


def _dead_pid() -> int:
    """Return the PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_job_that_keeps_killing_its_worker_is_given_up(worker_app: Flask) -> None:
    """The periodic reaper re-queues a dead runner's job; after 3 deaths it fails, with why."""
    app = worker_app
    job_id = _search_job(app, max_records=5)
    queue = jobs.get_queue(app)
    queue.huey.flush()
    for death in range(1, jobs.MAX_DEATHS + 1):
        with app.app_context(), session_scope() as session:
            job = session.get(FetchJob, job_id)
            assert job is not None
            # As if a worker took it and was killed by the out-of-memory killer: the lease
            # has not lapsed yet, but the process is gone.
            job.state, job.heartbeat_at = "running", utcnow()
            job.runner = f"{socket.gethostname()}:{_dead_pid()}:-"
            job.lease_expires_at = utcnow() + jobs.LEASE
        assert not jobs.job_is_live(_job(app, job_id))
        requeued = queue.reap_task.call_local()
        job = _job(app, job_id)
        assert job.deaths == death
        if death < jobs.MAX_DEATHS:
            assert requeued == [job_id] and job.state == "interrupted"
        else:
            assert requeued == [] and job.state == "failed"
    assert "gave up after 3 runs whose worker died" in (job.error or "")
    status = jobs.job_status(job)
    assert status["deaths"] == 3 and status["finished"] and status["state"] == "failed"
    assert len(queue.huey) == jobs.MAX_DEATHS - 1
    # A later start-up does not run it again.
    with app.app_context(), session_scope() as session:
        assert jobs.requeue_orphans(session, queue=queue) == []
    queue.huey.flush()


def test_a_live_runner_elsewhere_is_trusted_until_its_lease_lapses(worker_app: Flask) -> None:
    """A runner on another host is judged by its lease alone."""
    app = worker_app
    job_id = _search_job(app, max_records=5)
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None
        job.state, job.runner = "running", "other-host:4242:1"
        job.lease_expires_at = utcnow() + jobs.LEASE
    assert jobs.job_is_live(_job(app, job_id))
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None
        job.lease_expires_at = utcnow() - jobs.LEASE
    assert not jobs.job_is_live(_job(app, job_id))
