"""Re-importing the app's own exports never degrades what is stored (export -> import -> export)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import select

from evidence.db import get_engine, session_scope
from evidence.literature.ingest import import_path
from evidence.models import Citation, CitationAuthor
from tests.evidence.output.test_exports import PARSERS, add_tricky_citations, export_bytes
from tests.evidence.pubmed_helpers import ENTREZ


def stored_authors(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Return every citation's authors as stored: (last, fore, initials, suffix, collective)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with app.app_context(), session_scope() as session:
        rows = session.exec(
            select(Citation.pmid, CitationAuthor)
            .join(CitationAuthor, CitationAuthor.citation_id == Citation.id)  # type: ignore[arg-type]
            .order_by(Citation.pmid, CitationAuthor.position)  # type: ignore[arg-type]
        )
        for pmid, a in rows:
            out.setdefault(pmid, []).append(
                (a.last_name, a.fore_name, a.initials, a.suffix, a.collective_name)
            )
    return out


def reimport(app: Flask, data: bytes, tmp_path: Path, name: str) -> None:
    """Import an exported file back into the same database, all or nothing."""
    path = tmp_path / name
    path.write_bytes(data)
    with app.app_context():
        report = import_path(get_engine(), path)
    assert not report.rejected, report.rejected
    assert report.read > 0


def without_rules(medline: bytes) -> list[bytes]:
    """Return the MEDLINE lines other than the evidence-level rule notes."""
    return [line for line in medline.splitlines() if b"Evidence level rule" not in line]


def authors_by_format(app: Flask) -> dict[str, dict[str, list[str]]]:
    """Read every export format back with its independent reader: PMID -> authors."""
    return {
        fmt: {r["pmid"]: r["authors"] for r in parse(export_bytes(app, fmt, status="any"))}
        for fmt, parse in PARSERS.items()
    }


def test_reimporting_the_medline_export_keeps_every_author(app: Flask, tmp_path: Path) -> None:
    """Snapshot authors ('English RS Jr', no fore names) and tricky ones survive a re-import."""
    with app.app_context(), session_scope() as session:
        add_tricky_citations(session)
    before = stored_authors(app)
    # The snapshot has suffixed authors and authors known only by initials: the cases that broke.
    flat = [a for authors in before.values() for a in authors]
    assert any(a[3] == "Jr" for a in flat) and any(a[1] is None and a[2] for a in flat)
    medline = export_bytes(app, "medline", status="any")
    formats = authors_by_format(app)
    reimport(app, medline, tmp_path, "own-export.nbib")
    after = stored_authors(app)
    for pmid, authors in before.items():
        assert after[pmid] == authors, pmid
    # The tricky records carry a hand-set rule ("test rule"): importing regrades them from their
    # publication types, which is the one change a re-import may make.
    assert without_rules(export_bytes(app, "medline", status="any")) == without_rules(medline)
    assert authors_by_format(app) == formats
    assert not any("Jr Jr" in a for a in formats["csv"].get("9508101", []))


@pytest.mark.parametrize("xml", ["pubmed1.xml", "constructed_variants.xml"])
def test_pubmed_xml_import_then_medline_round_trip(app: Flask, tmp_path: Path, xml: str) -> None:
    """PubMed XML in, MEDLINE out, MEDLINE back in: the stored authors and the export agree."""
    with app.app_context():
        first = import_path(get_engine(), ENTREZ / xml)
    assert not first.rejected and first.read > 0
    before = stored_authors(app)
    medline = export_bytes(app, "medline", status="any")
    reimport(app, medline, tmp_path, "xml-export.nbib")
    assert stored_authors(app) == before
    assert export_bytes(app, "medline", status="any") == medline
