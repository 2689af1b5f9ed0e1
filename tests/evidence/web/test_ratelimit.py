"""Rate limits (Flask-Limiter): failed logins per address and account with backoff,
registration, token creation and the API; counts shared by every process through the app's
database (SQLite and PostgreSQL), or through Redis when configured."""

from __future__ import annotations

import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from evidence.db import get_engine
from evidence.web.limitstore import SQLStorage
from tests.conftest import csrf_token, make_test_app
from tests.evidence.web.test_auth import PASSWORD, make_user, register, user_row

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


@pytest.fixture
def app(any_app: Flask) -> Flask:
    """Every test here runs on SQLite and on PostgreSQL: the counts live in that database."""
    return any_app


def login_from(client: FlaskClient, address: str, email: str, password: str) -> Any:
    """Log in through the form from one client address."""
    env = {"REMOTE_ADDR": address}
    page = client.get("/login", environ_base=env)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
        environ_base=env,
    )


def test_hammering_an_account_never_locks_its_owner_out(app: Flask) -> None:
    """Failures from one address throttle that address for that account only."""
    app.config["LOGIN_PAIR_LIMIT"] = "3 per minute"
    make_user(app, "admin@example.org", "admin")
    attacker = app.test_client()
    for _ in range(3):
        assert login_from(attacker, ATTACKER, "admin@example.org", "guess guess").status_code == 401
    blocked = login_from(attacker, ATTACKER, "admin@example.org", PASSWORD)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert re.search(r"Too many failed attempts. Try again in [12] minutes?\.", blocked.text)
    assert 'value="admin@example.org"' in blocked.text  # what was typed is kept
    # The admin, elsewhere, logs in with the right password while the attack goes on.
    owner = app.test_client()
    assert login_from(owner, OWNER, "admin@example.org", PASSWORD).status_code == 302
    assert login_from(attacker, ATTACKER, "admin@example.org", "guess guess").status_code == 429
    # Someone else behind the attacker's address (a clinic's NAT) is not held up either.
    make_user(app, "colleague@example.org", "practitioner")
    colleague = app.test_client()
    assert login_from(colleague, ATTACKER, "colleague@example.org", PASSWORD).status_code == 302


def test_failed_logins_back_off_in_tiers(app: Flask) -> None:
    """A short wait after the first failures, a longer one when they go on."""
    app.config["LOGIN_PAIR_LIMIT"] = "2 per second;3 per minute"
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    for _ in range(2):
        assert login_from(client, ATTACKER, "doc@example.org", "wrong one!").status_code == 401
    first = login_from(client, ATTACKER, "doc@example.org", "wrong one!")
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 2
    time.sleep(1.1)
    assert login_from(client, ATTACKER, "doc@example.org", "wrong one!").status_code == 401
    second = login_from(client, ATTACKER, "doc@example.org", PASSWORD)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) > 30


def test_correct_logins_do_not_count(app: Flask) -> None:
    """Only refused logins count: logging in and out again and again is never throttled."""
    app.config["LOGIN_PAIR_LIMIT"] = "2 per minute"
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    for _ in range(4):
        assert login_from(client, OWNER, "doc@example.org", PASSWORD).status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})


def test_registration_is_limited_per_address(app: Flask) -> None:
    """Many sign-ups from one address are refused with 429 and Retry-After."""
    app.config["REGISTER_LIMIT"] = "5 per hour"
    for i in range(5):
        assert register(app.test_client(), email=f"a{i}@example.org").status_code == 302
    refused = register(app.test_client(), email="a5@example.org")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many sign-ups from here" in refused.text
    assert user_row(app, "a5@example.org") is None


def test_token_creation_is_limited(app: Flask) -> None:
    """An account cannot mint API tokens without bound."""
    app.config["TOKEN_LIMIT"] = "2 per hour"
    make_user(app, "doc@example.org", "practitioner")
    client = app.test_client()
    login_from(client, OWNER, "doc@example.org", PASSWORD)
    statuses = []
    for i in range(3):
        token = csrf_token(client.get("/account/tokens").text)
        response = client.post("/account/tokens", data={"csrf_token": token, "name": f"t{i}"})
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]


