"""Every write route x every role: the server refuses what a role may not do and nothing changes.

Write routes are discovered from app.url_map (every POST/PUT/PATCH/DELETE rule), so routes
other areas add later are covered without editing this file. A route's allowed roles come
from `roles_required` (which records them on the view); admins pass every check. Routes
without `roles_required` must refuse anonymous visitors and viewers, unless listed in
PUBLIC_WRITES or VIEWER_WRITES below with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import SQLModel, select
from werkzeug.routing import IntegerConverter, Rule

from evidence.db import get_engine, session_scope
from evidence.models import ROLES, Citation, OutcomeReport
from evidence.web import auth
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"
ROLES_UNDER_TEST = ("anonymous", "viewer", "practitioner", "curator", "admin")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Writes anyone may make: they create or end the visitor's own session or account.
PUBLIC_WRITES = {"auth.login", "auth.register", "auth.logout"}
# Writes any logged-in account may make: its own password.
VIEWER_WRITES = {"auth.change_password"}
# Only these areas' allowed requests are actually sent (empty forms); others' routes are
# checked for refusals only, so this test never starts their jobs or network calls.
OWN_BLUEPRINTS = {"auth", "reports"}


def write_rules(app: Flask) -> list[tuple[Rule, str]]:
    """Return every (rule, method) that writes."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            out.append((rule, method))
    return sorted(out, key=lambda item: (item[0].rule, item[1]))


RATE_LIMIT_TABLES = ("rate_limit_entry", "rate_limit_counter")


def fingerprint(app: Flask) -> str:
    """Hash every row of every table, so any change to the database shows.

    Except the rate-limit counts: a refused request still counts against its limit (that is
    what a limit is for), and without Redis the counts live in the database.
    """
    digest = hashlib.sha256()
    with app.app_context(), get_engine().connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in RATE_LIMIT_TABLES:
                continue
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).fetchall()
            digest.update(table.name.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


@pytest.fixture
def world(app: Flask) -> Iterator[dict[str, Any]]:
    """Accounts of every role, a practitioner's report, and values for URL arguments."""
    ids: dict[str, int] = {}
    with app.app_context(), session_scope() as session:
        for role in ROLES_UNDER_TEST[1:]:
            user = auth.create_user(
                session, email=f"{role}@example.org", password=PASSWORD, role=role
            )
            assert user.id is not None
            ids[role] = user.id
        citation = session.exec(select(Citation)).first()
        assert citation is not None
        report = session.exec(select(OutcomeReport)).first()
        assert report is not None and report.id is not None
        values = {
            "report_id": report.id,
            "user_id": ids["viewer"],
            "slug": "microneedling",
            "treatment": "microneedling",
            "indication": "acne-scars",
            "pmid": citation.pmid,
        }
    yield {"ids": ids, "values": values}


def url_for_rule(rule: Rule, values: dict[str, Any]) -> str:
    """Build a concrete URL for a rule, filling arguments with existing records' values."""
    args = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)  # werkzeug keeps converters per argument
        if name in values:
            args[name] = values[name]
        else:
            args[name] = 1 if isinstance(converter, IntegerConverter) else "x"
    built = rule.build(args, append_unknown=False)
    assert built is not None
    return built[1]


