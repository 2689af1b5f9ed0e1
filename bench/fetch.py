"""A 25,000-hit PubMed fetch at NCBI's 3 requests/s: how close to the rate limit's bound.

Serves 25,000 replicated real records (tests/fake_eutils.py, recorded efetch records under
new PMIDs and dates) from the local fake E-utilities server, then, in the same run:

1. ours: the app's path: plan_search (date slices past esearch's 10,000 cap) and
   iter_batches through EntrezClient at 3 requests/s (no api_key), every batch parsed;
2. baseline: the same requests, replayed with bare urllib at the same 3 requests/s and
   nothing parsed: what any client spaced at this rate must spend.

It prints both times, the bound (requests / 3 s) and the ratios. Target (issue 10): ours
<= 1.15 x the bound. `--check` exits 1 when the target is missed.

    .venv/bin/python bench/fetch.py [--records 25000] [--batch 500] [--check]

Generated records live only in the fake server's memory.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RATE = 3.0
TARGET = 1.15


def main() -> int:
    """Run both passes against one fake server and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=25_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    options = parser.parse_args()

    from pubmed import EntrezClient, PubmedRecord, RateLimiter, iter_batches, plan_search
    from tests.fake_eutils import FakeEutils, synthetic_corpus

    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    corpus = synthetic_corpus(options.records, files=("pubmed1.xml", "pubmed2.xml"))
    with FakeEutils(corpus) as server:
        client = EntrezClient(
            email="bench@example.org", base_url=server.base_url, limiter=RateLimiter()
        )
        start = time.perf_counter()
        plan = plan_search(client, "bench")
        got = 0
        for batch in iter_batches(client, plan, batch_size=options.batch):
            got += sum(1 for item in batch.items if isinstance(item, PubmedRecord))
            plan.advance(batch)
        ours = time.perf_counter() - start
        urls = [
            f"{server.base_url}{r.endpoint}.fcgi?{urllib.parse.urlencode(r.params)}"
            for r in server.requests
        ]
        requests = len(urls)

        limiter = RateLimiter()
        start = time.perf_counter()
        for url in urls:
            limiter.acquire(1 / RATE)
            with urllib.request.urlopen(url, timeout=30) as handle:
                handle.read()
        baseline = time.perf_counter() - start

    bound = requests / RATE
    print(
        f"fetch {got:,} of {options.records:,} records in {requests} requests at "
        f"{RATE:.0f} requests/s: ours {ours:.2f} s | baseline (same requests, bare urllib, "
        f"no parsing) {baseline:.2f} s | bound requests/{RATE:.0f} = {bound:.2f} s | "
        f"ratio ours/bound {ours / bound:.3f} (target <= {TARGET}), "
        f"ours/baseline {ours / baseline:.3f}"
    )
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    failures = []
    if got != options.records:
        failures.append(f"fetched {got} of {options.records}")
    if ours > TARGET * bound:
        failures.append(f"ratio {ours / bound:.3f} > {TARGET}")
    for failure in failures:
        print(f"MISSED: {failure}")
    return 1 if failures and options.check else 0


if __name__ == "__main__":
    sys.exit(main())
