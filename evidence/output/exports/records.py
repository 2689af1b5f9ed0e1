"""The plain records every citation export writes, and the text helpers the formats share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from evidence.literature.levels import LEVEL_LABELS
from evidence.models import RetractionStatus

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
# Rows per streamed chunk for the text formats: big enough to keep per-chunk overhead low,
# small enough that the first bytes leave quickly.
CHUNK_ROWS = 250


class ExportError(ValueError):
    """An export was asked for with an unknown format or column; the message says which."""


class Author(NamedTuple):
    """An author in byline order; collective authors have only `collective_name`.

    A NamedTuple: exports build hundreds of thousands of these, and a tuple is the
    cheapest object Python can make.
    """

    last_name: str | None
    fore_name: str | None
    initials: str | None
    suffix: str | None
    collective_name: str | None

    @property
    def label(self) -> str:
        """Return PubMed's short form: 'Last FM' ('Last FM Jr'), or the collective name."""
        if self.collective_name:
            return self.collective_name
        last, initials = self.last_name, self.initials
        if last and initials:
            return f"{last} {initials} {self.suffix}" if self.suffix else f"{last} {initials}"
        return last or initials or ""

    @property
    def inverted(self) -> str:
        """Return 'Last, Fore[, Jr]' (or 'Last, FM' without a fore name), as RIS writes it."""
        if self.collective_name:
            return self.collective_name
        given = self.fore_name or self.initials
        if not given:
            return self.last_name or ""
        name = f"{self.last_name}, {given}"
        return f"{name}, {self.suffix}" if self.suffix else name


@dataclass(frozen=True, slots=True)
class Named:
    """A treatment or indication a citation is linked to."""

    slug: str
    name: str


@dataclass(slots=True)
class CitationRecord:
    """Everything an export carries about one citation, as plain data."""

    pmid: str
    title: str
    abstract: str | None = None
    journal: str | None = None
    journal_abbrev: str | None = None
    year: int | None = None
    pub_date: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    language: str | None = None
    evidence_level: int | None = None
    evidence_rule: str = ""
    retraction_status: str = "none"
    authors: list[Author] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    mesh_terms: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    treatments: list[Named] = field(default_factory=list)
    indications: list[Named] = field(default_factory=list)

    @property
    def pubmed_url(self) -> str:
        """Return the citation's PubMed page."""
        return PUBMED_URL.format(pmid=self.pmid)

    @property
    def level_text(self) -> str:
        """Return the evidence level as a reader sees it: 'Level 2: ...' or 'Not rated'."""
        if self.evidence_level is None:
            return "Not rated"
        return f"Level {self.evidence_level}: {LEVEL_LABELS.get(self.evidence_level, '')}"


@lru_cache(maxsize=65536)
def mesh_label(descriptor: str, qualifiers: str, major: bool) -> str:
    """Format a MeSH heading as MEDLINE does: '*Descriptor/qualifier/*major qualifier'.

    Cached: the same headings recur across a literature (Humans, Female, Acne Vulgaris ...).
    """
    parts = [("*" if major else "") + descriptor]
    for raw in qualifiers.split(";"):
        q = raw.strip()
        if q:
            parts.append("*" + q[:-1] if q.endswith("*") else q)
    return "/".join(parts)


def join(values: Iterable[str]) -> str:
    """Join list values with '; ', the separator the CSV header promises."""
    return "; ".join(values)


def one_line(value: str | None) -> str:
    """Return a value on one line: a newline inside a tagged format would start a new tag."""
    if not value:
        return ""
    # isprintable() is False for any newline, tab or other control character: the common
    # case (a plain line) costs one C-level scan instead of a split and a join.
    if value.isprintable():
        return value
    return " ".join(value.split())


def split_pages(pages: str | None) -> tuple[str | None, str | None]:
    """Split MEDLINE pages ('123-9') into a start and a full end page ('123', '129')."""
    if not pages:
        return None, None
    first = pages.split(",")[0].strip()
    start, sep, end = first.partition("-")
    start, end = start.strip(), end.strip()
    if not sep or not end:
        return start or None, None
    if start.isdigit() and end.isdigit() and len(end) < len(start):
        end = start[: len(start) - len(end)] + end
    return start, end


def page_range(pages: str | None, dash: str) -> str | None:
    """Return pages with the end page written out ('1123-9' -> '1123' + dash + '1129')."""
    start, end = split_pages(pages)
    if start and end:
        return f"{start}{dash}{end}"
    return pages or None


def notes(record: CitationRecord) -> list[str]:
    """Return the facts a format without its own fields carries as notes."""
    out = [f"PMID: {record.pmid}"]
    if record.pmcid:
        out.append(f"PMCID: {record.pmcid}")
    out.append(f"Evidence level: {record.level_text}")
    if record.evidence_rule:
        out.append(f"Evidence level rule: {record.evidence_rule}")
    out.append(f"Retraction status: {record.retraction_status}")
    if record.publication_types:
        out.append("Publication types: " + join(record.publication_types))
    out.append("Treatments: " + (join(t.name for t in record.treatments) or "none linked"))
    out.append("Indications: " + (join(i.name for i in record.indications) or "none linked"))
    return out


def tags(record: CitationRecord) -> list[str]:
    """Return keywords for reference managers' tags: MeSH, author keywords and our grading."""
    out = record.mesh_terms + record.keywords
    level = record.evidence_level
    out.append(f"Evidence level {level}" if level is not None else "Evidence level not rated")
    if record.retraction_status != RetractionStatus.NONE:
        out.append(f"Retraction status: {record.retraction_status}")
    out.extend(f"Treatment: {t.name}" for t in record.treatments)
    out.extend(f"Indication: {i.name}" for i in record.indications)
    return out
