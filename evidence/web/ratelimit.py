"""Rate limits (Flask-Limiter) on login, registration, API tokens and the API.

Counts live where every web process sees them: in Redis when EVIDENCE_REDIS_URL is set,
otherwise in the app's own database (evidence/web/limitstore.py), so the gunicorn workers of
`evidence serve` share one count whichever worker answers. RATELIMIT_STORAGE_URI overrides
both (e.g. `memory://`, one count per process: only for a single process).

Failed logins are counted per client address *and* account, in tiers that back off
(a minute after 5 failures, a quarter of an hour after 10, an hour after 20), so an
attacker hammering an e-mail address from one place never locks its owner out elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

DEFAULTS = {
    # Failed logins for one (address, e-mail) pair: tiers that back off, never a hard lock.
    "LOGIN_PAIR_LIMIT": "5 per minute;10 per 15 minutes;20 per hour",
    # Failed logins from one address across all e-mails (credential stuffing).
    "LOGIN_ADDRESS_LIMIT": "50 per hour",
    "REGISTER_LIMIT": "10 per hour",
    "TOKEN_LIMIT": "20 per hour",
    "API_LIMIT": "300 per minute",
}

F = TypeVar("F", bound=Callable[..., Any])
# Limits on whole blueprints: blueprint name -> setting name.
BLUEPRINT_LIMITS = {"api": "API_LIMIT"}


def limited(setting_name: str, **options: Any) -> Callable[[F], F]:
    """Mark a view with a rate limit (a setting's name, plus Flask-Limiter's options).

    Each app builds its own Limiter (its own storage and key prefix) and applies the marks
    in init_app, so apps made one after another (tests, workers) never share state by accident.
    """

    def mark(view: F) -> F:
        marks = [*getattr(view, "rate_limits", ()), (setting_name, options)]
        view.rate_limits = marks  # type: ignore[attr-defined]
        return view

    return mark


def setting(name: str) -> str:
    """Return one limit string from the app's settings (tests and deployments may change it)."""
    return str(current_app.config.get(name) or DEFAULTS[name])


def login_pair_key() -> str:
    """Key failed logins by client address and the (normalized) e-mail tried."""
    from evidence.web.auth import normalize_email

    email = normalize_email(str(request.form.get("email", "")))[:320]
    return f"{get_remote_address()}|{email}"


def failed_login(response: Any) -> bool:
    """Count only refused logins (401): a correct password costs nothing."""
    return bool(response.status_code == 401)


def init_app(app: Flask) -> Limiter:
    """Give the app its limiter (Redis, else the app's database) and apply every view's limits.

    Called once the blueprints are registered, so every marked view is found.
    """
    from evidence.db import get_engine
    from evidence.web import limitstore  # registers the evidence+sql:// storage with limits

    storage = (
        app.config.get("RATELIMIT_STORAGE_URI")
        or app.config.get("REDIS_URL")
        or f"{limitstore.SCHEME}://"
    )
    # Only the SQL storage takes the engine (a callable: the engine is made on first use).
    options: dict[str, Any] = (
        {"engine": lambda: get_engine(app)} if storage.startswith(f"{limitstore.SCHEME}:") else {}
    )
    limiter = Limiter(
        get_remote_address,
        storage_uri=storage,
        storage_options=options,
        key_prefix=app.config.get("RATELIMIT_KEY_PREFIX") or "evidence-limits",
        strategy="moving-window",
        headers_enabled=True,
        # The limiter never takes the site down with it: if its storage is unreachable, count
        # in memory until it answers again.
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    for endpoint, view in list(app.view_functions.items()):
        wrapped: Any = view
        for setting_name, options in getattr(view, "rate_limits", ()):
            wrapped = limiter.limit(_setting_of(setting_name), **options)(wrapped)
        # The limiter checks decorated limits in its wrapper, so the wrapper must be the view.
        app.view_functions[endpoint] = wrapped
    for name, setting_name in BLUEPRINT_LIMITS.items():
        blueprint = app.blueprints.get(name)
        if isinstance(blueprint, Blueprint):
            limiter.limit(_setting_of(setting_name), scope=name)(blueprint)
    app.extensions["evidence_limiter"] = limiter
    return limiter


def _setting_of(name: str) -> Callable[[], str]:
    """Return a callable reading a limit setting at request time."""
    return lambda: setting(name)
