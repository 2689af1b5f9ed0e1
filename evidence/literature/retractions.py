"""Retraction Watch data (the CSV Crossref publishes): match notices to citations and flag them.

The file's columns are Retraction Watch's own: Record ID, Title, ..., RetractionDate,
RetractionDOI, RetractionPubMedID, OriginalPaperDate, OriginalPaperDOI,
OriginalPaperPubMedID, RetractionNature, Reason, Paywalled, Notes. A row names the original
paper by DOI and PubMed ID (0 or blank when unknown) and says what the notice is:

- "Retraction" flags the citation as retracted;
- "Expression of concern" flags it as such (never as a retraction), unless already retracted;
- "Correction" (an erratum) and "Reinstatement" are recorded but flag nothing: errata are
  never retractions.

An import is all-or-nothing: any row with a missing Record ID, an unknown nature or a date
that does not parse is reported with its line number and nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from evidence.models import (
    RETRACTION_NATURES,
    Citation,
    RetractionNature,
    RetractionNotice,
    RetractionStatus,
    utcnow,
)

REQUIRED_COLUMNS = (
    "Record ID",
    "RetractionDate",
    "RetractionDOI",
    "RetractionPubMedID",
    "OriginalPaperDOI",
    "OriginalPaperPubMedID",
    "RetractionNature",
    "Reason",
)
# What each nature does to a citation's retraction_status (None: recorded, nothing flagged).
FLAG_FOR_NATURE: dict[str, RetractionStatus | None] = {
    RetractionNature.RETRACTION: RetractionStatus.RETRACTED,
    RetractionNature.EXPRESSION_OF_CONCERN: RetractionStatus.EXPRESSION_OF_CONCERN,
    RetractionNature.CORRECTION: None,
    RetractionNature.REINSTATEMENT: None,
}
MAX_ROW_ERRORS_SHOWN = 20


@dataclass
class NoticeRow:
    """One parsed row of the Retraction Watch file."""

    line: int
    record_id: str
    nature: str
    reason: str
    notice_date: date | None
    notice_doi: str | None
    notice_pmid: str | None
    original_doi: str | None
    original_pmid: str | None


@dataclass
class RetractionImport:
    """What an import read, matched and flagged, or why it stored nothing."""

    read: int = 0
    matched: int = 0
    flagged: int = 0
    concerns: int = 0
    recorded_only: int = 0
    unmatched: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file was stored."""
        return not self.errors

    def summary(self) -> str:
        """One line for the shell."""
        if self.errors:
            return f"nothing imported: {len(self.errors)} row error(s)"
        return (
            f"{self.read} rows read, {self.matched} matched citations: {self.flagged} retracted, "
            f"{self.concerns} expressions of concern, {self.recorded_only} corrections or "
            f"reinstatements recorded (not flagged); {self.unmatched} rows match no citation"
        )


def normalise_doi(value: str | None) -> str | None:
    """Lower-case a DOI and drop a resolver prefix; None when blank."""
    text = (value or "").strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        text = text.removeprefix(prefix)
    return text or None


def _pmid(value: str | None) -> str | None:
    """Return a PubMed ID as text, None for blank or 0 (Retraction Watch's 'unknown')."""
    text = (value or "").strip()
    text = text.removesuffix(".0")
    return text if text.isdigit() and int(text) > 0 else None


def parse_date(value: str | None) -> date | None:
    """Read Retraction Watch's dates ('1/15/2024 0:00', or ISO); None when blank."""
    text = (value or "").strip()
    if not text:
        return None
    for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not M/D/YYYY")


