"""Oversized requests, gzip bombs and climbing file names are refused with a message; the
server keeps serving and nothing is left under instance/."""

from __future__ import annotations

import gzip
from pathlib import Path

from flask import Flask
from sqlmodel import Session, func, select

from evidence.db import get_engine
from evidence.models import Citation, FetchJob
from tests.conftest import csrf_token, run_cli
from tests.evidence.literature.test_import_upload import _curator_client, _upload

DATA = Path(__file__).resolve().parents[2] / "data"


def _uploads(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context(), Session(get_engine()) as session:
        citations = session.exec(select(func.count()).select_from(Citation)).one()
        jobs = session.exec(select(func.count()).select_from(FetchJob)).one()
    return int(citations), int(jobs)


def _bomb(inflated: int) -> bytes:
    """A small gzip file of PubMed XML that inflates to `inflated` bytes of whitespace."""
    body = b'<?xml version="1.0"?>\n<PubmedArticleSet>' + b" " * inflated + b"</PubmedArticleSet>"
    return gzip.compress(body, compresslevel=9)


def test_a_request_over_the_bound_gets_413_and_the_server_goes_on(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 200 * 1024
    client = _curator_client(app)
    before = _counts(app)
    resp = _upload(app, client, "big.xml", b"<" + b"x" * 300 * 1024)
    assert resp.status_code == 413
    html = resp.get_data(as_text=True)
    assert "larger than 200 KB" in html and "Nothing was stored" in html
    assert resp.headers["Content-Security-Policy"]
    assert _counts(app) == before and _uploads(app) == []
    from tests.evidence.web.test_api import make_token
    from tests.evidence.web.test_auth import make_user

    token = make_token(app, make_user(app, "doc@clinic.example", "practitioner"))
    api = client.post(
        "/api/v1/reports",
        data=b"{" + b" " * 300 * 1024 + b"}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api.status_code == 413 and api.get_json()["error"] == "too large"
    assert client.get("/").status_code == 200


def test_gzip_inflating_past_the_bound_is_refused_whole(app: Flask) -> None:
    app.config["IMPORT_MAX_INFLATED_BYTES"] = 1024 * 1024
    client = _curator_client(app)
    before = _counts(app)
    bomb = _bomb(8 * 1024 * 1024)
    assert len(bomb) < 20_000
    resp = _upload(app, client, "bomb.xml.gz", bomb)
    assert resp.status_code == 302
    status = client.get(resp.headers["Location"] + ".json").get_json()
    assert status["state"] == "failed"
    assert "inflates past 1,048,576 bytes" in status["error"]
    assert _counts(app)[0] == before[0]
    assert _uploads(app) == []  # the refused upload is gone
    assert client.get("/").status_code == 200


def test_cli_gzip_bomb_refused(app: Flask, tmp_path: Path) -> None:
    app.config["IMPORT_MAX_INFLATED_BYTES"] = 1024 * 1024
    path = tmp_path / "bomb.xml.gz"
    path.write_bytes(_bomb(4 * 1024 * 1024))
    result = run_cli(app, "pubmed", "import", str(path))
    assert result.exit_code == 1
    assert "inflates past" in result.output and "nothing stored" in result.output


def test_a_genuine_gzip_under_the_bound_imports_and_leaves_nothing(app: Flask) -> None:
    client = _curator_client(app)
    body = gzip.compress((DATA / "entrez" / "pubmed4.xml").read_bytes())
    resp = _upload(app, client, "pubmed4.xml.gz", body, treatment="microneedling")
    status = client.get(resp.headers["Location"] + ".json").get_json()
    assert status["state"] == "done" and status["added"] == 1
    assert _uploads(app) == []  # imported: the uploaded copy is removed


def test_file_names_that_climb_are_refused(app: Flask) -> None:
    client = _curator_client(app)
    before = _counts(app)
    for name in ("../../etc/passwd.xml", "..\\evil.xml", "sub/dir.xml"):
        resp = _upload(app, client, name, b"<PubmedArticleSet/>")
        assert resp.status_code == 400, name
        html = resp.get_data(as_text=True)
        assert "a file name may not contain" in html
    assert _counts(app) == before and _uploads(app) == []
    page = client.get("/searches/import")
    assert page.status_code == 200 and csrf_token(page.get_data(as_text=True))
