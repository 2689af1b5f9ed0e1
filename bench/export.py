"""Export throughput and memory: 50,000 generated citations in a temporary database.

Prints rows/s, time to the first byte and peak RSS for the CSV and RIS exports beside a
plain csv.writer pass over the same citations in the same run (one SELECT of the citation
table, no authors, MeSH or links: the floor any export of these rows pays). Each pass runs
in its own process, so peak RSS is that pass's alone; a pass over a fifth of the rows shows whether
memory grows with the number of rows. Targets (issue 10): CSV >= 40,000 rows/s, RIS >= 25,000,
and the full pass peaking at most 25 MiB above the fifth-size one; `--check` exits 1 on a miss.

    .venv/bin/python bench/export.py [--rows 50000] [--database sqlite|postgresql|both]
        [--postgresql-url URL] [--check]

`--rows 10000` is the quick loop. The database is a SQLite file in a temporary directory or a
new PostgreSQL database created beside --postgresql-url (default: $EVIDENCE_TEST_DATABASE_URL,
else the local server) and dropped after: generated data never reaches the app's database.
The generated rows are bulk-inserted, as an import writes them; the first export after that
fills citation_export (each citation's lists as one text) and its time is printed on its own
line, before the passes, which measure the exports that follow.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGET_ROWS_PER_S = {"csv": 40_000, "ris": 25_000}
MAX_RSS_GROWTH_MB = 25
WORDS = (
    "microneedling fractional laser scars acne atrophic randomized split-face trial "
    "collagen induction radiofrequency platelet-rich plasma striae melasma erbium CO2 "
    "non-ablative efficacy safety outcomes Fitzpatrick skin types hyperpigmentation"
).split()
PTYPES = ("Journal Article", "Randomized Controlled Trial", "Review", "Case Reports")
MESH = ("Acne Vulgaris", "Cicatrix", "Collagen", "Lasers, Gas", "Needles", "Skin", "Humans")


class CountingSink:
    """A write target that only counts bytes, so no pass holds its output in memory."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: Any) -> int:
        """Count the bytes (or characters) written."""
        self.bytes += len(data)
        return len(data)


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_database(url: str, rows: int) -> None:
    """Migrate the empty database at url and fill it with the catalogue and generated citations."""
    from sqlalchemy import insert
    from sqlmodel import Session, select

    from evidence import migrate, snapshot
    from evidence.db import make_engine
    from evidence.models import (
        Citation,
        CitationAuthor,
        CitationIdentifier,
        CitationKeyword,
        CitationLink,
        CitationMesh,
        CitationPublicationType,
        Indication,
        Treatment,
    )

    migrate.upgrade(url)
    engine = make_engine(url)
    rng = random.Random(6)
    with Session(engine) as session:
        snapshot.load_catalogue(session, snapshot.LoadReport())
        session.commit()
        treatments = [t.id for t in session.exec(select(Treatment))]
        indications = [i.id for i in session.exec(select(Indication))]
    with engine.begin() as conn:
        step = 5_000
        for start in range(1, rows + 1, step):
            ids = range(start, min(start + step, rows + 1))
            conn.execute(
                insert(Citation),
                [
                    {
                        "id": i,
                        "pmid": str(30_000_000 + i),
                        "title": " ".join(rng.choices(WORDS, k=12)).capitalize() + ".",
                        "journal": "J Cosmet Dermatol",
                        "journal_abbrev": "J Cosmet Dermatol",
                        "year": 1995 + i % 30,
                        "pub_date": f"{1995 + i % 30} Mar",
                        "volume": str(i % 40),
                        "issue": str(i % 6),
                        "pages": f"{i % 900 + 100}-{i % 9 + 1}",
                        "doi": f"10.1111/jocd.{i}",
                        "pmcid": f"PMC{9_000_000 + i}" if i % 3 == 0 else None,
                        "language": "eng",
                        "evidence_level": (i % 5) + 1 if i % 7 else None,
                        "evidence_rule": "generated",
                        "retraction_status": "retracted" if i % 997 == 0 else "none",
                        "source": "import",
                        "complete": True,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(CitationAuthor),
                [
                    {
                        "citation_id": i,
                        "position": p,
                        "last_name": rng.choice(("Alster", "Aust", "Majid", "Fabbrocini")),
                        "fore_name": "Tina S",
                        "initials": "TS",
                    }
                    for i in ids
                    for p in range(4)
                ],
            )
            conn.execute(
                insert(CitationPublicationType),
                [
                    {"citation_id": i, "position": p, "name": PTYPES[(i + p) % 4]}
                    for i in ids
                    for p in range(2)
                ],
            )
            conn.execute(
                insert(CitationMesh),
                [
                    {
                        "citation_id": i,
                        "position": p,
                        "descriptor": MESH[(i + p) % len(MESH)],
                        "qualifiers": "therapy*" if p == 0 else "",
                        "major": p == 1,
                    }
                    for i in ids
                    for p in range(5)
                ],
            )
            conn.execute(
                insert(CitationKeyword),
                [
                    {"citation_id": i, "position": p, "keyword": WORDS[(i + p) % len(WORDS)]}
                    for i in ids
                    for p in range(2)
                ],
            )
            conn.execute(
                insert(CitationIdentifier),
                [{"citation_id": i, "id_type": "pii", "value": f"S{i}"} for i in ids],
            )
            conn.execute(
                insert(CitationLink),
                [
                    {
                        "citation_id": i,
                        "treatment_id": treatments[i % len(treatments)],
                        "indication_id": indications[i % len(indications)],
                        "treatment_key": treatments[i % len(treatments)],
                        "indication_key": indications[i % len(indications)],
                        "status": "included",
                        "found_by": "bench",
                    }
                    for i in ids
                ],
            )
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")  # as autovacuum would after a bulk load
    engine.dispose()


def fill_lists(url: str) -> float | None:
    """Fill citation_export as the first export after an import does; return the seconds.

    None when the code has no citation_export (before migration 0016_export_text).
    """
    try:
        from evidence.output.exports.loader import fill_export_lists
    except ImportError:
        return None
    from evidence.db import make_engine

    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        fill_export_lists(conn)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE citation_export")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run_pass(kind: str, url: str, year_to: int | None) -> dict[str, Any]:
    """Run one pass in this process and return its figures."""
    from sqlmodel import Session

    from evidence import queries
    from evidence.db import make_engine
    from evidence.output import exports

    engine = make_engine(url)
    flt = queries.CitationFilter(status="any", year_to=year_to)
    with Session(engine) as session:
        # Counted before the clock starts: the count is not part of an export.
        expected = queries.count_citations(session, flt)
    sink = CountingSink()
    rss_before = peak_rss_mb()
    cpu_started = time.process_time()
    started = time.perf_counter()
    first_byte: float | None = None
    rows = 0
    with Session(engine) as session:
        if kind == "plain-csv":
            # The floor: one SELECT of the citation table written by csv.writer.
            stmt = "SELECT pmid, title, journal, year, doi, pmcid, evidence_level, "
            stmt += "retraction_status FROM citation"
            if year_to is not None:
                stmt += f" WHERE year <= {int(year_to)}"
            writer = csv.writer(sink, lineterminator="\r\n")
            writer.writerow(["pmid", "title", "journal", "year", "doi", "pmcid", "level", "status"])
            first_byte = time.perf_counter()
            for row in session.connection().exec_driver_sql(stmt):
                writer.writerow(row)
                rows += 1
        else:
            fmt = "csv" if kind == "csv" else "ris"
            for chunk in exports.export_citations(session, flt, fmt):
                if first_byte is None:
                    first_byte = time.perf_counter()
                sink.write(chunk)
                # Rows as written: CSV lines (the header is not a row), RIS end tags.
                rows += chunk.count(b"\r\n") if fmt == "csv" else chunk.count(b"ER  - \n")
            if fmt == "csv":
                rows -= 1
            if rows != expected:
                raise SystemExit(f"{kind}: wrote {rows} rows, the filter has {expected}")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    engine.dispose()
    return {
        "pass": kind,
        "rows": rows,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed),
        "cpu_rows_per_s": round(rows / cpu) if cpu else 0,
        "first_byte_ms": round(((first_byte or started) - started) * 1000, 1),
        "bytes": sink.bytes,
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(kind: str, url: str, year_to: int | None) -> dict[str, Any]:
    """Run a pass in a fresh interpreter, so its peak RSS is its own."""
    cmd = [sys.executable, __file__, "--child", kind, "--url", url]
    if year_to is not None:
        cmd += ["--year-to", str(year_to)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(backend: str, url: str, rows: int) -> list[dict[str, Any]]:
    """Fill the database at url, run every pass, print the table; return the missed targets."""
    started = time.perf_counter()
    build_database(url, rows)
    print(
        f"\n{backend}: built {rows:,} generated citations in {time.perf_counter() - started:.1f}s"
    )
    print("(4 authors, 2 publication types, 5 MeSH headings, 2 keywords, 1 link each)")
    filled = fill_lists(url)
    if filled is not None:
        print(
            f"first export after the bulk insert: citation_export filled in {filled:.2f}s "
            f"({rows / filled:,.0f} citations/s), once per import"
        )
    results = [child(kind, url, None) for kind in ("plain-csv", "csv", "ris")]
    # A fifth of the rows (years up to 2000): memory should not grow with the rows.
    results += [child(kind, url, 2000) for kind in ("csv", "ris")]
    print(f"load average before the passes: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    baseline = results[0]["rows_per_s"]
    cpu_baseline = results[0]["cpu_rows_per_s"]
    header = (
        f"{'pass':<10} {'rows':>7} {'s':>7} {'rows/s':>9} {'target':>8} {'x base':>7} "
        f"{'CPU rows/s':>11} {'x base':>7} {'1st byte':>9} {'RSS MiB':>14}"
    )
    print(header)
    for r in results:
        rss = f"{r['rss_before_mb']:.0f} -> {r['peak_rss_mb']:.0f}"
        target = TARGET_ROWS_PER_S.get(r["pass"])
        print(
            f"{r['pass']:<10} {r['rows']:>7,} {r['seconds']:>7.2f} {r['rows_per_s']:>9,} "
            f"{(f'{target:,}' if target else '-'):>8} {r['rows_per_s'] / baseline:>7.2f} "
            f"{r['cpu_rows_per_s']:>11,} {r['cpu_rows_per_s'] / cpu_baseline:>7.2f} "
            f"{r['first_byte_ms']:>7.0f}ms {rss:>14}"
        )
    slow = [r for r in results[1:3] if r["rows_per_s"] < TARGET_ROWS_PER_S[r["pass"]]]
    for r in slow:
        target = TARGET_ROWS_PER_S[r["pass"]]
        print(f"BELOW TARGET ({backend}): {r['pass']} {r['rows_per_s']:,} rows/s < {target:,}")
    # Memory flat: the full pass may not peak more than 25 MiB above the fifth-size one.
    grown = [
        (full, part)
        for full, part in zip(results[1:3], results[3:5], strict=True)
        if full["peak_rss_mb"] - part["peak_rss_mb"] > MAX_RSS_GROWTH_MB
    ]
    for full, part in grown:
        print(
            f"MEMORY GROWS ({backend}): {full['pass']} peaks at {full['peak_rss_mb']:.0f} MiB "
            f"for {full['rows']:,} rows, {part['peak_rss_mb']:.0f} MiB for {part['rows']:,}"
        )
    return slow + [full for full, _part in grown]


def main() -> int:
    """Build each database, run every pass, print the tables; exit 1 below target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--postgresql-url",
        default=os.environ.get(
            "EVIDENCE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL server: a new database is created beside it and dropped after",
    )
    parser.add_argument("--child", choices=("plain-csv", "csv", "ris"))
    parser.add_argument("--url")
    parser.add_argument("--year-to", type=int)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when CSV or RIS is below the target"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_pass(args.child, args.url, args.year_to)))
        return 0
    from compare import temporary_database

    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    slow: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-export-"))
    try:
        for backend in backends:
            base = args.postgresql_url if backend == "postgresql" else None
            with temporary_database(base, tmp) as url:
                slow += measure("SQLite" if backend == "sqlite" else "PostgreSQL", url, args.rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\nrows/s: wall clock; CPU rows/s: this process's CPU time (steadier on a busy machine)")
    print("x base: over the plain csv.writer pass (plain-csv) of the same run and database")
    print("RSS: after imports -> peak, each pass in its own process")
    # `make bench` runs every bench in turn: only --check turns a miss into a failure.
    return 1 if slow and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
