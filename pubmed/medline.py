"""Reader for MEDLINE-format exports (PubMed's 'PubMed format', .nbib, .txt) via Bio.Medline."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from Bio import Medline

from .errors import PubMedParseError
from .parse import _MONTHS  # the same month table as the XML parser
from .records import (
    AbstractSection,
    Author,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    PubDate,
    PubmedRecord,
)

# MEDLINE field tag -> CommentsCorrections RefType used in the XML.
COMMENT_TAGS = {
    "CIN": "CommentIn",
    "CON": "CommentOn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "RIN": "RetractionIn",
    "ROF": "RetractionOf",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
    "CRI": "CorrectedandRepublishedIn",
    "CRF": "CorrectedandRepublishedFrom",
    "RRI": "RetractedandRepublishedIn",
    "RRF": "RetractedandRepublishedFrom",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
}
_PMID_IN_NOTE = re.compile(r"PMID:\s*(\d+)")
_DOI = re.compile(r"^(\S+)\s*\[doi\]$")
_FULL_DATE = re.compile(r"^(\d{4})(?: ([A-Za-z]{3})(?: (\d{1,2}))?)?$")
_YEAR = re.compile(r"\d{4}")

# Bio.Medline ships no type information: its parser, typed as this module uses it.
_parse_medline: Callable[[Iterable[str]], Iterator[Any]] = Medline.parse


def _list(record: dict[str, Any], tag: str) -> list[str]:
    """Return a field as a list (Bio.Medline gives lists for repeatable tags only)."""
    value = record.get(tag)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _first(record: dict[str, Any], tag: str) -> str | None:
    """Return a field's first value, or None."""
    values = _list(record, tag)
    return values[0].strip() or None if values else None


def medline_date(text: str | None) -> PubDate:
    """Read a DP field: '2002 Sep', '2006', '2002 Sep 28' or free text such as '2002 Sep-Oct'."""
    if not text:
        return PubDate()
    match = _FULL_DATE.match(text.strip())
    if match and (match.group(2) is None or match.group(2).lower() in _MONTHS):
        month = _MONTHS.get(match.group(2).lower()) if match.group(2) else None
        day = int(match.group(3)) if match.group(3) else None
        return PubDate(year=int(match.group(1)), month=month, day=day)
    year = _YEAR.search(text)
    return PubDate(year=int(year.group(0)) if year else None, medline_date=text.strip())


def _mesh(values: list[str]) -> list[MeshHeading]:
    """Read MH lines: 'Descriptor/qualifier', a '*' marking a major topic."""
    headings = []
    for value in values:
        descriptor, *qualifiers = value.split("/")
        headings.append(
            MeshHeading(
                descriptor=descriptor.lstrip("*").strip(),
                major_topic=descriptor.startswith("*"),
                qualifiers=[
                    MeshQualifier(name=q.lstrip("*").strip(), major_topic=q.startswith("*"))
                    for q in qualifiers
                ],
            )
        )
    return headings


# Name suffixes as PubMed writes them after the initials (AU) or the fore name (FAU).
SUFFIXES = frozenset({"Jr", "Sr", "II", "III", "IV", "V", "VI", "2nd", "3rd", "4th"})


def _split_short(name: str) -> tuple[str, str | None, str | None]:
    """Split an AU value ("English RS Jr", "van der Berg JH") into last name, initials, suffix."""
    tokens = name.split()
    suffix = tokens.pop() if len(tokens) >= 3 and tokens[-1] in SUFFIXES else None
    initials = None
    if len(tokens) >= 2 and tokens[-1].isalpha() and tokens[-1][0].isupper():
        initials = tokens.pop()
    return " ".join(tokens), initials, suffix


def _split_full(name: str) -> tuple[str, str | None, str | None]:
    """Split an FAU value ("English, Robert S Jr") into last name, fore name, suffix."""
    last, _, fore = name.partition(",")
    tokens = fore.split()
    suffix = tokens.pop() if len(tokens) >= 2 and tokens[-1] in SUFFIXES else None
    return last.strip(), " ".join(tokens) or None, suffix


