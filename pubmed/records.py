"""Plain records produced by the parsers: no XML, no database, no Flask."""

from __future__ import annotations

from dataclasses import dataclass, field

# CommentsCorrections reference types that put a warning on the citation they sit in.
RETRACTION_REF_TYPES = frozenset({"RetractionIn"})
CONCERN_REF_TYPES = frozenset({"ExpressionOfConcernIn"})
RETRACTION_PUBLICATION_TYPES = frozenset({"Retracted Publication"})
CONCERN_PUBLICATION_TYPES = frozenset({"Expression of Concern"})
NOTICE_PUBLICATION_TYPES = frozenset({"Retraction of Publication"})


@dataclass(slots=True)
class Author:
    """One entry of an author list: a person or a collective (group) name."""

    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    suffix: str | None = None
    collective_name: str | None = None
    affiliations: list[str] = field(default_factory=list)
    orcid: str | None = None

    @property
    def display_name(self) -> str:
        """Return 'Last FM' for a person, the group name for a collective."""
        if self.collective_name:
            return self.collective_name
        parts = [p for p in (self.last_name, self.initials or self.fore_name) if p]
        return " ".join(parts)


@dataclass(slots=True)
class AbstractSection:
    """One paragraph of an abstract; structured abstracts carry a label and NLM category."""

    text: str
    label: str | None = None
    nlm_category: str | None = None


@dataclass(slots=True)
class MeshQualifier:
    """A MeSH qualifier (subheading) attached to a descriptor."""

    name: str
    ui: str | None = None
    major_topic: bool = False


@dataclass(slots=True)
class MeshHeading:
    """A MeSH descriptor with its major-topic flag and qualifiers."""

    descriptor: str
    ui: str | None = None
    major_topic: bool = False
    qualifiers: list[MeshQualifier] = field(default_factory=list)

    @property
    def is_major(self) -> bool:
        """True when the descriptor or any of its qualifiers is a major topic."""
        return self.major_topic or any(q.major_topic for q in self.qualifiers)


@dataclass(slots=True)
class CommentCorrection:
    """A CommentsCorrections link: RetractionIn, ErratumIn, CommentOn, ..."""

    ref_type: str
    pmid: int | None = None
    ref_source: str | None = None
    note: str | None = None


@dataclass(slots=True)
class PubDate:
    """A publication date as PubMed gives it: full, partial, seasonal or free text."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    season: str | None = None
    medline_date: str | None = None

    @property
    def text(self) -> str:
        """Return the date as a reader would write it: '2018 Apr 17', '1990 Spring'."""
        if self.medline_date:
            return self.medline_date
        parts: list[str] = []
        if self.year is not None:
            parts.append(str(self.year))
        if self.month is not None:
            parts.append(_MONTH_NAMES[self.month - 1])
            if self.day is not None:
                parts.append(str(self.day))
        elif self.season:
            parts.append(self.season)
        return " ".join(parts)


_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(slots=True)
class PubmedRecord:
    """Everything the data model keeps about one PubMed citation."""

    pmid: int
    title: str = ""
    kind: str = "article"  # "article" or "book"
    abstract_sections: list[AbstractSection] = field(default_factory=list)
    journal_title: str | None = None
    journal_iso: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pub_date: PubDate = field(default_factory=PubDate)
    doi: str | None = None
    pmcid: str | None = None
    languages: list[str] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    mesh_headings: list[MeshHeading] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    comments_corrections: list[CommentCorrection] = field(default_factory=list)
    status: str | None = None  # MedlineCitation/@Status, e.g. "MEDLINE", "In-Data-Review"
    date_revised: str | None = None

    @property
    def year(self) -> int | None:
        """Return the publication year when PubMed gives one."""
        return self.pub_date.year

    @property
    def language(self) -> str | None:
        """Return the first language code (PubMed lists the primary one first)."""
        return self.languages[0] if self.languages else None

    @property
    def abstract(self) -> str:
        """Return the abstract as text, each structured section prefixed by its label."""
        paragraphs = []
        for section in self.abstract_sections:
            if section.label:
                paragraphs.append(f"{section.label}: {section.text}")
            else:
                paragraphs.append(section.text)
        return "\n\n".join(paragraphs)

    def links_of(self, *ref_types: str) -> list[CommentCorrection]:
        """Return the CommentsCorrections entries of the given reference types."""
        return [c for c in self.comments_corrections if c.ref_type in ref_types]

    @property
    def is_retracted(self) -> bool:
        """True when a retraction notice points at this record (errata do not count)."""
        return bool(self.links_of(*RETRACTION_REF_TYPES)) or bool(
            RETRACTION_PUBLICATION_TYPES.intersection(self.publication_types)
        )

    @property
    def has_expression_of_concern(self) -> bool:
        """True when an expression of concern has been published about this record."""
        return bool(self.links_of(*CONCERN_REF_TYPES)) or bool(
            CONCERN_PUBLICATION_TYPES.intersection(self.publication_types)
        )

    @property
    def is_retraction_notice(self) -> bool:
        """True when the record is itself a retraction notice about another paper."""
        return bool(NOTICE_PUBLICATION_TYPES.intersection(self.publication_types))

    @property
    def retraction_status(self) -> str:
        """Return 'retracted', 'concern', 'notice' or 'none' (strongest warning first)."""
        if self.is_retracted:
            return "retracted"
        if self.has_expression_of_concern:
            return "concern"
        if self.is_retraction_notice:
            return "notice"
        return "none"


@dataclass(slots=True)
class DeletedCitation:
    """PMIDs that PubMed withdrew (a DeleteCitation block in an update file)."""

    pmids: list[int] = field(default_factory=list)


@dataclass(slots=True)
class SearchResult:
    """The useful part of an esearch answer."""

    count: int
    ids: list[int] = field(default_factory=list)
    webenv: str | None = None
    query_key: str | None = None
    retstart: int = 0
    query_translation: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
