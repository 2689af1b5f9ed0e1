"""20 clients submit reports at once to `evidence serve` (waitress, a real subprocess):
every accepted report is stored once, none lost, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask
from sqlmodel import Session, col, select

from evidence.db import get_engine
from evidence.models import OutcomeReport
from tests.evidence.web.test_api import REPORT, make_token
from tests.evidence.web.test_auth import make_user

CLIENTS = 20
PER_CLIENT = 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(app: Flask, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `evidence serve` on the app's database, as a user runs it; wait until it answers."""
    port = _free_port()
    env = {
        **os.environ,
        "EVIDENCE_DATABASE_URL": app.config["DATABASE_URL"],
        "EVIDENCE_INSTANCE_PATH": str(tmp_path / "instance"),
        "EVIDENCE_SECRET_KEY": "concurrency-test",
    }
    evidence = Path(sys.executable).parent / "evidence"
    proc = subprocess.Popen(
        [str(evidence), "serve", "--no-worker", "--port", str(port), "--threads", "8"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("evidence serve did not start")


def _submit(base: str, token: str, marker: str) -> tuple[int, Any]:
    body = json.dumps({**REPORT, "device": marker}).encode()
    request = urllib.request.Request(
        base + "/api/v1/reports",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_twenty_clients_at_once(any_app: Flask, tmp_path: Path) -> None:
    tokens = [
        make_token(any_app, make_user(any_app, f"doc{i}@clinic.example", "practitioner"))
        for i in range(CLIENTS)
    ]
    with any_app.app_context():
        get_engine().dispose()  # the server is the only writer from here on
    proc, base = _serve(any_app, tmp_path)
    try:

        def client(i: int) -> list[tuple[str, int, Any]]:
            out = []
            for j in range(PER_CLIENT):
                marker = f"concurrency-{i}-{j}"
                status, body = _submit(base, tokens[i], marker)
                out.append((marker, status, body))
            return out

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]
        assert proc.poll() is None, "the server died"
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    accepted = {marker: body["id"] for marker, status, body in results if status == 201}
    refused = [(m, s, b) for m, s, b in results if s != 201]
    # Refusals may only be the server saying "not now" (rate limit / busy), never a 500.
    assert all(s in (429, 503) for _m, s, _b in refused), refused[:3]
    assert len(accepted) >= CLIENTS * PER_CLIENT * 0.9, refused[:3]
    with any_app.app_context(), Session(get_engine()) as session:
        rows = session.exec(
            select(OutcomeReport.id, OutcomeReport.device).where(
                col(OutcomeReport.device).like("concurrency-%")
            )
        ).all()
    stored = [device for _id, device in rows]
    assert len(stored) == len(set(stored)), "a report was stored twice"
    assert sorted(stored) == sorted(accepted), "an accepted report is missing (or extra)"
    assert {device: rid for rid, device in rows} == accepted
