"""Full-text search in the citation table, on SQLite (FTS5) and PostgreSQL (tsvector + GIN)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from sqlmodel import select

from evidence.db import get_engine, session_scope
from evidence.literature import search
from evidence.literature.ingest import import_path
from evidence.models import Citation, CitationAuthor, CitationMesh
from tests.evidence.pubmed_helpers import article_with, write_articles

# PMIDs of the generated records (beyond every real PMID in the snapshot).
TITLE_HIT, ABSTRACT_HIT, NEWEST_HIT, AUTHOR, PHRASE, SCRAMBLED = (
    "99100001",
    "99100002",
    "99100003",
    "99100004",
    "99100005",
    "99100006",
)


def _add(
    session: object,
    pmid: str,
    title: str,
    *,
    abstract: str = "",
    year: int = 2015,
    journal: str = "Dermatologic Surgery",
    authors: tuple[str, ...] = ("Doe",),
    mesh: tuple[str, ...] = (),
) -> None:
    """Add one citation with authors and MeSH headings, as the ORM does (triggers mark it)."""
    citation = Citation(
        pmid=pmid, title=title, abstract=abstract or None, year=year, journal=journal
    )
    session.add(citation)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    assert citation.id is not None
    for pos, last in enumerate(authors):
        session.add(  # type: ignore[attr-defined]
            CitationAuthor(citation_id=citation.id, position=pos, last_name=last, initials="J")
        )
    for pos, heading in enumerate(mesh):
        session.add(  # type: ignore[attr-defined]
            CitationMesh(citation_id=citation.id, position=pos, descriptor=heading)
        )


@pytest.fixture()
def search_app(any_app: Flask) -> Flask:
    """The snapshot app plus six generated citations made to tell search behaviours apart."""
    with any_app.app_context(), session_scope() as session:
        _add(session, TITLE_HIT, "Tranexamic acid for chloasma: a split-face trial", year=2012)
        _add(
            session,
            ABSTRACT_HIT,
            "Skin lightening agents compared",
            abstract="Among other pigment disorders, chloasma was seen in two patients.",
            year=2013,
        )
        _add(
            session,
            NEWEST_HIT,
            "Pigment disorders after resurfacing",
            abstract="One case of chloasma.",
            year=2024,
            journal="Lasers in Surgery and Medicine",
        )
        _add(
            session,
            AUTHOR,
            "Outcomes of needling in darker skin",
            authors=("Quixley", "Brandt"),
            mesh=("Melanosis", "Needles"),
        )
        _add(session, PHRASE, "Picosecond laser toning of the face", year=2019)
        _add(session, SCRAMBLED, "Laser hair removal: toning down pain", year=2020)
    return any_app


def _pmids(app: Flask, q: str, **args: str) -> list[str]:
    """Return the PMIDs the citation table lists for a search, in the table's order."""
    response = app.test_client().get("/citations", query_string={"q": q, "status": "any", **args})
    assert response.status_code == 200
    body = response.data.decode()
    return re.findall(r'<td><a href="/citations/(\d+)">', body)


def test_ranking_puts_title_hits_first_and_newest_first_is_an_option(search_app: Flask) -> None:
    """A word in a title outranks the same word once in an abstract; 'Newest first' reorders."""
    relevant = _pmids(search_app, "chloasma")
    assert set(relevant) == {TITLE_HIT, ABSTRACT_HIT, NEWEST_HIT}
    assert relevant[0] == TITLE_HIT
    assert _pmids(search_app, "chloasma", sort="newest") == [NEWEST_HIT, ABSTRACT_HIT, TITLE_HIT]


def test_words_are_stemmed_and_all_must_match(search_app: Flask) -> None:
    """'disorder pigments' finds 'pigment disorders' (stemming) and needs both words."""
    assert set(_pmids(search_app, "disorder pigments")) == {ABSTRACT_HIT, NEWEST_HIT}
    assert set(_pmids(search_app, "chloasma resurfacing")) == {NEWEST_HIT}


