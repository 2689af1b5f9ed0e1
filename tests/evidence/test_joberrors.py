"""An offline or unconfigured search says in words what is wrong, on the page, JSON and CLI."""

from __future__ import annotations

import socket
from urllib.error import URLError

from flask import Flask
from sqlmodel import select

from evidence.db import session_scope
from evidence.joberrors import describe_failure
from evidence.models import FetchJob
from pubmed import ConfigurationError, RetriesExhaustedError, TransientEntrezError
from tests.conftest import run_cli

# Python's words a user should never have to read (click itself prefixes "Error: ").
RAW = ("RetriesExhaustedError", "URLError", "gaierror", "Traceback", "Errno", "Transient")


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline(app: Flask) -> None:
    """Point the app at a PubMed address that refuses connections, with fast retries."""
    app.config.update(
        NCBI_EMAIL="tests@example.org",
        NCBI_EUTILS_URL=f"http://127.0.0.1:{closed_port()}/eutils/",
        PUBMED_CLIENT_OPTIONS={
            "timeout": 0.5,
            "max_attempts": 2,
            "backoff_base": 0.01,
            "backoff_max": 0.02,
            "requests_per_second": 1000.0,
        },
    )


def last_job(app: Flask) -> FetchJob:
    """Return the newest fetch job."""
    with app.app_context(), session_scope() as session:
        job = session.exec(select(FetchJob).order_by(FetchJob.id.desc())).first()  # type: ignore[union-attr]
        assert job is not None
        return job


def test_offline_search_explains_itself_on_cli_page_and_json(app: Flask) -> None:
    """The user reads 'NCBI could not be reached: check the network', no Python error names."""
    offline(app)
    result = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling", "--max", "5")
    assert result.exit_code != 0
    assert "NCBI could not be reached: check the network" in result.output
    assert not any(raw in result.output for raw in RAW), result.output
    job = last_job(app)
    assert job.state == "interrupted"
    client = app.test_client()
    status = client.get(f"/searches/jobs/{job.id}.json").get_json()
    assert status["error"].startswith("NCBI could not be reached: check the network")
    assert "connection was refused" in status["error"]
    page = client.get(f"/searches/jobs/{job.id}").get_data(as_text=True)
    assert "NCBI could not be reached: check the network" in page
    assert not any(raw in page for raw in RAW)


def test_missing_email_names_the_setting(app: Flask) -> None:
    """Without NCBI_EMAIL the job fails and says what to set."""
    offline(app)
    app.config["NCBI_EMAIL"] = None
    result = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling")
    assert result.exit_code != 0
    assert "set NCBI_EMAIL" in result.output
    assert "ConfigurationError" not in result.output
    job = last_job(app)
    assert job.state == "failed" and "ConfigurationError" not in (job.error or "")


def test_a_name_lookup_failure_reads_as_no_network() -> None:
    """The error a machine without network raises (gaierror inside URLError) is put in words."""
    inner = TransientEntrezError("network error")
    inner.__cause__ = URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    text = describe_failure(RetriesExhaustedError("gave up after 6 attempts", 6, inner))
    assert text.startswith("NCBI could not be reached: check the network")
    assert "could not be looked up" in text
    assert "resumes" in text
    assert "set NCBI_EMAIL" in describe_failure(ConfigurationError("no email"))
    assert "HTTP 429" in describe_failure(
        RetriesExhaustedError("x", 3, TransientEntrezError("HTTP 429 from x"))
    )
