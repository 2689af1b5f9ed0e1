"""`evidence serve`: gunicorn worker processes, or waitress where gunicorn cannot run.

gunicorn runs through its documented custom-application API (`BaseApplication`), with the
app *preloaded*: `evidence serve` has already built it (FlaskGroup), so the master holds one
app, reads the secret key once and reports a broken configuration before any worker starts,
and the workers are forks of it (its modules imported once, shared copy-on-write). What must
not cross a fork is dropped in `post_fork`: the SQLAlchemy engine's pooled connections (the
rate-limit storage uses the same engine). redis-py's pools notice the fork themselves, and
the SQLite queue's connection is closed once its schema is made and never opened in the
master, which serves no request.

The background-job consumer must run exactly once, however many workers there are: the
master starts it as one child process (`python -m evidence worker --workers 1`) when it is
ready and stops it when it exits. Not in the master itself (threads in a process that forks
workers are a known hazard) nor in "worker 1" (workers are replaced when they die).

Where gunicorn cannot run (no `fcntl`, e.g. Windows) or with `--server waitress`, waitress
serves from one process with the consumer in its threads, as before.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess  # nosec B404 -- starts this interpreter's job consumer, argument list
import sys
from typing import Any

import click
from flask import Flask

SERVERS = ("auto", "gunicorn", "waitress")
CONSUMER_STOP_SECONDS = 15


def default_workers() -> int:
    """One worker process per CPU this process may use.

    Not gunicorn's 2 x cores + 1 rule of thumb: that is for single-threaded workers blocked on
    I/O. These are threaded (gthread), so threads cover the waits, while the CPU-bound pages
    (the comparison, charts) use one core per process at most (the GIL); one process per core
    keeps the CPUs busy without paying for more copies of matplotlib, scipy and their caches.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def gunicorn_unusable() -> str | None:
    """Return why gunicorn cannot run here, or None when it can."""
    if importlib.util.find_spec("fcntl") is None:
        return "gunicorn needs a POSIX system (no fcntl here)"
    if importlib.util.find_spec("gunicorn") is None:
        return "gunicorn is not installed"
    return None


def consumer_command() -> list[str]:
    """The command of the one background-job consumer (the same settings, from the env)."""
    return [sys.executable, "-m", "evidence", "worker", "--workers", "1"]


def serve_gunicorn(
    app: Flask, *, host: str, port: int, workers: int, threads: int, consumer: bool
) -> None:
    """Serve `app` with gunicorn: `workers` processes of `threads` threads each."""
    from gunicorn.app.base import BaseApplication

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    state: dict[str, subprocess.Popen[bytes]] = {}

    def post_fork(_server: Any, _worker: Any) -> None:
        """In each new worker: drop the pooled connections inherited from the master."""
        engine = app.extensions.get("evidence_engine")
        if engine is not None:
            # close=False: the sockets belong to the master's copies; just forget them here.
            engine.dispose(close=False)

    def when_ready(server: Any) -> None:
        """Once the socket is bound: start the one queue consumer."""
        if consumer:
            command = consumer_command()
            state["consumer"] = subprocess.Popen(command)  # nosec B603 -- fixed args, no shell
            server.log.info("Background jobs: one consumer process (pid %s)", state["consumer"].pid)

    def on_exit(server: Any) -> None:
        """After the workers stopped: stop the consumer (a job cut short resumes next run)."""
        process = state.pop("consumer", None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=CONSUMER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.log.warning("the job consumer did not stop in time: killed")
            process.kill()
            process.wait()

    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        "post_fork": post_fork,
        "when_ready": when_ready,
        "on_exit": on_exit,
        "proc_name": "evidence",
        # X-Forwarded-* is trusted only through EVIDENCE_TRUSTED_PROXIES (ProxyFix in the
        # app), as under waitress: gunicorn itself believes no front end.
        "forwarded_allow_ips": "",
        "secure_scheme_headers": {},
        # No runtime-control socket: a fixed path under $HOME would be shared by every
        # instance on the machine, and its thread would live in the forking master.
        "control_socket_disable": True,
    }

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        """gunicorn's custom application: our settings, our (already built) app."""

        def load_config(self) -> None:
            """Apply the options (gunicorn's command line and config files are not read)."""
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            """Return the app (preloaded: called once, in the master)."""
            return app

    click.echo(
        f"Serving the evidence tracker on http://{bind}/ "
        f"(gunicorn: {workers} worker process(es) x {threads} threads)"
    )
    Server().run()


def serve_waitress(app: Flask, *, host: str, port: int, threads: int, consumer: bool) -> None:
    """Serve `app` with waitress from this one process, the consumer in its threads."""
    import waitress

    if consumer:
        from evidence import jobs

        jobs.start_embedded_consumer(app)
        click.echo("Background jobs run in this process (embedded queue consumer).")
    click.echo(f"Serving the evidence tracker on http://{host}:{port}/ (waitress, one process)")
    waitress.serve(app, host=host, port=port, threads=threads)
