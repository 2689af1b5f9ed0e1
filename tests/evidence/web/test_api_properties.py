"""Schemathesis against /api/v1/openapi.json: every operation, the token-authorised report
POST included, with generated data: no server error, no response that breaks the schema.

The operations are driven from inside one test (schemathesis' strategies under hypothesis)
rather than through its pytest plugin, so the app fixture is the suite's usual one.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.evidence.web.test_api import make_token
from tests.evidence.web.test_auth import make_user

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_under_generated_data(app: Flask) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    token = make_token(app, make_user(app, "api@clinic.example", "practitioner"))
    # Schemathesis's WSGI transport asks for gzip (as requests does) but never inflates the body;
    # real clients that ask for gzip decode it, so the checks read the identity encoding.
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {f"{op.method.upper()} {op.path}" for op in operations}
    assert "POST /reports" in {label.replace("/api/v1", "") for label in labels}, labels
    calls: dict[str, int] = {}

    def check(operation: Any) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)
            calls[label] = calls.get(label, 0) + 1

        run()

    for operation in operations:
        check(operation)
    assert set(calls) == labels