def test_phrase_needs_the_words_together(search_app: Flask) -> None:
    """ "laser toning" finds the adjacent words only; the words apart match without quotes."""
    assert _pmids(search_app, '"laser toning"') == [PHRASE]
    assert set(_pmids(search_app, "laser toning")) == {PHRASE, SCRAMBLED}


def test_prefix_or_and_not(search_app: Flask) -> None:
    """word* matches its completions; OR widens; NOT removes."""
    assert set(_pmids(search_app, "chloas*")) == {TITLE_HIT, ABSTRACT_HIT, NEWEST_HIT}
    assert set(_pmids(search_app, "picosecond OR quixley")) == {PHRASE, AUTHOR}
    assert set(_pmids(search_app, "chloasma NOT resurfacing")) == {TITLE_HIT, ABSTRACT_HIT}


def test_field_tags_search_one_field(search_app: Flask) -> None:
    """[ti] [au] [mh] [ta] restrict a term to the title, authors, MeSH or journal."""
    assert _pmids(search_app, "chloasma[ti]") == [TITLE_HIT]
    assert _pmids(search_app, "quixley[au]") == [AUTHOR]
    assert _pmids(search_app, "quixley[ti]") == []
    assert _pmids(search_app, "melanosis[mh]") == [AUTHOR]
    assert _pmids(search_app, "chloasma lasers[ta]") == [NEWEST_HIT]
    assert set(_pmids(search_app, '"acid for chloasma"[ti] OR quix*[au]')) == {TITLE_HIT, AUTHOR}


def test_pmid_still_finds_its_citation(search_app: Flask) -> None:
    """A PMID typed in the text box lists that citation."""
    assert _pmids(search_app, PHRASE) == [PHRASE]


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ('"laser toning', "quotation mark is not closed"),
        ("laser[xx]", "Unknown field tag [xx]"),
        ("NOT laser", "not preceded by NOT"),
        ("(laser OR needling", "parenthesis is not closed"),
        ("***", "no word to look for"),
    ],
)
def test_bad_syntax_gets_a_message_not_an_error(search_app: Flask, q: str, message: str) -> None:
    """Text that is not a search shows why on the page (200, no rows), never a server error."""
    response = search_app.test_client().get("/citations", query_string={"q": q})
    assert response.status_code == 200
    body = response.data.decode()
    assert "could not be read as a search" in body and message in body
    assert "<strong>0</strong> citations" in body


def test_import_keeps_the_index_in_step(app: Flask, tmp_path: Path) -> None:
    """An imported record is searchable at once; re-imported with a new title, the old is gone."""
    engine = get_engine(app)
    first = write_articles(tmp_path / "a.xml", [article_with(99200001, title="Zanthoxylum peel")])
    assert import_path(engine, first).ok
    with engine.connect() as conn:  # the ingest indexed its own batch: nothing left marked
        assert conn.execute(text("SELECT count(*) FROM search_dirty")).scalar_one() == 0
    assert _pmids(app, "zanthoxylum") == ["99200001"]
    second = write_articles(tmp_path / "b.xml", [article_with(99200001, title="Quercetin peel")])
    assert import_path(engine, second).ok
    assert _pmids(app, "zanthoxylum") == []
    assert _pmids(app, "quercetin") == ["99200001"]


def test_deleted_citation_leaves_the_index(search_app: Flask) -> None:
    """A citation deleted by any writer is no longer found."""
    with search_app.app_context(), session_scope() as session:
        row = session.exec(select(Citation).where(Citation.pmid == PHRASE)).one()
        session.delete(row)
    assert _pmids(search_app, "picosecond") == []


def test_user_text_never_reaches_the_index_raw() -> None:
    """Index syntax typed by a user ends up inside quoted words, never as operators."""
    node = search.parse('title:NEAR(x y) "a" ^b -c {d}')
    fts = search.to_fts5(node)
    assert "NEAR(" not in fts and "^" not in fts and "{" not in fts
    assert fts == '("title near" AND ("x" AND "y") AND "a" AND "b" AND "c" AND "d")'
    assert search.to_tsquery_text(search.parse("it's a:b!c")) == "((it <-> s) & (a <-> b <-> c))"
