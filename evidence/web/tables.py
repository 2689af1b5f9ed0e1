"""The paginated, filterable citation table that several pages embed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from evidence import queries
from evidence.literature import search
from evidence.models import Citation, CitationAuthor, Indication, Treatment

PER_PAGE = 25


@dataclass
class CitationTable:
    """One page of a filtered citation table, with what the filter form needs."""

    flt: queries.CitationFilter
    rows: list[Citation]
    authors: dict[int, list[CitationAuthor]]
    pub_types: dict[int, list[str]]
    total: int
    page: int
    pages: int
    treatments: list[Treatment]
    indications: list[Indication]
    pub_type_choices: list[str]
    search_error: str | None = None  # why the text could not be read as a search


def citation_table(session: Session, flt: queries.CitationFilter, args: Any) -> CitationTable:
    """Build one page of the citation table for a filter and the request's page number."""
    raw_page = str(args.get("page", "1"))
    total = queries.count_citations(session, flt)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(int(raw_page) if raw_page.isdigit() else 1, 1), pages)
    rows = queries.citation_rows(session, flt, page=page, per_page=PER_PAGE)
    ids = [c.id for c in rows if c.id is not None]
    return CitationTable(
        flt=flt,
        rows=rows,
        authors=queries.authors_by_citation(session, ids),
        pub_types=queries.pub_types_by_citation(session, ids),
        total=total,
        page=page,
        pages=pages,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        pub_type_choices=queries.publication_type_names(session),
        search_error=search.syntax_error(flt.q),
    )