def _authors(record: dict[str, Any]) -> list[Author]:
    """Build authors from AU and FAU (matched by last name) and CN (collective names).

    Bio.Medline pools each tag's lines, so an author without an FAU line would shift every
    later FAU onto the wrong author: each AU takes the next FAU only when its last name agrees.
    """
    full = [_split_full(name) for name in _list(record, "FAU")]
    short = [_split_short(name) for name in _list(record, "AU")]
    if not short:
        short = [(last, None, suffix) for last, _fore, suffix in full]
    affiliations = _list(record, "AD")
    # Per-author AD lines cannot be matched to authors once Bio.Medline has pooled them,
    # unless there is exactly one per author.
    per_author = len(affiliations) == len(short)
    authors = []
    next_full = 0
    for index, (last, initials, suffix) in enumerate(short):
        fore = None
        if next_full < len(full) and full[next_full][0].casefold() == last.casefold():
            _last, fore, full_suffix = full[next_full]
            suffix = suffix or full_suffix
            next_full += 1
        authors.append(
            Author(
                last_name=last or None,
                fore_name=fore,
                initials=initials,
                suffix=suffix,
                affiliations=[affiliations[index]] if per_author else [],
            )
        )
    if len(short) == 1 and affiliations and not per_author:
        authors[0].affiliations = affiliations
    authors.extend(Author(collective_name=name) for name in _list(record, "CN"))
    return authors


def _doi(record: dict[str, Any]) -> str | None:
    """Find the DOI among the AID and LID values."""
    for value in _list(record, "AID") + _list(record, "LID"):
        match = _DOI.match(value.strip())
        if match:
            return match.group(1)
    return None


def _comments(record: dict[str, Any]) -> list[CommentCorrection]:
    """Read the comment/correction fields (RIN, EIN, ECI, ...)."""
    links = []
    for tag, ref_type in COMMENT_TAGS.items():
        for value in _list(record, tag):
            match = _PMID_IN_NOTE.search(value)
            source = _PMID_IN_NOTE.sub("", value).strip().rstrip(".").strip() or None
            links.append(
                CommentCorrection(
                    ref_type=ref_type,
                    pmid=int(match.group(1)) if match else None,
                    ref_source=source,
                )
            )
    return links


def record_from_medline(record: dict[str, Any]) -> PubmedRecord:
    """Turn one Bio.Medline record into a PubmedRecord."""
    pmid_text = _first(record, "PMID")
    if not pmid_text or not pmid_text.isdigit():
        raise PubMedParseError(f"MEDLINE record without a numeric PMID ({pmid_text!r})")
    abstract = _first(record, "AB")
    book_title = _first(record, "BTI")
    return PubmedRecord(
        pmid=int(pmid_text),
        title=_first(record, "TI") or book_title or "",
        kind="book" if book_title and not _first(record, "TA") else "article",
        abstract_sections=[AbstractSection(text=" ".join(abstract.split()))] if abstract else [],
        journal_title=_first(record, "JT") or book_title,
        journal_iso=_first(record, "TA"),
        volume=_first(record, "VI"),
        issue=_first(record, "IP"),
        pages=_first(record, "PG"),
        pub_date=medline_date(_first(record, "DP")),
        doi=_doi(record),
        pmcid=_first(record, "PMC"),
        languages=_list(record, "LA"),
        authors=_authors(record),
        publication_types=_list(record, "PT"),
        mesh_headings=_mesh(_list(record, "MH")),
        keywords=list(dict.fromkeys(_list(record, "OT"))),
        comments_corrections=_comments(record),
        status=_first(record, "STAT"),
    )


def iter_medline(source: str | Path | bytes | IO[str]) -> Iterator[PubmedRecord]:
    """Yield records from a MEDLINE-format file (path, bytes or text stream)."""
    if isinstance(source, bytes):
        handle: IO[str] = io.StringIO(source.decode("utf-8-sig", "replace"))
    elif isinstance(source, str | Path):
        handle = open(source, encoding="utf-8-sig", errors="replace")  # noqa: SIM115 closed below
    else:
        handle = source
    try:
        first = ""
        for line in handle:
            if line.strip():
                first = line
                break
        if not first.startswith("PMID-"):
            raise PubMedParseError("not a MEDLINE file: the first record must start with 'PMID-'")
        for record in _parse_medline(_Prepend(first, handle)):
            yield record_from_medline(record)
    finally:
        if isinstance(source, str | Path):
            handle.close()


class _Prepend:
    """An iterator of lines that puts one consumed line back in front of a stream."""

    def __init__(self, first: str, rest: IO[str]) -> None:
        """Keep the line and the stream."""
        self._first: str | None = first
        self._rest = rest

    def __iter__(self) -> _Prepend:
        """Iterate over lines."""
        return self

    def __next__(self) -> str:
        """Return the saved line, then the stream's lines."""
        if self._first is not None:
            line, self._first = self._first, None
            return line
        line = self._rest.readline()
        if not line:
            raise StopIteration
        return line
