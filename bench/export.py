"""Export throughput and memory: 50,000 generated citations in a temporary SQLite database.

Prints rows/s, time to the first byte and peak RSS for the CSV and RIS exports beside a
plain csv.writer pass over the same citations in the same run (one SELECT of the citation
table, no authors, MeSH or links: the floor any export of these rows pays). Each pass runs
in its own process, so peak RSS is that pass's alone; a pass over a fifth of the rows shows whether
memory grows with the number of rows. Targets (issue 10): CSV >= 40,000 rows/s, RIS >= 25,000,
and the full pass peaking at most 25 MiB above the fifth-size one; `--check` exits 1 on a miss.

    .venv/bin/python bench/export.py [--rows 50000] [--check]

Generated data lives only in a temporary directory, never in the app's database.
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


def build_database(path: Path, rows: int) -> str:
    """Create a migrated SQLite database with the catalogue and `rows` generated citations."""
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

    url = f"sqlite:///{path}"
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
    engine.dispose()
    return url


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
            writer = csv.writer(sink)
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


def main() -> int:
    """Build the database, run every pass, print the table; exit 1 below target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
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
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-export-"))
    try:
        started = time.perf_counter()
        url = build_database(tmp / "bench.sqlite3", args.rows)
        print(f"built {args.rows:,} generated citations in {time.perf_counter() - started:.1f}s")
        print("(4 authors, 2 publication types, 5 MeSH headings, 2 keywords, 1 link each)")
        results = [child(kind, url, None) for kind in ("plain-csv", "csv", "ris")]
        # A fifth of the rows (years up to 2000): memory should not grow with the rows.
        results += [child(kind, url, 2000) for kind in ("csv", "ris")]
        print(f"load average before the passes: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        baseline = results[0]["rows_per_s"]
        header = (
            f"{'pass':<10} {'rows':>7} {'s':>7} {'rows/s':>9} {'target':>8} {'x base':>7} "
            f"{'CPU rows/s':>11} {'1st byte':>9} {'RSS MiB':>14}"
        )
        print(header)
        for r in results:
            rss = f"{r['rss_before_mb']:.0f} -> {r['peak_rss_mb']:.0f}"
            target = TARGET_ROWS_PER_S.get(r["pass"])
            print(
                f"{r['pass']:<10} {r['rows']:>7,} {r['seconds']:>7.2f} {r['rows_per_s']:>9,} "
                f"{(f'{target:,}' if target else '-'):>8} {r['rows_per_s'] / baseline:>7.2f} "
                f"{r['cpu_rows_per_s']:>11,} {r['first_byte_ms']:>7.0f}ms {rss:>14}"
            )
        print(
            "rows/s: wall clock; CPU rows/s: this process's CPU time (steadier on a busy machine)"
        )
        print("x base: rows/s over the plain csv.writer pass (plain-csv) of the same run")
        print("RSS: after imports -> peak, each pass in its own process")
        slow = [r for r in results[1:3] if r["rows_per_s"] < TARGET_ROWS_PER_S[r["pass"]]]
        for r in slow:
            target = TARGET_ROWS_PER_S[r["pass"]]
            print(f"BELOW TARGET: {r['pass']} {r['rows_per_s']:,} rows/s < {target:,}")
        # Memory flat: the full pass may not peak more than 25 MiB above the fifth-size one.
        grown = [
            (full, part)
            for full, part in zip(results[1:3], results[3:5], strict=True)
            if full["peak_rss_mb"] - part["peak_rss_mb"] > MAX_RSS_GROWTH_MB
        ]
        for full, part in grown:
            print(
                f"MEMORY GROWS: {full['pass']} peaks at {full['peak_rss_mb']:.0f} MiB for "
                f"{full['rows']:,} rows, {part['peak_rss_mb']:.0f} MiB for {part['rows']:,}"
            )
        slow += [full for full, _part in grown]
        # `make bench` runs every bench in turn: only --check turns a miss into a failure.
        return 1 if slow and args.check else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