def parse_rows(text: str) -> tuple[list[NoticeRow], list[str]]:
    """Parse the whole file; return its rows and every row error (with line numbers)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return [], [f"not a Retraction Watch file: missing column(s) {', '.join(missing)}"]
    reader.fieldnames = header
    rows: list[NoticeRow] = []
    errors: list[str] = []
    for number, raw in enumerate(reader, start=2):
        record_id = (raw.get("Record ID") or "").strip()
        nature = (raw.get("RetractionNature") or "").strip()
        problems = []
        if not record_id:
            problems.append("no Record ID")
        if nature not in RETRACTION_NATURES:
            problems.append(f"unknown RetractionNature {nature!r}")
        try:
            when = parse_date(raw.get("RetractionDate"))
        except ValueError as exc:
            problems.append(f"RetractionDate: {exc}")
            when = None
        original_doi = normalise_doi(raw.get("OriginalPaperDOI"))
        original_pmid = _pmid(raw.get("OriginalPaperPubMedID"))
        if not original_doi and not original_pmid:
            problems.append("neither OriginalPaperDOI nor OriginalPaperPubMedID")
        if problems:
            errors.append(f"line {number}: " + "; ".join(problems))
            continue
        rows.append(
            NoticeRow(
                line=number,
                record_id=record_id,
                nature=nature,
                reason="; ".join(
                    part.strip().lstrip("+")
                    for part in (raw.get("Reason") or "").split(";")
                    if part.strip()
                ),
                notice_date=when,
                notice_doi=normalise_doi(raw.get("RetractionDOI")),
                notice_pmid=_pmid(raw.get("RetractionPubMedID")),
                original_doi=original_doi,
                original_pmid=original_pmid,
            )
        )
    return rows, errors


def _matches(session: Session, row: NoticeRow) -> list[tuple[Citation, str]]:
    """Return the citations a row names, by PMID first and then by DOI."""
    found: dict[int, tuple[Citation, str]] = {}
    if row.original_pmid:
        for citation in session.exec(select(Citation).where(Citation.pmid == row.original_pmid)):
            found[citation.id or 0] = (citation, "pmid")
    if row.original_doi:
        stmt = select(Citation).where(func.lower(col(Citation.doi)) == row.original_doi)
        for citation in session.exec(stmt):
            found.setdefault(citation.id or 0, (citation, "doi"))
    return list(found.values())


def import_text(session: Session, text: str) -> RetractionImport:
    """Import a Retraction Watch CSV's text in the open transaction (nothing on any error)."""
    report = RetractionImport()
    rows, errors = parse_rows(text)
    report.read = len(rows) + len(errors)
    if errors:
        report.errors = errors
        return report
    now = utcnow()
    for row in rows:
        matches = _matches(session, row)
        if not matches:
            report.unmatched += 1
            continue
        for citation, matched_by in matches:
            report.matched += 1
            notice = session.exec(
                select(RetractionNotice).where(
                    RetractionNotice.citation_id == citation.id,
                    RetractionNotice.record_id == row.record_id,
                )
            ).first() or RetractionNotice(
                citation_id=citation.id or 0, record_id=row.record_id, nature=row.nature
            )
            notice.nature = row.nature
            notice.reason = row.reason
            notice.notice_date = row.notice_date
            notice.notice_doi = row.notice_doi
            notice.notice_pmid = row.notice_pmid
            notice.matched_by = matched_by
            session.add(notice)
            flag = FLAG_FOR_NATURE[row.nature]
            if flag == RetractionStatus.RETRACTED:
                report.flagged += 1
            elif flag == RetractionStatus.EXPRESSION_OF_CONCERN:
                report.concerns += 1
            else:
                report.recorded_only += 1
            if flag and should_flag(citation.retraction_status, flag):
                citation.retraction_status = flag
                citation.updated_at = now
                session.add(citation)
    session.flush()
    return report


def should_flag(current: str, flag: str) -> bool:
    """A retraction overrides anything; an expression of concern only an unflagged paper."""
    if flag == RetractionStatus.RETRACTED:
        return current != RetractionStatus.RETRACTED
    return current == RetractionStatus.NONE


def stored_flags(conn: Connection, citation_ids: Iterable[int]) -> dict[int, str]:
    """The flag each citation's stored notices call for (a retraction beats a concern).

    A PubMed record knows nothing of Retraction Watch: when a fetch or refresh rewrites a
    citation, the flag its stored notices set must survive the rewrite.
    """
    ids = list(citation_ids)
    flags: dict[int, str] = {}
    notices = RetractionNotice.__table__.c  # type: ignore[attr-defined]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(
            sa_select(notices.citation_id, notices.nature).where(notices.citation_id.in_(chunk))
        )
        for citation_id, nature in rows:
            flag = FLAG_FOR_NATURE.get(nature)
            if flag and should_flag(flags.get(citation_id, "none"), flag):
                flags[citation_id] = flag
    return flags


def import_file(session: Session, path: Path) -> RetractionImport:
    """Import a Retraction Watch CSV file (UTF-8, with or without a byte-order mark)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        return RetractionImport(errors=[f"{path.name}: not UTF-8 text ({exc.reason})"])
    return import_text(session, text)


def notices_for(session: Session, citation_id: int) -> list[RetractionNotice]:
    """Return a citation's Retraction Watch notices, newest first."""
    return list(
        session.exec(
            select(RetractionNotice)
            .where(RetractionNotice.citation_id == citation_id)
            .order_by(col(RetractionNotice.notice_date).desc())
        )
    )
