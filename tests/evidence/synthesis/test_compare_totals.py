"""The compare page's citation counts (compare_citation_total, kept by triggers) equal a recount.

Each step writes as a real writer does (the ORM, raw SQL touching many rows, a PubMed import,
the snapshot load of the fixture) and then compares every stored count with one recounted in
Python from citation_link and citation, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlmodel import Session, col, select

from evidence.db import get_engine, session_scope
from evidence.literature.ingest import LinkTarget, import_path
from evidence.models import (
    ANY_INDICATION,
    Citation,
    CitationLink,
    CompareCitationTotal,
    Indication,
    Treatment,
)
from evidence.synthesis import compare
from tests.evidence.pubmed_helpers import article_with, write_articles

Key = tuple[int, int, int, int, int]


def recount(session: Session) -> Counter[Key]:
    """Count included citations per (treatment, indication key, level, flag, year) in Python."""
    rows = session.exec(
        select(
            CitationLink.treatment_id,
            CitationLink.indication_id,
            CitationLink.citation_id,
            Citation.evidence_level,
            Citation.year,
            Citation.retraction_status,
        )
        .join(Citation, col(Citation.id) == col(CitationLink.citation_id))
        .where(col(CitationLink.status) == "included", col(CitationLink.treatment_id).is_not(None))
    ).all()
    out: Counter[Key] = Counter()
    wide: set[tuple[int, int, int, int, int]] = set()
    for tid, iid, cid, level, year, status in rows:
        assert tid is not None
        values = (level or 0, 1 if status != "none" else 0, year or 0)
        out[(tid, iid or 0, *values)] += 1
        wide.add((cid, tid, *values))
    for _cid, tid, *values in wide:
        out[(tid, ANY_INDICATION, values[0], values[1], values[2])] += 1
    return out


def stored(session: Session) -> Counter[Key]:
    """Return the stored counts, leaving out rows holding 0."""
    return Counter(
        {
            (t.treatment_id, t.indication_key, t.level_key, t.flagged, t.year_key): t.n
            for t in session.exec(select(CompareCitationTotal))
            if t.n
        }
    )


def check(app: Flask) -> Counter[Key]:
    """Assert the stored counts equal a recount; return them."""
    with app.app_context(), session_scope() as session:
        expected = recount(session)
        assert stored(session) == expected
        assert all(t.n >= 0 for t in session.exec(select(CompareCitationTotal)))
        return expected


def test_counts_follow_every_write(any_app: Flask, tmp_path: Path) -> None:
    """Inserts, updates, deletes, raw SQL and a PubMed import keep the counts exact."""
    app = any_app
    loaded = check(app)  # the fixture loaded the snapshot after the migration
    assert sum(n for key, n in loaded.items() if key[1] == ANY_INDICATION) > 0
    with app.app_context(), session_scope() as session:
        micro, laser = (
            session.exec(select(Treatment).where(Treatment.slug == slug)).one()
            for slug in ("microneedling", "fractional-co2-laser")
        )
        acne, burns = session.exec(select(Indication).order_by(col(Indication.id)).limit(2)).all()
        cites = [
            Citation(
                pmid=f"8800000{i}", title=f"Totals {i}", year=2020 + i % 3, evidence_level=i % 3
            )
            for i in range(6)
        ]
        session.add_all(cites)
        session.flush()
        a, b, c, d, e, f = (x.id for x in cites)
        assert None not in (a, b, c, d, e, f) and micro.id and laser.id
        links = [
            # One citation, one treatment, two indications: counted once treatment-wide.
            CitationLink(citation_id=a, treatment_id=micro.id, indication_id=acne.id,
                         treatment_key=micro.id, indication_key=acne.id),
            CitationLink(citation_id=a, treatment_id=micro.id, indication_id=burns.id,
                         treatment_key=micro.id, indication_key=burns.id),
            CitationLink(citation_id=a, treatment_id=laser.id, treatment_key=laser.id),
            CitationLink(citation_id=b, treatment_id=micro.id, treatment_key=micro.id),
            CitationLink(citation_id=c, treatment_id=micro.id, indication_id=acne.id,
                         treatment_key=micro.id, indication_key=acne.id, status="candidate"),
            CitationLink(citation_id=d, treatment_id=laser.id, indication_id=acne.id,
                         treatment_key=laser.id, indication_key=acne.id),
            CitationLink(citation_id=e, indication_id=acne.id, indication_key=acne.id),
            CitationLink(citation_id=f, treatment_id=laser.id, treatment_key=laser.id),
        ]  # fmt: skip
        session.add_all(links)
        session.flush()
        base = recount(session)
        assert stored(session) == base
        assert base[(micro.id, ANY_INDICATION, 0, 0, 2020)] >= 1
    after_insert = check(app)
    assert after_insert != loaded

    with app.app_context(), session_scope() as session:
        # ORM updates: a citation's level, year and flag; a link's status and indication.
        first = session.exec(select(Citation).where(Citation.pmid == "88000000")).one()
        first.evidence_level, first.year = 1, 2024
        session.flush()
        assert stored(session) == recount(session)
        first.retraction_status = "retracted"
        session.flush()
        assert stored(session) == recount(session)
        candidate = session.exec(
            select(CitationLink).where(col(CitationLink.status) == "candidate")
        ).first()
        assert candidate is not None
        candidate.status = "included"
        session.flush()
        moved = session.exec(
            select(CitationLink)
            .join(Citation, col(Citation.id) == col(CitationLink.citation_id))
            .where(Citation.pmid == "88000000", col(CitationLink.indication_id) == burns.id)
        ).one()
        moved.indication_id, moved.indication_key = None, 0
        session.flush()
        assert stored(session) == recount(session)
        moved.status = "excluded"
        session.flush()
    check(app)

    # Raw SQL over many rows at once (one statement: PostgreSQL's statement triggers).
    with app.app_context(), get_engine().begin() as conn:
        conn.execute(text("UPDATE citation SET year = year + 1 WHERE year IS NOT NULL"))
        conn.execute(text("UPDATE citation SET evidence_level = 2 WHERE evidence_level IS NULL"))
        conn.execute(
            text(
                "UPDATE citation_link SET status = 'excluded' WHERE id IN "
                "(SELECT id FROM citation_link WHERE status = 'included' ORDER BY id LIMIT 5)"
            )
        )
    check(app)

    with app.app_context(), session_scope() as session:
        # Deletes: a link, a citation (its links go with it), and many links by raw SQL.
        link = session.exec(
            select(CitationLink).where(col(CitationLink.status) == "included")
        ).first()
        assert link is not None
        session.delete(link)
        session.flush()
        assert stored(session) == recount(session)
        gone = session.exec(select(Citation).where(Citation.pmid == "88000000")).one()
        session.delete(gone)
        session.flush()
        assert stored(session) == recount(session)
        session.execute(
            text(
                "DELETE FROM citation_link WHERE id IN "
                "(SELECT id FROM citation_link ORDER BY id DESC LIMIT 7)"
            )
        )
        session.execute(text("DELETE FROM citation WHERE pmid = '88000003'"))
    check(app)

    # A PubMed import linking its records to a treatment as included.
    with app.app_context():
        with session_scope() as session:
            micro_id = session.exec(
                select(Treatment.id).where(Treatment.slug == "microneedling")
            ).one()
        path = write_articles(tmp_path / "a.xml", [article_with(91500001), article_with(91500002)])
        target = LinkTarget(treatment_id=micro_id, status="included")
        assert import_path(get_engine(), path, link=target).ok
        retracted = write_articles(
            tmp_path / "b.xml",
            [
                article_with(
                    91500001,
                    extra_comments=(
                        '<CommentsCorrections RefType="RetractionIn"><RefSource>R.</RefSource>'
                        '<PMID Version="1">90000099</PMID></CommentsCorrections>'
                    ),
                )
            ],
        )
        assert import_path(get_engine(), retracted, link=target).ok
    final = check(app)
    with app.app_context(), session_scope() as session:
        imported = session.exec(select(Citation).where(Citation.pmid == "91500001")).one()
        assert imported.retraction_status != "none"
        assert sum(n for key, n in final.items() if key[0] == micro_id and key[3] == 1) >= 1
        # The page's figures come from the counts: they equal the recount's.
        selection = compare.select_treatments(
            session, slugs=["microneedling", "fractional-co2-laser"], indication=None
        )
        for lit, treatment in zip(
            compare.literature(session, treatments=selection.treatments),
            selection.treatments,
            strict=True,
        ):
            mine = {k: n for k, n in final.items() if k[0] == treatment.id and k[1] == -1}
            assert lit.flagged == sum(n for k, n in mine.items() if k[3])
            assert lit.counted == sum(n for k, n in mine.items() if not k[3])
            assert lit.year_unknown == sum(n for k, n in mine.items() if not k[3] and not k[4])


def test_newest_review_is_the_newest_linked_level_1_citation(any_app: Flask) -> None:
    """The newest review, with and without an indication, is the level 1 citation with the
    latest year (then the higher PMID) among the treatment's included, unflagged links."""
    from evidence.literature.pmidorder import pmid_key

    app = any_app
    with app.app_context(), session_scope() as session:
        micro = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
        acne = session.exec(select(Indication).order_by(col(Indication.id))).first()
        assert micro.id is not None and acne is not None
        for i, (year, indication) in enumerate(
            [(2031, acne.id), (2031, None), (2030, acne.id), (None, acne.id)]
        ):
            cite = Citation(pmid=f"9990000{i}", title=f"Review {i}", year=year, evidence_level=1)
            session.add(cite)
            session.flush()
            assert cite.id is not None
            session.add(
                CitationLink(
                    citation_id=cite.id,
                    treatment_id=micro.id,
                    indication_id=indication,
                    treatment_key=micro.id,
                    indication_key=indication or 0,
                )
            )
        session.flush()
        for indication in (None, acne):
            rows = session.exec(
                select(Citation.pmid, Citation.year, CitationLink.indication_id)
                .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
                .where(
                    CitationLink.treatment_id == micro.id,
                    CitationLink.status == "included",
                    Citation.evidence_level == 1,
                    Citation.retraction_status == "none",
                )
            ).all()
            mine = [r for r in rows if indication is None or r[2] == indication.id]
            known = [r[1] for r in mine if r[1] is not None]
            newest_year = max(known) if known else None
            expected = max((r[0] for r in mine if r[1] == newest_year), key=pmid_key, default=None)
            (lit,) = compare.literature(session, treatments=[micro], indication=indication)
            assert lit.newest_review is not None
            assert lit.newest_review.pmid == expected
        assert expected == "99900000"  # with acne scars: 2031 beats 2030 and no year
