"""Optimistic locking of report edits: a stale edit is refused, and history stays true."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from evidence.db import session_scope
from evidence.models import OutcomeReportRevision
from tests.conftest import csrf_token
from tests.evidence.practice.test_reports import PASSWORD, REPORT, account, report_id_of, submit

EDITORS = 16


def edit_page(client: FlaskClient, report_id: int) -> tuple[str, str]:
    """Open the edit form; return its CSRF token and the version it started from."""
    page = client.get(f"/reports/{report_id}/edit")
    assert page.status_code == 200
    match = re.search(r'id="version" name="version" type="hidden" value="(\d+)"', page.text)
    assert match, "the edit form carries the report's version"
    return csrf_token(page.text), match.group(1)


def post_edit(client: FlaskClient, report_id: int, token: str, version: str, **changes: Any) -> Any:
    """Post the edit form with REPORT's values, changed as asked."""
    data = {**REPORT, **changes, "csrf_token": token, "version": version}
    return client.post(f"/reports/{report_id}/edit", data=data)


def second_login(app: Flask, email: str) -> FlaskClient:
    """Log the same practitioner in from another browser."""
    client = app.test_client()
    page = client.get("/login")
    client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    return client


def test_a_stale_edit_is_refused_and_keeps_what_was_typed(any_app: Flask) -> None:
    """Two tabs open the same report; the second to save is told, and loses nothing."""
    first = account(any_app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(first))
    second = second_login(any_app, "doc@example.org")
    token_a, version_a = edit_page(first, report_id)
    token_b, version_b = edit_page(second, report_id)
    assert version_a == version_b
    assert post_edit(first, report_id, token_a, version_a, sessions="4").status_code == 302
    stale = post_edit(second, report_id, token_b, version_b, notes="Typed in the second tab.")
    assert stale.status_code == 409
    assert "Someone saved this report after you opened it" in stale.text
    assert "Typed in the second tab." in stale.text
    detail = first.get(f"/reports/{report_id}").text
    assert "Typed in the second tab." not in detail
    # Reloading gives the new version, and the edit then goes through.
    token_c, version_c = edit_page(second, report_id)
    assert int(version_c) == int(version_a) + 1
    assert post_edit(second, report_id, token_c, version_c, notes="Now saved.").status_code == 302


def test_concurrent_edits_leave_a_true_history(any_app: Flask) -> None:
    """16 simultaneous edits: none fails with 500, and each revision's "before" values are
    exactly the values the previous revision left."""
    owner = account(any_app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(owner))
    clients = [second_login(any_app, "doc@example.org") for _ in range(EDITORS)]
    forms = [edit_page(c, report_id) for c in clients]
    barrier = threading.Barrier(EDITORS)
    statuses: list[int] = []
    lock = threading.Lock()

    def edit(i: int) -> None:
        token, version = forms[i]
        barrier.wait()
        response = post_edit(
            clients[i], report_id, token, version, sessions=str(i + 1), notes=f"Edit {i}."
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(EDITORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == EDITORS
    assert set(statuses) <= {302, 409}, statuses
    assert statuses.count(302) >= 1

    # Later editors reload and try again, one after another, as a user would.
    for i, client in enumerate(clients[:4]):
        token, version = edit_page(client, report_id)
        assert post_edit(client, report_id, token, version, passes=str(i + 1)).status_code == 302

    with any_app.app_context(), session_scope() as session:
        revisions = list(
            session.exec(
                select(OutcomeReportRevision)
                .where(OutcomeReportRevision.report_id == report_id)
                .order_by(col(OutcomeReportRevision.id))
            )
        )
    assert revisions[0].action == "create"
    assert len(revisions) == 1 + statuses.count(302) + 4
    state: dict[str, Any] = {}
    for revision in revisions:
        for name, (before, after) in json.loads(revision.changes).items():
            assert state.get(name) == before, (revision.id, name, state.get(name), before)
            state[name] = after
