"""citation_export: the stored lists stay equal to the child tables, and exports do not change."""

from __future__ import annotations

import io
import json
from typing import Any

import openpyxl
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from evidence import queries
from evidence.db import get_engine, session_scope
from evidence.models import (
    Citation,
    CitationAbstractSection,
    CitationAuthor,
    CitationExport,
    CitationIdentifier,
    CitationKeyword,
    CitationLink,
    CitationMesh,
    CitationPublicationType,
)
from evidence.output import exports
from evidence.output.exports.loader import CITATION, EXPORT, fill_export_lists, lists_query

from .test_exports import add_tricky_citations, records_from_tables


def stale_lists(session: Session) -> dict[int, tuple[Any, Any]]:
    """Return the stored rows whose lists differ from the tables': {id: (stored, tables)}."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(EXPORT.c.citation_id, EXPORT.c.lists, lists_query(dialect)).join(
            CITATION, CITATION.c.id == EXPORT.c.citation_id
        )
    )
    return {
        cid: (json.loads(stored), json.loads(read))
        for cid, stored, read in rows
        if json.loads(stored) != json.loads(read)
    }


def stored_ids(session: Session) -> set[int]:
    """Return the citations with a stored row."""
    return set(session.scalars(select(CitationExport.citation_id)))


def citation_id(session: Session, pmid: str) -> int:
    """Return a citation's id by PMID."""
    cid = session.scalars(select(Citation.id).where(Citation.pmid == pmid)).one()
    assert cid is not None
    return cid


def all_formats(session: Session) -> dict[str, Any]:
    """Export the whole table in every format with a loader (which never fills the lists)."""
    flt = queries.CitationFilter(status="any")
    ids = [row[0] for row in session.execute(exports.ordered_ids_query(flt))]
    loader = exports.RecordLoader(session, statuses=exports.link_statuses(flt))
    out: dict[str, Any] = {}
    for key, fmt in exports.FORMATS.items():
        data = b"".join(exports.citation_chunks(loader.iter_load(ids), fmt))
        if key == "xlsx":
            # XLSX stamps its creation time in docProps/core.xml and its info sheet's
            # "Exported" row (to the minute): compare the other cells.
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
            data = [
                [row for row in sheet.iter_rows(values_only=True) if row[:1] != ("Exported",)]
                for sheet in book.worksheets
            ]
        out[key] = data
    out["csv-every-column"] = b"".join(
        exports.citation_chunks(
            loader.iter_load(ids), exports.FORMATS["csv"], columns=list(exports.CITATION_COLUMNS)
        )
    )
    return out


def test_stored_lists_give_the_same_bytes_as_the_tables(any_app: Flask) -> None:
    """After the snapshot load, every format is byte-identical read from the tables or stored."""
    with any_app.app_context(), session_scope() as session:
        add_tricky_citations(session)
    with any_app.app_context(), Session(get_engine()) as session:
        total = session.scalar(select(func.count()).select_from(Citation))
        assert stored_ids(session) == set()  # the snapshot load stores none: all from tables
        from_tables = all_formats(session)
    with any_app.app_context(), get_engine().begin() as conn:
        assert fill_export_lists(conn) == total
    with any_app.app_context(), Session(get_engine()) as session:
        assert len(stored_ids(session)) == total
        assert stale_lists(session) == {}
        assert all_formats(session) == from_tables
    assert b"Split-Face Study Group" in from_tables["ris"]
    assert b"PMC1234567" in from_tables["csv"]  # a PMCID kept only among the identifiers


