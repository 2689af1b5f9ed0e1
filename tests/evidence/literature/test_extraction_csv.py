"""Long-format extraction CSV: export, all-or-nothing import with row errors, formula cells."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from sqlmodel import func, select

from evidence.db import session_scope
from evidence.literature import extraction_csv
from evidence.models import ExtractionRevision, Study
from tests.conftest import csrf_token, run_cli
from tests.evidence.web.test_auth import login, make_user

HEADER = ",".join(extraction_csv.COLUMNS)


def _row(**cells: object) -> str:
    return ",".join(str(cells.get(c, "")) for c in extraction_csv.COLUMNS)


def _two_arm_csv(events: int = 4) -> str:
    base = {"pmid": "34854067", "study_design": "randomized parallel", "n_enrolled": 40}
    return "\n".join(
        [
            HEADER,
            _row(**base, arm=1, treatment="microneedling", arm_n=20, row_type="outcome",
                 measure="goodman-baron-qualitative", measure_as_stated="GB grade", n=20,
                 mean=2.1, sd=0.5, sd_of="final"),
            _row(**base, arm=2, treatment="fractional-co2-laser", arm_n=20, row_type="outcome",
                 measure="goodman-baron-qualitative", measure_as_stated="GB grade", n=20,
                 mean=1.8, sd=0.6, sd_of="final"),
            _row(**base, arm=2, row_type="adverse_event", measure="pih", events=events, total=20),
        ]
    ) + "\n"  # fmt: skip


def _count(app: Flask, model: type) -> int:
    with app.app_context(), session_scope() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_export_has_one_row_per_study_arm_outcome(any_app: Flask) -> None:
    with any_app.app_context(), session_scope() as session:
        text = extraction_csv.export_csv(session)
    rows = list(csv.DictReader(io.StringIO(text)))
    co2 = [r for r in rows if r["pmid"] == "39640445" and r["row_type"] == "adverse_event"]
    assert sorted((r["arm"], r["treatment"], r["percent"]) for r in co2) == [
        ("1", "fractional-co2-laser", "30.0"),
        ("2", "microneedling", "6.67"),
    ]
    assert {r["verified"] for r in rows} == {"no"}
    assert len({r["pmid"] for r in rows}) == 42


def test_import_round_trip_changes_nothing(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        text = extraction_csv.export_csv(session)
    revisions = _count(app, ExtractionRevision)
    with app.app_context(), session_scope() as session:
        result = extraction_csv.import_csv(session, text.encode(), user_id=None)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 42)
    assert _count(app, ExtractionRevision) == revisions


def test_bad_row_imports_nothing_and_names_row_and_column(app: Flask) -> None:
    studies = _count(app, Study)
    with (
        pytest.raises(extraction_csv.ImportFailed) as failed,
        app.app_context(),
        session_scope() as session,
    ):
        extraction_csv.import_csv(session, _two_arm_csv(events=25).encode(), user_id=None)
    assert [str(e) for e in failed.value.errors] == [
        "row 4, column events: adverse event 1: 25 events is above n 20"
    ]
    assert _count(app, Study) == studies
    with app.app_context(), session_scope() as session:
        result = extraction_csv.import_csv(session, _two_arm_csv().encode(), user_id=None)
    assert result.created == 1
    assert _count(app, Study) == studies + 1


def test_formula_cells_are_neutralised_and_restored(app: Flask) -> None:
    text = _two_arm_csv().replace("GB grade", "=HYPERLINK(x)")
    with app.app_context(), session_scope() as session:
        extraction_csv.import_csv(session, text.encode(), user_id=None)
        out = extraction_csv.export_csv(session)
    assert "'=HYPERLINK(x)" in out
    assert extraction_csv.neutralise(-1.5) == "-1.5"
    assert extraction_csv.neutralise("@SUM(A1)") == "'@SUM(A1)"


def test_upload_page_is_for_curators_and_lists_row_errors(app: Flask) -> None:
    make_user(app, "cur@example.org", "curator")
    client = app.test_client()
    login(client, "cur@example.org")
    token = csrf_token(client.get("/extraction/import").data.decode())
    data = {"csrf_token": token, "file": (io.BytesIO(_two_arm_csv(25).encode()), "x.csv")}
    resp = client.post("/extraction/import", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "25 events is above n 20" in resp.data.decode()
    before = _count(app, Study)
    data = {"csrf_token": token, "file": (io.BytesIO(_two_arm_csv().encode()), "x.csv")}
    resp = client.post("/extraction/import", data=data, content_type="multipart/form-data")
    assert "1 studies created" in resp.data.decode()
    assert _count(app, Study) == before + 1


def test_cli_export_and_import(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.csv"
    result = run_cli(app, "extraction", "export", "-o", str(out))
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(_two_arm_csv(25))
    result = run_cli(app, "extraction", "import", str(bad))
    assert result.exit_code == 1
    assert "row 4, column events" in result.output
    result = run_cli(app, "extraction", "import", str(out))
    assert result.exit_code == 0 and "42 unchanged" in result.output
