"""Atom feeds per treatment and per indication: new included citations and retraction notices.

Built with feedgen (valid Atom 1.0). Entries are the citations a curator included for the
treatment or indication, newest decision first, and the citations flagged as retracted or
under an expression of concern (with the Retraction Watch reason when one is on file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from sqlalchemy import func
from sqlmodel import Session, col, select

from evidence.models import (
    Citation,
    CitationLink,
    LinkStatus,
    RetractionNotice,
    RetractionStatus,
    utcnow,
)

FEED_ENTRIES = 50
STATUS_WORDS: dict[str, str] = {
    RetractionStatus.RETRACTED: "Retracted",
    RetractionStatus.EXPRESSION_OF_CONCERN: "Expression of concern",
}


@dataclass
class FeedEntry:
    """One entry: what happened to which citation, and when."""

    key: str
    title: str
    summary: str
    pmid: str
    updated: datetime


def _aware(moment: datetime) -> datetime:
    """Treat a naive database timestamp as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def feed_entries(
    session: Session, *, treatment_id: int | None = None, indication_id: int | None = None
) -> list[FeedEntry]:
    """Return the newest entries for a treatment or an indication."""
    when = func.coalesce(col(CitationLink.decided_at), col(CitationLink.created_at))
    links = (
        select(Citation, when)
        .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
        .where(CitationLink.status == LinkStatus.INCLUDED)
    )
    if treatment_id is not None:
        links = links.where(CitationLink.treatment_id == treatment_id)
    if indication_id is not None:
        links = links.where(CitationLink.indication_id == indication_id)
    entries: dict[str, FeedEntry] = {}
    for citation, moment in session.exec(links.order_by(when.desc()).limit(FEED_ENTRIES)):
        level = (
            f"evidence level {citation.evidence_level}" if citation.evidence_level else "unrated"
        )
        key = f"included/{citation.pmid}"
        if key not in entries:
            entries[key] = FeedEntry(
                key=key,
                title=f"Included: {_title(citation)}",
                summary=f"{citation.journal or 'Journal not given'} {citation.year or ''}; "
                f"{level}; PMID {citation.pmid}.",
                pmid=citation.pmid,
                updated=_aware(moment),
            )
    scope = select(CitationLink.citation_id).where(CitationLink.status != LinkStatus.EXCLUDED)
    if treatment_id is not None:
        scope = scope.where(CitationLink.treatment_id == treatment_id)
    if indication_id is not None:
        scope = scope.where(CitationLink.indication_id == indication_id)
    flagged = (
        select(Citation)
        .where(col(Citation.id).in_(scope), col(Citation.retraction_status).in_(STATUS_WORDS))
        .order_by(col(Citation.updated_at).desc())
        .limit(FEED_ENTRIES)
    )
    for citation in session.exec(flagged):
        notice = session.exec(
            select(RetractionNotice)
            .where(RetractionNotice.citation_id == citation.id)
            .order_by(col(RetractionNotice.created_at).desc())
        ).first()
        word = STATUS_WORDS[citation.retraction_status]
        detail = f" Reason: {notice.reason}." if notice and notice.reason else ""
        dated = (
            f" Notice dated {notice.notice_date.isoformat()}."
            if notice and notice.notice_date
            else ""
        )
        key = f"{citation.retraction_status}/{citation.pmid}"
        entries[key] = FeedEntry(
            key=key,
            title=f"{word}: {_title(citation)}",
            summary=f"PMID {citation.pmid} is flagged: {word.lower()}.{dated}{detail}",
            pmid=citation.pmid,
            updated=_aware(citation.updated_at),
        )
    return sorted(entries.values(), key=lambda e: e.updated, reverse=True)[:FEED_ENTRIES]


def build_atom(
    *,
    title: str,
    feed_url: str,
    page_url: str,
    entries: list[FeedEntry],
    citation_url: Callable[[str], str],
) -> bytes:
    """Render entries as an Atom 1.0 document."""
    feed = FeedGenerator()
    feed.id(feed_url)
    feed.title(title)
    feed.author({"name": "Evidence tracker"})
    feed.link(href=page_url, rel="alternate")
    feed.link(href=feed_url, rel="self")
    feed.language("en")
    feed.updated(entries[0].updated if entries else utcnow())
    # feedgen writes entries in reverse order of adding: add the oldest first.
    for item in reversed(entries):
        entry = feed.add_entry()
        entry.id(f"{feed_url}#{item.key}")
        entry.title(item.title)
        entry.link(href=citation_url(item.pmid))
        entry.summary(item.summary)
        entry.updated(item.updated)
    atom: bytes = feed.atom_str(pretty=True)
    return atom


def _title(citation: Citation) -> str:
    """Return the citation's title, or say it is not known (no page read showed it)."""
    return citation.title or f"Title not shown on the page read (PMID {citation.pmid})"
