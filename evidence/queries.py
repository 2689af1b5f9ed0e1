"""Read-side queries shared by pages, exports and the API (explicit session, plain data)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import distinct, false, func, or_
from sqlalchemy.sql import Select
from sqlmodel import Session, col, select

from evidence.literature import search
from evidence.literature.pmidorder import pmid_desc
from evidence.models import (
    Citation,
    CitationAbstractSection,
    CitationAuthor,
    CitationCoIntervention,
    CitationCorrection,
    CitationIdentifier,
    CitationKeyword,
    CitationLink,
    CitationMesh,
    CitationPublicationType,
    Indication,
    LinkStatus,
    OutcomeReport,
    RetractionStatus,
    Treatment,
)
from evidence.web.params import ArgParser

LEVEL_KEYS = ("1", "2", "3", "4", "5", "unrated")
# Link statuses, "any", or "unlinked": citations no treatment or indication claims yet.
STATUS_KEYS = (LinkStatus.INCLUDED, LinkStatus.CANDIDATE, LinkStatus.EXCLUDED, "any", "unlinked")
SORTS = ("relevance", "newest")  # a text search's orders; without text: newest first


@dataclass
class CitationFilter:
    """The filters of a citation table, as read from a query string."""

    treatment: str | None = None
    indication: str | None = None
    level: str | None = None  # "1".."5" or "unrated"
    year_from: int | None = None
    year_to: int | None = None
    pub_type: str | None = None
    q: str | None = None
    # Link status ("included", "candidate", "excluded", "any"), or "unlinked": citations
    # linked to no treatment and no indication (an import without --treatment leaves these).
    status: str | None = LinkStatus.INCLUDED
    retracted: str | None = None  # "only" / "exclude" / None
    sort: str | None = None  # with text: "relevance" (None) or "newest"

    # What the query string asked for that could not be used (evidence/web/params.py).
    ignored: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Any, **fixed: str | None) -> CitationFilter:
        """Build a filter from request args; unusable values are listed in `ignored`."""
        p = ArgParser(args)
        flt = cls(
            treatment=fixed.get("treatment", p.text("treatment", max_length=80)),
            indication=fixed.get("indication", p.text("indication", max_length=80)),
            level=p.choice("level", LEVEL_KEYS),
            year_from=p.integer("year_from", 1000, 9999),
            year_to=p.integer("year_to", 1000, 9999),
            pub_type=p.text("pub_type", max_length=200),
            q=p.text("q"),
            status=p.choice("status", STATUS_KEYS, default=LinkStatus.INCLUDED),
            retracted=p.choice("retracted", ("only", "exclude")),
            sort=p.choice("sort", SORTS),
        )
        return replace(flt, ignored=p.publish())

    def as_args(self, **override: Any) -> dict[str, Any]:
        """Return the non-empty filters as query-string arguments."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "ignored"}
        out.update(override)
        return {
            k: v
            for k, v in out.items()
            if v not in (None, "") and not (k == "status" and v == LinkStatus.INCLUDED)
        }


