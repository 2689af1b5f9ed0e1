"""MEDLINE (.nbib): PubMed's own tagged format, as PubMed saves it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from evidence.iterutil import batched

from .records import CHUNK_ROWS, CitationRecord, notes, one_line


def _medline_line(tag: str, value: str) -> str:
    """Return one MEDLINE line: the tag padded to four characters, '- ', the value."""
    return f"{tag:<4}- {one_line(value)}\n"


def medline_record(record: CitationRecord) -> str:
    """Return one citation in PubMed's MEDLINE format (what PubMed saves as .nbib)."""
    lines = [_medline_line("PMID", record.pmid), _medline_line("OWN", "NLM")]
    if record.pmcid:
        lines.append(_medline_line("PMC", record.pmcid))
    if record.volume:
        lines.append(_medline_line("VI", record.volume))
    if record.issue:
        lines.append(_medline_line("IP", record.issue))
    if record.pub_date or record.year is not None:
        lines.append(_medline_line("DP", record.pub_date or str(record.year)))
    lines.append(_medline_line("TI", record.title))
    if record.pages:
        lines.append(_medline_line("PG", record.pages))
    if record.doi:
        lines.append(_medline_line("LID", f"{record.doi} [doi]"))
    if record.abstract:
        lines.append(_medline_line("AB", record.abstract))
    for a in record.authors:
        if a.collective_name:
            lines.append(_medline_line("CN", a.collective_name))
        else:
            if a.fore_name:
                full = f"{a.last_name}, {a.fore_name}"
                lines.append(_medline_line("FAU", f"{full} {a.suffix}" if a.suffix else full))
            lines.append(_medline_line("AU", a.label))
    if record.language:
        lines.append(_medline_line("LA", record.language))
    for ptype in record.publication_types:
        lines.append(_medline_line("PT", ptype))
    if record.journal_abbrev:
        lines.append(_medline_line("TA", record.journal_abbrev))
    if record.journal:
        lines.append(_medline_line("JT", record.journal))
    for term in record.mesh_terms:
        lines.append(_medline_line("MH", term))
    for keyword in record.keywords:
        lines.append(_medline_line("OT", keyword))
    # GN (general note) carries what MEDLINE has no field for: our grading and links.
    for note in notes(record)[1:]:
        lines.append(_medline_line("GN", note))
    if record.doi:
        lines.append(_medline_line("AID", f"{record.doi} [doi]"))
    journal = record.journal_abbrev or record.journal
    if journal:
        date = record.pub_date or (str(record.year) if record.year is not None else "")
        lines.append(_medline_line("SO", ". ".join(p for p in (journal, date) if p) + "."))
    return "".join(lines)


def write_medline(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield MEDLINE text, records separated by a blank line."""
    first = True
    for batch in batched(records, CHUNK_ROWS):
        parts = []
        for r in batch:
            parts.append(("" if first else "\n") + medline_record(r))
            first = False
        yield "".join(parts)
