"""`evidence serve` runs queued jobs itself: no separate worker is needed on one machine."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask

from evidence import jobs
from evidence.db import session_scope
from evidence.models import FetchJob
from tests.evidence.pubmed_helpers import use_fake
from tests.evidence.test_jobs import _search_job
from tests.fake_eutils import FakeEutils, synthetic_corpus


@pytest.fixture
def server() -> Iterator[FakeEutils]:
    """A fake E-utilities server with a small corpus."""
    with FakeEutils(synthetic_corpus(40, files=("pubmed1.xml",))) as fake:
        yield fake


def test_embedded_consumer_runs_a_queued_job(app: Flask, server: FakeEutils) -> None:
    use_fake(app, server)
    jobs.get_queue(app).huey.immediate = False
    jobs.get_queue(app).huey.flush()
    consumer = jobs.start_embedded_consumer(app)
    try:
        job_id = _search_job(app, max_records=25)
        jobs.enqueue(job_id, app)  # onto the SQLite queue, not run inline
        deadline = time.monotonic() + 30
        state = "queued"
        while time.monotonic() < deadline:
            with app.app_context(), session_scope() as session:
                job = session.get(FetchJob, job_id)
                assert job is not None
                state, added = job.state, job.added
            if state in ("done", "failed"):
                break
            time.sleep(0.2)
        assert state == "done"
        assert added == 25
    finally:
        consumer.stop(graceful=True)
        for _name, thread in consumer.worker_threads:
            thread.join(timeout=10)
        jobs.get_queue(app).huey.flush()
