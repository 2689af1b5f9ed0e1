"""The paginated, filterable tables that several pages embed: citations and outcome reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from evidence import queries
from evidence.literature import search
from evidence.models import Citation, CitationAuthor, Indication, OutcomeReport, Role, Treatment
from evidence.practice import outcomes
from evidence.practice import reports as report_data
from evidence.web.auth import has_role
from evidence.web.pager import Pager

PER_PAGE = 25
REPORTS_PER_PAGE = 25
PANEL_PREFIX = "rep_"  # filter names on treatment pages, apart from the citation filters


@dataclass
class CitationTable:
    """One page of a filtered citation table, with what the filter form needs."""

    flt: queries.CitationFilter
    rows: list[Citation]
    authors: dict[int, list[CitationAuthor]]
    pub_types: dict[int, list[str]]
    pager: Pager
    treatments: list[Treatment]
    indications: list[Indication]
    pub_type_choices: list[str]
    search_error: str | None = None  # why the text could not be read as a search

    @property
    def total(self) -> int:
        """The number of citations matching the filter, on every page."""
        return self.pager.total


def citation_table(session: Session, flt: queries.CitationFilter, args: Any) -> CitationTable:
    """Build one page of the citation table for a filter and the request's page number."""
    pager = Pager.from_args(args, queries.count_citations(session, flt), per_page=PER_PAGE)
    rows = queries.citation_rows(session, flt, offset=pager.offset, limit=pager.per_page)
    ids = [c.id for c in rows if c.id is not None]
    return CitationTable(
        flt=flt,
        rows=rows,
        authors=queries.authors_by_citation(session, ids),
        pub_types=queries.pub_types_by_citation(session, ids),
        pager=pager,
        treatments=queries.treatments(session),
        indications=queries.indications(session),
        pub_type_choices=queries.publication_type_names(session),
        search_error=search.syntax_error(flt.q),
    )


@dataclass
class ReportList:
    """One page of filtered outcome reports, with the names and events their cards show."""

    flt: report_data.ReportFilter
    rows: list[OutcomeReport]
    pager: Pager
    names: queries.NameMaps
    events: dict[int, list[Any]]


def report_list(
    session: Session, flt: report_data.ReportFilter, args: Any, *, prefix: str = ""
) -> ReportList:
    """Build one page of the reports matching a filter, for the request's page number."""
    total = report_data.count_reports(session, flt)
    pager = Pager.from_args(args, total, per_page=REPORTS_PER_PAGE, param=prefix + "page")
    rows = report_data.list_reports(session, flt, offset=pager.offset, limit=pager.per_page)
    return ReportList(
        flt=flt,
        rows=rows,
        pager=pager,
        names=queries.name_maps(session),
        events=queries.adverse_events_by_report(session, [r.id for r in rows if r.id]),
    )


@dataclass
class ReportPanel:
    """The reports section of a treatment page: statistics, filters and one page of reports."""

    treatment: Treatment
    prefix: str
    stats: outcomes.TreatmentStatistics
    reports: ReportList
    indications: list[Indication]
    hidden_count: int  # shown to curators only (0 for everyone else)


def report_panel(session: Session, *, treatment: Treatment, args: Any) -> ReportPanel:
    """Compute a treatment's report statistics and its filtered, paged report list."""
    assert treatment.id is not None
    curator = has_role(Role.CURATOR)
    flt = report_data.ReportFilter.from_args(
        args, prefix=PANEL_PREFIX, may_see_hidden=curator, treatment=treatment.slug
    )
    indications = queries.indications(session)
    return ReportPanel(
        treatment=treatment,
        prefix=PANEL_PREFIX,
        stats=outcomes.treatment_statistics(
            session, treatment=treatment.slug, indications=indications
        ),
        reports=report_list(session, flt, args, prefix=PANEL_PREFIX),
        indications=indications,
        hidden_count=report_data.count_hidden(session, treatment_id=treatment.id) if curator else 0,
    )
