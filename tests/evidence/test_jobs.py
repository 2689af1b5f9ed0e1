"""Background PubMed jobs: saved searches, resumable runs, refresh, the queue and the pages."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from huey import RedisHuey
from sqlmodel import select

from evidence import jobs
from evidence.db import get_engine, session_scope
from evidence.models import Citation, CitationLink, FetchJob, SavedSearch, utcnow
from evidence.queries import treatment_by_slug
from tests.conftest import csrf_token, make_test_app
from tests.evidence.pubmed_helpers import article_with, citation, count_rows, pmid_counts, use_fake
from tests.evidence.web.test_auth import login, make_user
from tests.fake_eutils import FakeEutils, recorded_corpus, synthetic_corpus

CORPUS = 1_150


@pytest.fixture
def corpus_server() -> Iterator[FakeEutils]:
    """A fake server with 1,150 replicated records (small recorded articles)."""
    corpus = synthetic_corpus(CORPUS, files=("pubmed1.xml", "pubmed2.xml"))
    with FakeEutils(corpus, fault_delay=1.0) as server:
        yield server


def _search_job(app: Flask, slug: str = "microneedling", max_records: int | None = None) -> int:
    """Create (or find) the default search's job and return its id."""
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, slug)
        assert treatment is not None
        search = jobs.find_or_create_search(session, treatment=treatment)
        job = jobs.start_search_job(session, search, max_records=max_records)
        assert job.id is not None
        return job.id


def _run(app: Flask, job_id: int, **kwargs: object) -> FetchJob:
    """Run a job synchronously with the app's settings."""
    with app.app_context():
        return jobs.run_job(engine=get_engine(), config=app.config, job_id=job_id, **kwargs)  # type: ignore[arg-type]


def _search(app: Flask, slug: str = "microneedling") -> SavedSearch:
    """Return the treatment's default saved search."""
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, slug)
        assert treatment is not None
        return jobs.find_or_create_search(session, treatment=treatment)


def test_every_treatment_gets_its_default_query(app: Flask) -> None:
    """Each catalogue treatment starts with a saved search holding its default query."""
    with app.app_context(), session_scope() as session:
        # The catalogue load (snapshot load, db upgrade) added them; nothing is left to add.
        again = jobs.ensure_default_searches(session)
        searches = session.exec(select(SavedSearch)).all()
        treatment = treatment_by_slug(session, "microneedling")
        assert treatment is not None
        default = next(s for s in searches if s.treatment_id == treatment.id)
        assert default.is_default and default.query == treatment.default_query
        session.delete(default)
        session.flush()
        assert jobs.ensure_default_searches(session) == 1
    assert len(searches) >= 6 and all(s.is_default for s in searches) and again == 0


def test_search_job_stores_every_record_once(app: Flask, corpus_server: FakeEutils) -> None:
    """A run with faults on the way stores each record exactly once and updates the search."""
    use_fake(app, corpus_server)
    corpus_server.inject("429", "efetch")
    corpus_server.inject("truncate", "efetch")
    corpus_server.inject("malformed", "efetch")
    job = _run(app, _search_job(app))
    assert job.state == "done", job.error
    assert (job.total, job.done, job.added) == (CORPUS, CORPUS, CORPUS)
    counts = pmid_counts(app)
    assert all(n == 1 for n in counts.values())
    search = _search(app)
    assert search.last_hit_count == CORPUS and search.new_since_last_run == CORPUS
    assert search.last_run_at is not None
    assert count_rows(app, CitationLink, saved_search_id=search.id) == CORPUS
    assert jobs.job_status(job)["note"] == f"expected {CORPUS}, got {CORPUS}"

    # A second run finds nothing new.
    second = _run(app, _search_job(app))
    assert second.id != job.id and (second.added, second.updated) == (0, 0)
    assert _search(app).new_since_last_run == 0


