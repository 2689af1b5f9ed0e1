"""The shared cache: workers share charts and pages, a write shows at once, Redis when set."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from matplotlib.figure import Figure
from sqlalchemy import text

from evidence.db import get_engine, session_scope
from evidence.models import Citation, CitationLink, OutcomeReport, utcnow
from evidence.web import cache
from tests.conftest import make_test_app
from tests.evidence.synthesis.test_compare import PAIR, ids, read_table
from tests.evidence.web.test_auth import login, make_user

CHART = "/compare/chart/levels.svg?t=microneedling&t=fractional-co2-laser"


def count_draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every figure matplotlib saves (one per chart drawn), passing each call through."""
    saved: list[str] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: object, **kwargs: object) -> None:
        saved.append(str(kwargs.get("format")))
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def second_worker(app: Flask) -> Flask:
    """Another app on the same database and cache directory, as a second worker process is."""
    return make_test_app(app.config["DATABASE_URL"], CACHE_DIR=app.config["CACHE_DIR"])


def add_level_one_citation(app: Flask, pmid: str, *, decided_at: datetime | None = None) -> None:
    """Link a new, included level 1 citation to microneedling for acne scars."""
    with app.app_context(), session_scope() as session:
        tid, iid = ids(session, "microneedling", "acne-scars")
        citation = Citation(
            pmid=pmid, title="A meta-analysis made in this test", year=2026, evidence_level=1
        )
        session.add(citation)
        session.flush()
        session.add(
            CitationLink(
                citation_id=citation.id or 0,
                treatment_id=tid,
                indication_id=iid,
                treatment_key=tid,
                indication_key=iid or 0,
                status="included",
                found_by="test",
                decided_at=decided_at or utcnow(),
            )
        )


