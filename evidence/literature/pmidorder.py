"""PMIDs are stored as text but ordered as the numbers they are ('9999999' < '10000000')."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col

from evidence.models import Citation


def pmid_key(pmid: str) -> tuple[int, str]:
    """Return a sort key that orders digit-only PMIDs numerically (shorter is smaller)."""
    text = pmid.strip()
    return (len(text), text)


def pmid_desc() -> tuple[Any, Any]:
    """Return ORDER BY terms putting the highest PMID first on SQLite and PostgreSQL alike."""
    # PMIDs have no leading zeros, so length then text is numeric order without a cast
    # (a cast would fail on PostgreSQL for any stray non-digit value).
    return func.length(col(Citation.pmid)).desc(), col(Citation.pmid).desc()
