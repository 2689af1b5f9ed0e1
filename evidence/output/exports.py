"""Citation and outcome-report exports: records loaded in batches, writers that stream chunks.

Every writer is a generator over plain `CitationRecord`s and yields text (or, for XLSX,
bytes) as it goes, so a download starts at once and memory stays flat however many rows
are exported. Records are loaded in batches: one query per related table per batch, never
one per row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.sql import Select
from sqlmodel import Session, col, select

from evidence import queries
from evidence.iterutil import batched
from evidence.literature import search
from evidence.literature.levels import LEVEL_LABELS
from evidence.literature.pmidorder import pmid_desc
from evidence.models import (
    ADVERSE_EVENT_LABELS,
    Citation,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    Treatment,
)
from evidence.practice import reports

if TYPE_CHECKING:  # the export libraries load with the first export, not with the CLI
    from bibtexparser.model import Entry

BATCH_SIZE = 1000
# Rows per streamed chunk for the text formats: big enough to keep per-chunk overhead low,
# small enough that the first bytes leave quickly.
CHUNK_ROWS = 250
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


# --- plain records ----------------------------------------------------------------------


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
    """Format a MeSH heading as MEDLINE does: '*Descriptor/qualifier/*major qualifier'."""
    parts = [("*" if major else "") + descriptor]
    for raw in qualifiers.split(";"):
        q = raw.strip()
        if q:
            parts.append("*" + q[:-1] if q.endswith("*") else q)
    return "/".join(parts)


def link_statuses(flt: queries.CitationFilter) -> tuple[str, ...]:
    """Return the link statuses whose treatments and indications an export names.

    A table of candidates names the candidate links; "any" names included and candidate
    links (an excluded link says the citation is *not* about that treatment).
    """
    if flt.status in ("candidate", "excluded", "included"):
        return (flt.status,)
    return ("included", "candidate")


def ordered_ids_query(flt: queries.CitationFilter) -> Select[Any]:
    """Return the filter's citation ids in the table's order (newest first)."""
    ids = queries.citation_ids_query(flt).subquery()
    return (
        select(Citation.id)
        .where(col(Citation.id).in_(select(ids.c.id)))
        .order_by(col(Citation.year).desc().nulls_last(), *pmid_desc())
    )


# Citation columns in CitationRecord's positional order, preceded by the id.
_CITATION_FIELDS = (
    "id",
    "pmid",
    "title",
    "abstract",
    "journal",
    "journal_abbrev",
    "year",
    "pub_date",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmcid",
    "language",
    "evidence_level",
    "evidence_rule",
    "retraction_status",
)


# The batch queries, as SQL with '{ids}' where the batch's ids go (one parameter).
# Written out rather than built with SQLAlchemy because these run once per table per batch
# over hundreds of thousands of rows: on the DB-API cursor they skip SQLAlchemy's per-row
# Row objects and per-batch rendering of a thousand IN placeholders, which together took
# more time than SQLite itself (bench/export.py).
_BATCH_SQL = {
    "citations": "SELECT " + ", ".join(_CITATION_FIELDS) + " FROM citation WHERE id {ids}",
    "authors": (
        "SELECT citation_id, position, last_name, fore_name, initials, suffix, collective_name "
        "FROM citation_author WHERE citation_id {ids} ORDER BY citation_id, position"
    ),
    "ptypes": (
        "SELECT citation_id, position, name FROM citation_publication_type "
        "WHERE citation_id {ids} ORDER BY citation_id, position"
    ),
    "keywords": (
        "SELECT citation_id, position, keyword FROM citation_keyword "
        "WHERE citation_id {ids} ORDER BY citation_id, position"
    ),
    "mesh": (
        "SELECT citation_id, position, descriptor, qualifiers, major FROM citation_mesh "
        "WHERE citation_id {ids} ORDER BY citation_id, position"
    ),
    "identifiers": (
        "SELECT citation_id, id_type, value FROM citation_identifier "
        "WHERE citation_id {ids} AND id_type IN ('doi', 'pmc', 'pmcid')"
    ),
    "sections": (
        "SELECT citation_id, position, label, text FROM citation_abstract_section "
        "WHERE citation_id {ids} ORDER BY citation_id, position"
    ),
    # The status is filtered in Python: with it in the WHERE clause SQLite chose the status
    # index and scanned every included link of the database for each batch.
    "links": (
        "SELECT citation_id, id, treatment_id, indication_id, status FROM citation_link "
        "WHERE citation_id {ids} ORDER BY citation_id, id"
    ),
}


def _batch_sql(dialect: str) -> dict[str, str] | None:
    """Return the batch queries for a dialect, with one parameter for the ids, or None."""
    if dialect == "sqlite":
        ids = "IN (SELECT value FROM json_each(?))"
    elif dialect == "postgresql":
        ids = "= ANY(%s)"
    else:
        return None
    return {k: sql.replace("{ids}", ids) for k, sql in _BATCH_SQL.items()}


# One query per batch for everything a record holds: each related table's rows for a
# citation come back concatenated into one string by a correlated subquery, in position
# order. A batch then costs SQLite (or PostgreSQL) one statement and Python a few strings
# per citation instead of ~15 row tuples to group (bench/export.py: the per-table queries
# and their rows were nearly half an export's time).
# Values are separated by ASCII record/unit separators (RS between items, US between an
# item's fields). A stored value may contain anything, so every citation is checked: an
# item with the wrong number of fields, a list longer than its row count, or the marker an
# empty-string field is sent as (STX; NULL is sent as '') sends that citation to the
# per-table queries, which read the rows as they are.
RS, US, STX = "\x1e", "\x1f", "\x02"
# Statuses come from link_statuses(): only these are ever written into the SQL.
LINK_STATUSES = ("included", "candidate", "excluded")


def _agg(dialect: str, expr: str, table: str, order: str, sep: str) -> str:
    """Return a correlated subquery concatenating `expr` over a citation's rows, in order."""
    if dialect == "postgresql":
        return (
            f"(SELECT string_agg({expr}, {sep} ORDER BY {order}) FROM {table} t "
            "WHERE t.citation_id = c.id)"
        )
    # SQLite before 3.44 has no ORDER BY inside an aggregate: group_concat keeps the order
    # of an ordered subquery (true of every SQLite release, though not promised).
    return (
        f"(SELECT group_concat(v, {sep}) FROM (SELECT {expr} AS v FROM {table} t "
        f"WHERE t.citation_id = c.id ORDER BY {order}))"
    )


