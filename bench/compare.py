"""Compare-page server time with 50,000 generated citations and 20,000 generated reports.

Fills a temporary SQLite database (never the app's own) with the catalogue, the bundled
snapshot, 50,000 generated citations linked to the treatments and indications, and 20,000
generated outcome reports with adverse events. Then, in one process and through the app's
WSGI interface (Flask's test client: server time, no network), it times:

- `/healthz`, the baseline: one trivial query;
- `/compare` cold: a write before every request moves every data version (evidence.db), so
  each request counts citations, summarises reports, finds the changed cells and renders the
  page afresh; its charts show the same figures, so they come from the shared cache, drawn
  once per figure shown as the app does (this is what `--check` judges);
- `/compare` with the cache emptied: the shared cache (evidence/web/cache.py: files under the
  instance folder) emptied before every request, so the four matplotlib charts are drawn too
  (the first request after a deploy or a cache flush);
- `/compare` cached: the same requests again, the data unchanged (an anonymous visitor: the
  whole page body comes from the cache);
- `/compare` after a new report: one report added before each request, so the report side
  is recomputed while the citation side and its charts come from the caches;

and prints p50/p95 for each, with the split of a cold request between data and charts.
Targets: cold p50 at most 150 ms and p95 at most 300 ms (`--check` exits 1 on a miss), cached
p50 at most 30 ms. `--database both` runs SQLite, then PostgreSQL (a throwaway database created
on the server at `--postgres-url` and dropped after).

    .venv/bin/python bench/compare.py [--database sqlite|postgresql|both] [--citations 50000]
        [--reports 20000] [--runs 40] [--check]
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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_COLD_MS = 150
TARGET_COLD_P95_MS = 300
TARGET_CACHED_MS = 30
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SELECTIONS = (
    "t=microneedling&t=fractional-co2-laser",
    "t=microneedling&t=fractional-co2-laser&t=microneedling-radiofrequency",
    "t=microneedling&t=fractional-co2-laser&t=fractional-erbium-laser"
    "&t=non-ablative-fractional-laser",
    "t=microneedling&t=microneedling-prp&indication=acne-scars",
)
EVENTS = ("erythema-7d", "pih", "hypopigmentation", "infection", "herpes", "acneiform", "bruising")


def build_database(url: str, *, citations: int, reports: int, seed: int = 5) -> None:
    """Migrate an empty database and fill it with the snapshot plus generated rows."""
    from sqlalchemy import func, insert
    from sqlmodel import Session, select

    from evidence import migrate, snapshot
    from evidence.db import make_engine
    from evidence.models import (
        Citation,
        CitationLink,
        Indication,
        OutcomeAdverseEvent,
        OutcomeReport,
        Treatment,
    )

    migrate.upgrade(url)
    engine = make_engine(url)
    rng = random.Random(seed)
    now = datetime.now(UTC)

    def arrived() -> datetime:
        """When a generated row arrived: over the last ten years, 1 in 100 in the last 30 days
        (what the compare page marks as changed), as in a database filled over time."""
        if rng.random() < 0.01:
            return now - timedelta(days=rng.uniform(0, 29))
        return now - timedelta(days=rng.uniform(31, 3650))

    with Session(engine) as session:
        snapshot.load(session)
        session.commit()
        treatment_ids = [t.id for t in session.exec(select(Treatment))]
        indication_ids = [i.id for i in session.exec(select(Indication))]
        first_citation = int(session.exec(select(func.max(Citation.id))).one() or 0) + 1
        cite_rows, link_rows = [], []
        for n in range(citations):
            cid = first_citation + n
            level = rng.choices([1, 2, 3, 4, 5, None], weights=[4, 10, 14, 18, 24, 30])[0]
            when = arrived()
            cite_rows.append(
                {
                    "id": cid,
                    "pmid": f"9{n:08d}",  # outside real PMIDs' range in use: generated, bench only
                    "title": f"Generated citation {n} on aesthetic skin treatment",
                    "year": rng.randint(1995, 2025) if rng.random() > 0.05 else None,
                    "evidence_level": level,
                    "evidence_rule": "generated for the benchmark",
                    "retraction_status": "retracted" if rng.random() < 0.003 else "none",
                    "source": "import",
                    "complete": False,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            tid = rng.choice(treatment_ids)
            iid = rng.choice(indication_ids) if rng.random() > 0.1 else None
            link_rows.append(
                {
                    "citation_id": cid,
                    "treatment_id": tid,
                    "indication_id": iid,
                    "treatment_key": tid,
                    "indication_key": iid or 0,
                    "status": "included" if rng.random() > 0.1 else "candidate",
                    "found_by": "bench",
                    "created_at": when,
                }
            )
        session.execute(insert(Citation), cite_rows)
        session.execute(insert(CitationLink), link_rows)
        first_report = int(session.exec(select(func.max(OutcomeReport.id))).one() or 0) + 1
        report_rows, event_rows = [], []
        for n in range(reports):
            rid = first_report + n
            sessions = rng.randint(1, 6)
            when = arrived()
            report_rows.append(
                {
                    "id": rid,
                    "treatment_id": rng.choice(treatment_ids),
                    "indication_id": rng.choice(indication_ids) if rng.random() > 0.2 else None,
                    "sessions": sessions,
                    "fitzpatrick": rng.randint(1, 6) if rng.random() > 0.15 else None,
                    "improvement": rng.choice([0, 1, 2, 2, 3, 3, 4])
                    if rng.random() > 0.1
                    else None,
                    "downtime_days": float(rng.randint(0, 10)),
                    "cost_per_session": float(rng.randint(150, 900)),
                    "currency": "USD" if rng.random() > 0.1 else "EUR",
                    "hidden": rng.random() < 0.02,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            for event in EVENTS:
                if rng.random() < 0.04:
                    event_rows.append({"report_id": rid, "event": event})
        session.execute(insert(OutcomeReport), report_rows)
        session.execute(insert(OutcomeAdverseEvent), event_rows)
        session.commit()
        if engine.dialect.name == "postgresql":
            # Explicit ids were inserted: move the sequences past them, as real inserts would.
            from sqlalchemy import text

            for table in ("citation", "citation_link", "outcome_report", "outcome_adverse_event"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            session.commit()
    if engine.dialect.name == "postgresql":
        # Autovacuum analyses a bulk-loaded table within about a minute; the timings start at
        # once, so gather the planner's statistics now as it would.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


@contextmanager
def temporary_database(base_url: str | None, tmp: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database: a SQLite file in tmp, or a fresh PostgreSQL
    database created beside `base_url` and dropped afterwards. Never the app's own database."""
    if not base_url:
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"evidence_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed(
    get: Callable[[], Any], runs: int, before: Callable[[], None] | None = None
) -> list[float]:
    """Time `runs` calls of get (ms), calling `before` (untimed) ahead of each."""
    out = []
    for _ in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        response = get()
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return out


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile (0-1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def line(name: str, values: list[float], target: float | None = None) -> str:
    """Format one result line."""
    p50, p95 = statistics.median(values), pct(values, 0.95)
    verdict = (
        ""
        if target is None
        else ("  meets" if p50 <= target else "  MISSES") + (f" target p50 <= {target:.0f} ms")
    )
    return f"{name:<34} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   n={len(values)}{verdict}"


def main() -> int:
    """Build each database, time the pages, print the figures; --check: exit 1 on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citations", type=int, default=50_000)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per measurement")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="which database to measure on (default: sqlite)",
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        metavar="URL",
        help=f"the PostgreSQL server (default {POSTGRES_URL}): a new database is created there "
        "for the run and dropped after",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the cold page misses p50/p95 targets"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    misses = []
    for backend in backends:
        print(f"== {backend}")
        tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-compare-"))
        os.environ["EVIDENCE_INSTANCE_PATH"] = str(tmp / "instance")
        try:
            base = args.postgres_url if backend == "postgresql" else None
            with temporary_database(base, tmp) as url:
                cold = run(url, args)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if statistics.median(cold) > TARGET_COLD_MS:
            misses.append(
                f"{backend}: cold p50 {statistics.median(cold):.0f} ms > {TARGET_COLD_MS} ms"
            )
        if pct(cold, 0.95) > TARGET_COLD_P95_MS:
            misses.append(f"{backend}: cold p95 {pct(cold, 0.95):.0f} ms > {TARGET_COLD_P95_MS} ms")
    for miss in misses:
        print(f"MISSED: /compare {miss}")
    return 1 if misses and args.check else 0


def run(url: str, args: argparse.Namespace) -> list[float]:
    """Fill the database at url, time the pages and print the figures."""
    start = time.perf_counter()
    build_database(url, citations=args.citations, reports=args.reports)
    print(
        f"temporary database {url}: {args.citations:,} generated citations, "
        f"{args.reports:,} generated reports (+ the snapshot), built in "
        f"{time.perf_counter() - start:.1f} s"
    )
    from evidence import create_app
    from evidence.output import charts
    from evidence.synthesis import compare
    from evidence.web import cache

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    client = app.test_client()
    print(f"shared cache: {cache.backend_name(app)}")

    def clear() -> None:
        with app.app_context():
            cache.clear()

    # Warm imports, fonts and the connection pool once; not timed.
    for query in SELECTIONS:
        client.get(f"/compare?{query}")
    client.get("/healthz")

    def rotating(prefix: str) -> Callable[[], Any]:
        counter = iter(range(10**9))
        return lambda: client.get(f"{prefix}{SELECTIONS[next(counter) % len(SELECTIONS)]}")

    from sqlalchemy import text
    from sqlmodel import Session, select

    from evidence.db import get_engine
    from evidence.models import OutcomeReport, Treatment

    with app.app_context():
        engine = get_engine()

    def new_version() -> None:
        # A write that changes no figure shown (the catalogue's tables feed every side): every
        # data version moves, so the page, the comparison and the changed cells are computed
        # afresh, while the charts, keyed by what they show, are still in the shared cache.
        with engine.begin() as conn:
            conn.execute(text("UPDATE treatment SET position = position WHERE id = 1"))

    health = timed(lambda: client.get("/healthz"), args.runs)
    emptied = timed(rotating("/compare?"), args.runs, before=clear)
    cold = timed(rotating("/compare?"), args.runs, before=new_version)
    for query in SELECTIONS:  # fill the caches
        client.get(f"/compare?{query}")
    cached = timed(rotating("/compare?"), args.runs * 2)

    # A practitioner adds a report before each request: the citation side and its two
    # charts stay cached, the report statistics and their two charts are recomputed.
    with Session(engine) as session:
        micro = session.exec(select(Treatment).where(Treatment.slug == "microneedling")).one()
        micro_id = micro.id

    def add_report() -> None:
        with Session(engine) as session:
            session.add(OutcomeReport(treatment_id=micro_id, improvement=3, fitzpatrick=4))
            session.commit()

    after_report = timed(rotating("/compare?"), args.runs, before=add_report)
    health_after = timed(lambda: client.get("/healthz"), args.runs)

    # Where a cold request's time goes: the comparison's queries and statistics vs charts.
    data_ms, chart_ms, lit_ms, prac_ms = [], [], [], []
    with app.app_context():
        from evidence.db import get_session

        session = get_session()
        for i in range(max(8, args.runs // 4)):
            query = SELECTIONS[i % len(SELECTIONS)]
            parts = dict(p.split("=") for p in query.split("&") if p.startswith("indication"))
            slugs = [p[2:] for p in query.split("&") if p.startswith("t=")]
            selection = compare.select_treatments(
                session, slugs=slugs, indication=parts.get("indication")
            )
            clear()
            t0 = time.perf_counter()
            result = compare.cached_compare(session, selection=selection)
            t1 = time.perf_counter()
            data = charts.chart_data(result)
            for kind in charts.KINDS:
                charts.render(kind, data[kind], "svg")
            t2 = time.perf_counter()
            data_ms.append((t1 - t0) * 1000)
            chart_ms.append((t2 - t1) * 1000)
            # The comparison's parts: citation counts; report statistics and quoted prices.
            t3 = time.perf_counter()
            compare.literature(
                session, treatments=selection.treatments, indication=selection.indication
            )
            t4 = time.perf_counter()
            compare.practice(
                session, treatments=selection.treatments, indication=selection.indication
            )
            t5 = time.perf_counter()
            lit_ms.append((t4 - t3) * 1000)
            prac_ms.append((t5 - t4) * 1000)

    print(f"selections rotated: {len(SELECTIONS)} (2 to 4 treatments, one with an indication)")
    # The machine may be shared: times scale with its load, so say what it was.
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    print(line("/healthz (baseline)", health))
    print(line("/compare cold (new data version)", cold, TARGET_COLD_MS))
    print(line("/compare cache emptied (+4 charts)", emptied))
    print(line("/compare cached", cached, TARGET_CACHED_MS))
    cold_p50, health_p50 = statistics.median(cold), statistics.median(health)
    print(
        f"cold p50 / healthz p50: {cold_p50 / health_p50:.0f}x; cached p50 / healthz p50: "
        f"{statistics.median(cached) / health_p50:.0f}x"
    )
    print(line("/compare after a new report", after_report))
    print(line("/healthz (after)", health_after))
    print(line("  cold split: comparison data", data_ms))
    print(line("  cold split: four charts (SVG)", chart_ms))
    print(line("  data: citation counts", lit_ms))
    print(line("  data: report statistics", prac_ms))
    engine.dispose()
    return cold


if __name__ == "__main__":
    raise SystemExit(main())
