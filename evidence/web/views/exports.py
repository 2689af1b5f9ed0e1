"""Downloads: citation tables in six formats and outcome reports as CSV, streamed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Blueprint, Flask, Response, abort, render_template, request
from sqlmodel import Session

from evidence import queries
from evidence.db import get_engine, get_session
from evidence.models import ADVERSE_EVENTS
from evidence.output import exports
from evidence.output.downloads import attach
from evidence.practice.reports import ReportFilter

bp = Blueprint("exports", __name__)


def _streamed(
    produce: Callable[[Session], Iterator[bytes]], *, mimetype: str, filename: str
) -> Response:
    """Stream an export from its own session, which lives as long as the download does.

    The request's session is closed at teardown, before a streamed body has been read,
    so the generator opens (and closes) a session of its own.
    """
    engine = get_engine()

    def generate() -> Iterator[bytes]:
        with Session(engine) as session:
            yield from produce(session)

    # content_type, not mimetype: Flask would append a second charset to ours.
    response = Response(generate(), content_type=mimetype)
    attach(response, filename)
    # Proxies such as nginx would otherwise buffer the whole file before sending any of it.
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.get("/exports")
def index() -> str:
    """The export page: every format and column, for citations and outcome reports."""
    session = get_session()
    flt = queries.CitationFilter.from_args(request.args)
    return render_template(
        "exports/index.html",
        flt=flt,
        total=queries.count_citations(session, flt),
        formats=exports.FORMATS.values(),
        columns=exports.CITATION_COLUMNS,
        default_columns=exports.DEFAULT_COLUMNS,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        adverse_events=ADVERSE_EVENTS,
    )


@bp.get("/exports/citations")
def citations() -> Response:
    """Download the citations matching the table's filters in the chosen format."""
    try:
        fmt = exports.get_format(request.args.get("format", "csv"))
        columns = exports.parse_columns(request.args.getlist("columns"))
    except exports.ExportError as error:
        abort(400, description=str(error))
    flt = queries.CitationFilter.from_args(request.args)
    return _streamed(
        lambda session: exports.export_citations(session, flt, fmt.key, columns=columns),
        mimetype=fmt.mimetype,
        filename=exports.download_name("citations", fmt, flt),
    )


@bp.get("/exports/reports.csv")
def reports() -> Response:
    """Download the visible outcome reports matching the reports list's filters, as CSV."""
    flt = ReportFilter.from_args(request.args)
    return _streamed(
        lambda session: exports.export_reports(session, flt),
        mimetype="text/csv; charset=utf-8",
        filename=exports.download_name("outcome-reports", exports.FORMATS["csv"], flt),
    )


def init_app(app: Flask) -> None:
    """Offer the formats and columns to templates: the citation table's Export control."""
    app.jinja_env.globals["export_formats"] = list(exports.FORMATS.values())
    app.jinja_env.globals["export_columns"] = exports.CITATION_COLUMNS
    app.jinja_env.globals["export_default_columns"] = exports.DEFAULT_COLUMNS
