"""The first pages, as a visitor sees them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from flask import Flask
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation


def _text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_home_lists_treatments_with_real_counts(any_app: Flask) -> None:
    resp = any_app.test_client().get("/")
    assert resp.status_code == 200
    html = resp.data.decode()
    for name in (
        "Microneedling (collagen induction therapy)",
        "Fractional CO2 laser",
        "Microneedling radiofrequency",
        "Microneedling with platelet-rich plasma",
    ):
        assert name in html
    # Counts from the snapshot (citations.json + citations-extra.json): 28 microneedling, 17 CO2.
    card = html.split('data-slug="microneedling"')[1].split("</li>\n  \n")[0]
    assert re.search(r'class="citation-count">28<', card)
    assert re.search(r'class="report-count">3<', card)
    co2 = html.split('data-slug="fractional-co2-laser"')[1]
    assert re.search(r'class="citation-count">17<', co2)


def test_treatment_page_filters_by_level_year_type_and_text(any_app: Flask) -> None:
    client = any_app.test_client()
    all_rows = client.get("/treatments/microneedling").data.decode()
    assert "<strong>28</strong> citations" in all_rows
    level2 = _text(client.get("/treatments/microneedling?level=2").data)
    assert "5 citations" in level2
    assert "Efficacy of a needling device for the treatment of acne scars" in level2
    assert "A Systematic Review" not in level2
    years = _text(client.get("/treatments/microneedling?year_from=2021&year_to=2022").data)
    assert "6 citations" in years  # 6 microneedling records dated 2021-2022 in the source
    rct = _text(client.get("/treatments/microneedling?pub_type=Randomized+Controlled+Trial").data)
    assert "2 citations" in rct and "24919799" in rct and "28009690" in rct
    text = _text(client.get("/treatments/microneedling?q=striae").data)
    assert "Striae Distensae Treatment Review and Update" in text
    assert "Efficacy of a needling device" not in text
    by_ind = _text(client.get("/treatments/microneedling?indication=androgenetic-alopecia").data)
    assert "A Randomized Evaluator Blinded Study" in by_ind
    assert "Efficacy of a needling device" not in by_ind


def test_treatment_page_paginates(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/citations").data.decode()
    assert "page 1 of 3" in first
    second = client.get("/citations?page=2").data.decode()
    third = client.get("/citations?page=3").data.decode()
    pmids = set()
    for page in (first, second, third):
        pmids |= set(re.findall(r'href="/citations/(\d+)"', page))
    assert len(pmids) == 63


def test_treatment_page_shows_reports_with_their_source(app: Flask) -> None:
    html = _text(app.test_client().get("/treatments/microneedling").data)
    assert "Outcome reports (3)" in html
    assert "Donette Smith" in html and "mostly gone" in html
    assert "Medical Spa MD" in html


def test_citation_page_shows_record_level_rule_and_links(any_app: Flask) -> None:
    html = any_app.test_client().get("/citations/24919799").data.decode()
    assert "Efficacy of a needling device for the treatment of acne scars" in html
    assert "Level 2: Randomized controlled trial" in html
    assert "publication type &#39;Randomized Controlled Trial&#39; -&gt; level 2" in html
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/24919799/"' in html
    assert 'href="https://doi.org/10.1001/jamadermatol.2013.8687"' in html
    assert "The offline snapshot carries no abstract" in html
    assert 'href="/treatments/microneedling"' in html
    assert 'href="/indications/acne-scars"' in html


def test_citation_page_says_what_the_snapshot_lacks(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        no_journal = session.exec(select(Citation).where(Citation.journal == None)).first()  # noqa: E711
        assert no_journal is not None
        pmid = no_journal.pmid
    html = app.test_client().get(f"/citations/{pmid}").data.decode()
    assert "Journal not in snapshot." in html


def test_structured_abstract_and_retraction_are_shown(app: Flask) -> None:
    from evidence.models import CitationAbstractSection

    with app.app_context(), session_scope() as session:
        cit = session.exec(select(Citation).where(Citation.pmid == "24919799")).one()
        cit.retraction_status = "retracted"
        for pos, (label, body) in enumerate(
            [("BACKGROUND", "Needling is used."), ("RESULTS", "Scars improved.")]
        ):
            session.add(
                CitationAbstractSection(citation_id=cit.id, position=pos, label=label, text=body)
            )
    html = app.test_client().get("/citations/24919799").data.decode()
    assert "This publication has been retracted." in html
    assert html.index("BACKGROUND:") < html.index("RESULTS:")
    listing = app.test_client().get("/treatments/microneedling").data.decode()
    assert "RETRACTED" in listing


def test_indication_page(any_app: Flask) -> None:
    html = _text(any_app.test_client().get("/indications/acne-scars").data)
    assert "Acne scars (atrophic)" in html
    assert "30 citations" in html


def test_unknown_pages_are_friendly_404s(app: Flask) -> None:
    client = app.test_client()
    for path in ("/treatments/nope", "/citations/1", "/indications/nope", "/nope"):
        resp = client.get(path)
        assert resp.status_code == 404
        assert "Back to the treatments" in resp.data.decode()


def test_server_error_page_is_friendly(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    assert "Something went wrong" in resp.data.decode()


def test_healthz(any_app: Flask) -> None:
    resp = any_app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_dead_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.json["status"] == "unavailable"


def test_evidence_level_rules_page(app: Flask) -> None:
    html = app.test_client().get("/about/evidence-levels").data.decode()
    assert "Randomized Controlled Trial" in html and "Retracted Publication" in html
