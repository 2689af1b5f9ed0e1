"""Helpers shared by the PubMed ingest, job and CLI tests: files, counts, a fast client config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation, CitationAuthor, CitationLink
from tests.fake_eutils import FakeEutils, recorded_articles, write_pubmed_xml

DATA = Path(__file__).parent.parent / "data"
ENTREZ = DATA / "entrez"
MEDLINE = DATA / "medline"


def use_fake(app: Flask, server: FakeEutils) -> None:
    """Point the app's PubMed settings at the fake server, with fast retry settings."""
    app.config.update(
        NCBI_EMAIL="tests@example.org",
        NCBI_API_KEY="test-key",
        NCBI_EUTILS_URL=server.base_url,
        PUBMED_CLIENT_OPTIONS={
            "timeout": 0.5,
            "max_attempts": 4,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "requests_per_second": 1000.0,
        },
    )


def citation(app: Flask, pmid: int | str) -> Citation | None:
    """Load one citation by PMID."""
    with app.app_context(), session_scope() as session:
        return session.exec(select(Citation).where(Citation.pmid == str(pmid))).first()


def count_rows(app: Flask, model: Any, **where: Any) -> int:
    """Count rows of a table, optionally filtered by column equality."""
    with app.app_context(), session_scope() as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(session.exec(stmt).one())


def pmid_counts(app: Flask) -> dict[str, int]:
    """Return how many citation rows each PMID has (every value must be 1)."""
    with app.app_context(), session_scope() as session:
        rows = session.exec(select(Citation.pmid, func.count()).group_by(Citation.pmid)).all()
        return dict(rows)


def authors_of(app: Flask, pmid: int) -> list[str]:
    """Return a citation's stored author names in byline order."""
    with app.app_context(), session_scope() as session:
        cid = session.exec(select(Citation.id).where(Citation.pmid == str(pmid))).one()
        rows = session.exec(
            select(CitationAuthor)
            .where(CitationAuthor.citation_id == cid)
            .order_by(CitationAuthor.position)  # type: ignore[arg-type]
        ).all()
        return [a.collective_name or f"{a.last_name} {a.initials}" for a in rows]


def links_of(app: Flask, pmid: int) -> list[CitationLink]:
    """Return a citation's links."""
    with app.app_context(), session_scope() as session:
        cid = session.exec(select(Citation.id).where(Citation.pmid == str(pmid))).one()
        return list(session.exec(select(CitationLink).where(CitationLink.citation_id == cid)))


def article_with(pmid: int, *, extra_comments: str = "", title: str | None = None) -> bytes:
    """Return the recorded article 9997 under another PMID, optionally changed."""
    xml = next(a for a in recorded_articles(["pubmed1.xml"]) if b">9997</PMID>" in a)
    xml = xml.replace(b">9997</PMID>", f">{pmid}</PMID>".encode(), 1)
    xml = xml.replace(b'IdType="pubmed">9997<', f'IdType="pubmed">{pmid}<'.encode(), 1)
    # Another PMID is another study: its own DOI (records sharing a DOI are merged).
    xml = xml.replace(b"(76)90109-4<", f"(76)90109-4.{pmid}<".encode())
    if title is not None:
        xml = re.sub(
            rb"<ArticleTitle>.*?</ArticleTitle>",
            f"<ArticleTitle>{title}</ArticleTitle>".encode(),
            xml,
            count=1,
        )
    if extra_comments:
        xml = xml.replace(
            b"</MedlineCitation>",
            f"<CommentsCorrectionsList>{extra_comments}</CommentsCorrectionsList>"
            "</MedlineCitation>".encode(),
            1,
        )
    return xml


def write_articles(path: Path, articles: list[bytes]) -> Path:
    """Write a PubmedArticleSet file and return its path."""
    write_pubmed_xml(path, articles)
    return path