def test_api_is_limited_per_address_with_a_json_answer(app: Flask) -> None:
    """Past the API limit, requests get 429 JSON with Retry-After; others are unaffected."""
    app.config["API_LIMIT"] = "3 per minute"
    client = app.test_client()
    env = {"REMOTE_ADDR": ATTACKER}
    assert [client.get("/api/v1/treatments", environ_base=env).status_code for _ in range(3)] == [
        200
    ] * 3
    refused = client.get("/api/v1/treatments", environ_base=env)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert refused.json is not None and refused.json["error"] == "too many requests"
    other = client.get("/api/v1/treatments", environ_base={"REMOTE_ADDR": OWNER})
    assert other.status_code == 200


def test_counts_are_shared_through_redis(tmp_path: Any, sqlite_template: Any) -> None:
    """Two app processes on one Redis share the failed-login count."""
    import shutil

    redis_url = os.environ.get("EVIDENCE_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("EVIDENCE_TEST_REDIS_URL is not set: the Redis test is skipped, not passed")
    db_path = tmp_path / "evidence.sqlite3"
    shutil.copy(sqlite_template, db_path)
    settings = {
        "REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        "LOGIN_PAIR_LIMIT": "3 per minute",
    }
    first = make_test_app(f"sqlite:///{db_path}", **settings)
    make_user(first, "doc@example.org", "practitioner")
    client = first.test_client()
    for _ in range(3):
        assert login_from(client, ATTACKER, "doc@example.org", "wrong one!").status_code == 401
    # A second worker process: a new app object, its own limiter storage, the same Redis.
    second = make_test_app(f"sqlite:///{db_path}", **settings)
    limiter = second.extensions["evidence_limiter"]
    assert type(limiter.storage).__name__ == "RedisStorage"
    refused = login_from(second.test_client(), ATTACKER, "doc@example.org", PASSWORD)
    assert refused.status_code == 429


def test_counts_are_shared_through_the_database(app: Flask) -> None:
    """Without Redis, two app processes on one database share the failed-login count."""
    app.config["LOGIN_PAIR_LIMIT"] = "3 per minute"
    make_user(app, "doc@example.org", "practitioner")
    for _ in range(3):
        response = login_from(app.test_client(), ATTACKER, "doc@example.org", "wrong one!")
        assert response.status_code == 401
    # A second worker process: a new app object with its own limiter, the same database.
    second = make_test_app(app.config["DATABASE_URL"], LOGIN_PAIR_LIMIT="3 per minute")
    assert isinstance(second.extensions["evidence_limiter"].storage, SQLStorage)
    try:
        refused = login_from(second.test_client(), ATTACKER, "doc@example.org", PASSWORD)
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    finally:
        with second.app_context():
            get_engine().dispose()


def _storage(app: Flask) -> SQLStorage:
    storage = app.extensions["evidence_limiter"].storage
    assert isinstance(storage, SQLStorage)
    return storage


def test_database_counts_admit_exactly_the_limit_under_concurrency(app: Flask) -> None:
    """Many clients hitting one limit at once: exactly `limit` get through, never one more."""
    storage = _storage(app)
    key = f"race-{uuid.uuid4().hex}"

    def attempt(_: int) -> bool:
        return bool(storage.acquire_entry(key, 10, 60))

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = list(pool.map(attempt, range(40)))
    assert admitted.count(True) == 10
    start, count = storage.get_moving_window(key, 10, 60)
    assert count == 10 and time.time() - 60 < start <= time.time()


def test_database_window_moves_and_old_hits_are_deleted(app: Flask) -> None:
    """A hit older than its window no longer counts, and its row is deleted."""
    storage = _storage(app)
    assert storage.acquire_entry("moving", 2, 1) and storage.acquire_entry("moving", 2, 1)
    assert not storage.acquire_entry("moving", 2, 1)
    time.sleep(1.1)
    assert storage.get_moving_window("moving", 2, 1)[1] == 0
    assert storage.acquire_entry("moving", 2, 1)
    with app.app_context(), get_engine().connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM rate_limit_entry WHERE key = 'moving'"))
        assert rows.scalar_one() == 1


def test_database_fixed_window_counters(app: Flask) -> None:
    """The fixed-window calls of limits' storage interface count, expire and clear."""
    storage = _storage(app)
    assert [storage.incr("fixed", 1), storage.incr("fixed", 1, amount=2)] == [1, 3]
    assert storage.get("fixed") == 3 and storage.get_expiry("fixed") > time.time()
    time.sleep(1.1)
    assert storage.get("fixed") == 0
    assert storage.incr("fixed", 60) == 1  # a new window starts from the expired one
    storage.clear("fixed")
    assert storage.get("fixed") == 0 and storage.check()