def citation_ids_query(flt: CitationFilter) -> Select[Any]:
    """Return a SELECT of distinct citation ids matching the filter."""
    stmt: Select[Any] = select(Citation.id).distinct()
    if flt.status == "unlinked":
        stmt = stmt.where(~col(Citation.id).in_(select(CitationLink.citation_id)))
    needs_link = flt.treatment or flt.indication or flt.status not in (None, "any", "unlinked")
    if needs_link:
        stmt = stmt.join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
        if flt.status not in (None, "any", "unlinked"):
            stmt = stmt.where(col(CitationLink.status) == flt.status)
        if flt.treatment:
            stmt = stmt.join(Treatment, col(Treatment.id) == col(CitationLink.treatment_id)).where(
                col(Treatment.slug) == flt.treatment
            )
        if flt.indication:
            stmt = stmt.join(
                Indication, col(Indication.id) == col(CitationLink.indication_id)
            ).where(col(Indication.slug) == flt.indication)
    if flt.level == "unrated":
        stmt = stmt.where(col(Citation.evidence_level).is_(None))
    elif flt.level:
        stmt = stmt.where(col(Citation.evidence_level) == int(flt.level))
    if flt.year_from is not None:
        stmt = stmt.where(col(Citation.year) >= flt.year_from)
    if flt.year_to is not None:
        stmt = stmt.where(col(Citation.year) <= flt.year_to)
    if flt.pub_type:
        sub = select(CitationPublicationType.citation_id).where(
            func.lower(CitationPublicationType.name) == flt.pub_type.lower()
        )
        stmt = stmt.where(col(Citation.id).in_(sub))
    if flt.q:
        stmt = stmt.where(text_condition(flt.q))
    if flt.retracted == "only":
        stmt = stmt.where(col(Citation.retraction_status) != RetractionStatus.NONE)
    elif flt.retracted == "exclude":
        stmt = stmt.where(col(Citation.retraction_status) == RetractionStatus.NONE)
    return stmt


def text_condition(q: str) -> Any:
    """Return the text filter: the full-text index's hits, or the PMID / DOI typed.

    Text that cannot be read as a search matches nothing (search.syntax_error says why).
    """
    try:
        node = search.parse(q)
    except search.SearchSyntaxError:
        return false()
    conditions: list[Any] = [search.SearchMatch(col(Citation.id), node)]
    if q.isdigit():
        conditions.append(col(Citation.pmid) == q)
    if q.startswith("10.") and "/" in q:
        conditions.append(func.lower(func.coalesce(Citation.doi, "")) == q.lower())
    return or_(*conditions) if len(conditions) > 1 else conditions[0]


def count_citations(session: Session, flt: CitationFilter) -> int:
    """Count the citations matching a filter."""
    if flt.q:
        search.refresh_pending(session.get_bind())
    sub = citation_ids_query(flt).subquery()
    return int(session.exec(select(func.count()).select_from(sub)).one())


def citation_rows(
    session: Session, flt: CitationFilter, *, offset: int = 0, limit: int = 25
) -> list[Citation]:
    """Return `limit` citations matching a filter from `offset` on: most relevant first for
    a text search (unless flt.sort is "newest"), else newest first."""
    ids = citation_ids_query(flt).subquery()
    newest = (col(Citation.year).desc().nulls_last(), *pmid_desc())
    stmt = select(Citation).where(col(Citation.id).in_(select(ids.c.id)))
    node = _ranked_node(flt)
    if node is not None:
        hits = search.ranked_hits(session.get_bind().dialect.name, node)
        # Outer join: a PMID or DOI typed matches without being a text hit.
        stmt = stmt.outerjoin(hits, hits.c.id == col(Citation.id)).order_by(
            hits.c.rank.is_(None), hits.c.rank, *newest
        )
    else:
        stmt = stmt.order_by(*newest)
    return list(session.exec(stmt.offset(offset).limit(limit)))


def _ranked_node(flt: CitationFilter) -> search.Node | None:
    """Return the query tree to rank by, or None when the table is ordered newest first."""
    if not flt.q or flt.sort == "newest":
        return None
    try:
        return search.parse(flt.q)
    except search.SearchSyntaxError:
        return None


def authors_by_citation(session: Session, ids: list[int]) -> dict[int, list[CitationAuthor]]:
    """Return each citation's authors in byline order."""
    out: dict[int, list[CitationAuthor]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(CitationAuthor)
        .where(col(CitationAuthor.citation_id).in_(ids))
        .order_by(col(CitationAuthor.citation_id), col(CitationAuthor.position))
    )
    for author in session.exec(stmt):
        out[author.citation_id].append(author)
    return out


def pub_types_by_citation(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """Return each citation's publication types in record order."""
    out: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(CitationPublicationType)
        .where(col(CitationPublicationType.citation_id).in_(ids))
        .order_by(col(CitationPublicationType.citation_id), col(CitationPublicationType.position))
    )
    for ptype in session.exec(stmt):
        out[ptype.citation_id].append(ptype.name)
    return out


