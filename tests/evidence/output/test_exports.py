"""Citation and report exports: every format read back by an independent reader."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

import bibtexparser
import openpyxl
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware
from Bio import Medline
from flask import Flask
from sqlmodel import Session, select

from evidence import queries
from evidence.db import get_engine, session_scope
from evidence.models import (
    Citation,
    CitationAbstractSection,
    CitationAuthor,
    CitationIdentifier,
    CitationKeyword,
    CitationLink,
    CitationMesh,
    CitationPublicationType,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    Treatment,
    User,
)
from evidence.output import exports
from evidence.snapshot import SNAPSHOT_DIR

SNAPSHOT = json.loads((SNAPSHOT_DIR / "citations.json").read_text())["records"]

# Records built to break careless writers: LaTeX and RIS specials, braces, newlines, a
# leading '=', non-ASCII names, a collective author, no year, no authors.
TRICKY: list[dict[str, Any]] = [
    {
        "pmid": "99000001",
        "title": 'Needling {vs} CO2 & 50% of $ cost: #1 trial_of ~ ^ \\ "quoted", commas; semis',
        "year": 2021,
        "authors": [("Müller", "Jürgen", "J"), ("Ørsted", "Åse Marie", "ÅM")],
        "collective": "Split-Face Study Group",
        "pmcid": "PMC1234567",
        "doi": "10.1000/xyz_123(4)",
        "level": 2,
        "retraction": "retracted",
        "journal": "J Cosmet Dermatol",
        "pages": "1123-9",
        "abstract": "BACKGROUND: line one.\nMETHODS: line two.",
        "mesh": [("Acne Vulgaris", "therapy*; complications", False), ("Needles", "", True)],
        "keywords": ["collagen induction"],
        "ptypes": ["Randomized Controlled Trial", "Retracted Publication"],
    },
    {
        "pmid": "99000002",
        "title": '=HYPERLINK("http://127.0.0.1") a title\nsplit over two lines',
        "year": None,
        "authors": [],
        "collective": None,
        "pmcid": None,
        "doi": None,
        "level": None,
        "retraction": "none",
        "journal": None,
        "pages": None,
        "abstract": None,
        "mesh": [],
        "keywords": [],
        "ptypes": [],
    },
]


def add_tricky_citations(session: Session) -> None:
    """Insert the TRICKY records, linked to microneedling for acne scars."""
    treatment = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
    indication = session.exec(select(Indication).where(Indication.slug == "acne-scars")).one()
    for rec in TRICKY:
        c = Citation(
            pmid=rec["pmid"],
            title=rec["title"],
            year=rec["year"],
            journal=rec["journal"],
            pages=rec["pages"],
            doi=rec["doi"],
            abstract=rec["abstract"],
            evidence_level=rec["level"],
            evidence_rule="test rule",
            retraction_status=rec["retraction"],
        )
        session.add(c)
        session.flush()
        assert c.id is not None
        for pos, (last, fore, initials) in enumerate(rec["authors"]):
            session.add(
                CitationAuthor(
                    citation_id=c.id,
                    position=pos,
                    last_name=last,
                    fore_name=fore,
                    initials=initials,
                )
            )
        if rec["collective"]:
            session.add(
                CitationAuthor(
                    citation_id=c.id,
                    position=len(rec["authors"]),
                    collective_name=rec["collective"],
                )
            )
        if rec["pmcid"]:
            # Kept only as an identifier: exports must still find it.
            session.add(CitationIdentifier(citation_id=c.id, id_type="pmc", value=rec["pmcid"]))
        for pos, (descriptor, qualifiers, major) in enumerate(rec["mesh"]):
            session.add(
                CitationMesh(
                    citation_id=c.id,
                    position=pos,
                    descriptor=descriptor,
                    qualifiers=qualifiers,
                    major=major,
                )
            )
        for pos, keyword in enumerate(rec["keywords"]):
            session.add(CitationKeyword(citation_id=c.id, position=pos, keyword=keyword))
        for pos, name in enumerate(rec["ptypes"]):
            session.add(CitationPublicationType(citation_id=c.id, position=pos, name=name))
        assert treatment.id and indication.id
        session.add(
            CitationLink(
                citation_id=c.id,
                treatment_id=treatment.id,
                indication_id=indication.id,
                treatment_key=treatment.id,
                indication_key=indication.id,
                status="included",
            )
        )


def expected_records() -> dict[str, dict[str, Any]]:
    """Return every citation as the sources say it, keyed by PMID: title, authors, year."""
    out: dict[str, dict[str, Any]] = {}
    for rec in SNAPSHOT:
        out[rec["pmid"]] = {
            # A title no page showed (39640445) stays unknown: exported as empty or left out.
            "title": rec["title"] or "",
            "labels": list(rec["authors"]),
            "year": rec["year"],
        }
    for rec in TRICKY:
        labels = [f"{last} {initials}" for last, _fore, initials in rec["authors"]]
        if rec["collective"]:
            labels.append(rec["collective"])
        out[rec["pmid"]] = {
            "title": rec["title"],
            "labels": labels,
            "inverted": [f"{last}, {fore}" for last, fore, _i in rec["authors"]]
            + ([rec["collective"]] if rec["collective"] else []),
            "year": rec["year"],
        }
    return out


def inverted(label: str, fmt: str = "ris") -> str:
    """Return a snapshot author ('Last FM', 'Last FM Jr') inverted as the format writes it.

    RIS: 'Last, FM, Jr'; BibTeX: 'Last, Jr, FM' (its three-part form); CSL-JSON keeps the
    suffix in its own field, read back here as 'Last, FM'.
    """
    match = re.fullmatch(r"(.+?)\s+([A-Z]{1,4})(?:\s+(Jr|Sr|2nd|3rd|II|III|IV))?", label)
    if not match:
        return label
    last, initials, suffix = match.groups()
    if suffix and fmt == "ris":
        return f"{last}, {initials}, {suffix}"
    if suffix and fmt == "bibtex":
        return f"{last}, {suffix}, {initials}"
    return f"{last}, {initials}"


def one_line(text: str) -> str:
    """Collapse whitespace: tagged formats (RIS, MEDLINE, BibTeX) keep values on one line."""
    return " ".join(text.split())


@pytest.fixture
def tricky_app(any_app: Flask) -> Flask:
    """The snapshot app (SQLite and PostgreSQL) plus the tricky records."""
    with any_app.app_context(), session_scope() as session:
        add_tricky_citations(session)
    return any_app


def export_bytes(app: Flask, fmt: str, **filters: Any) -> bytes:
    """Download an export over HTTP, as a researcher does."""
    response = app.test_client().get("/exports/citations", query_string={"format": fmt, **filters})
    assert response.status_code == 200, response.data[:500]
    return response.data


def parse_csv(data: bytes) -> list[dict[str, Any]]:
    """Read a CSV export with the csv module."""
    return [
        {
            "pmid": row["pmid"],
            "title": row["title"],
            "authors": row["authors"].split("; ") if row["authors"] else [],
            "year": int(row["year"]) if row["year"] else None,
            "row": row,
        }
        for row in csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    ]


def parse_ris(data: bytes) -> list[dict[str, Any]]:
    """Read an RIS export with rispy."""
    return [
        {
            "pmid": e["accession_number"],
            "title": e["title"],
            "authors": e.get("authors", []),
            "year": int(e["year"]) if e.get("year") else None,
            "row": e,
        }
        for e in rispy.loads(data.decode("utf-8"))
    ]


def parse_bibtex(data: bytes) -> list[dict[str, Any]]:
    """Read a BibTeX export with bibtexparser, decoding LaTeX as a reference manager would."""
    library = bibtexparser.parse_string(
        data.decode("utf-8"), append_middleware=[LatexDecodingMiddleware()]
    )
    assert not library.failed_blocks
    out = []
    for e in library.entries:
        # pylatexenc renders \textasciicircum as U+02C6 (modifier circumflex); LaTeX prints '^'.
        fields = {f.key: f.value.replace("\u02c6", "^") for f in e.fields}
        out.append(
            {
                "pmid": fields["pmid"],
                "title": fields.get("title", ""),
                "authors": fields["author"].split(" and ") if "author" in fields else [],
                "year": int(fields["year"]) if "year" in fields else None,
                "row": fields,
            }
        )
    return out


def parse_csl(data: bytes) -> list[dict[str, Any]]:
    """Read a CSL-JSON export with json."""
    out = []
    for item in json.loads(data):
        names = [
            a.get("literal") or f"{a['family']}, {a.get('given', '')}"
            for a in item.get("author", [])
        ]
        issued = item.get("issued", {}).get("date-parts", [[None]])[0][0]
        out.append(
            {
                "pmid": item["PMID"],
                "title": item["title"],
                "authors": names,
                "year": issued,
                "row": item,
            }
        )
    return out


def parse_medline(data: bytes) -> list[dict[str, Any]]:
    """Read a MEDLINE export with Bio.Medline."""
    out = []
    for rec in Medline.parse(io.StringIO(data.decode("utf-8"))):
        dp = rec.get("DP", "")
        out.append(
            {
                "pmid": rec["PMID"],
                "title": rec["TI"],
                "authors": rec.get("AU", []) + rec.get("CN", []),
                "year": int(dp[:4]) if dp[:4].isdigit() else None,
                "row": rec,
            }
        )
    return out


def parse_xlsx(data: bytes) -> list[dict[str, Any]]:
    """Read an XLSX export with openpyxl."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = book["Citations"].iter_rows(values_only=True)
    header = list(next(rows))
    out = []
    for values in rows:
        row = dict(zip(header, values, strict=True))
        out.append(
            {
                "pmid": str(row["pmid"]),
                "title": row["title"],
                "authors": row["authors"].split("; ") if row["authors"] else [],
                "year": row["year"] if row["year"] not in (None, "") else None,
                "row": row,
            }
        )
    book.close()
    return out