def test_killed_job_resumes_where_it_stopped(app: Flask, corpus_server: FakeEutils) -> None:
    """A worker killed mid-job leaves an interrupted job that the next run completes."""
    use_fake(app, corpus_server)
    job_id = _search_job(app)
    seen: list[int] = []

    def kill_after_two_batches(job: FetchJob) -> None:
        """Play the part of a worker killed after its second stored batch."""
        seen.append(job.done)
        if job.done >= 2 * jobs.SEARCH_BATCH:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(app, job_id, progress=kill_after_two_batches)
    with app.app_context(), session_scope() as session:
        stopped = session.get(FetchJob, job_id)
        assert stopped is not None and stopped.state == "interrupted"
        assert stopped.done == 2 * jobs.SEARCH_BATCH
        assert json.loads(stopped.resume or "{}")["plan"]["slices"][0]["retstart"] == 1000
    stored = count_rows(app, Citation, source="entrez")
    assert stored == 2 * jobs.SEARCH_BATCH
    corpus_server.expire_history()  # hours later: the WebEnv is gone too
    assert _search_job(app) == job_id  # running the search again resumes the same job
    finished = _run(app, job_id)
    assert finished.state == "done" and finished.attempts == 2
    assert count_rows(app, Citation, source="entrez") == CORPUS
    assert all(n == 1 for n in pmid_counts(app).values())


def test_network_loss_interrupts_and_a_rerun_completes(
    app: Flask, corpus_server: FakeEutils
) -> None:
    """When retries run out the job is 'interrupted', not failed, and resumes later."""
    use_fake(app, corpus_server)
    job_id = _search_job(app)
    corpus_server.inject("ok", "efetch")
    corpus_server.inject("500", "efetch", times=4)  # the second batch fails every attempt
    stopped = _run(app, job_id)
    assert stopped.state == "interrupted" and "HTTP 500" in (stopped.error or "")
    assert stopped.done == jobs.SEARCH_BATCH
    finished = _run(app, job_id)
    assert finished.state == "done" and finished.done == CORPUS
    assert count_rows(app, Citation, source="entrez") == CORPUS


def test_max_records_and_missing_email(app: Flask, corpus_server: FakeEutils) -> None:
    """--max limits the fetch; without NCBI_EMAIL the job fails with a clear reason."""
    use_fake(app, corpus_server)
    job = _run(app, _search_job(app, "fractional-co2-laser", max_records=7))
    assert job.state == "done" and job.total == 7 and job.added == 7
    app.config["NCBI_EMAIL"] = None
    failed = _run(app, _search_job(app, "fractional-erbium-laser"))
    assert failed.state == "failed" and "NCBI_EMAIL" in (failed.error or "")


def test_refresh_completes_snapshot_records_and_picks_up_retractions(app: Flask) -> None:
    """Refresh re-fetches known PMIDs: snapshot rows get abstracts, new notices are flagged."""
    with app.app_context(), session_scope() as session:
        snap = session.exec(select(Citation).where(Citation.source == "snapshot")).first()
        assert snap is not None
        pmid = int(snap.pmid)
    corpus = recorded_corpus()
    corpus[0].pmid, corpus[0].xml = pmid, article_with(pmid)
    with FakeEutils(corpus) as server:
        use_fake(app, server)
        with app.app_context(), session_scope() as session:
            job_id = jobs.start_refresh_job(session, pmids=[pmid]).id
        assert job_id is not None
        done = _run(app, job_id)
        assert done.state == "done" and done.updated == 1
        row = citation(app, pmid)
        assert row is not None and row.complete and row.abstract
        assert row.retraction_status == "none"
        server.replace_record(
            pmid,
            article_with(
                pmid,
                extra_comments='<CommentsCorrections RefType="RetractionIn"><RefSource>N'
                '</RefSource><PMID Version="1">90000099</PMID></CommentsCorrections>',
            ),
        )
        with app.app_context(), session_scope() as session:
            job_id = jobs.start_refresh_job(session, pmids=[pmid, 424242]).id
        assert job_id is not None
        again = _run(app, job_id)
    assert again.state == "done" and again.updated == 1 and again.errors == 1
    assert "424242" in (jobs.job_status(again)["note"] or "")
    row = citation(app, pmid)
    assert row is not None and row.retraction_status == "retracted"


def test_queue_runs_jobs_through_huey(app: Flask, corpus_server: FakeEutils) -> None:
    """A job put on the huey queue (immediate mode here) runs to the end."""
    use_fake(app, corpus_server)
    app.config["HUEY_IMMEDIATE"] = True
    jobs.init_app(app)
    try:
        job_id = _search_job(app, max_records=30)
        jobs.enqueue(job_id, app)
    finally:
        jobs.get_queue(app).huey.immediate = False
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None and job.state == "done" and job.added == 30


