"""`evidence serve` as a user runs it (a real subprocess on a free port): gunicorn with two
worker processes that both answer, one job consumer, a clean stop on SIGTERM; the login
throttle counted once across the workers (the database without Redis, or Redis); waitress
as the fallback."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from evidence import jobs
from evidence.db import get_engine, session_scope
from evidence.models import FetchJob
from evidence.web import server as servers
from tests.conftest import csrf_token, make_test_app
from tests.evidence.pubmed_helpers import use_fake
from tests.evidence.test_jobs import _search_job
from tests.evidence.web.test_auth import PASSWORD, make_user
from tests.fake_eutils import FakeEutils, synthetic_corpus

START_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Return the pids of a process's children (from /proc: every Linux kernel has it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode() for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    """True while the process exists and is no zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Served:
    """A running `evidence serve`: its process, address and log."""

    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def workers(self) -> list[int]:
        """The worker processes: forks of the master, so they carry its command line."""
        master = _cmdline(self.proc.pid)
        return sorted(p for p in _children(self.proc.pid) if _cmdline(p) == master)

    def consumers(self) -> list[int]:
        """The job consumer processes (`python -m evidence worker`)."""
        return [p for p in _children(self.proc.pid) if "worker" in _cmdline(p)[1:4]]

    @contextmanager
    def only(self, worker: int) -> Iterator[None]:
        """Pause every other worker, so a new connection can only be taken by `worker`."""
        others = [p for p in self.workers() if p != worker]
        for pid in others:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in others:
                os.kill(pid, signal.SIGCONT)