PARSERS = {
    "csv": parse_csv,
    "ris": parse_ris,
    "bibtex": parse_bibtex,
    "csl-json": parse_csl,
    "medline": parse_medline,
    "xlsx": parse_xlsx,
}


def expected_authors(fmt: str, want: dict[str, Any]) -> list[str]:
    """Return the authors as a format writes them: 'Last FM' or 'Last, Fore'."""
    if fmt in ("csv", "xlsx", "medline"):
        return list(want["labels"])
    return want.get("inverted") or [inverted(label, fmt) for label in want["labels"]]


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_every_record_round_trips(tricky_app: Flask, fmt: str) -> None:
    data = export_bytes(tricky_app, fmt, status="any")
    records = PARSERS[fmt](data)
    expected = expected_records()
    assert sorted(r["pmid"] for r in records) == sorted(expected)
    for rec in records:
        want = expected[rec["pmid"]]
        title = want["title"] if fmt in ("csv", "xlsx", "csl-json") else one_line(want["title"])
        if fmt == "csv":
            # CSV has no cell types: a formula-like text cell gets a leading apostrophe.
            title = exports.neutralise(title or "")
        assert (rec["title"] or "") == title, rec["pmid"]
        authors = expected_authors(fmt, want)
        if fmt == "medline":
            # MEDLINE lists collective names (CN) apart from persons (AU): order across them
            # is not representable, order within AU is.
            assert sorted(rec["authors"]) == sorted(authors), rec["pmid"]
            persons = rec["row"].get("AU", [])
            assert persons == [a for a in authors if a in persons], rec["pmid"]
        else:
            assert rec["authors"] == authors, rec["pmid"]
        assert rec["year"] == want["year"], rec["pmid"]


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_every_format_carries_ids_grading_and_links(tricky_app: Flask, fmt: str) -> None:
    records = {r["pmid"]: r for r in PARSERS[fmt](export_bytes(tricky_app, fmt, q="Needling {vs}"))}
    assert list(records) == ["99000001"]
    row = records["99000001"]["row"]
    facts = json.dumps(row, ensure_ascii=False, default=str)
    for needle in ("PMC1234567", "10.1000/xyz_123(4)", "retracted", "Microneedling", "Acne scars"):
        assert needle in facts, (fmt, needle)
    level = {
        "csv": lambda: row["evidence_level"] == "2",
        "xlsx": lambda: row["evidence_level"] == 2,
        "csl-json": lambda: row["custom"]["evidence_level"] == 2,
        "ris": lambda: "Evidence level: Level 2: Randomized controlled trial" in row["notes"][0],
        "bibtex": lambda: "Evidence level: Level 2: Randomized controlled trial" in row["note"],
        "medline": lambda: "Evidence level: Level 2: Randomized controlled trial" in row["GN"],
    }[fmt]
    assert level(), (fmt, facts[:600])