def author_label(author: CitationAuthor) -> str:
    """Format an author the way PubMed's summaries do: 'Last FM' or the collective name."""
    if author.collective_name:
        return author.collective_name
    return " ".join(p for p in (author.last_name, author.initials, author.suffix) if p)


def publication_type_names(session: Session) -> list[str]:
    """Return every publication type present, for the filter's choices."""
    stmt = (
        select(CitationPublicationType.name).distinct().order_by(col(CitationPublicationType.name))
    )
    return list(session.exec(stmt))


def level_counts(
    session: Session, *, treatment_id: int | None = None, indication_id: int | None = None
) -> dict[str, int]:
    """Count included citations by evidence level ('unrated' for None), each citation once."""
    stmt = (
        select(Citation.evidence_level, func.count(distinct(col(Citation.id))))
        .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
        .where(CitationLink.status == LinkStatus.INCLUDED)
    )
    if treatment_id is not None:
        stmt = stmt.where(CitationLink.treatment_id == treatment_id)
    if indication_id is not None:
        stmt = stmt.where(CitationLink.indication_id == indication_id)
    stmt = stmt.group_by(col(Citation.evidence_level))
    counts = dict.fromkeys(LEVEL_KEYS, 0)
    for level, n in session.exec(stmt):
        counts[str(level) if level else "unrated"] += int(n)
    return counts


def retracted_count(session: Session, *, treatment_id: int) -> int:
    """Count linked citations flagged as retracted or under an expression of concern."""
    stmt = (
        select(func.count(distinct(col(Citation.id))))
        .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
        .where(
            col(CitationLink.status) == LinkStatus.INCLUDED,
            col(CitationLink.treatment_id) == treatment_id,
            col(Citation.retraction_status) != RetractionStatus.NONE,
        )
    )
    return int(session.exec(stmt).one())


def report_counts(session: Session) -> Counter[int]:
    """Count visible outcome reports per treatment id."""
    stmt = (
        select(OutcomeReport.treatment_id, func.count())
        .where(col(OutcomeReport.hidden).is_(False))
        .group_by(col(OutcomeReport.treatment_id))
    )
    return Counter({tid: int(n) for tid, n in session.exec(stmt)})


def treatments(session: Session) -> list[Treatment]:
    """Return the catalogue's treatments in catalogue order."""
    return list(session.exec(select(Treatment).order_by(col(Treatment.position))))


def indications(session: Session) -> list[Indication]:
    """Return all indications, catalogue ones first."""
    return list(
        session.exec(
            select(Indication).order_by(
                col(Indication.in_catalogue).desc(), col(Indication.position)
            )
        )
    )


def treatment_by_slug(session: Session, slug: str) -> Treatment | None:
    """Return a treatment by its slug."""
    return session.exec(select(Treatment).where(Treatment.slug == slug)).first()


def indication_by_slug(session: Session, slug: str) -> Indication | None:
    """Return an indication by its slug."""
    return session.exec(select(Indication).where(Indication.slug == slug)).first()


@dataclass
class TreatmentSummary:
    """A treatment with its citation counts by level and its number of reports."""

    treatment: Treatment
    levels: dict[str, int]
    citations: int
    reports: int
    retracted: int


def treatment_summaries(session: Session) -> list[TreatmentSummary]:
    """Return every treatment with counts for the home page."""
    reports = report_counts(session)
    out = []
    for treatment in treatments(session):
        assert treatment.id is not None
        levels = level_counts(session, treatment_id=treatment.id)
        total = count_citations(session, CitationFilter(treatment=treatment.slug))
        out.append(
            TreatmentSummary(
                treatment,
                levels,
                total,
                reports[treatment.id],
                retracted_count(session, treatment_id=treatment.id),
            )
        )
    return out


@dataclass
class LinkView:
    """A citation's link, with names resolved."""

    treatment: Treatment | None
    indication: Indication | None
    link: CitationLink


