"""The /api/v1/synthesis data: every outcome's pooled result for a selection, as the page shows it.

Field names are the API's contract (schemas.Synthesis in evidence/web/schemas.py).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from evidence import queries
from evidence.synthesis import Finding, findings, findings_db
from evidence.synthesis.pooling import METHODS
from evidence.web.api import ApiError


def _model(f: Finding) -> str:
    """Name the model behind a result, or say there was no pooling."""
    if not f.pooled.pooled:
        return "none (one study)" if f.pooled.k == 1 else "none (no study could be pooled)"
    return f"{f.pooled.method}: {METHODS[f.pooled.method]}"


def finding_json(f: Finding, block: findings.Block) -> dict[str, Any]:
    """Return one outcome's pooled result as the API serves it."""
    return {
        "comparison": list(block.treatments),
        "head_to_head": f.head_to_head,
        "outcome": f.slug,
        "outcome_label": f.label,
        "skin_group": f.group,
        "effect_type": f.effect_type,
        "estimate": f.estimate,
        "ci_low": f.ci_low,
        "ci_high": f.ci_high,
        "pi_low": f.pi_low,
        "pi_high": f.pi_high,
        "risk_difference": (
            {
                "estimate": f.risk_difference.estimate,
                "ci_low": f.risk_difference.ci_low,
                "ci_high": f.risk_difference.ci_high,
            }
            if f.risk_difference is not None and f.risk_difference.estimate is not None
            else None
        ),
        "i2": f.pooled.i2,
        "tau2": f.pooled.tau2,
        "q": f.pooled.q,
        "q_p": f.pooled.q_p,
        "pooled": f.pooled.pooled,
        "model": _model(f),
        "studies": [
            {"pmid": s.pmid, "label": s.label, "verified": s.verified, "design": s.design}
            for s in f.studies
        ],
        "participants": f.participants,
        "certainty": {
            "level": f.certainty.level,
            "steps": [
                {"domain": s.domain, "rule": s.rule, "finding": s.finding, "change": s.change}
                for s in f.certainty.steps
            ],
        },
        "notes": list(f.notes),
    }


def published_json(p: findings.Published) -> dict[str, Any]:
    """Return a published meta-analysis's stated result."""
    return {
        "pmid": p.pmid,
        "title": p.title,
        "year": p.year,
        "comparison": list(p.treatments),
        "measure": p.measure,
        "effect_type": p.effect_type,
        "estimate": p.estimate,
        "ci_low": p.ci_low,
        "ci_high": p.ci_high,
        "i2": p.i2,
    }


def synthesis(session: Session, *, slugs: list[str], indication_slug: str | None) -> dict[str, Any]:
    """Return every outcome's pooled result for one to four treatments and an indication."""
    from evidence.synthesis import compare

    if not slugs:
        raise ApiError(400, "bad request", "Name treatments: ?t=slug&t=slug (up to 4).")
    if len(set(slugs)) > compare.MAX_COMPARED:
        raise ApiError(
            400, "bad request", f"At most {compare.MAX_COMPARED} treatments are compared."
        )
    treatments = []
    for slug in dict.fromkeys(slugs):
        treatment = queries.treatment_by_slug(session, slug)
        if treatment is None:
            raise ApiError(404, "not found", f"No treatment is called {slug!r}.")
        treatments.append(treatment)
    if not indication_slug:
        # Pooling across indications would mix different conditions.
        raise ApiError(400, "bad request", "Name an indication: &indication=slug.")
    indication = queries.indication_by_slug(session, indication_slug)
    if indication is None:
        raise ApiError(404, "not found", f"No indication is called {indication_slug!r}.")
    studies, published = findings_db.load(session, indication=indication_slug)
    result = findings.study_findings(
        studies,
        slugs=[t.slug for t in treatments],
        names={t.slug: t.name for t in treatments},
        indication=indication_slug,
        published=published,
    )
    blocks = result.pairs + result.indirect
    return {
        "treatments": [{"slug": t.slug, "name": t.name} for t in treatments],
        "indication": {"slug": indication.slug, "name": indication.name},
        "studies_extracted": result.studies,
        "unverified": result.unverified,
        "retracted_left_out": result.retracted,
        "results": [finding_json(f, block) for block in blocks for f in block.findings],
        "published": [
            published_json(p)
            for p in dict.fromkeys(
                [p for block in blocks for p in block.published]
                + [p for stated in result.published_pairs.values() for p in stated]
            )
        ],
    }
