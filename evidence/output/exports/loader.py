"""The one citation loader: ordered ids streamed in batches, one query per batch.

Every export, and the API, reads citations through `RecordLoader`. A batch of ids costs one
SQLAlchemy Core `select()` of the citation rows joined to `citation_export`, which keeps what
a record needs from the child tables (authors, publication types, keywords, MeSH headings,
links, identifiers, abstract sections) as one JSON text per citation (migration
0016_export_text). Triggers delete a citation's row when any of those change; for a
citation without one, the same JSON is aggregated from the tables in that query by
correlated subqueries (position order), and the next export (`fill_pending`) stores the
missing rows in bulk. JSON keeps every value exactly as stored, separators, empty strings
and NULLs included. The ids come from the table's query with `yield_per`, which streams them
(a server-side cursor on PostgreSQL) instead of fetching them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from json import loads
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from evidence import queries
from evidence.literature import search
from evidence.literature.pmidorder import pmid_desc
from evidence.models import (
    LINK_STATUSES,
    Citation,
    CitationAbstractSection,
    CitationAuthor,
    CitationExport,
    CitationIdentifier,
    CitationKeyword,
    CitationLink,
    CitationMesh,
    CitationPublicationType,
    Indication,
    LinkStatus,
    Treatment,
)

from .records import Author, CitationRecord, ExportError, Named, mesh_label

BATCH_SIZE = 1000

CITATION: Table = Citation.__table__  # type: ignore[attr-defined]
AUTHOR: Table = CitationAuthor.__table__  # type: ignore[attr-defined]
MESH: Table = CitationMesh.__table__  # type: ignore[attr-defined]
PTYPE: Table = CitationPublicationType.__table__  # type: ignore[attr-defined]
KEYWORD: Table = CitationKeyword.__table__  # type: ignore[attr-defined]
IDENTIFIER: Table = CitationIdentifier.__table__  # type: ignore[attr-defined]
SECTION: Table = CitationAbstractSection.__table__  # type: ignore[attr-defined]
LINK: Table = CitationLink.__table__  # type: ignore[attr-defined]
EXPORT: Table = CitationExport.__table__  # type: ignore[attr-defined]

# What a record holds beyond the citation row; an export of a few CSV columns reads only
# the parts its columns need.
RECORD_PARTS = (
    "authors",
    "publication_types",
    "keywords",
    "mesh_terms",
    "identifiers",
    "abstract",
    "links",
)
# The citation columns, in CitationRecord's positional order.
CITATION_FIELDS = (
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
AUTHOR_FIELDS = ("last_name", "fore_name", "initials", "suffix", "collective_name")


def link_statuses(flt: queries.CitationFilter) -> tuple[str, ...]:
    """Return the link statuses whose treatments and indications an export names.

    A table of candidates names the candidate links; "any" names included and candidate
    links (an excluded link says the citation is *not* about that treatment).
    """
    if flt.status in LINK_STATUSES:
        return (flt.status,)
    return (LinkStatus.INCLUDED, LinkStatus.CANDIDATE)


def ordered_ids_query(flt: queries.CitationFilter) -> Select[Any]:
    """Return the filter's citation ids in the table's order (newest first)."""
    ids = queries.citation_ids_query(flt).subquery()
    return (
        orm_select(Citation.id)
        .where(col(Citation.id).in_(orm_select(ids.c.id)))
        .order_by(col(Citation.year).desc().nulls_last(), *pmid_desc())
    )


def _json_array(
    dialect: str,
    table: Table,
    columns: Sequence[str],
    element: Callable[[list[Any]], ColumnElement[Any]],
    order: str = "position",
) -> ColumnElement[Any]:
    """Return a correlated subquery: a JSON array of `element` over a citation's rows, in order.

    `element` builds one array item from the row's `columns`, given in that order.
    """
    if dialect == "postgresql":
        item = element([table.c[name] for name in columns])
        agg = func.json_agg(aggregate_order_by(item, table.c[order]))
        return select(agg).where(table.c.citation_id == CITATION.c.id).scalar_subquery()
    # SQLite before 3.44 has no ORDER BY inside an aggregate: json_group_array keeps the
    # order of an ordered subquery (SQLite never flattens an ordered subquery into an
    # aggregate, so the rows arrive in that order).
    rows = (
        select(*(table.c[name] for name in columns))
        .where(table.c.citation_id == CITATION.c.id)
        .order_by(table.c[order])
        .correlate(CITATION)
        .subquery()
    )
    item = element([rows.c[name] for name in columns])
    return select(func.json_group_array(item)).scalar_subquery()


def _json_row(dialect: str, *values: Any) -> ColumnElement[Any]:
    """Return a JSON array of these values: one aggregated item."""
    return func.json_build_array(*values) if dialect == "postgresql" else func.json_array(*values)


def _first_identifier(types: Sequence[str]) -> ColumnElement[Any]:
    """Return the citation's first identifier of these types (it fills an empty DOI or PMCID)."""
    return (
        select(IDENTIFIER.c.value)
        .where(IDENTIFIER.c.citation_id == CITATION.c.id, IDENTIFIER.c.id_type.in_(types))
        .order_by(IDENTIFIER.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _sections_text(dialect: str) -> ColumnElement[Any]:
    """Return the abstract rebuilt from its sections ('LABEL: text' joined by spaces), or NULL."""
    text = case(
        (SECTION.c.label != "", SECTION.c.label + ": " + SECTION.c.text), else_=SECTION.c.text
    )
    if dialect == "postgresql":
        space: ColumnElement[Any] = aggregate_order_by(literal_column("' '"), SECTION.c.position)
        agg = func.string_agg(text, space, type_=String)
        return select(agg).where(SECTION.c.citation_id == CITATION.c.id).scalar_subquery()
    rows = (
        select(text.label("part"))
        .where(SECTION.c.citation_id == CITATION.c.id)
        .order_by(SECTION.c.position)
        .correlate(CITATION)
        .subquery()
    )
    return select(func.group_concat(rows.c.part, " ")).scalar_subquery()


def _batch_ids(dialect: str) -> ColumnElement[bool]:
    """Return the WHERE clause taking a batch's ids as one parameter, `ids`.

    One parameter rather than an IN list: the statement's text is the same for every
    batch, so it is compiled once and the database gets no thousand placeholders.
    """
    if dialect == "postgresql":
        return CITATION.c.id == any_(bindparam("ids", type_=ARRAY(Integer)))
    values = func.json_each(bindparam("ids", type_=String)).table_valued("value")
    return CITATION.c.id.in_(select(values.c.value))


def _json_list(dialect: str, arrays: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """Return one JSON array holding these JSON arrays, as text: one value per citation.

    Text, decoded as each record is built: a batch's rows then hold strings, which the
    garbage collector never scans, instead of tens of thousands of small lists.
    """
    if dialect == "postgresql":
        return cast(func.json_build_array(*arrays), Text)
    # SQLite hands a subquery's JSON on as text: joined as text, it is still one document.
    # (json_group_array gives '[]' for no rows, never NULL.)
    text: ColumnElement[str] = literal("[", String)
    for i, array in enumerate(arrays):
        text = text + ("," if i else "") + type_coerce(array, String)
    return text + "]"


def lists_query(dialect: str, parts: Iterable[str] = RECORD_PARTS) -> ColumnElement[str]:
    """Return a citation's lists as citation_export.lists holds them, read from the tables.

    One JSON array: the authors, publication types, keywords, MeSH headings and links
    ([status, treatment id, indication id] in link order) as arrays, then the first DOI and
    PMCID among the identifiers and the abstract rebuilt from its sections (each NULL when
    there is none). A part not in `parts` is '[]' or NULL.
    """

    def row(c: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        return _json_row(dialect, *c)

    def first(c: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        return c[0]

    def scalar(value: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite joins the parts as text (see _json_list): a string must arrive quoted.
        return value if dialect == "postgresql" else func.json_quote(value)

    empty: ColumnElement[Any] = literal_column("'[]'::json" if dialect == "postgresql" else "'[]'")
    null: ColumnElement[Any] = literal_column("NULL" if dialect == "postgresql" else "'null'")
    wanted = set(parts)

    def read(part: str, build: Callable[[], ColumnElement[Any]], none: Any) -> Any:
        return build() if part in wanted else none

    return _json_list(
        dialect,
        [
            read("authors", lambda: _json_array(dialect, AUTHOR, AUTHOR_FIELDS, row), empty),
            read("publication_types", lambda: _json_array(dialect, PTYPE, ("name",), first), empty),
            read("keywords", lambda: _json_array(dialect, KEYWORD, ("keyword",), first), empty),
            read(
                "mesh_terms",
                lambda: _json_array(dialect, MESH, ("descriptor", "qualifiers", "major"), row),
                empty,
            ),
            read(
                "links",
                lambda: _json_array(
                    dialect, LINK, ("status", "treatment_id", "indication_id"), row, order="id"
                ),
                empty,
            ),
            read("identifiers", lambda: scalar(_first_identifier(["doi"])), null),
            read("identifiers", lambda: scalar(_first_identifier(["pmc", "pmcid"])), null),
            read("abstract", lambda: scalar(_sections_text(dialect)), null),
        ],
    )


def batch_query(dialect: str, parts: frozenset[str]) -> Select[Any]:
    """Return the one query a batch costs: the citation row and its lists.

    The lists come from citation_export, one row per citation, when it has the citation's
    row; a citation whose lists changed since (the triggers deleted its row) has them read
    from the tables, so an export is never stale. The lists are '[]' when no part beyond
    the citation row is asked for.
    """
    lists: ColumnElement[Any] = literal_column("'[]'")
    if parts:
        lists = case((EXPORT.c.lists.is_(None), lists_query(dialect, parts)), else_=EXPORT.c.lists)
    return (
        select(CITATION.c.id, *(CITATION.c[name] for name in CITATION_FIELDS), lists.label("lists"))
        .select_from(CITATION.outerjoin(EXPORT, EXPORT.c.citation_id == CITATION.c.id))
        .where(_batch_ids(dialect))
    )


def fill_export_lists(conn: Connection) -> int:
    """Write the missing citation_export rows (new or changed citations); return how many.

    On PostgreSQL the table is locked against the triggers' deletes first: a writer still
    changing a citation's authors finishes before the lists are read, and one starting after
    waits, then deletes the row just written, so no stale lists survive a race.
    """
    dialect = conn.dialect.name
    missing = ~select(EXPORT.c.citation_id).where(EXPORT.c.citation_id == CITATION.c.id).exists()
    rows = select(CITATION.c.id, lists_query(dialect)).where(missing)
    if dialect == "postgresql":
        conn.exec_driver_sql("LOCK TABLE citation_export IN SHARE ROW EXCLUSIVE MODE")
    insert = EXPORT.insert().from_select(["citation_id", "lists"], rows)
    # Counted from RETURNING: psycopg reports no rowcount for an INSERT ... SELECT here.
    return len(conn.execute(insert.returning(EXPORT.c.citation_id)).all())


# How long an export waits for a writer (an import, say) before it reads the tables instead.
FILL_WAIT_MS = 2000


def fill_pending(engine: Engine) -> None:
    """Before an export: fill what writers left missing, in its own short transaction.

    The export reads the tables for a citation without a row anyway, so a database busy
    with a writer for over FILL_WAIT_MS leaves this export correct, only slower.
    """
    with engine.connect() as conn:
        missing = (
            select(CITATION.c.id)
            .outerjoin(EXPORT, EXPORT.c.citation_id == CITATION.c.id)
            .where(EXPORT.c.citation_id.is_(None))
        )
        if conn.execute(missing.limit(1)).first() is None:
            return
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            # The pool keeps this connection: its usual (longer) timeout is put back below.
            before = int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one())
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {FILL_WAIT_MS}")
            conn.commit()  # SQLAlchemy began a transaction for the PRAGMAs: end it
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {FILL_WAIT_MS}")
                fill_export_lists(conn)
        except OperationalError:
            pass
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {before}")
                conn.commit()


class RecordLoader:
    """Loads `CitationRecord`s for batches of citation ids, one query per batch."""

    def __init__(
        self,
        session: Session,
        *,
        statuses: Sequence[str] = ("included",),
        parts: Iterable[str] = RECORD_PARTS,
    ) -> None:
        self.session = session
        self.statuses = tuple(statuses)
        self.parts = frozenset(parts)
        self.treatments = {
            t.id: Named(t.slug, t.name) for t in session.exec(orm_select(Treatment)) if t.id
        }
        self.indications = {
            i.id: Named(i.slug, i.name) for i in session.exec(orm_select(Indication)) if i.id
        }
        self.dialect = session.get_bind().dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ExportError(f"exports support SQLite and PostgreSQL, not {self.dialect}")
        self.query = batch_query(self.dialect, self.parts)

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
        param: Any = json.dumps(list(ids)) if self.dialect == "sqlite" else list(ids)
        rows = {row[0]: row for row in self.session.execute(self.query, {"ids": param})}
        record = self._record
        for cid in ids:
            row = rows.get(cid)
            if row is not None:
                yield record(row)

    def _record(self, row: Sequence[Any]) -> CitationRecord:
        """Build one record from a batch row."""
        rec = CitationRecord(*row[1:17])
        lists = row[17]
        if lists == "[]":
            return rec
        authors, ptypes, keywords, mesh, links, doi, pmcid, sections = loads(lists)
        want = self.parts
        if authors and "authors" in want:
            rec.authors = list(map(Author._make, authors))
        if ptypes and "publication_types" in want:
            rec.publication_types = ptypes
        if keywords and "keywords" in want:
            rec.keywords = keywords
        if mesh and "mesh_terms" in want:
            rec.mesh_terms = [mesh_label(d, q, bool(m)) for d, q, m in mesh]
        if links and "links" in want:
            shown = [link for link in links if link[0] in self.statuses]
            if shown:
                rec.treatments = _named([link[1] for link in shown], self.treatments)
                rec.indications = _named([link[2] for link in shown], self.indications)
        if "identifiers" in want:
            # An identifier fills the citation's own DOI or PMCID only when that is empty.
            if not rec.doi and doi is not None:
                rec.doi = doi
            if not rec.pmcid and pmcid is not None:
                rec.pmcid = pmcid
        if rec.abstract is None and sections is not None and "abstract" in want:
            rec.abstract = sections
        return rec


def _named(ids: Iterable[int | None], names: dict[int, Named]) -> list[Named]:
    """Return the treatments (or indications) of these link ids, each once, in order."""
    out: list[Named] = []
    for key in ids:
        named = names.get(key) if key is not None else None
        if named is not None and named not in out:
            out.append(named)
    return out


def iter_citations(
    session: Session,
    flt: queries.CitationFilter,
    *,
    batch_size: int = BATCH_SIZE,
    parts: Iterable[str] = RECORD_PARTS,
) -> Iterator[CitationRecord]:
    """Yield the filter's citations in the table's order, loading them batch by batch."""
    parts = frozenset(parts)
    if parts:
        # Before this session reads anything: on SQLite an open read would block the write.
        fill_pending(session.get_bind().engine)
    loader = RecordLoader(session, statuses=link_statuses(flt), parts=parts)
    if flt.q:
        search.refresh_pending(session.get_bind())
    # yield_per streams the ids (a server-side cursor on PostgreSQL) instead of fetching all.
    result = session.execute(ordered_ids_query(flt).execution_options(yield_per=batch_size))
    for partition in result.partitions(batch_size):
        yield from loader.iter_load([row[0] for row in partition])