def client_for(app: Flask, role: str) -> tuple[FlaskClient, str]:
    """Return a client logged in with the role (or anonymous) and a CSRF token for it."""
    client = app.test_client()
    page = client.get("/login")
    token = csrf_token(page.text)
    if role != "anonymous":
        response = client.post(
            "/login",
            data={"email": f"{role}@example.org", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, role
        token = csrf_token(client.get("/").text)
    return client, token


def allowed_roles(app: Flask, endpoint: str) -> set[str] | None:
    """Return the roles a write route accepts, or None when it declares none."""
    if endpoint in PUBLIC_WRITES:
        return set(ROLES_UNDER_TEST)
    if endpoint in VIEWER_WRITES:
        return set(ROLES_UNDER_TEST) - {"anonymous"}
    declared = getattr(app.view_functions[endpoint], "roles_required", None)
    if declared is None:
        return None
    # Roles are cumulative: a role holds every right of the roles ranked below it.
    lowest = min(ROLES.index(role) for role in declared)
    return set(ROLES[lowest:])


def test_the_app_has_write_routes_to_check(app: Flask) -> None:
    """The discovery finds this area's write routes (a guard against checking nothing)."""
    endpoints = {rule.endpoint for rule, _ in write_rules(app)}
    assert {
        "reports.new",
        "reports.edit",
        "reports.hide",
        "reports.unhide",
        "reports.upload",
        "auth.set_role",
        "auth.change_password",
    } <= endpoints


def test_every_write_route_refuses_roles_without_permission(
    app: Flask, world: dict[str, Any]
) -> None:
    """Anonymous and under-privileged users are refused on every write route, changing nothing."""
    clients = {role: client_for(app, role) for role in ROLES_UNDER_TEST}
    checked = 0
    for rule, method in write_rules(app):
        allowed = allowed_roles(app, rule.endpoint)
        url = url_for_rule(rule, world["values"])
        for role in ROLES_UNDER_TEST:
            must_refuse = (
                role not in allowed if allowed is not None else role in ("anonymous", "viewer")
            )
            if not must_refuse:
                continue
            client, token = clients[role]
            before = fingerprint(app)
            response = client.open(
                url, method=method, data={"csrf_token": token, "reason": "matrix test"}
            )
            where = f"{method} {rule.rule} as {role}"
            if role == "anonymous":
                refused = response.status_code in (401, 403) or (
                    response.status_code == 302 and "/login" in response.headers["Location"]
                )
            else:
                refused = response.status_code in (401, 403)
            assert refused, f"{where} answered {response.status_code}"
            assert fingerprint(app) == before, f"{where} changed the database"
            checked += 1
    assert checked >= 20


def test_allowed_roles_are_not_refused(app: Flask, world: dict[str, Any]) -> None:
    """The matrix's other half, for this area's routes: permitted roles get past the check."""
    clients = {role: client_for(app, role) for role in ROLES_UNDER_TEST}
    # The report in `world` is a quoted source; give each reporting role one of its own.
    own_ids = {}
    with app.app_context(), session_scope() as session:
        for role in ("practitioner", "curator", "admin"):
            own = OutcomeReport(treatment_id=1, reporter_id=world["ids"][role], improvement=2)
            session.add(own)
            session.flush()
            own_ids[role] = own.id
    for rule, method in write_rules(app):
        if rule.endpoint.split(".")[0] not in OWN_BLUEPRINTS or rule.endpoint in PUBLIC_WRITES:
            continue
        allowed = allowed_roles(app, rule.endpoint)
        assert allowed is not None, f"{rule.endpoint} declares no roles"
        for role in sorted(allowed - {"anonymous"}):
            client, token = clients[role]
            values = {**world["values"], "report_id": own_ids.get(role, own_ids["admin"])}
            # An empty form: validation refuses it (400 or a redirect back), roles do not.
            response = client.open(
                url_for_rule(rule, values), method=method, data={"csrf_token": token}
            )
            assert response.status_code not in (401, 403), f"{rule.endpoint} refused {role}"


def test_promoting_a_practitioner_to_curator_keeps_report_rights(
    app: Flask, world: dict[str, Any]
) -> None:
    """A curator (and an admin) files and edits their own reports, on the web and the API."""
    client, token = client_for(app, "curator")
    form = client.get("/reports/new")
    assert form.status_code == 200
    assert "My reports" in client.get("/").text
    with app.app_context(), session_scope() as session:
        own = OutcomeReport(treatment_id=1, reporter_id=world["ids"]["curator"], improvement=2)
        session.add(own)
        session.flush()
        own_id = own.id
    assert client.get(f"/reports/{own_id}/edit").status_code == 200
    assert client.get("/account/tokens").status_code == 200
