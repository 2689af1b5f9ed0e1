"""Retraction Watch CSV import: matches by DOI and PMID, flags retractions, never errata."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, col, select

from evidence.db import get_engine, session_scope
from evidence.literature.ingest import import_path
from evidence.models import Citation, CitationCorrection, CitationLink, RetractionNotice
from tests.conftest import run_cli
from tests.evidence.pubmed_helpers import ENTREZ
from tests.evidence.web.test_auth import login, make_user

# The columns of the Retraction Watch file Crossref publishes, in its order.
COLUMNS = [
    "Record ID", "Title", "Subject", "Institution", "Journal", "Publisher", "Country", "Author",
    "URLS", "ArticleType", "RetractionDate", "RetractionDOI", "RetractionPubMedID",
    "OriginalPaperDate", "OriginalPaperDOI", "OriginalPaperPubMedID", "RetractionNature",
    "Reason", "Paywalled", "Notes",
]  # fmt: skip


def _row(**values: str) -> dict[str, str]:
    """A row with every column, Retraction Watch style (0 for an unknown PubMed ID)."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        {
            "Title": "A study",
            "Subject": "(HSC) Medicine - Dermatology;",
            "Journal": "A journal",
            "Publisher": "A publisher",
            "Country": "United States",
            "Author": "A Author;B Author",
            "ArticleType": "Research Article;",
            "RetractionPubMedID": "0",
            "OriginalPaperDate": "3/1/2019 0:00",
            "OriginalPaperPubMedID": "0",
            "Paywalled": "No",
        }
    )
    row.update(values)
    return row


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write rows as a Retraction Watch CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _cell_citations(app: Flask, count: int) -> list[tuple[Citation, str, str]]:
    """Included snapshot citations with a DOI, linked to a treatment and an indication."""
    from evidence.models import Indication, Treatment

    with app.app_context(), session_scope() as session:
        rows = session.exec(
            select(Citation, Treatment.slug, Indication.slug)
            .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
            .join(Treatment, col(Treatment.id) == col(CitationLink.treatment_id))
            .join(Indication, col(Indication.id) == col(CitationLink.indication_id))
            .where(
                CitationLink.status == "included",
                col(Citation.doi).is_not(None),
                Citation.retraction_status == "none",
            )
            .order_by(col(Citation.id))
        ).all()
    seen: set[str] = set()
    picked = []
    for citation, tslug, islug in rows:
        if citation.pmid not in seen:
            seen.add(citation.pmid)
            picked.append((citation, tslug, islug))
    assert len(picked) >= count
    return picked[:count]


def _status(app: Flask, pmid: str) -> str:
    """A citation's retraction status."""
    with app.app_context(), session_scope() as session:
        return session.exec(select(Citation.retraction_status).where(Citation.pmid == pmid)).one()


def _notices(app: Flask) -> list[RetractionNotice]:
    """Every stored notice."""
    with app.app_context(), session_scope() as session:
        return list(session.exec(select(RetractionNotice).order_by(col(RetractionNotice.id))))


