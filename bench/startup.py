"""CLI start-up: `evidence --help` and `evidence pubmed import` of one record, whole process.

Each command runs N times as a fresh process (like hyperfine: one warm-up, then N timed
runs; median and min printed). Beside them, in the same run, the bare interpreter
(`python -c pass`) and `python -c "import flask, sqlalchemy"`, the floor any command of a
Flask + SQLAlchemy app pays. One `python -X importtime` run of each command lists the
slowest imports and checks that no chart, statistics or export library is loaded
(matplotlib, scipy, rispy, bibtexparser, xlsxwriter). Target: median <= 0.6 s.

    .venv/bin/python bench/startup.py [--runs 10] [--check]

The import goes into a temporary SQLite database and instance folder, never the app's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_S = 0.6
HEAVY = ("matplotlib", "scipy", "rispy", "bibtexparser", "xlsxwriter")
EVIDENCE = str(Path(sys.executable).with_name("evidence"))


def timed(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Run a command once to warm up, then `runs` times; return the wall times in seconds."""
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def imports(cmd: list[str], env: dict[str, str]) -> tuple[list[tuple[int, str]], set[str]]:
    """Run a Python command under -X importtime; return the slowest top-level imports and all."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    rows: list[tuple[int, str]] = []
    names: set[str] = set()
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, field = line[len("import time:") :].split("|")
        name = field[1:]  # one space after the bar, then two per nesting level
        names.add(name.strip().split(".")[0])
        if not name.startswith(" "):  # top level (an import the program made itself)
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:6], names


def main() -> int:
    """Time the commands and the floors, print the figures; exit 1 on a miss with --check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-startup-"))
    env = {
        **os.environ,
        "EVIDENCE_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "EVIDENCE_INSTANCE_PATH": str(tmp / "instance"),
    }
    env.pop("EVIDENCE_REDIS_URL", None)
    failures: list[str] = []
    try:
        subprocess.run([EVIDENCE, "db", "upgrade"], env=env, check=True, capture_output=True)
        record = ROOT / "tests" / "data" / "entrez" / "pubmed4.xml"  # one real PubMed record
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import flask, sqlalchemy'": [
                sys.executable,
                "-c",
                "import flask, sqlalchemy.orm",
            ],
            "evidence --help": [EVIDENCE, "--help"],
            "evidence pubmed import (1 record)": [EVIDENCE, "pubmed", "import", str(record)],
        }
        medians = {}
        for label, cmd in commands.items():
            times = timed(cmd, env, args.runs)
            medians[label] = statistics.median(times)
            print(
                f"{label:<38} median {medians[label]:.3f} s  min {min(times):.3f} s "
                f"({args.runs} runs)"
            )
        floor = medians["python -c 'import flask, sqlalchemy'"]
        for label in ("evidence --help", "evidence pubmed import (1 record)"):
            cmd = commands[label][1:]
            slowest, names = imports([EVIDENCE, *cmd], env)
            loaded = sorted(set(HEAVY) & names)
            print(
                f"{label}: {medians[label]:.3f} s vs flask+sqlalchemy floor {floor:.3f} s, "
                f"ratio {medians[label] / floor:.2f}; heavy libraries loaded: "
                f"{', '.join(loaded) or 'none'}"
            )
            print("  slowest imports: " + ", ".join(f"{n} {us / 1e6:.2f}s" for us, n in slowest))
            if medians[label] > TARGET_S:
                failures.append(f"{label}: {medians[label]:.3f} s > {TARGET_S} s")
            if loaded:
                failures.append(f"{label} loads {', '.join(loaded)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
