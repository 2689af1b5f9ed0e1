"""PubMed import throughput and memory, and the E-utilities rate limit, measured in one run.

1. Builds PubMed XML files of 10,000 and 30,000 records in a temporary directory by
   replicating the real recorded efetch records in tests/data/entrez/ under new PMIDs,
   dates and title variants (tests/fake_eutils.py), then imports each into a fresh SQLite
   database (PostgreSQL with --database postgresql) through the real import code
   (evidence.literature.ingest.import_path: streaming parse, upsert, evidence levels, one
   transaction per file). Beside it, in the same run, a
   minimal xml.etree.ElementTree iterparse pass over the same file is the baseline.
   Every pass runs in its own process, so its peak RSS is its own.
2. Fetches N records from the local fake E-utilities server with the client limited to
   NCBI's 3 requests/s (no api_key), and compares the time with requests / 3.

Targets: >= 4,000 records/s end to end, >= 0.5 of the baseline's records/s (issue 10), peak RSS
<= 150 MB and flat in file size; the fetch within 1.2 x (requests / 3) seconds.

    .venv/bin/python bench/ingest.py [--records 30000] [--small 10000] [--fetch 3000]
                                     [--database sqlite|postgresql] [--pg-url URL]

With --database postgresql each import goes into a new database created on the server of
--pg-url (default $EVIDENCE_BENCH_PG_URL or postgres@127.0.0.1:5432), dropped afterwards.

By default the records keep everything NCBI sent, reference lists included (PubMed
records with a PMC full text carry 40-60 cited references, most of the bytes). With
--no-references those lists, which the app does not store, are dropped from the copies,
which gives files of the size of records without PMC references.
Generated data lives only in the temporary directory, never in the app's database.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_REFERENCES = re.compile(rb"\s*<ReferenceList>.*?</ReferenceList>", re.DOTALL)
_CITES = re.compile(
    rb'\s*<CommentsCorrections RefType="Cites">.*?</CommentsCorrections>', re.DOTALL
)


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_file(path: Path, count: int, *, references: bool) -> int:
    """Write ``count`` replicated real records to a PubmedArticleSet file."""
    from tests.fake_eutils import iter_synthetic_articles, write_pubmed_xml

    def articles() -> Any:
        """Yield the article bytes, reference lists dropped if asked."""
        for _pmid, _day, xml in iter_synthetic_articles(count):
            if not references:
                xml = _CITES.sub(b"", _REFERENCES.sub(b"", xml))
            yield xml

    return write_pubmed_xml(path, articles())


def run_baseline(path: Path) -> dict[str, Any]:
    """Count PubmedArticle elements with the smallest ElementTree iterparse loop."""
    import xml.etree.ElementTree as ET

    start = time.perf_counter()
    records = 0
    for _event, element in ET.iterparse(path, events=("end",)):
        if element.tag == "PubmedArticle":
            records += 1
            element.clear()
    seconds = time.perf_counter() - start
    return {"records": records, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def run_import(path: Path, url: str) -> dict[str, Any]:
    """Import the file into a fresh, migrated database with the app's import code."""
    from evidence import migrate
    from evidence.db import make_engine
    from evidence.literature.ingest import import_path

    migrate.upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    report = import_path(engine, path)
    seconds = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(report.summary())
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM citation").scalar_one()
    return {
        "records": report.read,
        "stored": stored,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


PG_URL = os.environ.get(
    "EVIDENCE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pg_database(server_url: str, name: str, *, drop: bool = False) -> str:
    """Create (or drop) database `name` on the server of `server_url`; return its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def run_fetch(count: int, batch_size: int) -> dict[str, Any]:
    """Fetch ``count`` records from the local fake server at NCBI's 3 requests/s."""
    from pubmed import EntrezClient, PubmedRecord, RateLimiter, iter_batches, plan_search
    from tests.fake_eutils import FakeEutils, synthetic_corpus

    corpus = synthetic_corpus(count, files=("pubmed1.xml", "pubmed2.xml"))
    with FakeEutils(corpus) as server:
        client = EntrezClient(
            email="bench@example.org", base_url=server.base_url, limiter=RateLimiter()
        )
        start = time.perf_counter()
        plan = plan_search(client, "bench")
        got = 0
        for batch in iter_batches(client, plan, batch_size=batch_size):
            got += sum(1 for item in batch.items if isinstance(item, PubmedRecord))
            plan.advance(batch)
        seconds = time.perf_counter() - start
    return {"records": got, "requests": client.requests_sent, "seconds": seconds}


def in_subprocess(*args: str) -> dict[str, Any]:
    """Run one measurement in a fresh Python process and return its JSON line."""
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> int:
    """Build the files, run every measurement in its own process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--fetch", type=int, default=3_000, help="records to fetch (0: skip)")
    parser.add_argument("--fetch-batch", type=int, default=250)
    parser.add_argument("--no-references", action="store_true")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--pg-url", default=PG_URL, help="a PostgreSQL server to create the database on"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        kind, *rest = options.child
        if kind == "baseline":
            result = run_baseline(Path(rest[0]))
        elif kind == "import":
            result = run_import(Path(rest[0]), rest[1])
        else:
            result = run_fetch(int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    failures: list[str] = []
    try:
        refs = not options.no_references
        kept = "kept" if refs else "dropped"
        print(
            f"records: replicated real PubMed records, reference lists {kept}; "
            f"database: {options.database}"
        )
        print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        results = {}
        for count in (options.small, options.records):
            path = work / f"pubmed-{count}.xml"
            build_file(path, count, references=refs)
            size = path.stat().st_size / 1e6
            base = in_subprocess("--child", "baseline", str(path))
            if options.database == "postgresql":
                name = f"bench_ingest_{os.getpid()}_{count}"
                url = pg_database(options.pg_url, name)
            else:
                url = f"sqlite:///{work / f'db-{count}.sqlite3'}"
            try:
                ours = in_subprocess("--child", "import", str(path), url)
            finally:
                if options.database == "postgresql":
                    pg_database(options.pg_url, name, drop=True)
            assert ours["stored"] == count, ours
            results[count] = ours
            rate, base_rate = ours["records"] / ours["seconds"], base["records"] / base["seconds"]
            print(
                f"{count:>6} records ({size:.0f} MB): import {rate:,.0f} records/s "
                f"({ours['seconds']:.1f} s), peak RSS {ours['peak_rss_mb']:.0f} MB | "
                f"baseline ElementTree iterparse {base_rate:,.0f} records/s, "
                f"peak RSS {base['peak_rss_mb']:.0f} MB | ratio {rate / base_rate:.2f}"
            )
            if count == options.records:
                if rate < 4000:
                    failures.append(f"import {rate:,.0f} records/s < 4,000")
                if rate / base_rate < 0.5:
                    failures.append(f"ratio {rate / base_rate:.2f} < 0.5 of baseline")
            if ours["peak_rss_mb"] > 150:
                failures.append(f"peak RSS {ours['peak_rss_mb']:.0f} MB > 150 at {count}")
        small, large = (
            results[options.small]["peak_rss_mb"],
            results[options.records]["peak_rss_mb"],
        )
        print(
            f"peak RSS {small:.0f} MB at {options.small:,} vs {large:.0f} MB at {options.records:,}"
        )
        if large > small * 1.15 + 5:
            failures.append("peak RSS grows with file size")

        if options.fetch:
            fetch = in_subprocess("--child", "fetch", str(options.fetch), str(options.fetch_batch))
            floor = fetch["requests"] / 3
            print(
                f"fetch {fetch['records']:,} records from the fake server at 3 requests/s: "
                f"{fetch['requests']} requests in {fetch['seconds']:.2f} s "
                f"(requests/3 = {floor:.2f} s; ratio {fetch['seconds'] / floor:.2f}, target <= 1.2)"
            )
            if fetch["records"] != options.fetch:
                failures.append(f"fetched {fetch['records']} of {options.fetch}")
            if fetch["seconds"] > 1.2 * floor:
                failures.append("fetch slower than 1.2 x requests/3")
    finally:
        if options.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for failure in failures:
        print(f"MISSED: {failure}")
    # `make bench` runs every bench in turn: only --check turns a miss into a failure.
    return 1 if failures and options.check else 0


if __name__ == "__main__":
    sys.exit(main())