def test_mesh_headings_keep_medline_form(tricky_app: Flask) -> None:
    records = parse_medline(export_bytes(tricky_app, "medline", q="99000001"))
    assert records[0]["row"]["MH"] == ["Acne Vulgaris/*therapy/complications", "*Needles"]
    assert records[0]["row"]["PMC"] == "PMC1234567"
    assert records[0]["row"]["LID"] == "10.1000/xyz_123(4) [doi]"


def test_ris_pages_are_expanded_and_identifiers_in_their_tags(tricky_app: Flask) -> None:
    (entry,) = parse_ris(export_bytes(tricky_app, "ris", q="99000001"))
    row = entry["row"]
    assert (row["start_page"], row["end_page"]) == ("1123", "1129")
    (bib,) = parse_bibtex(export_bytes(tricky_app, "bibtex", q="99000001"))
    assert bib["row"]["pages"] == "1123–1129"  # '--' decoded to an en dash
    (item,) = parse_csl(export_bytes(tricky_app, "csl-json", q="99000001"))
    assert item["row"]["page"] == "1123-1129"
    assert row["doi"] == "10.1000/xyz_123(4)"
    assert row["custom2"] == "PMC1234567"
    assert len(row["notes"]) == 1 and "Retraction status: retracted" in row["notes"][0]


