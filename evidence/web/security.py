"""Response headers every page carries, and the answers for a database that went away.

The Content-Security-Policy allows scripts, styles, fonts and connections from this origin
only, so nothing inline runs: page scripts live in evidence/static/, and the inline SVG
charts carry presentation attributes instead of style attributes (charts.inline_svg).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for images a chart or a favicon may carry inline; nothing else is embedded.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # For browsers that predate frame-ancestors.
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"

# Errors that mean the database cannot be reached (gone, restarted, locked past the busy
# timeout, pool exhausted), as opposed to a bug in a query (those stay 500s).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
)


def set_security_headers(response: Response) -> Response:
    """Add the security headers (HSTS only when the request came over HTTPS)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def database_unavailable(error: Exception) -> Any:
    """Answer 503 with a page (JSON for the API), drop the pool so the next request reconnects."""
    from evidence.db import get_engine

    log.warning("database unavailable during %s %s: %s", request.method, request.path, error)
    session = g.pop("db_session", None)
    if session is not None:
        try:
            session.close()
        except Exception:  # noqa: BLE001 -- the connection is already gone
            log.debug("closing the broken session failed", exc_info=True)
    # The pooled connections may all point at the database that went away.
    get_engine().dispose()
    headers = {"Retry-After": "5"}
    if request.path.startswith("/api/"):
        body = {"error": "unavailable", "message": "The database is unavailable; try again."}
        return body, 503, headers
    # errors/503.html extends nothing: base.html asks the database who is logged in.
    return render_template("errors/503.html"), 503, headers


def too_large(_error: Exception) -> Any:
    """Answer 413 with the bound in words (JSON for the API); nothing of the body was kept."""
    from flask import current_app

    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = f"{limit / 1024**2:.0f} MB" if limit >= 1024**2 else f"{limit / 1024:.0f} KB"
    message = (
        f"The request is larger than {size}, the most this server "
        "accepts. Split the file (or ask the administrator to raise EVIDENCE_MAX_UPLOAD_BYTES)."
    )
    if request.path.startswith("/api/"):
        return {"error": "too large", "message": message}, 413
    return render_template("errors/413.html", message=message), 413


def init_app(app: Flask) -> None:
    """Register the headers, the 503 and 413 answers and, if configured, proxy trust."""
    app.after_request(set_security_headers)
    app.register_error_handler(413, too_large)
    for error in UNAVAILABLE_ERRORS:
        app.register_error_handler(error, database_unavailable)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind N reverse proxies: X-Forwarded-Proto says whether the visitor used HTTPS.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
