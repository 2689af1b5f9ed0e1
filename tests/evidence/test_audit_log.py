"""Every write leaves an audit entry (who, what, when) that admins read on /admin/audit."""

from __future__ import annotations

from flask import Flask
from sqlmodel import Session, col, select

from evidence.db import get_engine
from evidence.models import AuditEntry
from tests.conftest import run_cli
from tests.evidence.practice.test_reports import account, report_id_of, submit


def _entries(app: Flask, table: str) -> list[AuditEntry]:
    with app.app_context(), Session(get_engine()) as session:
        stmt = select(AuditEntry).where(AuditEntry.table_name == table)
        return list(session.exec(stmt.order_by(col(AuditEntry.id))))


def test_writes_through_the_web_and_the_cli_are_logged(any_app: Flask) -> None:
    practitioner = account(any_app, "doc@clinic.example", "practitioner")
    report_id = report_id_of(submit(practitioner))
    # (The snapshot's quoted reports were loaded by the system, before this test.)
    inserted = [
        e for e in _entries(any_app, "outcome_report") if e.action == "insert" and e.user_id
    ]
    assert [(e.actor, e.row_id, e.origin) for e in inserted] == [
        ("doc@clinic.example", str(report_id), "POST /reports/new")
    ]
    assert "improvement" in inserted[0].fields and "notes" in inserted[0].fields
    events = [e for e in _entries(any_app, "outcome_adverse_event") if e.user_id]
    assert [e.actor for e in events] == ["doc@clinic.example"]

    # An edit records the fields it changed, not their values.
    page = practitioner.get(f"/reports/{report_id}/edit")
    assert page.status_code == 200
    from tests.conftest import csrf_token
    from tests.evidence.practice.test_reports import REPORT

    edit = practitioner.post(
        f"/reports/{report_id}/edit",
        data={**REPORT, "sessions": "5", "csrf_token": csrf_token(page.text)},
    )
    assert edit.status_code == 302
    updates = [e for e in _entries(any_app, "outcome_report") if e.action == "update"]
    assert updates and "sessions" in updates[-1].fields and "5" not in updates[-1].fields

    created = run_cli(
        any_app,
        "users",
        "create",
        "admin@clinic.example",
        "--role",
        "admin",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    users = [e for e in _entries(any_app, "user") if e.action == "insert"]
    assert users[-1].actor.startswith("system") and users[-1].user_id is None
    # Hashes are never copied: only field names.
    assert all("pbkdf2" not in e.fields and "scrypt" not in e.fields for e in users)


def test_only_admins_read_the_log(app: Flask) -> None:
    practitioner = account(app, "doc@clinic.example", "practitioner")
    submit(practitioner)
    assert practitioner.get("/admin/audit").status_code == 403
    assert app.test_client().get("/admin/audit").status_code == 302  # to the login page
    admin = account(app, "admin@clinic.example", "admin")
    html = admin.get("/admin/audit?table=outcome_report").get_data(as_text=True)
    assert "doc@clinic.example" in html and "POST /reports/new" in html
    assert ">insert<" in html
    assert 'href="/admin/audit"' in admin.get("/").get_data(as_text=True)
