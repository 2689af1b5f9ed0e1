"""Jinja filters and globals shared by all templates."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, request, url_for

from evidence.literature.levels import LEVEL_LABELS, grade_label
from evidence.models import ADVERSE_EVENT_LABELS


def pubmed_url(pmid: str) -> str:
    """Return the PubMed page of a PMID."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(str(pmid))}/"


def doi_url(doi: str) -> str:
    """Return the resolver address of a DOI."""
    return f"https://doi.org/{quote(doi, safe='/:;()._-')}"


def pmc_url(pmcid: str) -> str:
    """Return the PubMed Central page of a PMCID."""
    return f"https://www.ncbi.nlm.nih.gov/pmc/articles/{quote(pmcid)}/"


def level_label(level: int | str | None) -> str:
    """Return the short label of an evidence level."""
    if level in (None, "", "unrated"):
        return "Not rated"
    return f"Level {level}: {LEVEL_LABELS.get(int(level), '')}"


def url_with(**changes: Any) -> str:
    """Return the current URL with some query arguments replaced (None removes one)."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value in (None, ""):
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    return url_for(request.endpoint or "main.home", **(request.view_args or {}), **args)


def endpoint_exists(name: str) -> bool:
    """Return True when a route with this endpoint name is registered."""
    return name in current_app.view_functions


def init_app(app: Flask) -> None:
    """Register the filters and globals."""
    app.jinja_env.filters.update(
        pubmed_url=pubmed_url,
        doi_url=doi_url,
        pmc_url=pmc_url,
        level_label=level_label,
        adverse_label=lambda key: ADVERSE_EVENT_LABELS.get(key, key),
    )
    app.jinja_env.globals.update(
        url_with=url_with,
        endpoint_exists=endpoint_exists,
        LEVEL_LABELS=LEVEL_LABELS,
        grade_label=grade_label,
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
