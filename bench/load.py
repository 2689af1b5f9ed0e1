"""Requests/s that `evidence serve --workers 2` sustains on 127.0.0.1 with 50,000 generated
citations and 20,000 generated reports, beside `/healthz` measured in the same run.

Fills a temporary database (a SQLite file in this run's temp folder, or a new PostgreSQL
database with --database URL, dropped afterwards; never the app's own) with bench/compare.py's
generator, starts `evidence serve` (gunicorn, the job consumer included) on a free port with
its instance folder in the temp folder, warms it up, then drives each path for --seconds with
--clients concurrent clients, each on one keep-alive connection:

- `/healthz`, the baseline: one trivial query per request, the server's own overhead;
- `/`, the treatments with their counts;
- `/compare?t=...&t=...[&indication=...]`, rotating over compare.py's four selections
  (2 to 4 treatments, one with an indication), with warm caches.

It prints requests/s, p50 and p99 for each with the ratio to `/healthz`, and the errors (any
status but 200, any failed connection, any answer slower than 10 s). Target: >= 200 compare
requests/s and no error; --check exits 1 on a miss. The load generator shares the machine's
CPUs with the server.

    .venv/bin/python bench/load.py [--workers 2] [--clients 16] [--seconds 5] [--check]
    .venv/bin/python bench/load.py --database postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from compare import SELECTIONS, build_database, pct, temporary_database  # noqa: E402

TARGET_COMPARE_RPS = 200.0
START_SECONDS = 90
WARMUP_CAP = 20.0
# A request slower than this counts as an error (a timeout), and keeps the run bounded.
REQUEST_TIMEOUT = 10.0
WIDTHS = (8, 9, 6, 9, 9, 7)  # the columns after the path


@dataclass
class Tally:
    """What one path's phase measured: latencies of good answers, errors, wall time."""

    latencies: list[float] = field(default_factory=list)
    answered: Counter[str] = field(default_factory=Counter)  # good answers per path
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Good answers per second."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def free_port() -> int:
    """Return a port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drive(port: int, paths: Sequence[str], *, clients: int, seconds: float) -> Tally:
    """Send GETs for `paths` (rotating) from `clients` threads for `seconds`; tally them."""
    tally = Tally()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        mine: list[float] = []
        answered: Counter[str] = Counter()
        errors, first = 0, ""
        n = offset
        while time.perf_counter() < deadline:
            path = paths[n % len(paths)]
            n += 1
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                good = response.status == 200
                if not good:
                    first = first or f"{path}: HTTP {response.status}"
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                good = False
                first = first or f"{path}: {type(exc).__name__}: {exc}"
                conn.close()  # http.client reconnects on the next request
            if good:
                mine.append((time.perf_counter() - start) * 1000)
                answered[path] += 1
            else:
                errors += 1
        conn.close()
        with lock:
            tally.latencies.extend(mine)
            tally.answered.update(answered)
            tally.errors += errors
            tally.first_error = tally.first_error or first

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.perf_counter() - began
    return tally


def warm_up(
    port: int, paths: Sequence[str], *, clients: int, seconds: float, per_path: int
) -> Tally:
    """Drive `paths` for at least `seconds` and until each was answered `per_path` times.

    The caches may be per worker process: enough answers per path that every worker has
    computed every page once. New requests stop after WARMUP_CAP seconds.
    """
    total = Tally()
    began = time.perf_counter()
    while True:
        left = WARMUP_CAP - (time.perf_counter() - began)
        step = drive(port, paths, clients=clients, seconds=max(0.5, min(2.0, left)))
        total.latencies += step.latencies
        total.answered.update(step.answered)
        total.errors += step.errors
        total.first_error = total.first_error or step.first_error
        total.elapsed = time.perf_counter() - began
        enough = min(total.answered[p] for p in paths) >= per_path
        if (enough and total.elapsed >= seconds) or total.elapsed >= WARMUP_CAP:
            return total


def start_server(
    url: str, tmp: Path, *, workers: int, threads: int
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start `evidence serve` on the database at url; return it, its port and its log."""
    port = free_port()
    env = {
        **os.environ,
        "EVIDENCE_DATABASE_URL": url,
        "EVIDENCE_INSTANCE_PATH": str(tmp / "instance"),
        "EVIDENCE_SECRET_KEY": "bench-load",
    }
    log = tmp / "serve.log"
    command = [
        sys.executable, "-m", "evidence", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--threads", str(threads),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"evidence serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port, log
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"evidence serve did not answer in {START_SECONDS} s:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it; kill if it hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def row(name: str, tally: Tally, baseline: Tally | None) -> str:
    """Format one path's figures (and its rate as a fraction of the baseline's)."""
    values = tally.latencies or [0.0]
    ratio = f"{tally.rate / baseline.rate:6.2f}" if baseline and baseline.rate else "     -"
    return (
        f"{name:<34} {len(tally.latencies):>8} {tally.rate:>9.1f} {ratio} "
        f"{statistics.median(values):>9.1f} {pct(values, 0.99):>9.1f} {tally.errors:>7}"
    )


def main() -> int:
    """Build the database, serve it, drive it, print the figures; --check: exit 1 on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="evidence serve --workers")
    parser.add_argument("--threads", type=int, default=8, help="evidence serve --threads")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per path")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="least warm-up time (not measured)"
    )
    parser.add_argument("--citations", type=int, default=50_000)
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL server URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test): "
        "a new database is created there for the run and dropped after; default: SQLite",
    )
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 under {TARGET_COMPARE_RPS:.0f} compare "
        "requests/s or on any error",
    )  # fmt: skip
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="evidence-bench-load-"))
    try:
        with temporary_database(args.database, tmp) as url:
            results = run(url, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    compare, errors = results["/compare"], sum(t.errors for t in results.values())
    misses = []
    if compare.rate < TARGET_COMPARE_RPS:
        misses.append(f"/compare {compare.rate:.0f} requests/s < {TARGET_COMPARE_RPS:.0f}")
    if errors:
        misses.append(f"{errors} error(s)")
    for miss in misses:
        print(f"MISSED: {miss}")
    if not misses:
        print(f"meets: /compare >= {TARGET_COMPARE_RPS:.0f} requests/s, no error")
    return 1 if misses and args.check else 0


def run(url: str, tmp: Path, args: argparse.Namespace) -> dict[str, Tally]:
    """Fill the database, serve it, drive each path; print and return the tallies."""
    began = time.perf_counter()
    build_database(url, citations=args.citations, reports=args.reports)
    backend = url.split(":", 1)[0]
    print(
        f"temporary {backend} database: {args.citations:,} generated citations, "
        f"{args.reports:,} generated reports (+ the snapshot), built in "
        f"{time.perf_counter() - began:.1f} s"
    )
    began = time.perf_counter()
    proc, port, log = start_server(url, tmp, workers=args.workers, threads=args.threads)
    print(
        f"evidence serve --workers {args.workers} --threads {args.threads} on 127.0.0.1:{port}, "
        f"answering after {time.perf_counter() - began:.1f} s"
    )
    compare_paths = [f"/compare?{query}" for query in SELECTIONS]
    try:
        # Warm every worker's caches (and the database's pages): not measured, errors counted.
        warmup = warm_up(
            port,
            [*compare_paths, "/"],
            clients=args.clients,
            seconds=args.warmup,
            per_path=2 * args.workers,
        )
        results = {
            "warm-up": warmup,
            "/healthz": drive(port, ["/healthz"], clients=args.clients, seconds=args.seconds),
            "/": drive(port, ["/"], clients=args.clients, seconds=args.seconds),
            "/compare": drive(port, compare_paths, clients=args.clients, seconds=args.seconds),
        }
        results["/healthz after"] = drive(
            port, ["/healthz"], clients=args.clients, seconds=max(2.0, args.seconds / 4)
        )
    finally:
        stop_server(proc)
    if proc.returncode != 0:
        print(f"evidence serve exited with {proc.returncode}; its log:\n{log.read_text()}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min): {load} on {os.cpu_count()} CPUs (shared with the clients)")
    print(f"{args.clients} clients, one keep-alive connection each, {args.seconds:g} s per path")
    heads = ("requests", "req/s", "ratio", "p50 ms", "p99 ms", "errors")
    print(f"{'path':<34} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, WIDTHS, strict=True)))
    baseline = results["/healthz"]
    print(row("/healthz (baseline)", baseline, None))
    print(row("/", results["/"], baseline))
    print(row(f"/compare ({len(SELECTIONS)} selections rotated)", results["/compare"], baseline))
    print(row("/healthz (after)", results["/healthz after"], baseline))
    print(row("warm-up (compare and /, not timed)", warmup, None) + f"  {warmup.elapsed:.1f} s")
    for name, tally in results.items():
        if tally.first_error:
            print(f"first error on {name}: {tally.first_error}")
    return results


if __name__ == "__main__":
    raise SystemExit(main())