def _aggregated_sql(dialect: str, parts: frozenset[str], statuses: Sequence[str]) -> str:
    """Return the one-query-per-batch SQL: citation columns, then one column per part."""
    chr_ = "chr" if dialect == "postgresql" else "char"
    rs, us = f"{chr_}(30)", f"{chr_}(31)"

    def field(name: str) -> str:
        # NULL -> '' (the common case), '' -> STX (rare: that citation takes the slow path).
        return f"CASE WHEN t.{name} = '' THEN {chr_}(2) ELSE coalesce(t.{name}, '') END"

    cols = ["c." + name for name in _CITATION_FIELDS]
    null = "NULL"
    if "authors" in parts:
        names = ("last_name", "fore_name", "initials", "suffix", "collective_name")
        expr = f" || {us} || ".join(field(n) for n in names)
        cols.append(_agg(dialect, expr, "citation_author", "t.position", rs))
    else:
        cols.append(null)
    counted = []
    for part, table, column in (
        ("publication_types", "citation_publication_type", "name"),
        ("keywords", "citation_keyword", "keyword"),
    ):
        if part in parts:
            cols.append(_agg(dialect, f"t.{column}", table, "t.position", rs))
            counted.append(f"(SELECT count(*) FROM {table} t WHERE t.citation_id = c.id)")
        else:
            cols.append(null)
    # Single-value lists cannot check themselves: their row counts, summed, check them.
    cols.append(" + ".join(counted) if counted else "0")
    if "mesh_terms" in parts:
        expr = (
            f"t.descriptor || {us} || coalesce(t.qualifiers, '') || {us} || "
            "CASE WHEN t.major THEN '1' ELSE '' END"
        )
        cols.append(_agg(dialect, expr, "citation_mesh", "t.position", rs))
    else:
        cols.append(null)
    if "identifiers" in parts:
        # A DOI or PMCID kept only among the identifiers fills the citation's empty one.
        for column, types in (("doi", "'doi'"), ("pmcid", "'pmc', 'pmcid'")):
            cols.append(
                f"CASE WHEN c.{column} IS NULL OR c.{column} = '' THEN (SELECT t.value "
                f"FROM citation_identifier t WHERE t.citation_id = c.id AND t.id_type IN "
                f"({types}) ORDER BY t.id LIMIT 1) END"
            )
    else:
        cols += [null, null]
    if "abstract" in parts:
        # Where only the sections were kept: 'LABEL: text' joined by spaces.
        expr = "CASE WHEN t.label <> '' THEN t.label || ': ' || t.text ELSE t.text END"
        sections = _agg(dialect, expr, "citation_abstract_section", "t.position", "' '")
        cols.append(f"CASE WHEN c.abstract IS NULL THEN {sections} END")
    else:
        cols.append(null)
    if "links" in parts:
        wanted = [s for s in statuses if s in LINK_STATUSES]
        inlist = ", ".join(f"'{s}'" for s in wanted) or "NULL"
        for column in ("treatment_id", "indication_id"):
            expr = f"CASE WHEN t.status IN ({inlist}) THEN CAST(t.{column} AS TEXT) END"
            cols.append(_agg(dialect, expr, "citation_link", "t.id", "','"))
    else:
        cols += [null, null]
    ids = "IN (SELECT value FROM json_each(?))" if dialect == "sqlite" else "= ANY(%s)"
    return "SELECT " + ", ".join(cols) + f" FROM citation c WHERE c.id {ids}"