@dataclass
class CitationDetail:
    """Everything the citation page shows."""

    citation: Citation
    authors: list[CitationAuthor]
    sections: list[CitationAbstractSection]
    publication_types: list[CitationPublicationType]
    mesh: list[CitationMesh]
    keywords: list[CitationKeyword]
    identifiers: list[CitationIdentifier]
    corrections: list[CitationCorrection]
    cointerventions: list[str]
    links: list[LinkView] = field(default_factory=list)


def citation_detail(session: Session, pmid: str) -> CitationDetail | None:
    """Return the full record of one citation by PMID."""
    citation = session.exec(select(Citation).where(Citation.pmid == pmid)).first()
    if citation is None or citation.id is None:
        return None
    cid = citation.id

    def rows(model: Any, order: Any = None) -> list[Any]:
        stmt = select(model).where(model.citation_id == cid)
        if order is not None:
            stmt = stmt.order_by(order)
        return list(session.exec(stmt))

    links = []
    for link in rows(CitationLink):
        treatment = session.get(Treatment, link.treatment_id) if link.treatment_id else None
        indication = session.get(Indication, link.indication_id) if link.indication_id else None
        links.append(LinkView(treatment, indication, link))
    return CitationDetail(
        citation=citation,
        authors=rows(CitationAuthor, col(CitationAuthor.position)),
        sections=rows(CitationAbstractSection, col(CitationAbstractSection.position)),
        publication_types=rows(CitationPublicationType, col(CitationPublicationType.position)),
        mesh=rows(CitationMesh, col(CitationMesh.position)),
        keywords=rows(CitationKeyword, col(CitationKeyword.position)),
        identifiers=rows(CitationIdentifier),
        corrections=rows(CitationCorrection),
        cointerventions=[c.name for c in rows(CitationCoIntervention)],
        links=links,
    )


def visible_reports(
    session: Session, *, treatment_id: int | None = None, indication_id: int | None = None
) -> list[OutcomeReport]:
    """Return the visible outcome reports, newest first."""
    stmt = select(OutcomeReport).where(col(OutcomeReport.hidden).is_(False))
    if treatment_id is not None:
        stmt = stmt.where(OutcomeReport.treatment_id == treatment_id)
    if indication_id is not None:
        stmt = stmt.where(OutcomeReport.indication_id == indication_id)
    return list(
        session.exec(
            stmt.order_by(col(OutcomeReport.created_at).desc(), col(OutcomeReport.id).desc())
        )
    )


@dataclass
class NameMaps:
    """Treatment and indication names by id, for templates listing reports."""

    treatments: dict[int, Treatment]
    indications: dict[int, Indication]


def name_maps(session: Session) -> NameMaps:
    """Return treatments and indications keyed by id."""
    return NameMaps(
        treatments={t.id: t for t in treatments(session) if t.id is not None},
        indications={i.id: i for i in indications(session) if i.id is not None},
    )


def adverse_events_by_report(session: Session, ids: list[int]) -> dict[int, list[Any]]:
    """Return each report's adverse events."""
    from evidence.models import OutcomeAdverseEvent

    out: dict[int, list[Any]] = defaultdict(list)
    if not ids:
        return out
    stmt = select(OutcomeAdverseEvent).where(col(OutcomeAdverseEvent.report_id).in_(ids))
    for event in session.exec(stmt):
        out[event.report_id].append(event)
    return out


def unknown_slug_message(session: Session, what: str, slug: str) -> str:
    """Say that no treatment/indication has this slug, and what to type instead."""
    model: Any = Treatment if what == "treatment" else Indication
    slugs = list(session.exec(select(model.slug).order_by(model.position)))
    if not slugs:
        return (
            f"no {what} {slug!r}: the catalogue is empty; run `evidence db upgrade` "
            "(or `evidence snapshot load`) to add the treatments and indications"
        )
    return f"no {what} {slug!r}; known: {', '.join(slugs)}"
