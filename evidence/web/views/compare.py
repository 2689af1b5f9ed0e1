"""Compare treatments side by side (/compare), their charts and CSV, and the evidence map."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from evidence import queries
from evidence.db import get_session
from evidence.literature import living
from evidence.output.downloads import attach
from evidence.synthesis import compare
from evidence.web import cache
from evidence.web.filters import endpoint_exists
from evidence.web.views.synthesis import study_findings_for

bp = Blueprint("compare", __name__)


def href(link: compare.Link, *, external: bool = False) -> str:
    """Return the URL of a number's sources."""
    return _build_href(link, external=external)


def _build_href(link: compare.Link, *, external: bool = False) -> str:
    """Build the URL of a number's sources."""
    args = dict(link.args)
    if link.kind == "citations":
        return url_for("citations.index", _external=external, **args)
    if link.kind == "citation":
        return url_for("citations.detail", pmid=args["pmid"], _external=external)
    if link.kind == "reports":
        if endpoint_exists("reports.index"):
            return url_for("reports.index", _external=external, **args)
        # Without the reports list, a treatment page's reports section is the nearest source.
        return url_for("treatments.detail", slug=args["treatment"], _external=external) + "#reports"
    if link.kind == "price":
        base = url_for("compare.page", _external=True, **_selection_args()) if external else ""
        return f"{base}#price-{args['id']}"
    raise ValueError(f"unknown link kind {link.kind!r}")


def _selection_args() -> dict[str, Any]:
    """Return the request's selection as canonical query arguments."""
    args: dict[str, Any] = {"t": request.args.getlist("t")}
    if request.args.get("indication"):
        args["indication"] = request.args["indication"]
    return args


def _selection() -> compare.Selection:
    """Resolve the request's treatments and indication."""
    return compare.select_treatments(
        get_session(),
        slugs=request.args.getlist("t"),
        indication=(request.args.get("indication") or "").strip() or None,
    )


def canonical_args(selection: compare.Selection) -> dict[str, Any]:
    """Return the permalink arguments of a selection."""
    args: dict[str, Any] = {"t": selection.slugs}
    if selection.indication is not None:
        args["indication"] = selection.indication.slug
    return args


@bp.get("/compare")
def page() -> BaseResponse | str:
    """Compare two to four treatments on literature and practice; the URL is a permalink.

    An anonymous visitor's page holds nothing personal (no form token, changes measured from
    30 days ago): its whole body is cached per address, data versions and changed cells, so
    every visitor after the first is served it. Signed-in users get their own page, built
    from the cached comparison and charts, with the cells changed since their last visit.
    """
    selection = _selection()
    canonical = canonical_args(selection)
    asked_indication = request.args.get("indication")
    if request.args.getlist("t") != selection.slugs or (
        asked_indication is not None and asked_indication != canonical.get("indication")
    ):
        # Drop empty, unknown, duplicate or surplus choices so the address is a clean permalink.
        for note in selection.notes:
            flash(note, "error")
        return redirect(url_for("compare.page", **canonical))
    changes = living.page_changes(
        "compare", treatment_ids=[t.id for t in selection.treatments if t.id is not None]
    )
    return cache.visitor_page(
        "compare", lambda: _render_page(selection, canonical, changes), changes.key()
    )


def _render_page(
    selection: compare.Selection, canonical: dict[str, Any], changes: living.PageChanges
) -> str:
    """Render the compare page: the cached comparison, its charts and study findings."""
    from evidence.output import charts  # matplotlib: loaded by the first chart, not at start-up

    session = get_session()
    comparison = None
    figures = []
    studies_found = None
    if selection.treatments:
        comparison = compare.cached_compare(session, selection=selection)
        # Pooling across indications would mix different conditions: only for one indication.
        if selection.indication is not None:
            studies_found = study_findings_for(selection, comparison)
        data = charts.chart_data(comparison)
        for kind in charts.KINDS:
            alt = charts.alt_text(kind, data[kind])
            figures.append(
                {
                    "kind": kind,
                    "title": charts.TITLES[kind],
                    "alt": alt,
                    "svg": charts.inline_svg(
                        charts.render(kind, data[kind], "svg"),
                        chart_id=f"chart-{kind}",
                        title=charts.TITLES[kind],
                        description=alt,
                    ),
                }
            )
    return render_template(
        "compare/page.html",
        selection=selection,
        comparison=comparison,
        figures=figures,
        studies_found=studies_found,
        args=canonical,
        href=href,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        min_compared=compare.MIN_COMPARED,
        max_compared=compare.MAX_COMPARED,
        changes=changes,
    )


def _download_name(selection: compare.Selection, stem: str, ext: str) -> str:
    """Name a download after what it holds."""
    parts = [stem, "-vs-".join(selection.slugs)]
    if selection.indication is not None:
        parts.append(selection.indication.slug)
    return "-".join(parts) + "." + ext


@bp.get("/compare.csv")
def table_csv() -> Response:
    """Download the comparison table as CSV: one row per measure and treatment, with sources."""
    selection = _selection()
    if not selection.treatments:
        abort(404, description="Choose treatments to compare (?t=slug&t=slug).")
    comparison = compare.cached_compare(get_session(), selection=selection)
    buf = io.StringIO()
    csv.writer(buf).writerows(compare.csv_rows(comparison, lambda link: href(link, external=True)))
    response = Response(buf.getvalue().encode("utf-8-sig"), mimetype="text/csv")
    attach(response, _download_name(selection, "comparison", "csv"))
    return response


@bp.get("/compare/chart/<kind>.<fmt>")
def chart(kind: str, fmt: str) -> BaseResponse:
    """Download one comparison chart as PNG or SVG."""
    from evidence.output import charts  # matplotlib: loaded by the first chart, not at start-up

    if kind not in charts.KINDS or fmt not in charts.FORMATS:
        abort(404, description=f"No chart {kind}.{fmt}.")
    selection = _selection()
    if not selection.treatments:
        abort(404, description="Choose treatments to compare (?t=slug&t=slug).")
    comparison = compare.cached_compare(get_session(), selection=selection)
    data = charts.chart_data(comparison)[kind]
    response = Response(charts.render(kind, data, fmt), mimetype=charts.FORMATS[fmt])
    attach(response, _download_name(selection, f"chart-{kind}", fmt))
    response.set_etag(charts.data_key(kind, data, fmt))
    return response.make_conditional(request)


@bp.get("/matrix")
def matrix() -> str:
    """The evidence map: treatments by indications, gaps visible."""
    return render_template(
        "compare/matrix.html",
        m=compare.evidence_map(get_session()),
        changes=living.page_changes("matrix"),
    )