@lru_cache(maxsize=65536)
def _mesh_item(item: str) -> str:
    """Return the MEDLINE form of one aggregated MeSH item 'descriptor US qualifiers US major'.

    Cached: the same headings recur across a literature (Humans, Female, Acne Vulgaris ...).
    """
    descriptor, qualifiers, major = item.split(US)
    return mesh_label(descriptor, qualifiers, bool(major))


class _Mismatch(Exception):
    """An aggregated value did not split as its rows would: read that citation per table."""


_FIRST = itemgetter(0)
# What a record holds beyond the citation row, each read by one query per batch.
RECORD_PARTS = (
    "authors",
    "publication_types",
    "keywords",
    "mesh_terms",
    "identifiers",
    "abstract",
    "links",
)


class RecordLoader:
    """Loads `CitationRecord`s for batches of citation ids, one query per table per batch."""

    def __init__(
        self,
        session: Session,
        *,
        statuses: Sequence[str] = ("included",),
        parts: Iterable[str] = RECORD_PARTS,
    ) -> None:
        self.session = session
        self.statuses = tuple(statuses)
        # Related tables to read; an export of a few CSV columns skips the others.
        self.parts = frozenset(parts)
        self.treatments = {
            t.id: Named(t.slug, t.name) for t in session.exec(select(Treatment)) if t.id
        }
        self.indications = {
            i.id: Named(i.slug, i.name) for i in session.exec(select(Indication)) if i.id
        }
        self.dialect = session.get_bind().dialect.name
        self.sql = _batch_sql(self.dialect)
        if self.sql is None:
            raise ExportError(f"exports support SQLite and PostgreSQL, not {self.dialect}")
        self.aggregated_sql = _aggregated_sql(self.dialect, self.parts, self.statuses)
        # Link ids come back as text: map the text straight to the Named.
        self.treatments_by_text = {str(k): v for k, v in self.treatments.items()}
        self.indications_by_text = {str(k): v for k, v in self.indications.items()}

    def _rows(self, name: str, ids: list[int]) -> list[Any]:
        """Run one batch query on the session's own DB-API connection (its transaction too)."""
        assert self.sql is not None
        sql = self.aggregated_sql if name == "aggregated" else self.sql[name]
        param: Any = json.dumps(ids) if self.dialect == "sqlite" else ids
        dbapi = self.session.connection().connection.driver_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            cursor.execute(sql, (param,))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def load(self, ids: Sequence[int]) -> list[CitationRecord]:
        """Return the records of these citation ids, in the order given: one query in all."""
        return list(self.iter_load(ids))

    def iter_load(self, ids: Sequence[int]) -> Iterator[CitationRecord]:
        """Yield the records of these citation ids in the order given, one query in all.

        Records are built one at a time as they are consumed: a batch's thousands of lists
        and tuples never live at once, so the garbage collector has little to scan.
        """
        if not ids:
            return
        ids = list(ids)
        rows = {row[0]: row for row in self._rows("aggregated", ids)}
        for cid in ids:
            row = rows.get(cid)
            if row is None:
                continue
            try:
                yield self._record(row)
            except (_Mismatch, TypeError, ValueError):
                yield from self.load_by_table([cid])

    def _record(self, row: Sequence[Any]) -> CitationRecord:
        """Build one record from an aggregated row; raise where a value hid a separator."""
        (authors, ptypes, keywords, count, mesh, doi, pmcid, abstract, tids, iids) = row[17:]
        rec = CitationRecord(*row[1:17])
        if authors is not None:
            if STX in authors:  # an empty-string field: only the row itself says so
                raise _Mismatch
            # Author._make refuses an item with more or fewer than its five fields.
            rec.authors = [
                Author._make([f or None for f in item.split(US)]) for item in authors.split(RS)
            ]
        if ptypes is not None:
            rec.publication_types = ptypes.split(RS)
        if keywords is not None:
            rec.keywords = keywords.split(RS)
        if count and len(rec.publication_types) + len(rec.keywords) != count:
            raise _Mismatch
        if mesh is not None:
            rec.mesh_terms = [_mesh_item(item) for item in mesh.split(RS)]
        if doi is not None:
            rec.doi = doi
        if pmcid is not None:
            rec.pmcid = pmcid
        if abstract is not None:
            rec.abstract = abstract
        if tids is not None:
            rec.treatments = self._named(tids, self.treatments_by_text)
        if iids is not None:
            rec.indications = self._named(iids, self.indications_by_text)
        return rec

    @staticmethod
    def _named(ids: str, names: dict[str, Named]) -> list[Named]:
        """Return the treatments (or indications) of comma-separated link ids, each once."""
        out: list[Named] = []
        for key in ids.split(","):
            named = names.get(key)
            if named is not None and named not in out:
                out.append(named)
        return out

    def load_by_table(self, ids: Sequence[int]) -> list[CitationRecord]:
        """Return the records of these ids, in order, reading one query per related table.

        The exact path: used for citations whose values hold the aggregated separators.
        """
        if not ids:
            return []
        ids = list(ids)
        records: dict[int, CitationRecord] = {}
        for r in self._rows("citations", ids):
            records[r[0]] = CitationRecord(*r[1:])
        # Rows come ordered by citation: one dict lookup per citation, not per row.
        if "authors" in self.parts:
            for cid, group in groupby(self._rows("authors", ids), _FIRST):
                records[cid].authors = [Author._make(r[2:]) for r in group]
        if "publication_types" in self.parts:
            for cid, group in groupby(self._rows("ptypes", ids), _FIRST):
                records[cid].publication_types = [r[2] for r in group]
        if "keywords" in self.parts:
            for cid, group in groupby(self._rows("keywords", ids), _FIRST):
                records[cid].keywords = [r[2] for r in group]
        if "mesh_terms" in self.parts:
            for cid, group in groupby(self._rows("mesh", ids), _FIRST):
                records[cid].mesh_terms = [mesh_label(r[2], r[3] or "", bool(r[4])) for r in group]
        if "identifiers" in self.parts:
            self._identifiers(records, ids)
        if "abstract" in self.parts:
            self._abstracts(records, [i for i, rec in records.items() if rec.abstract is None])
        if "links" in self.parts:
            self._links(records, ids)
        return [records[i] for i in ids if i in records]

    def _identifiers(self, records: dict[int, CitationRecord], ids: list[int]) -> None:
        """Fill a missing DOI or PMCID from the record's other identifiers."""
        for cid, id_type, value in self._rows("identifiers", ids):
            rec = records[cid]
            if id_type == "doi" and not rec.doi:
                rec.doi = value
            elif id_type in ("pmc", "pmcid") and not rec.pmcid:
                rec.pmcid = value

    def _abstracts(self, records: dict[int, CitationRecord], ids: list[int]) -> None:
        """Build the abstract from its sections where only the sections were kept."""
        if not ids:
            return
        parts: dict[int, list[str]] = defaultdict(list)
        for cid, _pos, label, text in self._rows("sections", ids):
            parts[cid].append(f"{label}: {text}" if label else text)
        for cid, texts in parts.items():
            records[cid].abstract = " ".join(texts)

    def _links(self, records: dict[int, CitationRecord], ids: list[int]) -> None:
        """Attach the treatments and indications the citation is linked to, each once."""
        statuses = self.statuses
        for cid, _id, tid, iid, status in self._rows("links", ids):
            if status not in statuses:
                continue
            rec = records[cid]
            treatment = self.treatments.get(tid) if tid else None
            if treatment and treatment not in rec.treatments:
                rec.treatments.append(treatment)
            indication = self.indications.get(iid) if iid else None
            if indication and indication not in rec.indications:
                rec.indications.append(indication)


