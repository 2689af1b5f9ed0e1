"""An import without a treatment: the records stay findable (export, table filter, report)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Flask
from sqlmodel import Session, func, select

from evidence.db import get_engine
from evidence.models import Citation
from tests.conftest import run_cli

DATA = Path(__file__).resolve().parents[2] / "data"


def test_import_without_treatment_says_how_many_are_unlinked_and_they_export(
    any_app: Flask,
) -> None:
    result = run_cli(any_app, "pubmed", "import", str(DATA / "entrez" / "pubmed4.xml"))
    assert result.exit_code == 0, result.output
    assert "1 left unlinked" in result.output
    assert "/citations?status=unlinked" in result.output
    assert "--treatment SLUG" in result.output

    with any_app.app_context(), Session(get_engine()) as session:
        total = session.exec(select(func.count()).select_from(Citation)).one()
    exported = run_cli(any_app, "export", "citations", "--columns", "pmid")
    assert exported.exit_code == 0, exported.output
    pmids = [row[0] for row in csv.reader(io.StringIO(exported.stdout))][1:]
    # No filter: every citation of the database, the unlinked import among them.
    assert len(pmids) == total and "27797938" in pmids

    only = run_cli(any_app, "export", "citations", "--status", "unlinked", "--columns", "pmid")
    assert [r[0] for r in csv.reader(io.StringIO(only.stdout))][1:] == ["27797938"]

    client = any_app.test_client()
    page = client.get("/citations?status=unlinked").data.decode()
    assert 'href="/citations/27797938"' in page
    assert '<option value="unlinked" selected>' in page
    assert "<strong>1</strong> citation" in page
    # The default table (included links) does not list it; the filter is how one finds it.
    assert 'href="/citations/27797938"' not in client.get("/citations").data.decode()


def test_import_with_treatment_reports_nothing_unlinked(app: Flask) -> None:
    result = run_cli(
        app,
        "pubmed",
        "import",
        str(DATA / "entrez" / "pubmed4.xml"),
        "--treatment",
        "microneedling",
    )
    assert result.exit_code == 0, result.output
    assert "linked 1" in result.output and "unlinked" not in result.output
    exported = run_cli(
        app, "export", "citations", "--treatment", "microneedling", "--columns", "pmid"
    )
    # With a treatment the export keeps its default of included links: the candidate waits.
    assert "27797938" not in exported.stdout


def test_web_import_without_treatment_reports_the_unlinked_records(app: Flask) -> None:
    from tests.evidence.literature.test_import_upload import _curator_client, _upload

    client = _curator_client(app)
    body = (DATA / "entrez" / "pubmed4.xml").read_bytes()
    resp = _upload(app, client, "pubmed4.xml", body)
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).data.decode()
    assert "1 left unlinked" in page and "status=unlinked" in page