def test_csv_flags_by_doi_and_pmid_and_keeps_nature_reason_and_date(
    any_app: Flask, tmp_path: Path
) -> None:
    """Retraction by DOI, concern by PMID, a correction recorded but not flagged."""
    app = any_app
    (retracted, t1, i1), (concern, _, _), (corrected, _, _) = _cell_citations(app, 3)
    path = _write(
        tmp_path / "retraction_watch.csv",
        [
            _row(
                **{
                    "Record ID": "50001",
                    "RetractionDate": "1/15/2024 0:00",
                    "RetractionDOI": "10.9999/notice.1",
                    "OriginalPaperDOI": f"https://doi.org/{(retracted.doi or '').upper()}",
                    "RetractionNature": "Retraction",
                    "Reason": "+Falsification/Fabrication of Data;"
                    "+Investigation by Journal/Publisher;",
                }
            ),
            _row(
                **{
                    "Record ID": "50002",
                    "RetractionDate": "2/2/2024 0:00",
                    "OriginalPaperPubMedID": concern.pmid,
                    "RetractionNature": "Expression of concern",
                    "Reason": "+Concerns/Issues About Data;",
                }
            ),
            _row(
                **{
                    "Record ID": "50003",
                    "RetractionDate": "3/3/2024 0:00",
                    "OriginalPaperPubMedID": corrected.pmid,
                    "RetractionNature": "Correction",
                    "Reason": "+Error in Table;",
                }
            ),
            _row(
                **{
                    "Record ID": "50004",
                    "RetractionDate": "4/4/2024 0:00",
                    "OriginalPaperDOI": "10.9999/not-in-the-database",
                    "RetractionNature": "Retraction",
                }
            ),
        ],
    )
    result = run_cli(app, "retractions", "import", str(path))
    assert result.exit_code == 0, result.output
    assert (
        "4 rows read, 3 matched citations: 1 retracted, 1 expressions of concern" in result.output
    )
    assert "1 rows match no citation" in result.output
    assert _status(app, retracted.pmid) == "retracted"
    assert _status(app, concern.pmid) == "expression-of-concern"
    assert _status(app, corrected.pmid) == "none"  # a correction is never a retraction
    notices = {n.record_id: n for n in _notices(app)}
    assert set(notices) == {"50001", "50002", "50003"}
    first = notices["50001"]
    assert first.nature == "Retraction" and first.matched_by == "doi"
    assert first.reason == "Falsification/Fabrication of Data; Investigation by Journal/Publisher"
    assert first.notice_date is not None and first.notice_date.isoformat() == "2024-01-15"
    assert notices["50002"].matched_by == "pmid"

    # Importing the same file again adds nothing.
    again = run_cli(app, "retractions", "import", str(path))
    assert again.exit_code == 0 and len(_notices(app)) == 3

    # The matrix and compare pages say the retracted citation's cell changed.
    client = app.test_client()
    matrix = client.get("/matrix").text
    cell = re.search(
        rf'<td data-treatment="{t1}" data-indication="{i1}".*?</td>', matrix, re.DOTALL
    )
    assert cell and "changed since" in cell.group(0)
    assert f"1 retraction (PMID {retracted.pmid})" in cell.group(0)
    # Exactly the cells holding the retracted or the concerning citation are marked.
    with app.app_context(), session_scope() as session:
        cells = set(
            session.exec(
                select(CitationLink.treatment_id, CitationLink.indication_id).where(
                    col(CitationLink.citation_id).in_([retracted.id, concern.id]),
                    CitationLink.status == "included",
                    col(CitationLink.indication_id).is_not(None),
                )
            ).all()
        )
    assert matrix.count('class="changed"') == len(cells) >= 1
    page = client.get(f"/compare?t={t1}&indication={i1}").text
    assert "changed since" in page and f"1 retraction (PMID {retracted.pmid})" in page
    detail = client.get(f"/citations/{concern.pmid}").text
    assert "An expression of concern has been published about this article." in detail
    assert "This publication has been retracted." not in detail
    assert "Retraction Watch record 50002, matched by PMID" in detail
    corrected_page = client.get(f"/citations/{corrected.pmid}").text
    assert "A correction is not a retraction: the citation is not flagged." in corrected_page
    assert "This publication has been retracted." not in corrected_page
    feed = client.get(f"/treatments/{t1}/feed.atom").text
    assert "Retracted: " in feed and "Falsification/Fabrication of Data" in feed


def test_a_bad_row_imports_nothing_and_says_which_line(app: Flask, tmp_path: Path) -> None:
    """All or nothing: one bad date and one unknown nature, and no citation changes."""
    ((good, _, _),) = _cell_citations(app, 1)
    path = _write(
        tmp_path / "bad.csv",
        [
            _row(**{"Record ID": "1", "RetractionDate": "1/15/2024 0:00",
                    "OriginalPaperPubMedID": good.pmid, "RetractionNature": "Retraction"}),
            _row(**{"Record ID": "2", "RetractionDate": "the fifteenth",
                    "OriginalPaperPubMedID": good.pmid, "RetractionNature": "Retraction"}),
            _row(**{"Record ID": "3", "RetractionDate": "1/15/2024 0:00",
                    "OriginalPaperPubMedID": good.pmid, "RetractionNature": "Withdrawal"}),
        ],
    )  # fmt: skip
    result = run_cli(app, "retractions", "import", str(path))
    assert result.exit_code != 0
    assert "line 3: RetractionDate: date 'the fifteenth' is not M/D/YYYY" in result.output
    assert "line 4: unknown RetractionNature 'Withdrawal'" in result.output
    assert "nothing imported: 2 row error(s)" in result.output
    assert _status(app, good.pmid) == "none" and _notices(app) == []
    other = tmp_path / "other.csv"
    other.write_text("PMID,Title\n1,x\n")
    refused = run_cli(app, "retractions", "import", str(other))
    assert (
        refused.exit_code != 0
        and "not a Retraction Watch file: missing column(s)" in refused.output
    )