def test_triggers_drop_the_lists_of_changed_citations(any_app: Flask) -> None:
    """Inserts, updates and deletes of each child table drop that citation's stored lists only.

    Exports read a dropped citation from the tables meanwhile; the next fill stores it again,
    equal to the tables.
    """
    with any_app.app_context(), session_scope() as session:
        add_tricky_citations(session)
    with any_app.app_context(), get_engine().begin() as conn:
        fill_export_lists(conn)
    with any_app.app_context(), Session(get_engine()) as session:
        every = stored_ids(session)
        tricky = citation_id(session, "99000001")
        plain = citation_id(session, "99000002")
    # Each change, then the citations it touches: additions go to the plain record.
    changes: list[tuple[str, Any]] = [
        (
            "author added",
            lambda s: s.add(
                CitationAuthor(citation_id=plain, position=0, last_name="New", initials="N")
            ),
        ),
        (
            "author renamed",
            update(CitationAuthor)
            .where(CitationAuthor.citation_id == tricky, CitationAuthor.position == 0)
            .values(last_name="Renamed"),
        ),
        ("author deleted", delete(CitationAuthor).where(CitationAuthor.citation_id == tricky)),
        (
            "MeSH added",
            lambda s: s.add(CitationMesh(citation_id=plain, position=0, descriptor="Skin")),
        ),
        (
            "MeSH made major",
            update(CitationMesh).where(CitationMesh.citation_id == tricky).values(major=True),
        ),
        ("MeSH deleted", delete(CitationMesh).where(CitationMesh.citation_id == tricky)),
        (
            "keyword changed",
            update(CitationKeyword)
            .where(CitationKeyword.citation_id == tricky)
            .values(keyword="changed"),
        ),
        (
            "type added",
            lambda s: s.add(CitationPublicationType(citation_id=plain, position=0, name="Review")),
        ),
        (
            "link excluded",
            update(CitationLink)
            .where(CitationLink.citation_id == tricky)
            .values(status="excluded"),
        ),
        (
            "identifier added",
            lambda s: s.add(CitationIdentifier(citation_id=plain, id_type="doi", value="10.1/x")),
        ),
        (
            "sections added",
            lambda s: s.add(
                CitationAbstractSection(citation_id=plain, position=0, label="AIM", text="Why.")
            ),
        ),
        (
            "author moved to another citation",
            update(CitationAuthor)
            .where(CitationAuthor.citation_id == plain)
            .values(citation_id=tricky),
        ),
    ]
    for what, change in changes:
        with any_app.app_context(), session_scope() as session:
            if callable(change):
                change(session)
            else:
                session.execute(change)
        with any_app.app_context(), Session(get_engine()) as session:
            missing = every - stored_ids(session)
            assert stale_lists(session) == {}, what
            touched = {plain} if "added" in what else {tricky}
            assert missing == ({plain, tricky} if "moved" in what else touched), what
            # Read from the tables while missing: the record the tables hold.
            records = exports.RecordLoader(session, statuses=("included", "candidate")).load(
                sorted(missing)
            )
            assert records == [records_from_tables(session, r.pmid) for r in records], what
        with any_app.app_context(), get_engine().begin() as conn:
            assert fill_export_lists(conn) == len(missing), what
        with any_app.app_context(), Session(get_engine()) as session:
            assert stored_ids(session) == every and stale_lists(session) == {}, what
    with any_app.app_context(), Session(get_engine()) as session:
        (record,) = exports.RecordLoader(session).load([plain])
    assert [a.last_name for a in record.authors] == []  # moved away
    assert record.mesh_terms == ["Skin"] and record.doi == "10.1/x"
    assert record.abstract == "AIM: Why."
    # A deleted citation takes its row with it.
    with any_app.app_context(), session_scope() as session:
        session.execute(delete(Citation).where(Citation.id == plain))
    with any_app.app_context(), Session(get_engine()) as session:
        assert stored_ids(session) == every - {plain}


def test_an_export_fills_missing_lists_first(any_app: Flask) -> None:
    """The first export after a load stores every citation's lists; its output is unchanged."""
    flt = queries.CitationFilter(status="any")
    with any_app.app_context(), Session(get_engine()) as session:
        first = b"".join(exports.export_citations(session, flt, "ris"))
        assert len(stored_ids(session)) == session.scalar(
            select(func.count()).select_from(Citation)
        )
        assert b"".join(exports.export_citations(session, flt, "ris")) == first
        # A few citation columns need no lists: nothing is filled for them.
    with any_app.app_context(), session_scope() as session:
        session.execute(delete(CitationExport))
    with any_app.app_context(), Session(get_engine()) as session:
        b"".join(exports.export_citations(session, flt, "csv", columns=["pmid", "title"]))
        assert stored_ids(session) == set()


def test_an_export_during_a_long_write_reads_the_tables(app: Flask) -> None:
    """A writer holding SQLite's lock does not stall an export: it reads the tables instead."""
    flt = queries.CitationFilter(status="any")
    with app.app_context():
        writer = get_engine().connect()
        try:
            writer.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, held through the export
            writer.exec_driver_sql("DELETE FROM citation_export")
            with Session(get_engine()) as session:
                during = b"".join(exports.export_citations(session, flt, "ris"))
                assert stored_ids(session) == set()  # nothing could be stored meanwhile
                # The pooled connection is given back with its usual busy timeout.
                assert session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        finally:
            writer.rollback()
            writer.close()
        with Session(get_engine()) as session:
            after = b"".join(exports.export_citations(session, flt, "ris"))
            assert stored_ids(session)
    assert during == after
