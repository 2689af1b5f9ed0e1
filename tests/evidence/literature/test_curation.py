"""Curators screen citation links: a candidate is included, excluded with a reason, or linked."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation, CitationLink, Treatment
from tests.conftest import csrf_token
from tests.evidence.web.test_auth import login, make_user

PMID = "24919799"  # "Efficacy of a needling device ...": microneedling, acne scars


def _link(app: Flask) -> CitationLink:
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == PMID)).one()
        return session.exec(select(CitationLink).where(CitationLink.citation_id == cit.id)).one()


def _make_candidate(app: Flask) -> int:
    """Turn the snapshot link into an unscreened candidate, as a search or import leaves it."""
    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == PMID)).one()
        link = session.exec(select(CitationLink).where(CitationLink.citation_id == cit.id)).one()
        link.status, link.found_by = "candidate", "import:test.xml"
        assert link.id is not None
        return link.id


def _curator(app: Flask) -> FlaskClient:
    make_user(app, "curator@example.org", "curator")
    client = app.test_client()
    login(client, "curator@example.org")
    return client


def _listed(client: FlaskClient, query: str = "") -> bool:
    html = client.get(f"/treatments/microneedling{query}").data.decode()
    return f'href="/citations/{PMID}"' in html


def test_candidate_is_hidden_until_a_curator_includes_it(app: Flask) -> None:
    link_id = _make_candidate(app)
    client = _curator(app)
    assert not _listed(client)
    assert _listed(client, "?status=candidate")
    page = client.get(f"/citations/{PMID}").data.decode()
    assert "Include" in page
    resp = client.post(
        f"/citations/{PMID}/links/{link_id}/status",
        data={"csrf_token": csrf_token(page), "status": "included"},
    )
    assert resp.status_code == 302
    assert _listed(client)
    link = _link(app)
    assert link.status == "included" and link.decided_by_id is not None
    assert link.decided_at is not None


def test_exclusion_needs_a_reason_and_keeps_it(app: Flask) -> None:
    client = _curator(app)
    link_id = _link(app).id
    page = client.get(f"/citations/{PMID}").data.decode()
    refused = client.post(
        f"/citations/{PMID}/links/{link_id}/status",
        data={"csrf_token": csrf_token(page), "status": "excluded", "reason": "  "},
        follow_redirects=True,
    )
    assert "Give the reason for excluding" in refused.data.decode()
    assert _link(app).status == "included"
    client.post(
        f"/citations/{PMID}/links/{link_id}/status",
        data={"csrf_token": csrf_token(page), "status": "excluded", "reason": "wrong device"},
    )
    assert _link(app).status == "excluded"
    assert not _listed(client)
    html = client.get(f"/citations/{PMID}").data.decode()
    assert "excluded because wrong device" in html
    assert _listed(client, "?status=excluded")


def test_curator_links_a_citation_to_another_treatment(app: Flask) -> None:
    client = _curator(app)
    page = client.get(f"/citations/{PMID}").data.decode()
    resp = client.post(
        f"/citations/{PMID}/links",
        data={"csrf_token": csrf_token(page), "treatment": "microneedling-prp"},
    )
    assert resp.status_code == 302
    html = client.get("/treatments/microneedling-prp").data.decode()
    assert f'href="/citations/{PMID}"' in html
    with app.app_context(), session_scope() as session:
        prp = session.exec(select(Treatment).where(Treatment.slug == "microneedling-prp")).one()
        link = session.exec(
            select(CitationLink)
            .where(CitationLink.treatment_id == prp.id)
            .where(CitationLink.found_by == "curator")
        ).one()
        assert link.status == "included" and link.indication_id is None


def test_visitors_see_no_screening_controls(app: Flask) -> None:
    html = app.test_client().get(f"/citations/{PMID}").data.decode()
    assert not re.search(r"/citations/\d+/links", html)
    assert "Link as included" not in html
