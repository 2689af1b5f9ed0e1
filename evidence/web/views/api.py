"""The read API under /api/v1/ (JSON, open to read) and its human page at /api/.

Writing (POST /api/v1/reports) is authenticated by a practitioner's bearer token only,
never by the session cookie, so the blueprint is exempt from CSRF: a forged cross-site
request carries no token.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from evidence import queries
from evidence.db import get_session
from evidence.web import api
from evidence.web.openapi import openapi_document

bp = Blueprint("api", __name__)
F = TypeVar("F", bound=Any)


@bp.errorhandler(api.ApiError)
def api_error(error: api.ApiError) -> tuple[Response, int]:
    """Answer an ApiError as JSON with its status."""
    response = jsonify(error.body())
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="evidence"'
    return response, error.status


def _usable(flt: F) -> F:
    """Return the filter, or answer 400 naming every value the API cannot use."""
    if flt.ignored:
        raise api.ApiError(400, "bad request", " ".join(flt.ignored))
    return flt


@bp.get("/api/")
def docs() -> str:
    """A short human page about the API, linking the OpenAPI document."""
    return render_template("api/docs.html", document=openapi_document())


@bp.get("/api/v1/")
def index() -> dict[str, Any]:
    """Where everything is."""
    return {
        "name": "Evidence tracker read API",
        "version": "1",
        "openapi": "/api/v1/openapi.json",
        "endpoints": sorted(openapi_document()["paths"]),
    }


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document describing this API."""
    return jsonify(openapi_document())


@bp.get("/api/v1/treatments")
def treatments() -> dict[str, Any]:
    """Every treatment with its citation and report counts."""
    return {"data": api.treatments(get_session())}


@bp.get("/api/v1/treatments/<slug>")
def treatment(slug: str) -> dict[str, Any]:
    """One treatment."""
    return api.treatment(get_session(), slug)


@bp.get("/api/v1/indications")
def indications() -> dict[str, Any]:
    """Every indication with its citation counts."""
    return {"data": api.indications(get_session())}


@bp.get("/api/v1/indications/<slug>")
def indication(slug: str) -> dict[str, Any]:
    """One indication."""
    return api.indication(get_session(), slug)


@bp.get("/api/v1/citations")
def citations() -> dict[str, Any]:
    """Citations filtered as in the citation table, a page at a time."""
    flt = _usable(queries.CitationFilter.from_args(request.args))
    page = api.citations_page(
        get_session(),
        flt,
        limit=api.parse_limit(request.args.get("limit")),
        after=api.decode_cursor(request.args.get("cursor")),
    )
    return page.body()


@bp.get("/api/v1/citations/<pmid>")
def citation(pmid: str) -> dict[str, Any]:
    """One citation's full record."""
    return api.citation(get_session(), pmid)


@bp.get("/api/v1/reports")
def reports() -> dict[str, Any]:
    """Visible outcome reports, filtered as in the reports list, a page at a time."""
    from evidence.practice.reports import ReportFilter

    page = api.reports_page(
        get_session(),
        _usable(ReportFilter.from_args(request.args)),
        limit=api.parse_limit(request.args.get("limit")),
        after=api.decode_cursor(request.args.get("cursor")),
    )
    return page.body()


@bp.get("/api/v1/reports/<int:report_id>")
def report(report_id: int) -> dict[str, Any]:
    """One visible outcome report."""
    return api.report(get_session(), report_id)


@bp.post("/api/v1/reports")
def create_report() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit an outcome report with a practitioner's token."""
    session = get_session()
    user = api.writer_from_header(session, request.headers.get("Authorization"))
    body = request.get_json(silent=True)
    try:
        saved = api.create_report(session, body=body, reporter=user)
    except api.ApiError:
        session.rollback()
        raise
    session.commit()
    return saved, 201, {"Location": f"/api/v1/reports/{saved['id']}"}


@bp.get("/api/v1/compare")
def compare() -> dict[str, Any]:
    """The comparison of a set of treatments: literature by level and practice statistics."""
    raw = ",".join(request.args.getlist("treatments"))
    slugs = [s.strip() for s in raw.split(",") if s.strip()]
    return api.comparison(
        get_session(), slugs=slugs, indication_slug=request.args.get("indication") or None
    )


@bp.get("/api/v1/synthesis")
def synthesis() -> dict[str, Any]:
    """Every outcome's pooled result for the treatments (?t=slug&t=slug) and an indication."""
    from evidence.web import api_synthesis

    return api_synthesis.synthesis(
        get_session(),
        slugs=[s.strip() for s in request.args.getlist("t") if s.strip()],
        indication_slug=request.args.get("indication") or None,
    )


def _json_http_error(error: HTTPException) -> Any:
    """Answer HTTP errors under /api/ as JSON; elsewhere keep Flask's own page."""
    if not request.path.startswith("/api/"):
        return error
    code = error.code or 500
    body = {"error": (error.name or "error").lower(), "message": error.description}
    # Keep the exception's headers: Allow on 405, Retry-After on 429.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if error.response is not None:
        headers.update(
            (k, v) for k, v in error.response.headers.items() if k.lower() == "retry-after"
        )
    return body, code, headers


def init_app(app: Flask) -> None:
    """Exempt the token-authenticated API from CSRF; JSON for API errors Flask answers itself."""
    from evidence import csrf

    csrf.exempt(bp)
    # 404/403/400/500 are JSON under /api/ already (evidence/web/errors.py), 413 and 503 too
    # (evidence/web/security.py); these are the rest.
    for code in (405, 415, 429):
        app.register_error_handler(code, _json_http_error)
