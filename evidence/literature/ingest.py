"""Store PubMed records: an idempotent upsert by PMID, and all-or-nothing file imports.

Records come from `pubmed` (efetch answers, XML files, MEDLINE exports). Storing is by
PMID: a new PMID is added, a known one whose record changed (a retraction notice, a
corrected title) is updated in place, an unchanged one is left alone, and nothing is ever
duplicated. Curated data (links to treatments, co-interventions) is never touched.

Writes go through SQLAlchemy Core in batches (executemany) so an import of tens of
thousands of records runs at parsing speed; see bench/ingest.py.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from evidence.iterutil import batched
from evidence.literature import duplicates, retractions, search
from evidence.literature.levels import grade
from evidence.models import (
    Citation,
    CitationAbstractSection,
    CitationAuthor,
    CitationCorrection,
    CitationIdentifier,
    CitationKeyword,
    CitationLink,
    CitationMesh,
    CitationPublicationType,
    RetractionStatus,
    utcnow,
)
from pubmed import (
    DeletedCitation,
    EntrezClient,
    PubMedError,
    PubmedRecord,
    iter_medline,
    iter_pmid_batches,
    iter_pubmed_xml,
    parse_pmid_text,
    safexml,
)
from pubmed.parse import ParsedItem
from pubmed.pmids import looks_like_pmid_list

BATCH_SIZE = 1000
RETRACTION_STATUS = {  # the parser's flag -> the stored status
    "retracted": RetractionStatus.RETRACTED,
    "concern": RetractionStatus.EXPRESSION_OF_CONCERN,
    "notice": RetractionStatus.RETRACTION_NOTICE,
    "none": RetractionStatus.NONE,
}

CITATION: Table = Citation.__table__  # type: ignore[attr-defined]
CHILD_TABLES: tuple[Table, ...] = tuple(
    getattr(model, "__table__")  # noqa: B009 - SQLModel does not declare __table__ to mypy
    for model in (
        CitationAuthor,
        CitationAbstractSection,
        CitationPublicationType,
        CitationMesh,
        CitationKeyword,
        CitationIdentifier,
        CitationCorrection,
    )
)
LINK: Table = CitationLink.__table__  # type: ignore[attr-defined]


@dataclass
class LinkTarget:
    """Where stored records should be linked: a treatment and/or indication, and by what."""

    treatment_id: int | None
    indication_id: int | None = None
    found_by: str = "import"
    saved_search_id: int | None = None
    status: str = "candidate"


@dataclass
class UpsertCounts:
    """What an upsert did."""

    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: list[int] = field(default_factory=list)
    linked: int = 0
    unlinked: int = 0  # records of the batch linked to no treatment and no indication

    def add(self, other: UpsertCounts) -> None:
        """Accumulate another batch's counts."""
        self.read += other.read
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.withdrawn.extend(other.withdrawn)
        self.linked += other.linked
        self.unlinked += other.unlinked


