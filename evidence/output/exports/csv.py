"""CSV: the citation table's columns (chosen by the user), with formula neutralisation."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from .records import CHUNK_ROWS, CitationRecord, ExportError, join

CITATION_COLUMNS: dict[str, tuple[str, Callable[[CitationRecord], Any]]] = {
    "pmid": ("PMID", lambda r: r.pmid),
    "title": ("Title", lambda r: r.title),
    "authors": ("Authors (Last FM; Last FM)", lambda r: join(a.label for a in r.authors)),
    "journal": ("Journal", lambda r: r.journal or ""),
    "journal_abbrev": ("Journal abbreviation", lambda r: r.journal_abbrev or ""),
    "year": ("Year", lambda r: r.year if r.year is not None else ""),
    "pub_date": ("Publication date", lambda r: r.pub_date or ""),
    "volume": ("Volume", lambda r: r.volume or ""),
    "issue": ("Issue", lambda r: r.issue or ""),
    "pages": ("Pages", lambda r: r.pages or ""),
    "doi": ("DOI", lambda r: r.doi or ""),
    "pmcid": ("PMCID", lambda r: r.pmcid or ""),
    "language": ("Language", lambda r: r.language or ""),
    "publication_types": ("Publication types", lambda r: join(r.publication_types)),
    "mesh_terms": ("MeSH terms", lambda r: join(r.mesh_terms)),
    "keywords": ("Keywords", lambda r: join(r.keywords)),
    "evidence_level": (
        "Evidence level (1-5, or 'not rated')",
        lambda r: r.evidence_level if r.evidence_level is not None else "not rated",
    ),
    "evidence_rule": ("Evidence level rule", lambda r: r.evidence_rule),
    "retraction_status": ("Retraction status", lambda r: r.retraction_status),
    "treatments": ("Treatments", lambda r: join(t.name for t in r.treatments)),
    "indications": ("Indications", lambda r: join(i.name for i in r.indications)),
    "abstract": ("Abstract", lambda r: r.abstract or ""),
    "pubmed_url": ("PubMed URL", lambda r: r.pubmed_url),
}
DEFAULT_COLUMNS = (
    "pmid",
    "title",
    "authors",
    "journal",
    "year",
    "doi",
    "pmcid",
    "publication_types",
    "mesh_terms",
    "evidence_level",
    "retraction_status",
    "treatments",
    "indications",
)

# The record parts each CSV/XLSX column reads (columns not named read the citation row only).
COLUMN_PARTS = {
    "authors": "authors",
    "publication_types": "publication_types",
    "keywords": "keywords",
    "mesh_terms": "mesh_terms",
    "doi": "identifiers",
    "pmcid": "identifiers",
    "abstract": "abstract",
    "treatments": "links",
    "indications": "links",
}


def columns_parts(columns: Iterable[str]) -> set[str]:
    """Return the record parts a set of CSV/XLSX columns needs."""
    return {COLUMN_PARTS[c] for c in columns if c in COLUMN_PARTS}


def parse_columns(raw: Iterable[str] | None) -> list[str]:
    """Return the chosen columns (comma-separated or repeated values); default when none."""
    chosen: list[str] = []
    for item in raw or ():
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in CITATION_COLUMNS:
                known = ", ".join(CITATION_COLUMNS)
                raise ExportError(f"Unknown column {name!r}; choose from {known}.")
            if name not in chosen:
                chosen.append(name)
    return chosen or list(DEFAULT_COLUMNS)


# A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(...), +1+1,
# -2+3, @SUM, or a tab/CR before one of them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Return a text cell that a spreadsheet would run as a formula with a leading apostrophe.

    OWASP's advice for CSV injection: the apostrophe makes Excel, LibreOffice and Google
    Sheets show the text as typed. Numbers are left alone (a negative number is a number).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """Write a header and rows with csv.writer, yielding the text every CHUNK_ROWS rows.

    Every text cell goes through `neutralise`: practitioners' free text and PubMed titles
    never reach a spreadsheet as a formula.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    # The header goes out before the first query returns: the download starts at once.
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    pending = 0
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        pending += 1
        if pending >= CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue()


def write_csv(
    records: Iterable[CitationRecord], columns: Sequence[str] = DEFAULT_COLUMNS
) -> Iterator[str]:
    """Yield CSV text: a header row of column names, then one row per citation."""
    getters = [CITATION_COLUMNS[name][1] for name in columns]
    return csv_chunks(list(columns), ([get(r) for get in getters] for r in records))