def test_two_workers_draw_each_chart_once(any_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = count_draws(monkeypatch)
    other = second_worker(any_app)
    first = any_app.test_client().get(PAIR)
    assert first.status_code == 200
    # Cached whole for anonymous visitors: it must hold nothing of one visitor's session.
    assert "csrf" not in first.text.lower() and "Set-Cookie" not in first.headers
    assert draws == ["svg"] * 4  # the page's four charts, drawn by the first worker
    # The second worker serves the page and the levels chart's download from the shared cache.
    assert other.test_client().get(PAIR).text == first.text
    download = other.test_client().get(CHART)
    assert download.status_code == 200 and download.data.startswith(b"<?xml")
    assert draws == ["svg"] * 4
    # A signed-in user's page is built afresh (their own marks) from the same cached charts.
    make_user(other, "reader@example.org", "viewer")
    client = other.test_client()
    login(client, "reader@example.org")
    page = client.get(PAIR).text
    assert "reader@example.org" in page and "Log out" in page
    assert draws == ["svg"] * 4
    # The PNG is a different file: drawn once, then shared too.
    png = CHART.replace(".svg", ".png")
    assert any_app.test_client().get(png).data.startswith(b"\x89PNG")
    assert other.test_client().get(png).data.startswith(b"\x89PNG")
    assert draws == ["svg"] * 4 + ["png"]
    with other.app_context():
        get_engine().dispose()


def test_a_new_report_shows_on_the_next_request(any_app: Flask) -> None:
    client = any_app.test_client()
    before = read_table(client.get(PAIR).text)
    assert before.text[("reports", "microneedling")].strip().startswith("3")
    assert client.get(PAIR).text  # now served from the cache
    with any_app.app_context(), session_scope() as session:
        tid, _ = ids(session, "microneedling")
        session.add(OutcomeReport(treatment_id=tid, improvement=4, fitzpatrick=3))
    after = read_table(client.get(PAIR).text)
    assert after.text[("reports", "microneedling")].strip().startswith("4")


def test_a_new_citation_link_shows_on_the_next_request(any_app: Flask) -> None:
    client = any_app.test_client()
    url = PAIR + "&indication=acne-scars"
    before = client.get(url).text
    level_one = read_table(before).text[("level-1", "microneedling")].strip()
    assert "99000002" not in before
    add_level_one_citation(any_app, "99000002")
    after = client.get(url).text
    assert read_table(after).text[("level-1", "microneedling")].strip() == str(int(level_one) + 1)
    # Anonymous visitors see the cells changed in the last 30 days: the new study is named.
    changes = re.search(r'<section class="notice changes".*?</section>', after, re.DOTALL)
    assert changes and "1 new level 1-2 study (PMID 99000002)" in changes.group(0)


def test_visitors_see_changes_from_the_start_of_the_day_the_page_names(any_app: Flask) -> None:
    """The rule line names a day 30 days back; every link of that day counts, none before it."""
    day = (utcnow() - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    add_level_one_citation(any_app, "99000004", decided_at=day + timedelta(seconds=1))
    add_level_one_citation(any_app, "99000005", decided_at=day - timedelta(seconds=1))
    page = any_app.test_client().get(PAIR + "&indication=acne-scars").text
    changes = re.search(r'<section class="notice changes".*?</section>', page, re.DOTALL)
    assert changes and f"Changed since {day:%Y-%m-%d}</h2>" in changes.group(0)
    assert f"Measured from the start of {day:%Y-%m-%d} UTC, 30 days ago" in changes.group(0)
    assert changes and "1 new level 1-2 study (PMID 99000004)" in changes.group(0)
    assert "99000005" not in changes.group(0)


def test_signed_in_users_still_get_their_own_marks(app: Flask) -> None:
    app.config["LIVING_VISIT_GAP_SECONDS"] = 0
    anonymous = app.test_client()
    reader = app.test_client()
    make_user(app, "reader@example.org", "viewer")
    login(reader, "reader@example.org")
    url = PAIR + "&indication=acne-scars"
    reader.get(url)  # first visit
    add_level_one_citation(app, "99000003")
    anonymous.get(url)  # fills the anonymous page cache
    marked = reader.get(url).text
    assert "your previous visit to this page" in marked
    assert "1 new level 1-2 study (PMID 99000003)" in marked
    # Seen: the reader's next visit no longer marks it; the anonymous page still does.
    assert "(PMID 99000003)" not in reader.get(url).text
    assert "1 new level 1-2 study (PMID 99000003)" in anonymous.get(url).text


def test_the_cache_is_redis_when_a_redis_url_is_set(app: Flask) -> None:
    url = os.environ.get("EVIDENCE_TEST_REDIS_URL")
    if not url:
        pytest.skip("EVIDENCE_TEST_REDIS_URL is not set: the Redis cache test is skipped")
    import redis

    redis_app = make_test_app(app.config["DATABASE_URL"], REDIS_URL=url)
    assert cache.backend_name(redis_app) == "RedisCache"
    server = redis.Redis.from_url(url)
    with redis_app.app_context():
        cache.clear()
    try:
        download = redis_app.test_client().get(CHART)
        assert download.status_code == 200
        keys = [k.decode() for k in server.scan_iter("evidence:chart:*")]
        assert len(keys) == 1
        raw = server.get(keys[0])
        assert raw is not None and raw.startswith(b"!")  # cachelib's mark of a pickled value
        assert pickle.loads(raw[1:]) == download.data  # noqa: S301 -- our own test value
    finally:
        with redis_app.app_context():
            cache.clear()
            get_engine().dispose()


def test_two_databases_never_share_entries(app: Flask, tmp_path: Path) -> None:
    """Apps on two databases with one cache directory never serve each other's pages."""
    source = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    copy = tmp_path / "other.sqlite3"
    shutil.copy(source, copy)
    other = make_test_app(f"sqlite:///{copy}", CACHE_DIR=app.config["CACHE_DIR"])
    with other.app_context(), session_scope() as session:
        # A report the first database lacks, with the copy's data versions put back as they
        # were: only the database URL in the keys can tell the two apart now.
        tokens = session.execute(text("SELECT side, shard, token FROM data_version")).all()
        tid, _ = ids(session, "microneedling")
        session.add(OutcomeReport(treatment_id=tid, improvement=4))
        session.flush()
        for side, shard, token in tokens:
            session.execute(
                text("UPDATE data_version SET token = :t WHERE side = :s AND shard = :n"),
                {"t": token, "s": side, "n": shard},
            )
    first = read_table(app.test_client().get(PAIR).text)
    assert first.text[("reports", "microneedling")].strip().startswith("3")
    second = read_table(other.test_client().get(PAIR).text)
    assert second.text[("reports", "microneedling")].strip().startswith("4")
    with other.app_context():
        get_engine().dispose()


def test_the_home_page_is_shared_by_visitors_and_shows_a_new_report_at_once(
    any_app: Flask,
) -> None:
    """Visitors share one cached home page; a report changes it on the next request."""

    def microneedling_reports(page: str) -> int:
        found = re.search(
            r'href="/treatments/microneedling#reports"><strong class="report-count">(\d+)', page
        )
        assert found, "the home page lists microneedling's outcome reports"
        return int(found.group(1))

    client = any_app.test_client()
    first = client.get("/")
    assert "csrf" not in first.text.lower() and "Set-Cookie" not in first.headers
    other = second_worker(any_app)
    assert other.test_client().get("/").text == first.text
    with other.app_context():
        get_engine().dispose()
    before = microneedling_reports(first.text)
    with any_app.app_context(), session_scope() as session:
        tid, _ = ids(session, "microneedling")
        session.add(OutcomeReport(treatment_id=tid, improvement=3, fitzpatrick=2))
    assert microneedling_reports(client.get("/").text) == before + 1
    # A signed-in user's page is their own (their account in the header), never the cached one.
    make_user(any_app, "home-reader@example.org", "viewer")
    reader = any_app.test_client()
    login(reader, "home-reader@example.org")
    assert "home-reader@example.org" in reader.get("/").text
    assert "home-reader@example.org" not in client.get("/").text


@pytest.mark.parametrize("backend", ["files", "redis"])
def test_a_missing_value_is_computed_once_while_other_workers_wait(
    app: Flask, backend: str
) -> None:
    """Eight requests on two workers ask for one cold value at once: it is computed once."""
    if backend == "redis":
        url = os.environ.get("EVIDENCE_TEST_REDIS_URL")
        if not url:
            pytest.skip("EVIDENCE_TEST_REDIS_URL is not set: the Redis cache test is skipped")
        workers = [make_test_app(app.config["DATABASE_URL"], REDIS_URL=url) for _ in range(2)]
    else:
        workers = [app, second_worker(app)]
    with workers[0].app_context():
        cache.clear()
    computed: list[int] = []
    start = threading.Barrier(8)

    def slow() -> str:
        computed.append(1)
        time.sleep(0.5)  # a cold compare page takes about this long
        return "the page"

    def ask(worker: Flask) -> str:
        with worker.app_context():
            start.wait()
            return cache.remember(cache.key("stampede", "one page"), slow)

    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, [workers[i % 2] for i in range(8)]))
        assert answers == ["the page"] * 8
        assert len(computed) == 1
    finally:
        with workers[0].app_context():
            cache.clear()
        for worker in (w for w in workers if w is not app):
            with worker.app_context():
                get_engine().dispose()


def test_when_the_computing_worker_fails_a_waiting_one_computes(app: Flask) -> None:
    """The first caller's error reaches it; the one waiting computes instead of hanging."""
    other = second_worker(app)
    name_parts = ("stampede", "a page that fails once")
    started = threading.Event()

    def failing() -> str:
        started.set()
        time.sleep(0.3)
        raise RuntimeError("database went away")

    def first() -> None:
        with app.app_context(), pytest.raises(RuntimeError):
            cache.remember(cache.key(*name_parts), failing)

    def second() -> tuple[str, float]:
        started.wait(5)
        with other.app_context():
            began = time.monotonic()
            value = cache.remember(cache.key(*name_parts), lambda: "computed here")
            return value, time.monotonic() - began

    with ThreadPoolExecutor(2) as pool:
        failed = pool.submit(first)
        answer = pool.submit(second)
        failed.result()
        value, waited = answer.result()
    with other.app_context():
        get_engine().dispose()
    assert value == "computed here"
    assert waited < cache.WAIT_SECONDS / 2  # it noticed the claim was given up
