"""Full-text search of the citation table: 500,000 generated citations, SQLite and PostgreSQL.

Builds a temporary database per backend (SQLite in a temporary directory; PostgreSQL as a
throwaway database next to the one in EVIDENCE_BENCH_DATABASE_URL or
EVIDENCE_TEST_DATABASE_URL, dropped afterwards), fills it through the app's own index
path (triggers mark, evidence.literature.search.refresh indexes each batch), then times what the
citation table asks for a two-word search: the count and the first page ranked by
relevance (evidence.queries.count_citations + citation_rows, every citation linked as
included, as the table's default filter wants).

Titles and abstracts are drawn from a 20,000-word vocabulary with Zipf frequencies, so
words are common or rare as in real text; each query is two words of middling frequency
(ranks 50-1500) and the run prints how many citations each matched.
Baseline, same run, same database: the substring (LIKE) filter the table used before the
index, on the same two words. Target: p50 <= 50 ms on each backend.

    .venv/bin/python bench/search.py [--citations 500000] [--check]

Generated data lives only in the temporary databases, never in the app's database.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
VOCABULARY = 20_000
CHUNK = 20_000
QUERIES = 12
REPEATS = 5
SYLLABLES = (
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu la le li lo lu "
    "ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu "
    "va ve vi vo vu za ze zi zo zu"
).split()


def vocabulary(rng: random.Random) -> list[str]:
    """Return VOCABULARY distinct pseudo-words of two to four syllables."""
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + "x")
    return sorted(words)


def write(conn: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows: psycopg's COPY on PostgreSQL (bulk, as a restore would), else executemany."""
    from sqlalchemy import insert

    if conn.dialect.name != "postgresql":
        conn.execute(insert(model), rows)
        return
    columns = list(rows[0])
    table = model.__tablename__
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def build(url: str, count: int) -> tuple[list[str], float]:
    """Migrate the database and fill it with `count` generated citations; return the words."""
    import numpy as np
    from alembic.script import ScriptDirectory
    from sqlmodel import Session, select

    from evidence import migrate, snapshot
    from evidence.db import make_engine
    from evidence.models import Citation, CitationAuthor, CitationLink, CitationMesh, Treatment

    started = time.perf_counter()
    # Rows first, index after: the search migration indexes existing citations in one
    # statement and builds the GIN index in bulk, as on a database upgraded in place.
    # (Row by row through the triggers and search.refresh is what the ingest does; the
    # tests cover that path, and bench/ingest.py times it.)
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(
        "0006_fulltext_search"
    )
    assert before is not None and isinstance(before.down_revision, str)
    migrate.upgrade(url, before.down_revision)
    engine = make_engine(url)
    rng = random.Random(10)
    words = vocabulary(rng)
    surnames = [w.capitalize() for w in rng.sample(words, 5000)]
    headings = [w.capitalize() for w in rng.sample(words, 300)]
    journals = [f"Journal of {w.capitalize()}" for w in rng.sample(words, 200)]
    weights = 1.0 / (np.arange(VOCABULARY) + 10.0)
    weights /= weights.sum()
    gen = np.random.default_rng(10)
    now = datetime.now(UTC)
    with Session(engine) as session:
        snapshot.load_catalogue(session, snapshot.LoadReport())
        session.commit()
        treatment_ids = [t.id for t in session.exec(select(Treatment))]
    for start in range(1, count + 1, CHUNK):
        ids = list(range(start, min(start + CHUNK, count + 1)))
        titles = gen.choice(VOCABULARY, size=(len(ids), 10), p=weights)
        abstracts = gen.choice(VOCABULARY, size=(len(ids), 60), p=weights)
        with engine.begin() as conn:
            write(
                conn,
                Citation,
                [
                    {
                        "id": cid,
                        "pmid": str(40_000_000 + cid),
                        "title": " ".join([words[w] for w in titles[n]]).capitalize(),
                        "abstract": " ".join([words[w] for w in abstracts[n]]),
                        "journal": journals[cid % len(journals)],
                        "year": 1990 + cid % 35,
                        "evidence_level": cid % 5 + 1,
                        "evidence_rule": "generated",
                        "retraction_status": "none",
                        "source": "import",
                        "complete": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, cid in enumerate(ids)
                ],
            )
            write(
                conn,
                CitationAuthor,
                [
                    {
                        "citation_id": cid,
                        "position": p,
                        "last_name": surnames[(cid * 7 + p * 13) % len(surnames)],
                        "initials": "AB",
                    }
                    for cid in ids
                    for p in range(3)
                ],
            )
            write(
                conn,
                CitationMesh,
                [
                    {
                        "citation_id": cid,
                        "position": p,
                        "descriptor": headings[(cid * 3 + p * 31) % len(headings)],
                        "qualifiers": "",
                        "major": False,
                    }
                    for cid in ids
                    for p in range(4)
                ],
            )
            write(
                conn,
                CitationLink,
                [
                    {
                        "citation_id": cid,
                        "treatment_id": treatment_ids[cid % len(treatment_ids)],
                        "treatment_key": treatment_ids[cid % len(treatment_ids)],
                        "indication_key": 0,
                        "status": "included",
                        "found_by": "bench",
                        "created_at": now,
                    }
                    for cid in ids
                ],
            )
    engine.dispose()
    migrate.upgrade(url)  # 0006_fulltext_search: builds the index over every citation
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")  # autovacuum would have, on a live database
        conn.commit()
    engine.dispose()
    return words, time.perf_counter() - started


def like_condition(q: str) -> Any:
    """The text filter before the index (kept here as the baseline): substrings, any field."""
    from sqlalchemy import func, or_
    from sqlmodel import col, select

    from evidence.models import Citation, CitationAuthor

    like = f"%{q.lower()}%"
    author_sub = select(CitationAuthor.citation_id).where(
        or_(
            func.lower(CitationAuthor.last_name).like(like),
            func.lower(CitationAuthor.collective_name).like(like),
        )
    )
    return or_(
        func.lower(Citation.title).like(like),
        func.lower(func.coalesce(Citation.abstract, "")).like(like),
        func.lower(func.coalesce(Citation.journal, "")).like(like),
        col(Citation.pmid) == q,
        func.lower(func.coalesce(Citation.doi, "")) == q.lower(),
        col(Citation.id).in_(author_sub),
    )


def table_query(session: Any, q: str) -> tuple[int, int]:
    """What the citation table runs for a search: the count and the first ranked page."""
    from evidence import queries

    flt = queries.CitationFilter(q=q)
    total = queries.count_citations(session, flt)
    rows = queries.citation_rows(session, flt, limit=25)
    return total, len(rows)


def baseline_query(session: Any, q: str) -> int:
    """The same two queries with the old substring filter (newest first, as it sorted)."""
    from unittest import mock

    from evidence import queries

    flt = queries.CitationFilter(q=q)
    with mock.patch.object(queries, "text_condition", like_condition):
        total = queries.count_citations(session, flt)
        queries.citation_rows(session, flt, limit=25)
    return total


def measure(name: str, url: str, count: int) -> float | None:
    """Build, time, print one backend's figures; return its p50 in ms."""
    from sqlmodel import Session

    from evidence.db import make_engine

    words, built = build(url, count)
    print(f"{name}: built {count:,} citations (FTS index included) in {built:.0f} s")
    rng = random.Random(20)
    pairs = [
        f"{words[rng.randint(50, 1500)]} {words[rng.randint(50, 1500)]}" for _ in range(QUERIES)
    ]
    engine = make_engine(url)
    times: list[float] = []
    hits: list[int] = []
    with Session(engine) as session:
        for q in pairs:
            table_query(session, q)  # warm the page cache for this query
            for _ in range(REPEATS):
                t = time.perf_counter()
                total, _rows = table_query(session, q)
                times.append((time.perf_counter() - t) * 1000)
            hits.append(total)
        base_times: list[float] = []
        for q in pairs[:1]:  # seconds each: one is enough to show the scale
            t = time.perf_counter()
            baseline_query(session, q)
            base_times.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
    base = statistics.median(base_times)
    print(
        f"{name}: two-word search p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"({len(times)} timed: {QUERIES} queries x {REPEATS}; hits per query median "
        f"{statistics.median(hits):,.0f}, range {min(hits):,}-{max(hits):,}) | baseline "
        f"substring filter {base:.0f} ms (1 query) | ratio {p50 / base:.3f}"
    )
    return p50


def postgres_url(base: str, name: str) -> str:
    """Create a throwaway database beside the one `base` names; return its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name).render_as_string(hide_password=False)
    engine.dispose()
    return url


def drop_postgres(base: str, name: str) -> None:
    """Drop the throwaway database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> int:
    """Measure on SQLite, then on PostgreSQL when a server is configured; --check: exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citations", type=int, default=500_000)
    parser.add_argument("--check", action="store_true", help="exit 1 when a p50 is over 50 ms")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results: dict[str, float | None] = {}
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-search-"))
    try:
        results["SQLite"] = measure("SQLite", f"sqlite:///{tmp / 'bench.sqlite3'}", args.citations)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = os.environ.get("EVIDENCE_BENCH_DATABASE_URL") or os.environ.get(
        "EVIDENCE_TEST_DATABASE_URL"
    )
    if base and not args.skip_postgres:
        name = f"evidence_bench_search_{os.getpid()}"
        try:
            results["PostgreSQL"] = measure("PostgreSQL", postgres_url(base, name), args.citations)
        finally:
            drop_postgres(base, name)
    else:
        print("PostgreSQL: skipped (set EVIDENCE_BENCH_DATABASE_URL to a server to measure it)")
    missed = [name for name, p50 in results.items() if p50 is not None and p50 > TARGET_MS]
    for name in missed:
        print(f"MISSED: {name} p50 {results[name]:.1f} ms > {TARGET_MS:.0f} ms")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
