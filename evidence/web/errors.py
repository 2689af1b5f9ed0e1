"""Friendly error pages; the request's session is rolled back on a server error."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException


def _wants_json() -> bool:
    """Return True for API requests, which get JSON errors."""
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    """Register the 404, 403, 400 and 500 handlers."""

    @app.errorhandler(404)
    def not_found(error: HTTPException) -> Any:
        if _wants_json():
            return {"error": "not found", "message": error.description}, 404
        return render_template("errors/404.html", error=error), 404

    @app.errorhandler(403)
    def forbidden(error: HTTPException) -> Any:
        if _wants_json():
            return {"error": "forbidden", "message": error.description}, 403
        return render_template("errors/403.html", error=error), 403

    @app.errorhandler(400)
    def bad_request(error: HTTPException) -> Any:
        if _wants_json():
            return {"error": "bad request", "message": error.description}, 400
        return render_template("errors/400.html", error=error), 400

    @app.errorhandler(500)
    def server_error(error: Exception) -> Any:
        session = g.get("db_session")
        if session is not None:
            session.rollback()
        if _wants_json():
            return {"error": "server error", "message": "The server could not finish."}, 500
        return render_template("errors/500.html"), 500
