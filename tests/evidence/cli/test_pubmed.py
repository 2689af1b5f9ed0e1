"""`evidence pubmed fetch|import|refresh` and `evidence worker` from the shell."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation, FetchJob
from tests.conftest import run_cli
from tests.evidence.pubmed_helpers import (
    ENTREZ,
    MEDLINE,
    citation,
    count_rows,
    links_of,
    pmid_counts,
    use_fake,
)
from tests.fake_eutils import FakeEutils, recorded_corpus, synthetic_corpus


@pytest.fixture
def fake_server() -> Iterator[FakeEutils]:
    """A fake E-utilities server with the recorded records plus 40 replicated ones."""
    corpus = recorded_corpus() + synthetic_corpus(40, files=("pubmed1.xml",))
    with FakeEutils(corpus) as server:
        yield server


def test_fetch_stores_records_and_shows_progress(app: Flask, fake_server: FakeEutils) -> None:
    """`pubmed fetch` runs the saved search with a progress bar and reports the counts."""
    use_fake(app, fake_server)
    result = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling", "--max", "25")
    assert result.exit_code == 0, result.output
    assert "job 1 done: 25/25 fetched, 25 added" in result.output
    assert "expected 25, got 25" in result.output
    assert "25/25" in (result.stderr or result.output)  # tqdm's bar
    assert count_rows(app, Citation, source="entrez") == 25


def test_fetch_with_query_and_indication(app: Flask, fake_server: FakeEutils) -> None:
    """--query and --indication make a separate saved search whose records link to both."""
    use_fake(app, fake_server)
    fake_server.set_query("needling AND scars", [9997, 11748933])
    result = run_cli(
        app,
        "pubmed",
        "fetch",
        "--treatment",
        "microneedling",
        "--indication",
        "acne-scars",
        "--query",
        "needling AND scars",
    )
    assert result.exit_code == 0, result.output
    (link,) = links_of(app, 9997)
    assert link.status == "candidate" and link.indication_id is not None
    unknown = run_cli(app, "pubmed", "fetch", "--treatment", "nope")
    assert unknown.exit_code != 0 and "no treatment 'nope'" in unknown.output


def test_interrupted_fetch_resumes_when_run_again(app: Flask, fake_server: FakeEutils) -> None:
    """Network loss mid-fetch exits non-zero; the same command again finishes the job."""
    use_fake(app, fake_server)
    app.config["PUBMED_CLIENT_OPTIONS"]["max_attempts"] = 2
    # Batches of 500 would fetch this corpus in one go: fail the very first efetch.
    fake_server.inject("503", "efetch", times=2)
    first = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling")
    assert first.exit_code == 1 and "resume" in first.output
    again = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling")
    assert again.exit_code == 0 and "resuming job 1" in again.output
    assert count_rows(app, FetchJob) == 1
    assert all(n == 1 for n in pmid_counts(app).values())


def test_import_reports_each_file_and_fails_on_rejection(app: Flask, tmp_path: Path) -> None:
    """Good files are stored, a broken one stores nothing, and the command exits 1."""
    packed = tmp_path / "pubmed4.xml.gz"
    packed.write_bytes(gzip.compress((ENTREZ / "pubmed4.xml").read_bytes()))
    broken = tmp_path / "broken.xml"
    broken.write_bytes((ENTREZ / "pubmed1.xml").read_bytes()[:3000])
    result = run_cli(
        app,
        "pubmed",
        "import",
        str(ENTREZ / "pubmed1.xml"),
        str(packed),
        str(MEDLINE / "pubmed_result1.txt"),
        str(broken),
        "--treatment",
        "fractional-co2-laser",
    )
    assert result.exit_code == 1
    assert "pubmed1.xml: xml, read 2, added 2" in result.output
    assert "pubmed4.xml.gz: xml, read 1, added 1" in result.output
    assert "pubmed_result1.txt: medline, read 1, added 1" in result.output
    assert "broken.xml: REJECTED" in result.output and "malformed" in result.output
    assert "1 of 4 files rejected" in result.output
    assert len(links_of(app, 27797938)) == 1
    again = run_cli(app, "pubmed", "import", str(ENTREZ / "pubmed1.xml"))
    assert again.exit_code == 0 and "added 0, updated 0, unchanged 2" in again.output


def test_refresh_needs_a_choice_and_completes_records(app: Flask, fake_server: FakeEutils) -> None:
    """`refresh --pmid` re-fetches; `refresh` alone is a usage error."""
    use_fake(app, fake_server)
    assert run_cli(app, "pubmed", "refresh").exit_code == 2
    run_cli(app, "pubmed", "import", str(MEDLINE / "pubmed_result1.txt"))
    result = run_cli(app, "pubmed", "refresh", "--pmid", "9997", "--pmid", "11748933")
    assert result.exit_code == 0, result.output
    row = citation(app, 9997)
    assert row is not None and row.source == "entrez" and row.complete
    with app.app_context(), session_scope() as session:
        job = session.exec(select(FetchJob).where(FetchJob.kind == "refresh")).one()
        assert (job.total, job.done, job.added) == (2, 2, 2)


def test_worker_command_is_registered(app: Flask) -> None:
    """`evidence worker --help` describes the consumer."""
    result = run_cli(app, "worker", "--help")
    assert result.exit_code == 0 and "background job consumer" in result.output
