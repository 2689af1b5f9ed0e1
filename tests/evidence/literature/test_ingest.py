"""Storing PubMed records: idempotent upsert by PMID, updates, links, all-or-nothing files."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import select

from evidence.db import get_engine, session_scope
from evidence.literature.ingest import LinkTarget, detect_format, import_path
from evidence.models import (
    Citation,
    CitationAbstractSection,
    CitationCoIntervention,
    CitationCorrection,
    CitationMesh,
)
from tests.evidence.pubmed_helpers import (
    ENTREZ,
    MEDLINE,
    article_with,
    authors_of,
    citation,
    count_rows,
    links_of,
    pmid_counts,
    use_fake,
    write_articles,
)
from tests.fake_eutils import FakeEutils, recorded_corpus
from tests.pubmed.test_safety import BILLION_LAUGHS

RETRACTION = (
    '<CommentsCorrections RefType="RetractionIn"><RefSource>Retraction notice.</RefSource>'
    '<PMID Version="1">90000099</PMID></CommentsCorrections>'
)


@pytest.fixture
def fake_server() -> Iterator[FakeEutils]:
    """A fake E-utilities server serving the recorded records."""
    with FakeEutils(recorded_corpus()) as server:
        yield server


def _import(app: Flask, path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    """Import a file through the real import code."""
    with app.app_context():
        return import_path(get_engine(), path, **kwargs)  # type: ignore[arg-type]


def test_xml_import_stores_every_field_and_is_idempotent(app: Flask) -> None:
    """Importing the recorded files twice stores each PMID once; the second run changes nothing."""
    before = count_rows(app, Citation)
    first = _import(app, ENTREZ / "pubmed4.xml")
    assert first.ok and (first.read, first.added, first.updated) == (1, 1, 0)
    again = _import(app, ENTREZ / "pubmed4.xml")
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    assert count_rows(app, Citation) == before + 1
    gut = citation(app, 27797938)
    assert gut is not None and gut.complete and gut.source == "import"
    assert gut.pmcid == "PMC5442267" and gut.doi == "10.1136/gutjnl-2016-312510"
    assert gut.journal_abbrev == "Gut" and gut.year == 2017 and gut.pub_date == "2017 Jun"
    assert gut.evidence_level == 3 and "Observational Study" in gut.evidence_rule
    assert gut.abstract and gut.abstract.startswith("OBJECTIVE: ")
    assert count_rows(app, CitationAbstractSection, citation_id=gut.id) == 4
    assert count_rows(app, CitationCorrection, citation_id=gut.id) == 1
    assert count_rows(app, CitationMesh, citation_id=gut.id) == 21
    assert len(authors_of(app, 27797938)) == 22


def test_changed_record_is_updated_in_place(any_app: Flask, tmp_path: Path) -> None:
    """A corrected title and a new retraction notice update the row (SQLite and PostgreSQL)."""
    app = any_app
    original = write_articles(tmp_path / "v1.xml", [article_with(91000001)])
    assert _import(app, original).added == 1
    changed = write_articles(
        tmp_path / "v2.xml",
        [article_with(91000001, title="Corrected title.", extra_comments=RETRACTION)],
    )
    report = _import(app, changed)
    assert (report.added, report.updated) == (0, 1)
    row = citation(app, 91000001)
    assert row is not None and row.title == "Corrected title."
    assert row.retraction_status == "retracted"
    assert authors_of(app, 91000001) == ["Strekas TC"]  # replaced, not doubled
    assert pmid_counts(app)["91000001"] == 1


def test_snapshot_record_is_completed_and_curation_kept(app: Flask, tmp_path: Path) -> None:
    """A snapshot record (no abstract) is completed by a fetched record; its links stay."""
    with app.app_context(), session_scope() as session:
        snap = session.exec(select(Citation).where(Citation.source == "snapshot")).first()
        assert snap is not None and snap.abstract is None
        pmid, cid = int(snap.pmid), snap.id
        session.add(CitationCoIntervention(citation_id=cid or 0, name="PRP"))
    links_before = len(links_of(app, pmid))
    report = _import(app, write_articles(tmp_path / "snap.xml", [article_with(pmid)]))
    assert (report.added, report.updated) == (0, 1)
    row = citation(app, pmid)
    assert row is not None and row.complete and row.abstract and row.id == cid
    assert len(links_of(app, pmid)) == links_before
    assert count_rows(app, CitationCoIntervention, citation_id=cid) == 1


def test_retraction_concern_erratum_book_and_withdrawn(app: Flask) -> None:
    """Retractions and expressions of concern are flagged; errata are not retractions."""
    report = _import(app, ENTREZ / "constructed_variants.xml")
    assert report.ok and report.read == 4 and report.withdrawn == [90000005, 90000006]
    split, striae, erbium, book = (
        citation(app, p) for p in (90000001, 90000002, 90000003, 90000004)
    )
    assert split is not None and split.retraction_status == "retracted"
    assert split.evidence_level == 2  # the design stays visible; the flag sits beside it
    assert striae is not None and striae.retraction_status == "expression-of-concern"
    assert erbium is not None and erbium.retraction_status == "none"
    assert book is not None and book.evidence_level == 5 and book.journal == "StatPearls"
    assert authors_of(app, 90000001) == ["Doe JQ", "Acne Scar Study Group"]


def test_a_retraction_notice_flags_the_paper_it_retracts(app: Flask, tmp_path: Path) -> None:
    """Importing a notice (RetractionOf X) flags X even before X itself is re-fetched."""
    _import(app, write_articles(tmp_path / "paper.xml", [article_with(91000010)]))
    notice = article_with(
        91000011,
        extra_comments='<CommentsCorrections RefType="RetractionOf"><RefSource>x</RefSource>'
        '<PMID Version="1">91000010</PMID></CommentsCorrections>',
    ).replace(b"Journal Article</PublicationType>", b"Retraction of Publication</PublicationType>")
    _import(app, write_articles(tmp_path / "notice.xml", [notice]))
    paper, note = citation(app, 91000010), citation(app, 91000011)
    assert paper is not None and paper.retraction_status == "retracted"
    assert note is not None and note.retraction_status == "retraction-notice"


def test_file_is_all_or_nothing(app: Flask, tmp_path: Path) -> None:
    """A file cut mid-record stores nothing, and the report says why."""
    body = (ENTREZ / "pubmed2.xml").read_bytes()
    broken = tmp_path / "broken.xml"
    broken.write_bytes(body[: int(len(body) * 0.8)])
    before = count_rows(app, Citation)
    report = _import(app, broken)
    assert not report.ok and "malformed" in report.rejected[0]
    assert count_rows(app, Citation) == before
    assert citation(app, 11748933) is None  # the complete first record was rolled back too
    assert "REJECTED" in report.summary()


def test_entity_bomb_and_garbage_are_rejected(app: Flask, tmp_path: Path) -> None:
    """Unsafe XML and unknown formats are refused with a reason."""
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(BILLION_LAUGHS)
    report = _import(app, bomb)
    assert not report.ok and "entities" in report.rejected[0]
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a citation file")
    assert "not PubMed XML" in _import(app, junk).rejected[0]


def test_gzip_and_medline_imports_with_links(app: Flask, tmp_path: Path) -> None:
    """A .xml.gz and a MEDLINE export import; records are linked as candidates once."""
    with app.app_context(), session_scope() as session:
        from evidence.queries import treatment_by_slug

        treatment = treatment_by_slug(session, "microneedling")
        assert treatment is not None
        tid = treatment.id
    packed = tmp_path / "pubmed2.xml.gz"
    packed.write_bytes(gzip.compress((ENTREZ / "pubmed2.xml").read_bytes()))
    assert detect_format(packed) == "xml"
    target = LinkTarget(treatment_id=tid)
    assert _import(app, packed, link=target).linked == 2
    assert _import(app, packed, link=LinkTarget(treatment_id=tid)).linked == 0
    (link,) = links_of(app, 11748933)
    assert link.status == "candidate" and link.found_by == "import:pubmed2.xml.gz"
    medline = _import(app, MEDLINE / "pubmed_result2.txt")
    assert medline.format == "medline" and medline.added == 4
    scop = citation(app, 16403221)
    assert scop is not None and scop.pmcid == "PMC1373603" and scop.doi == "10.1186/1471-2105-7-10"


def test_pmid_lists(app: Flask, tmp_path: Path, fake_server: FakeEutils) -> None:
    """A PMID list is fetched and stored; one with a bad token or unknown PMID is rejected."""
    use_fake(app, fake_server)
    from evidence.jobs import client_from_config

    client = client_from_config(app.config)
    good = tmp_path / "good.txt"
    good.write_text("9997\n12091962, 11748933\n")
    assert detect_format(good) == "pmids"
    report = _import(app, good, client=client)
    assert report.ok and report.added == 3
    bad = tmp_path / "bad.txt"
    bad.write_text("9997\nnot-a-pmid\n")
    report = _import(app, bad, client=client)
    assert not report.ok and "'not-a-pmid'" in report.rejected[0]
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("9997 123\n")
    report = _import(app, unknown, client=client)
    assert not report.ok and "not found in PubMed: 123" in report.rejected[0]