def _cut(value: str | None, limit: int) -> str | None:
    """Trim a value to its column's length (PostgreSQL enforces VARCHAR limits)."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


# Bump when the mapping from records to rows changes, so every record is rewritten once.
HASH_VERSION = "1"


def record_hash(record: PubmedRecord) -> str:
    """Fingerprint every stored field of a record (a tuple of plain values, hashed)."""
    r = record
    d = r.pub_date
    parts = (
        HASH_VERSION,
        r.pmid,
        r.title,
        r.kind,
        [(s.text, s.label, s.nlm_category) for s in r.abstract_sections],
        r.journal_title,
        r.journal_iso,
        r.volume,
        r.issue,
        r.pages,
        (d.year, d.month, d.day, d.season, d.medline_date),
        r.doi,
        r.pmcid,
        r.languages,
        [
            (a.last_name, a.fore_name, a.initials, a.suffix, a.collective_name, a.affiliations)
            for a in r.authors
        ],
        r.publication_types,
        [
            (m.descriptor, m.ui, m.major_topic, [(q.name, q.major_topic) for q in m.qualifiers])
            for m in r.mesh_headings
        ],
        r.keywords,
        [(c.ref_type, c.pmid, c.ref_source, c.note) for c in r.comments_corrections],
    )
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=20).hexdigest()


def citation_values(
    record: PubmedRecord, *, source: str, source_detail: str | None
) -> dict[str, Any]:
    """Map a record to the citation row (evidence level and retraction status derived)."""
    graded = grade(record.publication_types, record.title)
    abstract = record.abstract
    first = record.authors[0] if record.authors else None
    return {
        "pmid": str(record.pmid),
        "title": record.title,
        "abstract": abstract or None,
        "journal": _cut(record.journal_title, 500),
        "journal_abbrev": _cut(record.journal_iso, 200),
        "year": record.year,
        "pub_date": _cut(record.pub_date.text or None, 80),
        "volume": _cut(record.volume, 40),
        "issue": _cut(record.issue, 40),
        "pages": _cut(record.pages, 80),
        "doi": _cut(record.doi, 200),
        "pmcid": _cut(record.pmcid, 40),
        "language": _cut(record.language, 40),
        "evidence_level": graded.level,
        "evidence_rule": _cut(graded.rule, 500) or "",
        "retraction_status": RETRACTION_STATUS[record.retraction_status],
        "source": source,
        "source_detail": _cut(source_detail, 500),
        "complete": True,
        # As add_child_rows stores the first author, so duplicates reads its block by index.
        "first_author_key": duplicates.first_author_key(
            _cut(first.last_name, 200), _cut(first.collective_name, 500)
        )
        if first
        else "",
    }


# Column order of the tuples child_rows yields, per child table.
CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    "citation_author": (
        "citation_id",
        "position",
        "last_name",
        "fore_name",
        "initials",
        "suffix",
        "collective_name",
        "affiliation",
    ),
    "citation_abstract_section": ("citation_id", "position", "label", "nlm_category", "text"),
    "citation_publication_type": ("citation_id", "position", "name"),
    "citation_mesh": (
        "citation_id",
        "position",
        "descriptor",
        "descriptor_ui",
        "major",
        "qualifiers",
    ),
    "citation_keyword": ("citation_id", "position", "keyword", "major"),
    "citation_identifier": ("citation_id", "id_type", "value"),
    "citation_correction": ("citation_id", "ref_type", "ref_pmid", "ref_source"),
}


ChildRows = dict[str, list[tuple[Any, ...]]]


def add_child_rows(record: PubmedRecord, citation_id: int, out: ChildRows) -> None:
    """Append every child row of a record to ``out`` (table name -> CHILD_COLUMNS tuples)."""
    cid, cut = citation_id, _cut
    rows = out["citation_author"]
    for pos, a in enumerate(record.authors):
        rows.append(
            (
                cid,
                pos,
                cut(a.last_name, 200),
                cut(a.fore_name, 200),
                cut(a.initials, 20),
                cut(a.suffix, 20),
                cut(a.collective_name, 500),
                "; ".join(a.affiliations) if a.affiliations else None,
            )
        )
    rows = out["citation_abstract_section"]
    for pos, s in enumerate(record.abstract_sections):
        rows.append((cid, pos, cut(s.label, 200), cut(s.nlm_category, 40), s.text))
    out["citation_publication_type"].extend(
        (cid, pos, cut(name, 200)) for pos, name in enumerate(record.publication_types)
    )
    rows = out["citation_mesh"]
    for pos, m in enumerate(record.mesh_headings):
        qualifiers = (
            "; ".join(q.name + ("*" if q.major_topic else "") for q in m.qualifiers)
            if m.qualifiers
            else ""
        )
        rows.append(
            (cid, pos, cut(m.descriptor, 300), cut(m.ui, 20), m.major_topic, cut(qualifiers, 1000))
        )
    out["citation_keyword"].extend(
        (cid, pos, cut(word, 500), False) for pos, word in enumerate(record.keywords)
    )
    if record.doi:
        out["citation_identifier"].append((cid, "doi", cut(record.doi, 300)))
    if record.pmcid:
        out["citation_identifier"].append((cid, "pmc", cut(record.pmcid, 300)))
    rows = out["citation_correction"]
    for link in record.comments_corrections:
        source = link.ref_source
        if link.note:
            source = f"{source} ({link.note})" if source else link.note
        rows.append((cid, cut(link.ref_type, 60), str(link.pmid) if link.pmid else None, source))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """Split a list into chunks (IN lists stay under every backend's parameter limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Columns a file import may fill or change but never blank: a MEDLINE or XML file that lacks
# a field (an abstract, a DOI, a flag) says nothing about it, so the stored value stays.
KEPT_ON_IMPORT = (
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
)


def _keep_stored_fields(conn: Any, changed_rows: list[dict[str, Any]]) -> None:
    """Let a file import never degrade a stored citation: keep values the file leaves out.

    Empty columns take the stored value, and a stored retraction or concern flag is kept when
    the file states none (the app's own MEDLINE export, for one, has no field for a concern).
    """
    by_id = {row["b_id"]: row for row in changed_rows}
    wanted = [CITATION.c[name] for name in (*KEPT_ON_IMPORT, "retraction_status")]
    for chunk in _chunks(list(by_id), 500):
        for stored in conn.execute(select(CITATION.c.id, *wanted).where(CITATION.c.id.in_(chunk))):
            row = by_id[stored.id]
            for name in KEPT_ON_IMPORT:
                if row.get(name) in (None, "") and getattr(stored, name) not in (None, ""):
                    row[name] = getattr(stored, name)
            if (
                row.get("retraction_status") == RetractionStatus.NONE
                and stored.retraction_status != RetractionStatus.NONE
            ):
                row["retraction_status"] = stored.retraction_status


def _keep_notice_flags(conn: Any, changed_rows: list[dict[str, Any]]) -> None:
    """Keep the flag a stored Retraction Watch notice set when PubMed's record has none."""
    flags = retractions.stored_flags(conn, (row["b_id"] for row in changed_rows))
    for row in changed_rows:
        flag = flags.get(row["b_id"])
        if flag and retractions.should_flag(
            row.get("retraction_status") or RetractionStatus.NONE, flag
        ):
            row["retraction_status"] = flag


def upsert_batch(
    session: Session,
    items: Iterable[ParsedItem],
    *,
    source: str,
    source_detail: str | None = None,
    link: LinkTarget | None = None,
    now: datetime | None = None,
) -> UpsertCounts:
    """Add new PMIDs, update changed ones, skip unchanged ones; link them all if asked."""
    counts = UpsertCounts()
    now = now or utcnow()
    latest: dict[int, PubmedRecord] = {}
    for item in items:
        if isinstance(item, DeletedCitation):
            counts.withdrawn.extend(item.pmids)
            continue
        counts.read += 1
        latest[item.pmid] = item  # a PMID twice in one batch: the later record wins
    if not latest:
        return counts
    conn = session.connection()
    existing: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks([str(p) for p in latest], 500):
        rows = conn.execute(
            select(CITATION.c.pmid, CITATION.c.id, CITATION.c.record_hash).where(
                CITATION.c.pmid.in_(chunk)
            )
        )
        existing.update({pmid: (cid, digest) for pmid, cid, digest in rows})

    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    unchanged_ids: list[int] = []
    records_by_pmid: dict[str, PubmedRecord] = {}
    for pmid, record in latest.items():
        key = str(pmid)
        digest = record_hash(record)
        stored = existing.get(key)
        if stored is not None and stored[1] == digest:
            # Unchanged: its row values and child rows are never built.
            unchanged_ids.append(stored[0])
            continue
        records_by_pmid[key] = record
        values = citation_values(record, source=source, source_detail=source_detail)
        values.update(record_hash=digest, fetched_at=now, updated_at=now)
        if stored is None:
            values["created_at"] = now
            new_rows.append(values)
        else:
            values["b_id"] = stored[0]
            changed_rows.append(values)

    if changed_rows and source == "import":
        _keep_stored_fields(conn, changed_rows)
    if changed_rows:
        _keep_notice_flags(conn, changed_rows)
    ids: dict[str, int] = {key: cid for key, (cid, _digest) in existing.items()}
    if new_rows:
        _insert_many(conn, CITATION, new_rows)
        # Read the new ids back by PMID: RETURNING with executemany runs row by row on SQLite.
        for chunk in _chunks([row["pmid"] for row in new_rows], 500):
            found = conn.execute(
                select(CITATION.c.pmid, CITATION.c.id).where(CITATION.c.pmid.in_(chunk))
            )
            # Not dict(found): a Result has .keys(), so dict() would read it as a mapping.
            ids.update({pmid: cid for pmid, cid in found})  # noqa: C416
    if changed_rows:
        changed_ids = [row["b_id"] for row in changed_rows]
        for table in CHILD_TABLES:
            for chunk in _chunks(changed_ids, 500):
                conn.execute(delete(table).where(table.c.citation_id.in_(chunk)))
        columns: dict[str, Any] = {k: bindparam(f"v_{k}") for k in changed_rows[0] if k != "b_id"}
        conn.execute(
            update(CITATION).where(CITATION.c.id == bindparam("b_id")).values(columns),
            [
                {"b_id": r["b_id"], **{f"v_{k}": v for k, v in r.items() if k != "b_id"}}
                for r in changed_rows
            ],
        )
    if unchanged_ids:
        for chunk in _chunks(unchanged_ids, 500):
            conn.execute(update(CITATION).where(CITATION.c.id.in_(chunk)).values(fetched_at=now))

    children: ChildRows = {name: [] for name in CHILD_COLUMNS}
    for values in (*new_rows, *changed_rows):
        key = values["pmid"]
        add_child_rows(records_by_pmid[key], ids[key], children)
    for table in CHILD_TABLES:
        if children[table.name]:
            _insert_tuples(conn, table, CHILD_COLUMNS[table.name], children[table.name])

    counts.added, counts.updated, counts.unchanged = (
        len(new_rows),
        len(changed_rows),
        len(unchanged_ids),
    )
    _propagate_notices(conn, latest.values())
    if link is not None:
        counts.linked = _link(conn, [ids[str(p)] for p in latest], link, now)
    else:
        counts.unlinked = _count_unlinked(conn, [ids[str(p)] for p in latest])
    # Duplicates by PMID, DOI and PMCID are merged, near ones offered
    # (evidence/literature/duplicates.py).
    duplicates.after_batch(
        conn,
        batch_ids=[ids[str(p)] for p in latest],
        stored_ids=[ids[values["pmid"]] for values in (*new_rows, *changed_rows)],
        found_by=link.found_by if link else None,
        treatment_id=link.treatment_id if link else None,
        indication_id=link.indication_id if link else None,
        now=now,
    )
    # The batch's citations, marked by the triggers, are indexed in this transaction.
    search.refresh(conn)
    return counts


def _count_unlinked(conn: Any, citation_ids: list[int]) -> int:
    """Count the citations that have no link at all (findable only by status=unlinked)."""
    linked: set[int] = set()
    for chunk in _chunks(citation_ids, 500):
        linked.update(
            conn.execute(select(LINK.c.citation_id).where(LINK.c.citation_id.in_(chunk))).scalars()
        )
    return len(set(citation_ids) - linked)


_INSERT_PLANS: dict[tuple[str, str, tuple[str, ...]], tuple[str, list[tuple[int, Any]]]] = {}


def _insert_plan(conn: Any, table: Table, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
    """Return the INSERT statement and the bind processors a table's columns need."""
    dialect = conn.dialect
    key = (table.name, dialect.name, columns)
    plan = _INSERT_PLANS.get(key)
    if plan is None:
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES ({', '.join(marker for _ in columns)})"
        )
        # The column types' own bind processors (SQLite stores datetimes as text) keep the
        # values exactly as SQLAlchemy writes and reads them; booleans and strings need none.
        # dialect_impl() is the type as this dialect implements it (public API); the plan is
        # cached, so each processor is looked up once per table and dialect.
        processors = [
            (index, processor)
            for index, name in enumerate(columns)
            if not isinstance(table.c[name].type, Boolean)
            and (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            is not None
        ]
        plan = _INSERT_PLANS[key] = (sql, processors)
    return plan


def _insert_tuples(
    conn: Any, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert rows with one DBAPI executemany (plain tuples: no per-row SQLAlchemy work);
    on PostgreSQL through psycopg, with COPY (row triggers fire as for INSERT)."""
    sql, processors = _insert_plan(conn, table, columns)
    if processors:
        converted = []
        for row in rows:
            values = list(row)
            for index, processor in processors:
                if values[index] is not None:
                    values[index] = processor(values[index])
            converted.append(tuple(values))
        rows = converted
    if conn.dialect.driver == "psycopg":
        _copy_rows(conn, table, columns, rows)
        return
    conn.exec_driver_sql(sql, rows)


def _copy_rows(
    conn: Any, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """COPY rows into a table on this connection's transaction (psycopg's `Cursor.copy`)."""
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_many(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows given as dicts (all with the same keys)."""
    columns = tuple(rows[0])
    getter = itemgetter(*columns)
    if len(columns) == 1:
        _insert_tuples(conn, table, columns, [(getter(row),) for row in rows])
    else:
        _insert_tuples(conn, table, columns, [getter(row) for row in rows])


def _propagate_notices(conn: Any, records: Iterable[PubmedRecord]) -> None:
    """Flag papers named by a stored retraction notice or expression of concern."""
    retracted = {str(c.pmid) for r in records for c in r.links_of("RetractionOf") if c.pmid}
    concern = {str(c.pmid) for r in records for c in r.links_of("ExpressionOfConcernFor") if c.pmid}
    status = CITATION.c.retraction_status
    for chunk in _chunks(sorted(retracted), 500):
        conn.execute(
            update(CITATION)
            .where(CITATION.c.pmid.in_(chunk), status != RetractionStatus.RETRACTED)
            .values(
                retraction_status=RetractionStatus.RETRACTED, record_hash=None, updated_at=utcnow()
            )
        )
    for chunk in _chunks(sorted(concern), 500):
        conn.execute(
            update(CITATION)
            .where(CITATION.c.pmid.in_(chunk), status == RetractionStatus.NONE)
            .values(
                retraction_status=RetractionStatus.EXPRESSION_OF_CONCERN,
                record_hash=None,
                updated_at=utcnow(),
            )
        )


def _link(conn: Any, citation_ids: list[int], target: LinkTarget, now: datetime) -> int:
    """Link citations to the target treatment/indication unless already linked; return added."""
    tkey, ikey = CitationLink.keys_for(target.treatment_id, target.indication_id)
    have: set[int] = set()
    for chunk in _chunks(citation_ids, 500):
        have.update(
            conn.execute(
                select(LINK.c.citation_id).where(
                    LINK.c.citation_id.in_(chunk),
                    LINK.c.treatment_key == tkey,
                    LINK.c.indication_key == ikey,
                )
            ).scalars()
        )
    rows = [
        {
            "citation_id": cid,
            "treatment_id": target.treatment_id,
            "indication_id": target.indication_id,
            "treatment_key": tkey,
            "indication_key": ikey,
            "status": target.status,
            "found_by": _cut(target.found_by, 200),
            "saved_search_id": target.saved_search_id,
            "created_at": now,
        }
        for cid in dict.fromkeys(citation_ids)
        if cid not in have
    ]
    if rows:
        conn.execute(insert(LINK), rows)
    return len(rows)


def upsert_records(
    session: Session,
    items: Iterable[ParsedItem],
    *,
    source: str,
    source_detail: str | None = None,
    link: LinkTarget | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[UpsertCounts], None] | None = None,
) -> UpsertCounts:
    """Upsert a stream of records in batches (memory stays flat); the caller commits."""
    total = UpsertCounts()
    for batch in batched(items, batch_size):
        total.add(
            upsert_batch(session, batch, source=source, source_detail=source_detail, link=link)
        )
        if progress:
            progress(total)
    return total


# --- file imports --------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What one file import read, added, updated and rejected, and why."""

    path: str
    format: str = "unknown"
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    linked: int = 0
    unlinked: int = 0
    withdrawn: list[int] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file was stored (nothing rejected)."""
        return not self.rejected

    def summary(self) -> str:
        """Return a one-line account of the import."""
        if not self.ok:
            return f"{self.path}: REJECTED ({self.format}), nothing stored: " + "; ".join(
                self.rejected
            )
        text = (
            f"{self.path}: {self.format}, read {self.read}, added {self.added}, "
            f"updated {self.updated}, unchanged {self.unchanged}, linked {self.linked}"
        )
        if self.withdrawn:
            text += f", {len(self.withdrawn)} PMIDs withdrawn by PubMed (kept, not deleted)"
        if self.unlinked:
            text += (
                f"; {self.unlinked} left unlinked (no treatment or indication): find them under "
                "Citations with Screening 'Unlinked' (/citations?status=unlinked) and link each "
                "on its page, or import the file again with a treatment chosen (on the command "
                "line: --treatment SLUG)"
            )
        return text


def _head(path: Path, size: int = 4096) -> bytes:
    """Return the first bytes of a file, decompressed when it is gzip."""
    with path.open("rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw) as unzipped:
                return unzipped.read(size)
        return raw.read(size)


def detect_format(path: Path) -> str:
    """Tell PubMed XML, MEDLINE text and PMID lists apart by their first bytes."""
    head = _head(path).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "xml"
    if head.startswith(b"PMID-"):
        return "medline"
    text = head.decode("utf-8", "replace")
    if len(head) == 4096:
        text = text.rsplit("\n", 1)[0]  # the last line may be cut mid-token
    if looks_like_pmid_list(text):
        return "pmids"
    return "unknown"


def _medline_items(path: Path, max_inflated: int | None = None) -> Iterator[PubmedRecord]:
    """Read a MEDLINE file, gzip (inflating to a bound) or plain."""
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    if compressed:
        limit = safexml.MAX_INFLATED_BYTES if max_inflated is None else max_inflated
        with gzip.open(path, "rb") as handle:
            yield from iter_medline(safexml.read_bounded(handle, limit))
    else:
        yield from iter_medline(path)


def _pmid_list_items(
    path: Path, client: EntrezClient | None, report: ImportReport
) -> list[ParsedItem]:
    """Read a PMID list and fetch its records (all before storing: the file is one unit)."""
    text = _head(path, 64 * 1024 * 1024).decode("utf-8", "replace")
    parsed = parse_pmid_text(text)
    for bad in parsed.invalid:
        report.rejected.append(f"line {bad.line}: {bad.token!r} is {bad.reason}")
    if report.rejected:
        return []
    if client is None:
        report.rejected.append("a PMID list needs PubMed access: set NCBI_EMAIL")
        return []
    items: list[ParsedItem] = []
    for batch in iter_pmid_batches(client, parsed.pmids):
        items.extend(batch.items)
    found = {i.pmid for i in items if isinstance(i, PubmedRecord)}
    missing = [p for p in parsed.pmids if p not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
        report.rejected.append(f"{len(missing)} PMIDs not found in PubMed: {shown}")
    return items


def import_path(
    engine: Engine,
    path: Path,
    *,
    link: LinkTarget | None = None,
    client: EntrezClient | None = None,
    progress: Callable[[UpsertCounts], None] | None = None,
    max_inflated: int | None = None,
) -> ImportReport:
    """Import one file in one transaction: every record is stored, or none is.

    A gzip file may inflate to `max_inflated` bytes at most (pubmed.safexml's default).
    """
    report = ImportReport(path=str(path))
    try:
        report.format = detect_format(path)
    except OSError as exc:
        report.rejected.append(f"cannot read: {exc}")
        return report
    if report.format == "unknown":
        report.rejected.append("not PubMed XML, a MEDLINE/.nbib export or a PMID list")
        return report
    if link is not None and link.found_by == "import":
        link.found_by = f"import:{path.name}"
    with Session(engine) as session:
        try:
            items: Iterable[ParsedItem]
            if report.format == "xml":
                items = iter_pubmed_xml(path, max_inflated)
            elif report.format == "medline":
                items = _medline_items(path, max_inflated)
            else:
                items = _pmid_list_items(path, client, report)
                if report.rejected:
                    return report
            counts = upsert_records(
                session,
                items,
                source="import",
                source_detail=path.name,
                link=link,
                progress=progress,
            )
            if counts.read == 0 and not counts.withdrawn:
                report.rejected.append("no records in the file")
                session.rollback()
                return report
            session.commit()
        except (PubMedError, ValueError, SQLAlchemyError, OSError, EOFError) as exc:
            session.rollback()
            report.rejected.append(f"{type(exc).__name__}: {exc}")
            return report
    report.read, report.added, report.updated = counts.read, counts.added, counts.updated
    report.unchanged, report.linked, report.withdrawn = (
        counts.unchanged,
        counts.linked,
        counts.withdrawn,
    )
    report.unlinked = counts.unlinked
    return report


def citation_pmids(session: Session, *, only_incomplete: bool = False) -> list[int]:
    """Return stored PMIDs (for refresh --all), optionally only snapshot-grade records."""
    stmt = select(CITATION.c.pmid)
    if only_incomplete:
        stmt = stmt.where(CITATION.c.complete.is_(False))
    return sorted(int(p) for p in session.connection().execute(stmt).scalars() if p.isdigit())
