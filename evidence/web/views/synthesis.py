"""Forest plots and the summary of findings (page, CSV) behind /compare's study findings."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from evidence.db import data_versions, get_session
from evidence.output import forest
from evidence.output.charts import inline_svg
from evidence.synthesis import Finding, compare, findings, findings_db
from evidence.web import cache

bp = Blueprint("synthesis", __name__)


def study_findings_for(
    selection: compare.Selection, comparison: compare.Comparison | None = None
) -> findings.StudyFindings:
    """Return the studies' findings for a selection (with practice, when the comparison has it).

    Pooled once per data version in the shared cache: the extracted studies (and, with a
    comparison, the report statistics beside them) are all they are computed from.
    """
    session = get_session()
    indication = selection.indication.slug if selection.indication else None
    versions = data_versions(session)

    def pool() -> findings.StudyFindings:
        studies, published = findings_db.load(session, indication=indication)
        return findings.study_findings(
            studies,
            slugs=selection.slugs,
            names={t.slug: t.name for t in selection.treatments},
            indication=indication,
            published=published,
            practice=comparison.practice if comparison else (),
        )

    name = cache.key(
        "study-findings",
        ",".join(selection.slugs),
        indication or "",
        versions["extraction"],
        versions["practice"] if comparison else "-",
    )
    return cache.remember(name, pool)


def forest_args(block: findings.Block, finding: Finding, indication: str | None) -> dict[str, Any]:
    """Return the query arguments of a finding's forest plot page."""
    args: dict[str, Any] = {"t": list(block.treatments), "outcome": finding.slug}
    if indication:
        args["indication"] = indication
    return args


def _selected() -> tuple[compare.Selection, findings.StudyFindings, Finding]:
    """Resolve the request's block (t=...) and outcome, or answer 404 saying what is missing."""
    slugs = request.args.getlist("t")
    selection = compare.select_treatments(
        get_session(),
        slugs=slugs,
        indication=(request.args.get("indication") or "").strip() or None,
    )
    if not selection.treatments or selection.slugs != slugs:
        abort(404, description="Name one or two known treatments (?t=slug&t=slug).")
    result = study_findings_for(selection)
    finding = findings.find(result, selection.slugs, request.args.get("outcome", ""))
    if finding is None:
        abort(404, description="No pooled result for that outcome and these treatments.")
    return selection, result, finding


@bp.get("/compare/forest")
def forest_page() -> str:
    """One outcome's forest plot with its heterogeneity, certainty steps and studies in words."""
    selection, result, finding = _selected()
    data = forest.forest_data(finding, result.names)
    words = forest.heterogeneity_text(finding)
    alt = forest.alt_text(data, words)
    title = f"Forest plot: {findings.outcome_label(finding)}"
    svg = inline_svg(forest.render(data, "svg"), chart_id="forest", title=title, description=alt)
    return render_template(
        "compare/forest.html",
        selection=selection,
        result=result,
        f=finding,
        data=data,
        svg=svg,
        alt=alt,
        heterogeneity=words,
        title=title,
        refs=forest.row_studies(finding),
        args=dict(request.args.lists()),
    )


@bp.get("/compare/forest.<fmt>")
def forest_image(fmt: str) -> BaseResponse:
    """Download one outcome's forest plot as PNG or SVG."""
    if fmt not in forest.FORMATS:
        abort(404, description=f"No forest plot format {fmt}.")
    selection, result, finding = _selected()
    data = forest.forest_data(finding, result.names)
    response = Response(forest.render(data, fmt), mimetype=forest.FORMATS[fmt])
    name = f"forest-{'-vs-'.join(selection.slugs)}-{finding.slug.replace('~', '-')}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.set_etag(forest.data_key(data, fmt))
    return response.make_conditional(request)


def _selection_from_request() -> compare.Selection:
    """Resolve the compare page's selection from the request."""
    selection = compare.select_treatments(
        get_session(),
        slugs=request.args.getlist("t"),
        indication=(request.args.get("indication") or "").strip() or None,
    )
    if not selection.treatments:
        abort(404, description="Choose treatments to compare (?t=slug&t=slug).")
    return selection


@bp.get("/compare/summary")
def summary() -> str:
    """The summary-of-findings tables (GRADEpro's layout), one per comparison, for printing."""
    selection = _selection_from_request()
    comparison = compare.cached_compare(get_session(), selection=selection)
    result = study_findings_for(selection, comparison)
    return render_template(
        "compare/summary.html",
        selection=selection,
        result=result,
        args=compare_args(selection),
    )


@bp.get("/compare/summary.csv")
def summary_csv() -> Response:
    """Download every comparison's summary of findings as CSV."""
    selection = _selection_from_request()
    result = study_findings_for(selection)
    buf = io.StringIO()
    csv.writer(buf).writerows(findings.sof_csv_rows(result))
    response = Response(buf.getvalue().encode("utf-8-sig"), mimetype="text/csv")
    parts = ["summary-of-findings", "-vs-".join(selection.slugs)]
    if selection.indication is not None:
        parts.append(selection.indication.slug)
    response.headers["Content-Disposition"] = f'attachment; filename="{"-".join(parts)}.csv"'
    return response


def compare_args(selection: compare.Selection) -> dict[str, Any]:
    """Return the compare page's permalink arguments for a selection."""
    args: dict[str, Any] = {"t": selection.slugs}
    if selection.indication is not None:
        args["indication"] = selection.indication.slug
    return args


def forest_url(block: findings.Block, finding: Finding, indication: str | None) -> str:
    """Template helper: the URL of a finding's forest plot page."""
    return url_for("synthesis.forest_page", **forest_args(block, finding, indication))


def vs_names(slugs: Any, names: dict[str, str]) -> str:
    """Template helper: name the treatments of a block, "A vs B"."""
    return " vs ".join(names.get(s, s) for s in slugs)


def init_app(app: Flask) -> None:
    """Offer the findings templates their helpers."""
    app.jinja_env.globals.update(
        forest_url=forest_url,
        sof_rows=findings.sof_rows,
        effect_text=findings.effect_text,
        risk_difference_text=findings.risk_difference_text,
        direction_text=findings.direction_text,
        outcome_label=findings.outcome_label,
        heterogeneity_text=forest.heterogeneity_text,
        vs_names=vs_names,
    )
