"""Duplicates: exact ones merged on import and fetch, near ones decided by a curator, related
records (errata, preprints) linked, not merged; the decisions as CSV; the counts in PRISMA."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flask import Flask
from sqlmodel import select

from evidence.db import get_engine, session_scope
from evidence.literature import ingest, prisma, screening
from evidence.models import Citation, CitationLink, DuplicatePair
from pubmed.records import CommentCorrection
from tests.evidence.pubmed_helpers import article_with, citation, write_articles
from tests.evidence.screening_helpers import cell_ids, hidden, record, store
from tests.evidence.web.test_auth import login, make_user

TITLE = "Microneedling with autologous platelet-rich plasma for atrophic acne scars: a trial"


def _pairs(app: Flask) -> list[DuplicatePair]:
    with app.app_context(), session_scope() as session:
        return list(session.exec(select(DuplicatePair).order_by(DuplicatePair.id)))  # type: ignore[arg-type]


def _links(app: Flask, pmid: str) -> list[CitationLink]:
    with app.app_context(), session_scope() as session:
        cid = session.exec(select(Citation.id).where(Citation.pmid == pmid)).one()
        return list(session.exec(select(CitationLink).where(CitationLink.citation_id == cid)))


def _prisma(app: Flask) -> prisma.Prisma:
    with app.app_context(), session_scope() as session:
        cell = screening.find_cell(session, "microneedling", "acne-scars")
        assert cell is not None
        return prisma.counts(session, cell=cell)


def test_a_new_pmid_with_a_known_doi_is_merged_on_import(any_app: Flask, tmp_path: Path) -> None:
    app = any_app
    before = _prisma(app)
    tid, iid = cell_ids(app)
    first = write_articles(tmp_path / "first.xml", [article_with(94000001)])
    # The same article under another PMID, carrying the first record's DOI.
    again = article_with(94000002).replace(b"90109-4.94000002<", b"90109-4.94000001<")
    second = write_articles(tmp_path / "second.xml", [again])
    for path in (first, second):
        report = ingest.import_path(
            get_engine(app),
            path,
            link=ingest.LinkTarget(treatment_id=tid, indication_id=iid),
        )
        assert report.ok, report.rejected
    assert citation(app, 94000001) is not None
    assert citation(app, 94000002) is None  # merged into the record stored first
    (pair,) = _pairs(app)
    assert (pair.kind, pair.state, pair.matched_on, pair.other_pmid) == (
        "exact",
        "merged",
        "doi",
        "94000002",
    )
    assert pair.decided_by_id is None and pair.decided_at is not None  # automatic, dated
    assert json.loads(pair.removed_links) == [[tid, iid, "import:second.xml"]]
    # The removed PMID's page sends readers to the record it was merged into.
    moved = app.test_client().get("/citations/94000002", follow_redirects=True)
    assert moved.request.path == "/citations/94000001"
    assert "PMID 94000002 was merged into PMID 94000001" in moved.data.decode()
    after = _prisma(app)
    assert after.check() == []
    assert after.identified["Import file first.xml"] == 1
    assert after.identified["Import file second.xml"] == 1
    assert after.duplicates_exact == before.duplicates_exact + 1
    assert after.screened == before.screened + 1


def test_a_pmcid_match_moves_links_to_the_kept_record(app: Flask) -> None:
    store(app, [record(94000011, TITLE, pmcid="PMC7000011", doi=None)], found_by="search:1")
    store(
        app,
        [record(94000012, TITLE + " (version two)", pmcid="pmc7000011", doi=None)],
        found_by="import:other.xml",
        indication="striae",
    )
    assert citation(app, 94000012) is None
    links = _links(app, "94000011")
    # The merged record's striae link moved to the kept record; nothing counted as removed.
    assert len(links) == 2
    (pair,) = _pairs(app)
    assert pair.matched_on == "pmcid" and json.loads(pair.removed_links) == []


def test_the_same_pmid_from_a_second_source_counts_as_a_duplicate_once(app: Flask) -> None:
    before = _prisma(app)
    rec = record(94000021, TITLE)
    store(app, [rec], found_by="search:1")
    store(app, [rec], found_by="import:export.nbib")
    store(app, [rec], found_by="import:export.nbib")  # the same file again adds nothing
    after = _prisma(app)
    assert after.duplicates_exact == before.duplicates_exact + 1
    assert after.identified_total == before.identified_total + 2
    assert after.screened == before.screened + 1
    assert after.check() == []


def test_near_duplicate_is_offered_and_a_curator_merges_it(app: Flask) -> None:
    before = _prisma(app)
    store(app, [record(94000031, TITLE, doi="10.1000/a")])
    store(
        app,
        [record(94000032, TITLE.upper().replace(":", " -") + ".", doi="10.1000/b")],
        found_by="import:second-database.ris",
    )
    store(app, [record(94000033, "An unrelated study of lasers for melasma", doi="10.1000/c")])
    (pair,) = _pairs(app)
    assert (pair.kind, pair.state, pair.other_pmid) == ("near", "pending", "94000032")
    assert pair.score is not None and pair.score >= 92
    assert citation(app, 94000032) is not None  # offered, not merged

    make_user(app, "curator@example.org", "curator")
    client = app.test_client()
    login(client, "curator@example.org")
    page = client.get("/duplicates").data.decode()
    assert "Near-duplicates to decide (1)" in page and "PMID 94000032" in page
    token = hidden(page, f"p{pair.id}-csrf_token")
    resp = client.post(
        f"/duplicates/{pair.id}", data={f"p{pair.id}-csrf_token": token, f"p{pair.id}-merge": "y"}
    )
    assert resp.status_code == 302
    assert citation(app, 94000032) is None
    (merged,) = _pairs(app)
    assert merged.state == "merged" and merged.decided_by_id is not None
    after = _prisma(app)
    assert after.duplicates_near == before.duplicates_near + 1
    assert after.identified["Import file second-database.ris"] == 1
    assert after.check() == []

    rows = list(csv.DictReader(io.StringIO(client.get("/duplicates.csv").data.decode("utf-8-sig"))))
    assert [
        (r["kind"], r["state"], r["kept_pmid"], r["other_pmid"], r["decided_by"]) for r in rows
    ] == [("near", "merged", "94000031", "94000032", "curator@example.org")]
    # Deciding twice is refused with a message.
    again = client.post(
        f"/duplicates/{pair.id}",
        data={f"p{pair.id}-csrf_token": token, f"p{pair.id}-keep": "y"},
        follow_redirects=True,
    )
    assert "already decided" in again.data.decode()


def test_a_curator_keeps_a_near_pair_separate(app: Flask) -> None:
    store(app, [record(94000041, TITLE, doi="10.1000/d")])
    store(app, [record(94000042, TITLE.lower(), doi="10.1000/e")])
    (pair,) = _pairs(app)
    uid = make_user(app, "curator@example.org", "curator")
    with app.app_context(), session_scope() as session:
        from evidence.literature import duplicates

        duplicates.decide(session, pair_id=pair.id or 0, action="keep", user_id=uid)
    (kept,) = _pairs(app)
    assert kept.state == "kept-separate" and kept.decided_by_id == uid and kept.decided_at
    assert citation(app, 94000041) is not None and citation(app, 94000042) is not None


def test_near_pairs_need_the_same_first_author_and_year_whenever_stored(app: Flask) -> None:
    """The block is read by citation.first_author_key; a row stored before the key existed
    (NULL) is read with its first author, so it is still offered."""
    store(app, [record(94000061, TITLE, author="O'Brien-Smith", doi="10.1000/h")])
    with app.app_context(), session_scope() as session:
        stored = session.exec(select(Citation).where(Citation.pmid == "94000061")).one()
        assert stored.first_author_key == "obriensmith"
        stored.first_author_key = None  # as migration 0014 finds a row with no author
        session.add(stored)
    store(app, [record(94000062, TITLE.lower(), author="O'BRIEN SMITH", doi="10.1000/i")])
    store(app, [record(94000063, TITLE.lower(), author="Alvarez", doi="10.1000/j")])
    store(app, [record(94000064, TITLE.lower(), year=2019, author="Obriensmith")])
    store(app, [record(94000065, TITLE, author="Alvarez", doi="10.1000/k")])
    assert [(p.kind, p.other_pmid, p.matched_on.split(", ", 1)[1]) for p in _pairs(app)] == [
        ("near", "94000062", "year 2021, first author obriensmith"),
        ("near", "94000065", "year 2021, first author alvarez"),
    ]


def test_titles_differing_in_numbers_are_not_offered(app: Flask) -> None:
    store(app, [record(94000051, "Needling for acne scars: 12-month results", doi="10.1000/f")])
    store(app, [record(94000052, "Needling for acne scars: 24-month results", doi="10.1000/g")])
    assert _pairs(app) == []


def test_erratum_and_preprint_are_linked_not_merged(app: Flask) -> None:
    store(app, [record(94000061, TITLE, doi="10.1000/orig")])
    erratum = record(
        94000062,
        f"Erratum: {TITLE}",
        doi="10.1000/erratum",
        publication_types=["Published Erratum"],
        comments=[CommentCorrection(ref_type="ErratumFor", pmid=94000061)],
    )
    preprint = record(94000063, TITLE, doi="10.1000/orig", publication_types=["Preprint"])
    store(app, [erratum, preprint])
    pairs = {(p.kind, p.state, p.other_pmid) for p in _pairs(app)}
    assert pairs == {("erratum", "linked", "94000062"), ("preprint", "linked", "94000063")}
    for pmid in (94000061, 94000062, 94000063):
        assert citation(app, pmid) is not None