def test_xlsx_keeps_a_leading_equals_sign_as_text(tricky_app: Flask) -> None:
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(tricky_app, "xlsx", q="HYPERLINK")))
    sheet = book["Citations"]
    title_cell = sheet.cell(row=2, column=2)
    assert title_cell.data_type == "s"
    assert str(title_cell.value).startswith("=HYPERLINK")
    assert sheet.cell(row=2, column=10).value == "not rated"


def test_csv_default_header_and_chosen_columns(app: Flask) -> None:
    client = app.test_client()
    default = client.get("/exports/citations?format=csv&treatment=microneedling")
    header = default.data.decode().splitlines()[0]
    assert header == (
        "pmid,title,authors,journal,year,doi,pmcid,publication_types,mesh_terms,"
        "evidence_level,retraction_status,treatments,indications"
    )
    assert default.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert default.headers["Content-Disposition"].startswith(
        'attachment; filename="citations-microneedling-'
    )
    chosen = client.get(
        "/exports/citations",
        query_string=[
            ("format", "csv"),
            ("treatment", "microneedling"),
            ("columns", "pmid"),
            ("columns", "title"),
            ("columns", "evidence_level"),
        ],
    )
    rows = list(csv.reader(io.StringIO(chosen.data.decode())))
    assert rows[0] == ["pmid", "title", "evidence_level"]
    assert len(rows) == 1 + 28
    assert {r[2] for r in rows[1:]} <= {"1", "2", "3", "4", "5", "not rated"}


