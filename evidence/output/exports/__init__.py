"""Citation and outcome-report exports: records loaded in batches, writers that stream chunks.

Every writer is a generator over plain `CitationRecord`s and yields text (or, for XLSX,
bytes) as it goes, so a download starts at once and memory stays flat however many rows
are exported. The package, by step:

| module | holds |
| --- | --- |
| `records` | `CitationRecord`, `Author`, `Named` and the text helpers formats share |
| `loader` | `RecordLoader` and `iter_citations`: the one way citations are read |
| `csv`, `ris`, `bibtex`, `csljson`, `medline`, `xlsx` | one writer per format |
| `reports` | the outcome-report CSV |
| this module | the format table, `export_citations`, download names |
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from evidence import queries

from .bibtex import bibtex_entry, bibtex_name, latex_escape, write_bibtex
from .csljson import csl_item, write_csl_json
from .csv import (
    CITATION_COLUMNS,
    COLUMN_PARTS,
    DEFAULT_COLUMNS,
    FORMULA_STARTS,
    columns_parts,
    neutralise,
    parse_columns,
    write_csv,
)
from .loader import (
    BATCH_SIZE,
    RECORD_PARTS,
    RecordLoader,
    iter_citations,
    link_statuses,
    ordered_ids_query,
)
from .medline import medline_record, write_medline
from .records import (
    CHUNK_ROWS,
    PUBMED_URL,
    Author,
    CitationRecord,
    ExportError,
    Named,
    mesh_label,
    notes,
    page_range,
    split_pages,
    tags,
)
from .reports import REPORT_COLUMNS, export_reports, report_rows
from .ris import ris_entry, ris_writer, write_ris
from .xlsx import write_xlsx, write_xlsx_file

__all__ = [
    "BATCH_SIZE",
    "CHUNK_ROWS",
    "CITATION_COLUMNS",
    "COLUMN_PARTS",
    "DEFAULT_COLUMNS",
    "FORMATS",
    "FORMAT_ALIASES",
    "FORMULA_STARTS",
    "PUBMED_URL",
    "RECORD_PARTS",
    "REPORT_COLUMNS",
    "Author",
    "CitationRecord",
    "ExportError",
    "ExportFormat",
    "Named",
    "RecordLoader",
    "bibtex_entry",
    "bibtex_name",
    "citation_chunks",
    "columns_parts",
    "csl_item",
    "describe_filter",
    "download_name",
    "export_citations",
    "export_reports",
    "get_format",
    "iter_citations",
    "latex_escape",
    "link_statuses",
    "medline_record",
    "mesh_label",
    "neutralise",
    "notes",
    "ordered_ids_query",
    "page_range",
    "parse_columns",
    "report_rows",
    "ris_entry",
    "ris_writer",
    "split_pages",
    "tags",
    "write_bibtex",
    "write_csl_json",
    "write_csv",
    "write_medline",
    "write_ris",
    "write_xlsx",
    "write_xlsx_file",
]


@dataclass(frozen=True)
class ExportFormat:
    """A citation export format: its name, file extension and media type."""

    key: str
    label: str
    extension: str
    mimetype: str
    binary: bool = False
    takes_columns: bool = False


FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat("csv", "CSV", "csv", "text/csv; charset=utf-8", takes_columns=True),
        ExportFormat("ris", "RIS", "ris", "application/x-research-info-systems; charset=utf-8"),
        ExportFormat("bibtex", "BibTeX", "bib", "application/x-bibtex; charset=utf-8"),
        ExportFormat("csl-json", "CSL-JSON", "csl.json", "application/vnd.citationstyles.csl+json"),
        ExportFormat("medline", "MEDLINE (.nbib)", "nbib", "application/nbib; charset=utf-8"),
        ExportFormat(
            "xlsx",
            "Excel (XLSX)",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            binary=True,
            takes_columns=True,
        ),
    )
}


# Other names people type for the same formats (file extensions, mostly).
FORMAT_ALIASES = {"bib": "bibtex", "nbib": "medline", "json": "csl-json", "csljson": "csl-json"}


def get_format(key: str) -> ExportFormat:
    """Return a format by key or alias, raising ExportError with the choices when unknown."""
    key = (key or "").lower()
    found = FORMATS.get(FORMAT_ALIASES.get(key, key))
    if found is None:
        raise ExportError(f"Unknown format {key!r}; choose from {', '.join(FORMATS)}.")
    return found


def describe_filter(flt: queries.CitationFilter) -> list[tuple[str, str]]:
    """Return the filter's settings as (label, value) pairs for an export's header sheet."""
    return [(name, str(value)) for name, value in flt.as_args().items()]


def citation_chunks(
    records: Iterable[CitationRecord],
    fmt: ExportFormat,
    *,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    about: Sequence[tuple[str, str]] = (),
) -> Iterator[bytes]:
    """Yield an export of these records in one format, as bytes."""
    if fmt.key == "xlsx":
        yield from write_xlsx(records, columns, about=about)
        return
    text: Iterator[str]
    if fmt.key == "csv":
        text = write_csv(records, columns)
    elif fmt.key == "ris":
        text = write_ris(records)
    elif fmt.key == "bibtex":
        text = write_bibtex(records)
    elif fmt.key == "csl-json":
        text = write_csl_json(records)
    else:
        text = write_medline(records)
    for chunk in text:
        yield chunk.encode("utf-8")


def export_citations(
    session: Session,
    flt: queries.CitationFilter,
    fmt: str,
    *,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    batch_size: int = BATCH_SIZE,
) -> Iterator[bytes]:
    """Yield the filter's citations in a format, as bytes, loading them batch by batch."""
    export_format = get_format(fmt)
    parts = columns_parts(columns) if export_format.takes_columns else RECORD_PARTS
    records = iter_citations(session, flt, batch_size=batch_size, parts=parts)
    return citation_chunks(records, export_format, columns=columns, about=describe_filter(flt))


def download_name(kind: str, fmt: ExportFormat, flt: Any = None) -> str:
    """Return an honest file name naming the filters and the day: citations-microneedling-...."""
    parts = [kind]
    if flt is not None:
        for key in ("treatment", "indication"):
            value = getattr(flt, key, None)
            if value:
                parts.append(str(value))
        if getattr(flt, "level", None):
            parts.append(f"level-{flt.level}")
    parts.append(datetime.now(UTC).strftime("%Y-%m-%d"))
    return "-".join(parts) + "." + fmt.extension