def test_searches_page_and_run_button(app: Flask, corpus_server: FakeEutils) -> None:
    """Anyone sees the searches; only curators can run one; the status JSON tracks the job."""
    use_fake(app, corpus_server)
    client = app.test_client()
    page = client.get("/searches")
    assert page.status_code == 200 and "Microneedling" in page.text
    search = _search(app)
    token = csrf_token(client.get("/login").text)
    anonymous = client.post(f"/searches/{search.id}/run", data={"csrf_token": token})
    assert anonymous.status_code in (302, 401) and "/login" in anonymous.headers.get(
        "Location", "/login"
    )
    assert count_rows(app, FetchJob) == 0

    make_user(app, "viewer@example.org", "viewer")
    login(client, "viewer@example.org")
    page = client.get("/searches")
    assert f"/searches/{search.id}/run" not in page.text
    refused = client.post(f"/searches/{search.id}/run", data={"csrf_token": csrf_token(page.text)})
    assert refused.status_code == 403 and count_rows(app, FetchJob) == 0

    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    make_user(app, "curator@example.org", "curator")
    login(client, "curator@example.org")
    page = client.get("/searches")
    assert f"/searches/{search.id}/run" in page.text
    no_token = client.post(f"/searches/{search.id}/run")
    assert no_token.status_code == 400 and count_rows(app, FetchJob) == 0
    app.config["HUEY_IMMEDIATE"] = True
    jobs.init_app(app)
    try:
        ran = client.post(f"/searches/{search.id}/run", data={"csrf_token": csrf_token(page.text)})
    finally:
        jobs.get_queue(app).huey.immediate = False
    assert ran.status_code == 302
    job_url = ran.headers["Location"]
    progress = client.get(job_url)
    assert progress.status_code == 200 and "<progress" in progress.text
    assert "job-progress.js" in progress.text
    status = client.get(job_url + ".json").get_json()
    assert status["state"] == "done" and status["percent"] == 100
    assert status["done"] == status["total"] == CORPUS
    listing = client.get("/searches").text
    assert ">1150<" in listing.replace(" ", "")


def test_a_job_queued_twice_runs_once(app: Flask, corpus_server: FakeEutils) -> None:
    """A task for a job another worker is running (fresh heartbeat) does nothing."""
    use_fake(app, corpus_server)
    job_id = _search_job(app, max_records=5)
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None
        job.state, job.heartbeat_at = "running", utcnow()
    app.config["HUEY_IMMEDIATE"] = True
    jobs.init_app(app)
    try:
        jobs.enqueue(job_id, app)
    finally:
        jobs.get_queue(app).huey.immediate = False
    assert corpus_server.requests == []
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None and job.state == "running" and job.attempts == 0


def test_redis_queue_carries_jobs(
    tmp_path: Path, sqlite_template: Path, corpus_server: FakeEutils
) -> None:
    """With REDIS_URL set the app's queue is RedisHuey; a job sent through it runs to the end."""
    url = os.environ.get("EVIDENCE_TEST_REDIS_URL")
    if not url:
        pytest.skip("EVIDENCE_TEST_REDIS_URL is not set: the Redis queue test is skipped")
    db_path = tmp_path / "redis-app.sqlite3"
    shutil.copy(sqlite_template, db_path)
    app = make_test_app(f"sqlite:///{db_path}", REDIS_URL=url)
    use_fake(app, corpus_server)
    queue = jobs.get_queue(app)
    assert isinstance(queue.huey, RedisHuey)
    queue.huey.flush()
    try:
        job_id = _search_job(app, max_records=12)
        with app.test_request_context():
            jobs.enqueue(job_id)  # what the Run button does
        assert len(queue.huey) == 1  # waiting in Redis, not run inline
        task = queue.huey.dequeue()  # what a consumer thread does
        assert task is not None
        queue.huey.execute(task)
    finally:
        queue.huey.flush()
    with app.app_context(), session_scope() as session:
        job = session.get(FetchJob, job_id)
        assert job is not None and job.state == "done" and job.added == 12
