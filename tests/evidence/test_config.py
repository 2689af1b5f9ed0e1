"""Settings: the generated secret key is one key for every worker that starts at once."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from evidence.config import instance_secret_key

WORKERS = 12


def _start_worker(folder: str, barrier: object, results: object) -> None:
    """Wait for every worker, then read (or make) the key, as a starting worker does."""
    barrier.wait()  # type: ignore[attr-defined]
    try:
        results.put(instance_secret_key(folder))  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the test reports any failure
        results.put(f"error: {exc!r}")  # type: ignore[attr-defined]


def test_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    """Twelve processes released at the same instant on an empty folder get the same key."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(5):
        folder = tmp_path / f"instance-{attempt}"
        barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
        procs = [
            ctx.Process(target=_start_worker, args=(str(folder), barrier, results))
            for _ in range(WORKERS)
        ]
        for proc in procs:
            proc.start()
        keys = [results.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert all(len(k) == 64 for k in keys), keys
        assert len(set(keys)) == 1
        assert (folder / "secret_key").read_text() == keys[0]
        assert stat.S_IMODE((folder / "secret_key").stat().st_mode) == 0o600
        assert [p.name for p in folder.iterdir()] == ["secret_key"]  # no candidates left
