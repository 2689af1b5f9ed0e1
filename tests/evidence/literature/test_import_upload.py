"""Curators import a file from the browser: a background job, all-or-nothing, then screening."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from sqlmodel import select

from evidence import jobs
from evidence.db import session_scope
from evidence.models import Citation, CitationLink, FetchJob
from tests.conftest import csrf_token
from tests.evidence.web.test_auth import login, make_user

DATA = Path(__file__).resolve().parents[2] / "data"


def _curator_client(app: Flask):  # type: ignore[no-untyped-def]
    make_user(app, "curator@example.org", "curator")
    client = app.test_client()
    login(client, "curator@example.org")
    return client


def _upload(app: Flask, client, name: str, body: bytes, **fields: str):  # type: ignore[no-untyped-def]
    page = client.get("/searches/import").data.decode()
    app.config["HUEY_IMMEDIATE"] = True
    jobs.init_app(app)
    try:
        return client.post(
            "/searches/import",
            data={"csrf_token": csrf_token(page), "file": (io.BytesIO(body), name), **fields},
            content_type="multipart/form-data",
        )
    finally:
        jobs.get_queue(app).huey.immediate = False


def test_uploaded_pubmed_xml_is_imported_and_waits_for_screening(app: Flask) -> None:
    client = _curator_client(app)
    body = (DATA / "entrez" / "pubmed4.xml").read_bytes()
    resp = _upload(app, client, "pubmed4.xml", body, treatment="microneedling")
    assert resp.status_code == 302
    status = client.get(resp.headers["Location"] + ".json").get_json()
    assert status["state"] == "done" and status["added"] == 1
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "27797938")).one()
        assert cit.complete and cit.journal
        link = session.exec(select(CitationLink).where(CitationLink.citation_id == cit.id)).one()
        assert link.status == "candidate"
    candidates = client.get("/treatments/microneedling?status=candidate").data.decode()
    assert 'href="/citations/27797938"' in candidates


def test_entity_bomb_upload_is_rejected_whole(app: Flask) -> None:
    client = _curator_client(app)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><PubmedArticleSet>&b;</PubmedArticleSet>'
    )
    with app.app_context(), session_scope() as session:
        before = len(session.exec(select(Citation)).all())
    resp = _upload(app, client, "bomb.xml", bomb)
    assert resp.status_code == 302
    status = client.get(resp.headers["Location"] + ".json").get_json()
    assert status["state"] == "failed"
    assert "entit" in (status.get("error") or "").lower()
    with app.app_context(), session_scope() as session:
        assert len(session.exec(select(Citation)).all()) == before


def test_wrong_kind_of_file_is_refused_with_a_message(app: Flask) -> None:
    client = _curator_client(app)
    resp = _upload(app, client, "photo.jpg", b"\xff\xd8\xff", treatment="microneedling")
    assert resp.status_code == 400
    html = resp.data.decode()
    assert "photo.jpg: not a file this import reads" in html
    assert '<option value="microneedling" selected>' in html
    with app.app_context(), session_scope() as session:
        assert session.exec(select(FetchJob)).all() == []


def test_an_import_job_shows_no_server_path_and_only_to_curators(app: Flask) -> None:
    """The job's JSON names the uploaded file, never instance/uploads; visitors get 403."""
    client = _curator_client(app)
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><PubmedArticleSet/>'
    resp = _upload(app, client, "bomb.xml", bomb)
    url = resp.headers["Location"]
    body = client.get(url + ".json").get_data(as_text=True)
    assert '"state":"failed"' in body.replace(" ", "")
    assert app.instance_path not in body and "uploads" not in body
    assert "bomb.xml" in body
    visitor = app.test_client()
    assert visitor.get(url + ".json").status_code == 403
    assert visitor.get(url).status_code == 403