def _get(url: str, timeout: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextmanager
def serving(
    url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Start `evidence serve ARGS` on a database, wait until it answers, stop it afterwards."""
    port = _free_port()
    settings = {
        k: v
        for k, v in os.environ.items()
        if k not in ("EVIDENCE_REDIS_URL", "EVIDENCE_DATABASE_URL")
    }
    settings.update(
        EVIDENCE_DATABASE_URL=url,
        EVIDENCE_INSTANCE_PATH=str(tmp_path / "instance"),
        EVIDENCE_SECRET_KEY="server-test",
        **(env or {}),
    )
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evidence", "serve", "--port", str(port), *args],
            env=settings,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if _get(served.base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"evidence serve did not answer:\n{log.read_text()}")
        yield served
    finally:
        if proc.poll() is None:
            for pid in _children(proc.pid):  # a failed test may leave a worker paused
                os.kill(pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_workers(served: Served, count: int) -> list[int]:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        workers = served.workers()
        if len(workers) == count:
            return workers
        time.sleep(0.1)
    raise AssertionError(f"expected {count} workers, have {served.workers()}")


def test_two_workers_both_answer_one_consumer_runs_jobs_and_sigterm_stops_all(
    any_app: Flask, tmp_path: Path
) -> None:
    """Two gunicorn workers each serve pages, one consumer runs a queued job, SIGTERM ends all."""
    with FakeEutils(synthetic_corpus(30, files=("pubmed1.xml",))) as fake:
        use_fake(any_app, fake)
        job_id = _search_job(any_app, max_records=20)
        with any_app.app_context():
            get_engine().dispose()
        env = {"NCBI_EUTILS_URL": fake.base_url, "NCBI_EMAIL": "tests@example.org"}
        with serving(any_app.config["DATABASE_URL"], tmp_path, "--workers", "2", env=env) as srv:
            workers = _wait_for_workers(srv, 2)
            for worker in workers:
                with srv.only(worker):
                    status, home = _get(srv.base + "/")
                    assert status == 200 and "Microneedling" in home
                    status, health = _get(srv.base + "/healthz")
                    assert (status, json.loads(health)) == (200, {"database": "ok", "status": "ok"})
            # One consumer, whatever the number of workers: it takes the job off the queue.
            assert len(srv.consumers()) == 1
            queue_app = make_test_app(
                any_app.config["DATABASE_URL"],
                QUEUE_SQLITE_PATH=str(tmp_path / "instance" / "huey.sqlite3"),
            )
            jobs.enqueue(job_id, queue_app)
            deadline = time.monotonic() + 60
            state = "queued"
            while time.monotonic() < deadline and state not in ("done", "failed"):
                time.sleep(0.3)
                with queue_app.app_context(), session_scope() as session:
                    job = session.get(FetchJob, job_id)
                    assert job is not None
                    state, added = job.state, job.added
            with queue_app.app_context():
                get_engine().dispose()
            assert (state, added) == ("done", 20), srv.log.read_text()
            everyone = [*workers, *srv.consumers()]
            srv.proc.send_signal(signal.SIGTERM)
            assert srv.proc.wait(timeout=30) == 0, srv.log.read_text()
            assert not [pid for pid in everyone if _alive(pid)]
            assert "Shutting down: Master" in srv.log.read_text()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect (a successful login's 302) instead of following it."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def _login(base: str, email: str, password: str, address: str) -> int:
    """Log in through the form, from `address` (the trusted proxy's X-Forwarded-For)."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
    )
    headers = {"X-Forwarded-For": address}
    with opener.open(urllib.request.Request(base + "/login", headers=headers), timeout=10) as r:
        token = csrf_token(r.read().decode())
    body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    post = urllib.request.Request(base + "/login", data=body.encode(), headers=headers)
    try:
        with opener.open(post, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"])
def throttle_backend(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[Flask, dict[str, str]]]:
    """An app on SQLite, PostgreSQL, or SQLite with the counts in Redis, and the server's env."""
    from tests.conftest import _app_for

    env = {"EVIDENCE_TRUSTED_PROXIES": "1"}
    backend = request.param
    if backend == "redis":
        redis_url = os.environ.get("EVIDENCE_TEST_REDIS_URL")
        if not redis_url:
            pytest.skip("EVIDENCE_TEST_REDIS_URL is not set: the Redis test is skipped, not passed")
        env["EVIDENCE_REDIS_URL"] = redis_url
        backend = "sqlite"
    yield from ((app, env) for app in _app_for(backend, request, tmp_path, sqlite_template))


def test_login_throttle_counts_failures_on_both_workers_together(
    throttle_backend: tuple[Flask, dict[str, str]], tmp_path: Path
) -> None:
    """Five failures alternating between two workers block the sixth attempt on either one.

    With a count per worker each would have seen two or three failures and let it through.
    """
    app, env = throttle_backend
    email = f"doc-{uuid.uuid4().hex[:8]}@example.org"  # its own Redis keys on every run
    address = f"2001:db8::{uuid.uuid4().hex[:4]}"  # documentation range, fresh every run
    make_user(app, email, "practitioner")
    with app.app_context():
        get_engine().dispose()
    args = ("--workers", "2", "--no-worker")
    with serving(app.config["DATABASE_URL"], tmp_path, *args, env=env) as srv:
        workers = _wait_for_workers(srv, 2)
        for attempt in range(5):
            with srv.only(workers[attempt % 2]):
                assert _login(srv.base, email, "wrong password", address) == 401
        for worker in workers:
            with srv.only(worker):
                assert _login(srv.base, email, PASSWORD, address) == 429
        # Another address is not held up by them: the right password logs in.
        assert _login(srv.base, email, PASSWORD, "2001:db8::1:2") == 302


def test_waitress_fallback_still_serves(app: Flask, tmp_path: Path) -> None:
    """`--server waitress` serves from one process, with the job consumer in its threads."""
    with app.app_context():
        get_engine().dispose()
    with serving(app.config["DATABASE_URL"], tmp_path, "--server", "waitress") as srv:
        status, home = _get(srv.base + "/")
        assert status == 200 and "Microneedling" in home
        assert srv.workers() == [] and srv.consumers() == []  # no child processes at all
        log = srv.log.read_text()
        assert "waitress, one process" in log and "embedded queue consumer" in log
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=30)


def test_default_workers_is_one_per_usable_cpu() -> None:
    assert servers.default_workers() == len(os.sched_getaffinity(0))