def iter_citations(
    session: Session,
    flt: queries.CitationFilter,
    *,
    batch_size: int = BATCH_SIZE,
    parts: Iterable[str] = RECORD_PARTS,
) -> Iterator[CitationRecord]:
    """Yield the filter's citations in the table's order, loading them batch by batch."""
    loader = RecordLoader(session, statuses=link_statuses(flt), parts=parts)
    # yield_per streams the ids (a server-side cursor on PostgreSQL) instead of fetching all.
    if flt.q:
        search.refresh_pending(session.get_bind())
    result = session.execute(ordered_ids_query(flt).execution_options(yield_per=batch_size))
    for partition in result.partitions(batch_size):
        yield from loader.iter_load([row[0] for row in partition])


# --- CSV ------------------------------------------------------------------------------


def _join(values: Iterable[str]) -> str:
    """Join list values with '; ', the separator the CSV header promises."""
    return "; ".join(values)


CITATION_COLUMNS: dict[str, tuple[str, Callable[[CitationRecord], Any]]] = {
    "pmid": ("PMID", lambda r: r.pmid),
    "title": ("Title", lambda r: r.title),
    "authors": ("Authors (Last FM; Last FM)", lambda r: _join(a.label for a in r.authors)),
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
    "publication_types": ("Publication types", lambda r: _join(r.publication_types)),
    "mesh_terms": ("MeSH terms", lambda r: _join(r.mesh_terms)),
    "keywords": ("Keywords", lambda r: _join(r.keywords)),
    "evidence_level": (
        "Evidence level (1-5, or 'not rated')",
        lambda r: r.evidence_level if r.evidence_level is not None else "not rated",
    ),
    "evidence_rule": ("Evidence level rule", lambda r: r.evidence_rule),
    "retraction_status": ("Retraction status", lambda r: r.retraction_status),
    "treatments": ("Treatments", lambda r: _join(t.name for t in r.treatments)),
    "indications": ("Indications", lambda r: _join(i.name for i in r.indications)),
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


class ExportError(ValueError):
    """An export was asked for with an unknown format or column; the message says which."""


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


def _csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
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
    return _csv_chunks(list(columns), ([get(r) for get in getters] for r in records))


# --- RIS ------------------------------------------------------------------------------


def _plain_ris_writer() -> type:
    """Return rispy's writer without its '1.' counter lines, which are not part of RIS.

    The reference `ris_record` is checked against (tests/evidence/output/test_exports.py); built on
    first use so that importing this module does not import rispy.
    """
    import rispy

    class PlainRisWriter(rispy.RisWriter):  # type: ignore[misc]  # rispy ships no types
        """rispy's writer without its counter lines."""

        def set_header(self, count: int) -> str:
            """Write no counter line before each reference."""
            return ""

        def _format_line(self, tag: str, value: str = "") -> str:
            """Format 'TAG  - value' as PATTERN does, without str.format's per-call parsing."""
            return tag + "  - " + str(value)

    return PlainRisWriter


def __getattr__(name: str) -> Any:
    """Build PlainRisWriter on first access (module attribute, PEP 562)."""
    if name == "PlainRisWriter":
        writer = _plain_ris_writer()
        globals()["PlainRisWriter"] = writer
        return writer
    raise AttributeError(name)


def _one_line(value: str | None) -> str:
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
        out.append("Publication types: " + _join(record.publication_types))
    out.append("Treatments: " + (_join(t.name for t in record.treatments) or "none linked"))
    out.append("Indications: " + (_join(i.name for i in record.indications) or "none linked"))
    return out


def tags(record: CitationRecord) -> list[str]:
    """Return keywords for reference managers' tags: MeSH, author keywords and our grading."""
    out = list(record.mesh_terms) + list(record.keywords)
    level = record.evidence_level
    out.append(f"Evidence level {level}" if level is not None else "Evidence level not rated")
    if record.retraction_status != "none":
        out.append(f"Retraction status: {record.retraction_status}")
    out.extend(f"Treatment: {t.name}" for t in record.treatments)
    out.extend(f"Indication: {i.name}" for i in record.indications)
    return out


def ris_entry(record: CitationRecord) -> dict[str, Any]:
    """Return one citation as a rispy entry (tag names as rispy spells them)."""
    entry: dict[str, Any] = {
        "type_of_reference": "JOUR",
        "title": _one_line(record.title),
        "authors": [_one_line(a.inverted) for a in record.authors],
    }
    if record.year is not None:
        entry["year"] = str(record.year)
    if record.journal:
        entry["secondary_title"] = _one_line(record.journal)
    if record.journal_abbrev:
        entry["alternate_title1"] = _one_line(record.journal_abbrev)
    if record.volume:
        entry["volume"] = record.volume
    if record.issue:
        entry["number"] = record.issue
    start, end = split_pages(record.pages)
    if start:
        entry["start_page"] = start
    if end:
        entry["end_page"] = end
    if record.doi:
        entry["doi"] = record.doi
    entry["accession_number"] = record.pmid
    entry["name_of_database"] = "PubMed"
    if record.pmcid:
        # C2 is where EndNote and Zotero look for a PMCID.
        entry["custom2"] = record.pmcid
    if record.language:
        entry["language"] = record.language
    if record.abstract:
        entry["abstract"] = _one_line(record.abstract)
    entry["keywords"] = [_one_line(k) for k in tags(record)]
    # One note, not one per fact: reference managers turn each N1 into a separate note.
    entry["notes"] = [_one_line("; ".join(notes(record)))]
    entry["urls"] = [record.pubmed_url]
    if not entry["authors"]:
        del entry["authors"]
    return entry


def ris_record(record: CitationRecord) -> str:
    """Return one citation as RIS text, exactly as rispy writes `ris_entry(record)`.

    Written out rather than through rispy: its writer looks up every tag of every entry
    in its mapping and formats line by line, which was half of an RIS export's time.
    tests/evidence/output/test_exports.py checks the two agree byte for byte.
    """
    lines = ["TY  - JOUR\nTI  - ", _one_line(record.title), "\n"]
    for a in record.authors:
        lines += ("AU  - ", _one_line(a.inverted), "\n")
    if record.year is not None:
        lines += ("PY  - ", str(record.year), "\n")
    if record.journal:
        lines += ("T2  - ", _one_line(record.journal), "\n")
    if record.journal_abbrev:
        lines += ("J2  - ", _one_line(record.journal_abbrev), "\n")
    if record.volume:
        lines += ("VL  - ", record.volume, "\n")
    if record.issue:
        lines += ("IS  - ", record.issue, "\n")
    start, end = split_pages(record.pages)
    if start:
        lines += ("SP  - ", start, "\n")
    if end:
        lines += ("EP  - ", end, "\n")
    if record.doi:
        lines += ("DO  - ", record.doi, "\n")
    lines += ("AN  - ", record.pmid, "\nDB  - PubMed\n")
    if record.pmcid:
        lines += ("C2  - ", record.pmcid, "\n")
    if record.language:
        lines += ("LA  - ", record.language, "\n")
    if record.abstract:
        lines += ("AB  - ", _one_line(record.abstract), "\n")
    for keyword in tags(record):
        lines += ("KW  - ", _one_line(keyword), "\n")
    lines += ("N1  - ", _one_line("; ".join(notes(record))), "\n")
    lines += ("UR  - ", record.pubmed_url, "\nER  - \n\n")
    return "".join(lines)


def write_ris(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield RIS text, one 'TY  - JOUR' ... 'ER  - ' reference per citation, blank-line apart."""
    # Each record becomes text as it arrives; only the text waits for the chunk to fill.
    pending: list[str] = []
    for r in records:
        pending.append(ris_record(r))
        if len(pending) >= CHUNK_ROWS:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)


# --- BibTeX ---------------------------------------------------------------------------

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_TABLE = str.maketrans(_LATEX_SPECIALS)


def latex_escape(value: str) -> str:
    """Escape LaTeX's special characters (escaped braces: a lone brace cannot unbalance a value).

    Unicode is kept as is: biber and modern BibTeX read UTF-8.
    """
    return _one_line(value).translate(_LATEX_TABLE)


def bibtex_name(author: Author) -> str:
    """Return an author as BibTeX wants it; braces keep a collective name from being split."""
    if author.collective_name:
        return "{" + latex_escape(author.collective_name) + "}"
    given = author.fore_name or author.initials
    if author.suffix and given:
        # BibTeX's three-part form: "von Last, Jr, First".
        return latex_escape(f"{author.last_name}, {author.suffix}, {given}")
    return latex_escape(author.inverted)


def bibtex_entry(record: CitationRecord) -> Entry:
    """Return one citation as a bibtexparser entry keyed 'pmid<PMID>'."""
    from bibtexparser.model import Entry
    from bibtexparser.model import Field as BibField

    fields: list[tuple[str, str | None]] = [
        ("title", record.title),
        ("author", None),
        ("journal", record.journal or record.journal_abbrev),
        ("year", str(record.year) if record.year is not None else None),
        ("volume", record.volume),
        ("number", record.issue),
        ("pages", page_range(record.pages, "--")),
        ("doi", record.doi),
        ("pmid", record.pmid),
        ("pmcid", record.pmcid),
        ("language", record.language),
        ("abstract", record.abstract),
        ("keywords", ", ".join(t.replace(",", " ") for t in tags(record))),
        ("note", ". ".join(notes(record))),
        ("url", record.pubmed_url),
    ]
    out = []
    for key, value in fields:
        if key == "author":
            if record.authors:
                out.append(BibField("author", " and ".join(bibtex_name(a) for a in record.authors)))
            continue
        if not value:
            continue
        # DOIs and URLs are read verbatim by biblatex: escaping them would corrupt them.
        text = _one_line(value) if key in ("doi", "url") else latex_escape(value)
        out.append(BibField(key, text))
    return Entry("article", f"pmid{record.pmid}", out)


def write_bibtex(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield BibTeX text, one @article per citation."""
    from bibtexparser.entrypoint import write_string as bibtex_write_string
    from bibtexparser.library import Library

    for batch in batched(records, CHUNK_ROWS):
        library = Library()
        library.add([bibtex_entry(r) for r in batch])
        yield bibtex_write_string(library).rstrip("\n") + "\n\n"


# --- CSL-JSON -------------------------------------------------------------------------


def csl_item(record: CitationRecord) -> dict[str, Any]:
    """Return one citation as a CSL-JSON item; our grading goes in the 'custom' object."""
    item: dict[str, Any] = {
        "id": f"pmid:{record.pmid}",
        "type": "article-journal",
        "title": record.title,
        "PMID": record.pmid,
    }
    authors = []
    for a in record.authors:
        if a.collective_name:
            authors.append({"literal": a.collective_name})
        else:
            name: dict[str, str] = {"family": a.last_name or ""}
            if a.fore_name or a.initials:
                name["given"] = a.fore_name or a.initials or ""
            if a.suffix:
                name["suffix"] = a.suffix
            authors.append(name)
    if authors:
        item["author"] = authors
    if record.year is not None:
        item["issued"] = {"date-parts": [[record.year]]}
    optional = {
        "container-title": record.journal,
        "container-title-short": record.journal_abbrev,
        "volume": record.volume,
        "issue": record.issue,
        "page": page_range(record.pages, "-"),
        "DOI": record.doi,
        "PMCID": record.pmcid,
        "language": record.language,
        "abstract": record.abstract,
    }
    item.update({k: v for k, v in optional.items() if v})
    item["URL"] = record.pubmed_url
    # CSL's 'keyword' is one comma-separated string.
    item["keyword"] = ", ".join(t.replace(",", " ") for t in tags(record))
    item["note"] = "\n".join(notes(record))
    item["custom"] = {
        "evidence_level": record.evidence_level,
        "evidence_rule": record.evidence_rule,
        "retraction_status": record.retraction_status,
        "publication_types": record.publication_types,
        "mesh_terms": record.mesh_terms,
        "treatments": [{"slug": t.slug, "name": t.name} for t in record.treatments],
        "indications": [{"slug": i.slug, "name": i.name} for i in record.indications],
    }
    return item


def write_csl_json(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield a CSL-JSON array, one item per citation, written as the items arrive."""
    yield "["
    first = True
    for batch in batched(records, CHUNK_ROWS):
        parts = []
        for r in batch:
            parts.append(("\n" if first else ",\n") + json.dumps(csl_item(r), ensure_ascii=False))
            first = False
        yield "".join(parts)
    yield "\n]\n"


# --- MEDLINE (.nbib) --------------------------------------------------------------------


def _medline_line(tag: str, value: str) -> str:
    """Return one MEDLINE line: the tag padded to four characters, '- ', the value."""
    return f"{tag:<4}- {_one_line(value)}\n"


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


# --- XLSX -----------------------------------------------------------------------------


def write_xlsx_file(
    records: Iterable[CitationRecord],
    path: str,
    *,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    about: Sequence[tuple[str, str]] = (),
) -> int:
    """Write an XLSX workbook (a 'Citations' sheet and an 'About' sheet); return the rows."""
    import xlsxwriter

    # constant_memory flushes each row to disk as it is written: memory stays flat.
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False})
    try:
        sheet = workbook.add_worksheet("Citations")
        bold = workbook.add_format({"bold": True})
        getters = [CITATION_COLUMNS[name][1] for name in columns]
        for j, name in enumerate(columns):
            sheet.write_string(0, j, name, bold)
        sheet.freeze_panes(1, 0)
        n = 0
        for n, record in enumerate(records, start=1):
            for j, get in enumerate(getters):
                value = get(record)
                if isinstance(value, int):
                    sheet.write_number(n, j, value)
                else:
                    # write_string, never write(): a title starting with '=' stays text.
                    sheet.write_string(n, j, str(value))
        info = workbook.add_worksheet("About")
        info.write_string(0, 0, "Exported", bold)
        info.write_string(0, 1, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
        info.write_string(1, 0, "Citations", bold)
        info.write_number(1, 1, n)
        for i, (label, value) in enumerate(about, start=2):
            info.write_string(i, 0, label, bold)
            info.write_string(i, 1, value)
        return n
    finally:
        workbook.close()


def write_xlsx(
    records: Iterable[CitationRecord],
    columns: Sequence[str] = DEFAULT_COLUMNS,
    *,
    about: Sequence[tuple[str, str]] = (),
    chunk_size: int = 64 * 1024,
) -> Iterator[bytes]:
    """Yield an XLSX workbook's bytes: built in a temporary file (a zip is written at the end)."""
    fd, path = tempfile.mkstemp(prefix="evidence-export-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx_file(records, path, columns=columns, about=about)
        with open(path, "rb") as handle:
            while chunk := handle.read(chunk_size):
                yield chunk
    finally:
        os.unlink(path)


# --- formats --------------------------------------------------------------------------


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


# --- outcome reports ------------------------------------------------------------------------


REPORT_COLUMNS = (
    "id",
    "treatment",
    "indication",
    "indication_detail",
    "reported_by",
    "source_title",
    "source_site",
    "source_ref",
    "source_commenter",
    "source_role",
    "source_quote",
    "source_mapping",
    "sessions",
    "interval_weeks",
    "fitzpatrick",
    "age_band",
    "device",
    "needle_depth_mm",
    "energy",
    "passes",
    "settings",
    "improvement",
    "satisfaction",
    "goodman_baron_before",
    "goodman_baron_after",
    "gais",
    "adverse_events",
    "adverse_other",
    "downtime_days",
    "cost_per_session",
    "cost_per_course",
    "currency",
    "cost_note",
    "follow_up_months",
    "protocol_pmid",
    "notes",
    "created_at",
)


def report_rows(
    session: Session, flt: reports.ReportFilter, *, batch_size: int = BATCH_SIZE
) -> Iterator[list[Any]]:
    """Yield visible outcome reports as rows of REPORT_COLUMNS, batch by batch, oldest first.

    The filter is the reports list's (treatment, indication, skin type, role, adverse event,
    dates). Hidden reports are never exported, and no reporter identity leaves the app: a
    practitioner's report says only 'practitioner'.
    """
    names = queries.name_maps(session)
    stmt = reports.report_query(replace(flt, hidden=False))
    last_id = 0
    while True:
        batch = list(
            session.exec(
                stmt.where(col(OutcomeReport.id) > last_id)
                .order_by(col(OutcomeReport.id))
                .limit(batch_size)
            )
        )
        if not batch:
            return
        ids = [r.id for r in batch if r.id is not None]
        last_id = ids[-1]
        events: dict[int, list[str]] = defaultdict(list)
        for report_id, event, detail in session.execute(
            select(
                OutcomeAdverseEvent.report_id, OutcomeAdverseEvent.event, OutcomeAdverseEvent.detail
            )
            .where(col(OutcomeAdverseEvent.report_id).in_(ids))
            .order_by(col(OutcomeAdverseEvent.id))
        ):
            label = ADVERSE_EVENT_LABELS.get(event, event)
            events[report_id].append(f"{label} ({detail})" if detail else label)
        for r in batch:
            assert r.id is not None
            values = r.model_dump()
            treatment = names.treatments.get(r.treatment_id)
            indication = names.indications.get(r.indication_id) if r.indication_id else None
            values.update(
                treatment=treatment.name if treatment else "",
                indication=indication.name if indication else "",
                reported_by="quoted source" if r.source_key else "practitioner",
                adverse_events=_join(events[r.id]),
                created_at=r.created_at.strftime("%Y-%m-%d"),
            )
            yield ["" if values.get(c) is None else values[c] for c in REPORT_COLUMNS]


def export_reports(session: Session, flt: reports.ReportFilter) -> Iterator[bytes]:
    """Yield the visible outcome reports matching the filter as CSV bytes."""
    for chunk in _csv_chunks(REPORT_COLUMNS, report_rows(session, flt)):
        yield chunk.encode("utf-8")