def test_a_real_erratum_is_never_flagged_as_a_retraction(app: Flask, tmp_path: Path) -> None:
    """PubMed 21507618 carries ErratumIn; neither PubMed nor a Correction row flags it."""
    with app.app_context():
        report = import_path(get_engine(), ENTREZ / "erratum_21507618.xml")
    assert report.ok and report.added == 1
    with app.app_context(), Session(get_engine()) as session:
        citation = session.exec(select(Citation).where(Citation.pmid == "21507618")).one()
        refs = session.exec(
            select(CitationCorrection.ref_type).where(CitationCorrection.citation_id == citation.id)
        ).all()
    assert citation.doi == "10.1016/j.jclinane.2010.05.009"
    assert refs == ["ErratumIn"] and citation.retraction_status == "none"
    path = _write(
        tmp_path / "erratum.csv",
        [
            _row(
                **{
                    "Record ID": "9001",
                    "Title": "Successful management of a morbidly obese patient for "
                    "electroconvulsive therapy with elective tracheostomy",
                    "RetractionDate": "8/1/2011 0:00",
                    "OriginalPaperDOI": "10.1016/j.jclinane.2010.05.009",
                    "OriginalPaperPubMedID": "21507618",
                    "RetractionNature": "Correction",
                    "Reason": "+Error in Author Affiliations;",
                }
            )
        ],
    )
    result = run_cli(app, "retractions", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "1 corrections or reinstatements recorded (not flagged)" in result.output
    assert _status(app, "21507618") == "none"
    with app.app_context(), session_scope() as session:
        flagged = session.exec(
            select(func.count()).select_from(Citation).where(Citation.retraction_status != "none")
        ).one()
    # The erratum adds no flag anywhere: only the snapshot's own flags remain.
    client = app.test_client()
    make_user(app, "viewer@example.org", "viewer")
    login(client, "viewer@example.org")
    page = client.get("/citations/21507618").text
    assert "Retracted" not in page
    assert flagged == _snapshot_flag_count(app)


def _snapshot_flag_count(app: Flask) -> int:
    """How many snapshot citations carry a retraction or concern flag of their own."""
    with app.app_context(), session_scope() as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Citation)
                .where(Citation.retraction_status != "none", Citation.source == "snapshot")
            ).one()
        )


def test_a_pubmed_refresh_keeps_the_flag_a_retraction_watch_notice_set(
    any_app: Flask, tmp_path: Path
) -> None:
    """PubMed's record knows nothing of Retraction Watch: a rewrite must not clear its flag."""
    from evidence.literature.ingest import upsert_records
    from pubmed import parse_efetch
    from tests.evidence.pubmed_helpers import article_with, write_articles

    app = any_app
    pmid = "39999001"
    with app.app_context():
        first = import_path(
            get_engine(), write_articles(tmp_path / "a.xml", [article_with(39999001)])
        )
    assert first.ok and first.added == 1
    notice = {"Record ID": "70001", "OriginalPaperPubMedID": pmid, "RetractionNature": "Retraction"}
    rows = [_row(**notice, Reason="+Duplication of Data;")]
    result = run_cli(app, "retractions", "import", str(_write(tmp_path / "rw.csv", rows)))
    assert result.exit_code == 0, result.output
    assert _status(app, pmid) == "retracted"

    # The scheduled fetch brings a corrected record from PubMed (a new title, no notice).
    body = (
        b"<PubmedArticleSet>"
        + article_with(39999001, title="A corrected title")
        + b"</PubmedArticleSet>"
    )
    with app.app_context(), session_scope() as session:
        counts = upsert_records(session, parse_efetch(body), source="entrez")
    assert counts.updated == 1
    with app.app_context(), session_scope() as session:
        title = session.exec(select(Citation.title).where(Citation.pmid == pmid)).one()
    assert title == "A corrected title"
    assert _status(app, pmid) == "retracted"