def test_export_matches_the_filtered_table(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/treatments/microneedling?level=2").get_data(as_text=True)
    shown = re.findall(r'aria-label="PMID (\d+) on PubMed"', page)
    assert shown, "the table shows level-2 citations"
    # The page's Export control carries the table's filters.
    assert 'name="level" value="2"' in page and 'name="treatment" value="microneedling"' in page
    rows = parse_csv(export_bytes(app, "csv", treatment="microneedling", level="2"))
    assert [r["pmid"] for r in rows] == shown


@pytest.mark.parametrize(
    ("query", "message"),
    [("format=docx", "Unknown format"), ("format=csv&columns=pmid,password", "Unknown column")],
)
def test_bad_requests_say_why(client: Any, query: str, message: str) -> None:
    response = client.get("/exports/citations?" + query)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_download_streams_header_first(app: Flask) -> None:
    response = app.test_client().get("/exports/citations?format=csv", buffered=False)
    chunks: Iterator[bytes] = iter(response.response)
    first = next(chunks)
    assert first.decode().startswith("pmid,title,authors")
    assert first.count(b"\n") == 1  # the header leaves before any row is loaded
    rest = b"".join(chunks)
    response.close()
    assert rest.count(b"\n") >= 55


def test_rows_are_loaded_per_batch_not_per_row(app: Flask) -> None:
    """Doubling the rows exported in one batch adds no SQL statement; small batches add some."""

    def statements(limit_year: int | None, batch_size: int = 1000) -> tuple[int, int]:
        executed: list[str] = []
        with app.app_context(), Session(get_engine()) as session:
            # SQLite's own trace: every statement it runs, whichever layer sent it.
            raw = session.connection().connection.driver_connection
            raw.set_trace_callback(executed.append)
            try:
                flt = queries.CitationFilter(status="any", year_to=limit_year)
                rows = sum(1 for _ in exports.iter_citations(session, flt, batch_size=batch_size))
            finally:
                raw.set_trace_callback(None)
        return rows, len([sql for sql in executed if sql.lstrip().upper().startswith("SELECT")])

    few_rows, few_queries = statements(2012)
    all_rows, all_queries = statements(None)
    assert all_rows > 2 * few_rows > 0
    assert all_queries == few_queries
    # Batches of 10: the per-batch query, once for each of the ceil(rows / 10) batches. One
    # statement per batch: every related table is aggregated into it.
    _rows, batched = statements(None, batch_size=10)
    per_batch = (batched - all_queries) / (-(-all_rows // 10) - 1)
    assert per_batch == 1


RELATED_TABLES = {
    "citation_author",
    "citation_publication_type",
    "citation_keyword",
    "citation_mesh",
    "citation_identifier",
    "citation_abstract_section",
    "citation_link",
}


def test_a_few_csv_columns_read_only_their_tables(app: Flask) -> None:
    def selects(fmt: str, columns: list[str]) -> tuple[set[str], bytes]:
        executed: list[str] = []
        with app.app_context(), Session(get_engine()) as session:
            raw = session.connection().connection.driver_connection
            raw.set_trace_callback(executed.append)
            try:
                flt = queries.CitationFilter(status="any")
                data = b"".join(exports.export_citations(session, flt, fmt, columns=columns))
            finally:
                raw.set_trace_callback(None)
        batch = [q for q in executed if "json_each" in q]
        assert len(batch) == 1  # the snapshot is one batch: one statement reads it all
        return set(re.findall(r"\bcitation_[a-z_]+", batch[0])) & RELATED_TABLES, data

    few, data = selects("csv", ["pmid", "title"])
    every, _ = selects("ris", list(exports.DEFAULT_COLUMNS))
    assert data.decode().splitlines()[0] == "pmid,title"
    assert few == set()  # the citation row alone: no author, MeSH, link ... table is read
    assert every == RELATED_TABLES  # RIS carries authors, types, keywords, MeSH, ids, links
    authors, _ = selects("csv", ["pmid", "authors", "treatments"])
    assert authors == {"citation_author", "citation_link"}


def test_small_batches_give_the_same_records(any_app: Flask) -> None:
    """Many batches (a server-side cursor on PostgreSQL between them) lose and repeat nothing."""
    with any_app.app_context(), Session(get_engine()) as session:
        flt = queries.CitationFilter(treatment="microneedling")
        one = [r.pmid for r in exports.iter_citations(session, flt, batch_size=1000)]
        seven = [r.pmid for r in exports.iter_citations(session, flt, batch_size=7)]
    assert one == seven and len(one) == 28


def test_outcome_reports_csv_filters_and_holds_no_reporter(app: Flask) -> None:
    with app.app_context(), session_scope() as session:
        treatment = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
        user = User(
            email="doc@example.org", name="Dr Secret", password_hash="x", role="practitioner"
        )
        session.add(user)
        session.flush()
        assert treatment.id and user.id
        shown = OutcomeReport(
            treatment_id=treatment.id, reporter_id=user.id, improvement=3, sessions=4, fitzpatrick=4
        )
        hidden = OutcomeReport(treatment_id=treatment.id, reporter_id=user.id, hidden=True)
        session.add_all([shown, hidden])
        session.flush()
        assert shown.id
        session.add(OutcomeAdverseEvent(report_id=shown.id, event="pih", detail="3 weeks"))
    client = app.test_client()
    response = client.get("/exports/reports.csv?treatment=microneedling")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4  # three quoted forum reports and the visible practitioner report
    mine = [r for r in rows if r["reported_by"] == "practitioner"]
    assert len(mine) == 1
    assert mine[0]["improvement"] == "3" and mine[0]["sessions"] == "4"
    assert mine[0]["adverse_events"] == "Post-inflammatory hyperpigmentation (PIH) (3 weeks)"
    assert "doc@example.org" not in text and "Dr Secret" not in text
    # The reports list's other filters apply too: skin type group, adverse event.
    for query in ("skin=IV-VI", "event=pih"):
        dark = client.get("/exports/reports.csv?" + query).get_data(as_text=True)
        assert [r["id"] for r in csv.DictReader(io.StringIO(dark))] == [str(shown.id)]
    other = client.get("/exports/reports.csv?treatment=fractional-co2-laser")
    assert all(
        r["treatment"] != "Microneedling (collagen induction therapy)"
        for r in csv.DictReader(io.StringIO(other.get_data(as_text=True)))
    )


def test_export_page_offers_every_format_and_column(client: Any) -> None:
    page = client.get("/exports?treatment=microneedling").get_data(as_text=True)
    for fmt in exports.FORMATS:
        assert f'value="{fmt}"' in page
    for column in exports.CITATION_COLUMNS:
        assert f'value="{column}"' in page
    assert "<strong>28</strong> citations" in page
    # The reports form offers the reports list's filters.
    for name in ("skin", "event", "role"):
        assert f'name="{name}"' in page


def test_ris_is_rispys_plain_output(tricky_app: Flask) -> None:
    """One reference per citation, each ended by 'ER  - ' and a blank line, no counter lines."""
    data = export_bytes(tricky_app, "ris", status="any").decode("utf-8")
    references = data.split("ER  - \n\n")
    assert references[-1] == ""  # the file ends with the last reference's blank line
    assert len(references) - 1 == len(expected_records())
    for reference in references[:-1]:
        assert reference.startswith("TY  - JOUR\n")
        # rispy's stock writer puts '1.', '2.' ... before each reference: not part of RIS.
        assert all(re.fullmatch(r"[A-Z][A-Z0-9]  - .*", line) for line in reference.splitlines())
    # Suffixes, collective authors, expanded pages: the cases a careless writer gets wrong.
    for line in ("AU  - English, RS, Jr\n", "AU  - Split-Face Study Group\n", "EP  - 1129\n"):
        assert line in data
    # Two references in one stream, across a chunk boundary, read back as two.
    with tricky_app.app_context(), Session(get_engine()) as session:
        records = list(exports.iter_citations(session, queries.CitationFilter(status="any")))
    many = "".join(exports.write_ris(records * 200))
    assert [e["accession_number"] for e in rispy.loads(many)] == [r.pmid for r in records * 200]


def records_from_tables(session: Session, pmid: str) -> exports.CitationRecord:
    """Read one citation's record the plain way, table by table through the ORM."""
    c = session.exec(select(Citation).where(Citation.pmid == pmid)).one()

    def rows(model: Any) -> list[Any]:
        return list(
            session.exec(select(model).where(model.citation_id == c.id).order_by(model.position))
        )

    idents = list(
        session.exec(
            select(CitationIdentifier)
            .where(CitationIdentifier.citation_id == c.id)
            .order_by(CitationIdentifier.id)
        )
    )
    links = list(
        session.exec(
            select(CitationLink)
            .where(
                CitationLink.citation_id == c.id, CitationLink.status.in_(["included", "candidate"])
            )
            .order_by(CitationLink.id)
        )
    )
    treatments = {t.id: exports.Named(t.slug, t.name) for t in session.exec(select(Treatment))}
    indications = {i.id: exports.Named(i.slug, i.name) for i in session.exec(select(Indication))}
    # Without an abstract of its own, the sections make it: 'LABEL: text' joined by spaces.
    sections = [
        f"{s.label}: {s.text}" if s.label else s.text for s in rows(CitationAbstractSection)
    ]
    return exports.CitationRecord(
        pmid=c.pmid,
        title=c.title,
        abstract=c.abstract if c.abstract is not None else (" ".join(sections) or None),
        journal=c.journal,
        journal_abbrev=c.journal_abbrev,
        year=c.year,
        pub_date=c.pub_date,
        volume=c.volume,
        issue=c.issue,
        pages=c.pages,
        doi=c.doi or next((i.value for i in idents if i.id_type == "doi"), None),
        pmcid=c.pmcid or next((i.value for i in idents if i.id_type in ("pmc", "pmcid")), None),
        language=c.language,
        evidence_level=c.evidence_level,
        evidence_rule=c.evidence_rule,
        retraction_status=c.retraction_status,
        authors=[
            exports.Author(a.last_name, a.fore_name, a.initials, a.suffix, a.collective_name)
            for a in rows(CitationAuthor)
        ],
        publication_types=[p.name for p in rows(CitationPublicationType)],
        mesh_terms=[
            exports.mesh_label(m.descriptor, m.qualifiers, m.major) for m in rows(CitationMesh)
        ],
        keywords=[k.keyword for k in rows(CitationKeyword)],
        treatments=list(
            dict.fromkeys(treatments[link.treatment_id] for link in links if link.treatment_id)
        ),
        indications=list(
            dict.fromkeys(indications[link.indication_id] for link in links if link.indication_id)
        ),
    )


def test_one_query_per_batch_gives_the_records_the_tables_hold(tricky_app: Flask) -> None:
    """The aggregating query per batch equals reading each related table's rows."""
    with tricky_app.app_context(), Session(get_engine()) as session:
        ids = [
            row[0]
            for row in session.execute(
                exports.ordered_ids_query(queries.CitationFilter(status="any"))
            )
        ]
        loader = exports.RecordLoader(session, statuses=("included", "candidate"))
        aggregated = loader.load(ids)
        assert aggregated == [records_from_tables(session, r.pmid) for r in aggregated]
    assert len(aggregated) == len(expected_records())
    tricky = next(r for r in aggregated if r.pmid == "99000001")
    assert tricky.mesh_terms == ["Acne Vulgaris/*therapy/complications", "*Needles"]
    assert tricky.pmcid == "PMC1234567"  # kept only among the identifiers
    assert [a.label for a in tricky.authors][-1] == "Split-Face Study Group"
    assert [t.slug for t in tricky.treatments] == ["microneedling"]


def test_values_holding_control_characters_are_exported_as_stored(any_app: Flask) -> None:
    """Control characters, empty strings and a missing last name survive aggregation."""
    with any_app.app_context(), session_scope() as session:
        c = Citation(pmid="99000003", title="Separators", year=2020, evidence_rule="test")
        session.add(c)
        session.flush()
        assert c.id is not None
        cid = c.id
        session.add_all(
            [
                CitationAuthor(citation_id=cid, position=0, last_name="Ro\x1ee", initials="A"),
                CitationAuthor(citation_id=cid, position=1, last_name="Un\x1fit", initials="B"),
                CitationAuthor(citation_id=cid, position=2, last_name="", fore_name="Cher"),
                CitationAuthor(citation_id=cid, position=3, fore_name="Mononym"),
                CitationAuthor(citation_id=cid, position=4, last_name='Quo"te, [x]', initials="Q"),
                CitationPublicationType(citation_id=cid, position=0, name="Type\x1eSplit"),
                CitationKeyword(citation_id=cid, position=0, keyword="key\x1fword"),
                CitationMesh(
                    citation_id=cid, position=0, descriptor="Skin\x1f", qualifiers="", major=True
                ),
            ]
        )
    with any_app.app_context(), Session(get_engine()) as session:
        (record,) = exports.RecordLoader(session).load([cid])
        assert record == records_from_tables(session, "99000003")
    assert [a.last_name for a in record.authors] == ["Ro\x1ee", "Un\x1fit", "", None, 'Quo"te, [x]']
    assert record.publication_types == ["Type\x1eSplit"]
    assert record.keywords == ["key\x1fword"]
    assert record.mesh_terms == ["*Skin\x1f"]
    # Positions decide the order, not the order the rows were stored in.
    with any_app.app_context(), session_scope() as session:
        for pos, text in ((2, "Third"), (1, "Second")):
            session.add(CitationPublicationType(citation_id=cid, position=pos, name=text))
    with any_app.app_context(), Session(get_engine()) as session:
        (record,) = exports.RecordLoader(session, parts=["publication_types"]).load([cid])
    assert record.publication_types == ["Type\x1eSplit", "Second", "Third"]
    assert record.authors == []  # a part not asked for is not read
    # An empty last name alone stays empty, not missing.
    with any_app.app_context(), session_scope() as session:
        other = Citation(pmid="99000004", title="Empty", evidence_rule="test")
        session.add(other)
        session.flush()
        assert other.id is not None
        other_id = other.id
        session.add(CitationAuthor(citation_id=other_id, position=0, last_name="", fore_name="C"))
    with any_app.app_context(), Session(get_engine()) as session:
        (record,) = exports.RecordLoader(session).load([other_id])
    assert record.authors == [exports.Author("", "C", None, None, None)]
    assert record.authors[0].inverted == ", C"
