"""`evidence export` as a researcher types it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import rispy
from flask import Flask
from sqlmodel import Session

from evidence import queries
from evidence.db import get_engine
from tests.conftest import run_cli


def test_export_microneedling_as_ris_to_a_file(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "microneedling.ris"
    result = run_cli(
        app,
        "export",
        "citations",
        "--format",
        "ris",
        "--treatment",
        "microneedling",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "wrote 28 citations" in result.output
    entries = rispy.loads(out.read_text(encoding="utf-8"))
    assert len(entries) == 28
    assert all(e["type_of_reference"] == "JOUR" and e["accession_number"] for e in entries)


def test_csv_to_stdout_with_columns_and_filters(app: Flask) -> None:
    result = run_cli(
        app,
        "export",
        "citations",
        "--treatment",
        "microneedling",
        "--level",
        "2",
        "--columns",
        "pmid,year,evidence_level",
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["pmid", "year", "evidence_level"]
    assert len(rows) > 1 and all(r[2] == "2" for r in rows[1:])


def test_xlsx_file_and_aliases(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "all.xlsx"
    result = run_cli(app, "export", "citations", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    with app.app_context(), Session(get_engine()) as session:
        included = queries.count_citations(session, queries.CitationFilter())
    book = openpyxl.load_workbook(out, read_only=True)
    rows = list(book["Citations"].iter_rows(values_only=True))
    book.close()
    assert len(rows) == 1 + included
    assert rows[0][0] == "pmid" and all(str(r[0]).isdigit() for r in rows[1:])
    bib = run_cli(app, "export", "citations", "--format", "bib", "--indication", "melasma")
    assert bib.exit_code == 0 and bib.stdout.count("@article{") >= 1


def test_unknown_names_are_refused(app: Flask) -> None:
    result = run_cli(app, "export", "citations", "--treatment", "lipo-laser")
    assert result.exit_code == 2
    assert "no treatment 'lipo-laser'; known: microneedling," in result.output
    bad_column = run_cli(app, "export", "citations", "--columns", "pmid,secret")
    assert bad_column.exit_code == 2 and "Unknown column 'secret'" in bad_column.output


def test_reports_csv(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "reports.csv"
    result = run_cli(app, "export", "reports", "--treatment", "microneedling", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 3 and {r["reported_by"] for r in rows} == {"quoted source"}
    bad = run_cli(app, "export", "reports", "--event", "sunburn")
    assert bad.exit_code == 2
