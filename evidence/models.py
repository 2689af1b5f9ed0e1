"""All tables in one module (SQLModel's advice: avoids circular imports between tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel, col

# Fixed vocabularies are StrEnums stored as short strings (portable on SQLite and PostgreSQL;
# no native ENUM types to migrate): the columns stay `str`, a member equals its stored value
# ("included" == LinkStatus.INCLUDED), and code names the members, never the bare strings.
# The tuples beside some of them hold the plain values, for choices and documents (click
# matches Enum choices by member name, so they are never handed the members themselves).


class Role(StrEnum):
    """Account roles, cumulative in this order (evidence/roles.py)."""

    VIEWER = "viewer"
    PRACTITIONER = "practitioner"
    CURATOR = "curator"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)


class LinkStatus(StrEnum):
    """A citation link's screening state."""

    CANDIDATE = "candidate"
    INCLUDED = "included"
    EXCLUDED = "excluded"


LINK_STATUSES = tuple(s.value for s in LinkStatus)


class CitationSource(StrEnum):
    """Where a citation record came from."""

    SNAPSHOT = "snapshot"
    ENTREZ = "entrez"
    IMPORT = "import"


class RetractionStatus(StrEnum):
    """A citation's retraction flag (PubMed publication types, Retraction Watch notices)."""

    NONE = "none"
    RETRACTED = "retracted"
    EXPRESSION_OF_CONCERN = "expression-of-concern"
    RETRACTION_NOTICE = "retraction-notice"


RETRACTION_STATUSES = tuple(s.value for s in RetractionStatus)


class JobKind(StrEnum):
    """What a background job does."""

    SEARCH = "search"
    IMPORT = "import"
    REFRESH = "refresh"


class JobState(StrEnum):
    """A background job's state; DONE and FAILED are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


JOB_FINAL_STATES = (JobState.DONE, JobState.FAILED)


class SearchSchedule(StrEnum):
    """How often the periodic task runs a saved search (evidence/literature/living.py)."""

    OFF = "off"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


SEARCH_SCHEDULES = tuple(s.value for s in SearchSchedule)


class RevisionAction(StrEnum):
    """What one outcome-report revision did."""

    CREATE = "create"
    EDIT = "edit"
    HIDE = "hide"
    UNHIDE = "unhide"


ADVERSE_EVENTS = (
    ("erythema-7d", "Erythema > 7 days"),
    ("pih", "Post-inflammatory hyperpigmentation (PIH)"),
    ("hypopigmentation", "Hypopigmentation"),
    ("infection", "Infection"),
    ("herpes", "Herpes reactivation"),
    ("acneiform", "Acneiform eruption"),
    ("scarring", "Scarring"),
    ("bruising", "Hematoma / bruising"),
    ("other", "Other"),
)
ADVERSE_EVENT_LABELS = dict(ADVERSE_EVENTS)
IMPROVEMENT_SCALE = (
    (0, "0: none"),
    (1, "1: up to 25%"),
    (2, "2: 26-50%"),
    (3, "3: 51-75%"),
    (4, "4: over 75%"),
)
GOODMAN_BARON_SCALE = ((1, "1: macular"), (2, "2: mild"), (3, "3: moderate"), (4, "4: severe"))
GAIS_SCALE = (
    (1, "1: exceptional improvement"),
    (2, "2: very improved"),
    (3, "3: improved"),
    (4, "4: no change"),
    (5, "5: worse"),
)
# Goodman-Baron grades acne scars only: the one indication the grade is offered for.
GOODMAN_BARON_INDICATION = "acne-scars"
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def utcnow() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


# --- catalogue -------------------------------------------------------------


class Treatment(SQLModel, table=True):
    """A treatment modality, e.g. microneedling or fractional CO2 laser."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=200)
    category: str = Field(max_length=60)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    default_query: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    synonyms: str = Field(default="", max_length=500)
    position: int = 0


class Indication(SQLModel, table=True):
    """A condition treated, e.g. atrophic acne scars or melasma."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=200)
    mesh_heading: str = Field(default="", max_length=200)
    # False for indications that only appear in the data (e.g. acne vulgaris): shown as "other".
    in_catalogue: bool = True
    position: int = 0


# --- citations ---------------------------------------------------------------


class Citation(SQLModel, table=True):
    """One PubMed record, as complete as its source allowed."""

    __table_args__ = (Index("ix_citation_year_first_author_key", "year", "first_author_key"),)

    id: int | None = Field(default=None, primary_key=True)
    pmid: str = Field(max_length=20, unique=True, index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    abstract: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    journal: str | None = Field(default=None, max_length=500)
    journal_abbrev: str | None = Field(default=None, max_length=200)
    year: int | None = Field(default=None, index=True)
    pub_date: str | None = Field(default=None, max_length=80)
    volume: str | None = Field(default=None, max_length=40)
    issue: str | None = Field(default=None, max_length=40)
    pages: str | None = Field(default=None, max_length=80)
    doi: str | None = Field(default=None, max_length=200, index=True)
    pmcid: str | None = Field(default=None, max_length=40, index=True)
    language: str | None = Field(default=None, max_length=40)
    evidence_level: int | None = Field(default=None, index=True)
    evidence_rule: str = Field(default="", max_length=500)
    retraction_status: str = Field(default=RetractionStatus.NONE, max_length=40, index=True)
    source: str = Field(default=CitationSource.SNAPSHOT, max_length=20)  # CitationSource
    source_detail: str | None = Field(default=None, max_length=500)
    # True once the full record came from PubMed (efetch or an XML/MEDLINE import).
    complete: bool = False
    # Fingerprint of the PubMed record last stored (pubmed -> evidence.literature.ingest); NULL if
    # none.
    record_hash: str | None = Field(default=None, max_length=64)
    # The first author's name as the near-duplicate check compares it (0014_import_keys;
    # "" when there is no author, NULL when not computed: the check reads the author then).
    first_author_key: str | None = Field(default=None, max_length=300)
    fetched_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class CitationAuthor(SQLModel, table=True):
    """An author of a citation, in byline order; collective authors have only a name."""

    __tablename__ = "citation_author"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    position: int
    last_name: str | None = Field(default=None, max_length=200)
    fore_name: str | None = Field(default=None, max_length=200)
    initials: str | None = Field(default=None, max_length=20)
    suffix: str | None = Field(default=None, max_length=20)
    collective_name: str | None = Field(default=None, max_length=500)
    affiliation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CitationAbstractSection(SQLModel, table=True):
    """A section of a (possibly structured) abstract, with its label."""

    __tablename__ = "citation_abstract_section"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    position: int
    label: str | None = Field(default=None, max_length=200)
    nlm_category: str | None = Field(default=None, max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))


class CitationPublicationType(SQLModel, table=True):
    """A PubMed publication type of a citation."""

    __tablename__ = "citation_publication_type"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    position: int
    name: str = Field(max_length=200, index=True)
    ui: str | None = Field(default=None, max_length=20)


class CitationMesh(SQLModel, table=True):
    """A MeSH heading of a citation; qualifiers are '; '-joined, a trailing '*' marks major."""

    __tablename__ = "citation_mesh"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    position: int
    descriptor: str = Field(max_length=300)
    descriptor_ui: str | None = Field(default=None, max_length=20)
    major: bool = False
    qualifiers: str = Field(default="", max_length=1000)


class CitationKeyword(SQLModel, table=True):
    """An author keyword of a citation."""

    __tablename__ = "citation_keyword"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    position: int
    keyword: str = Field(max_length=500)
    major: bool = False


class CitationIdentifier(SQLModel, table=True):
    """Any article identifier beyond PMID (doi, pmc, pii, mid ...)."""

    __tablename__ = "citation_identifier"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    id_type: str = Field(max_length=20)
    value: str = Field(max_length=300)


class CitationCorrection(SQLModel, table=True):
    """A CommentsCorrections entry: RetractionIn, ErratumIn, ExpressionOfConcernIn ..."""

    __tablename__ = "citation_correction"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    ref_type: str = Field(max_length=60)
    ref_pmid: str | None = Field(default=None, max_length=20, index=True)
    ref_source: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CitationCoIntervention(SQLModel, table=True):
    """A co-intervention studied with the linked treatment (PRP, minoxidil, tranexamic acid ...)."""

    __tablename__ = "citation_cointervention"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)


class CitationLink(SQLModel, table=True):
    """A citation's link to a treatment (and optionally an indication), with its screening state."""

    __tablename__ = "citation_link"
    __table_args__ = (
        UniqueConstraint("citation_id", "treatment_key", "indication_key", name="uq_link"),
        Index("ix_link_treatment_indication", "treatment_id", "indication_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    # None for a citation about an indication in general (e.g. lasers for burn scars).
    treatment_id: int | None = Field(default=None, foreign_key="treatment.id", index=True)
    indication_id: int | None = Field(default=None, foreign_key="indication.id")
    # 0 when there is no treatment / indication: NULLs are distinct in unique constraints.
    treatment_key: int = 0
    indication_key: int = 0
    status: str = Field(default=LinkStatus.INCLUDED, max_length=20, index=True)  # LinkStatus
    exclusion_reason: str | None = Field(default=None, max_length=500)
    found_by: str = Field(default="snapshot", max_length=200)
    saved_search_id: int | None = Field(default=None, foreign_key="saved_search.id")
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)

    @staticmethod
    def keys_for(treatment_id: int | None, indication_id: int | None) -> tuple[int, int]:
        """The (treatment_key, indication_key) a link stores: 0 stands for "none"."""
        return (treatment_id or 0, indication_id or 0)

    @classmethod
    def for_pair(
        cls, citation_id: int, treatment_id: int | None, indication_id: int | None, **fields: Any
    ) -> CitationLink:
        """A new link of a citation to a treatment and/or indication, its keys filled in."""
        tkey, ikey = cls.keys_for(treatment_id, indication_id)
        return cls(
            citation_id=citation_id,
            treatment_id=treatment_id,
            indication_id=indication_id,
            treatment_key=tkey,
            indication_key=ikey,
            **fields,
        )

    @classmethod
    def in_cell(cls) -> list[Any]:
        """SQL conditions: the link names both a treatment and an indication (a map cell)."""
        return [col(cls.treatment_id).is_not(None), col(cls.indication_id).is_not(None)]


# --- searches and jobs -----------------------------------------------------------


class SavedSearch(SQLModel, table=True):
    """A PubMed query attached to a treatment (and optionally an indication)."""

    __tablename__ = "saved_search"
    id: int | None = Field(default=None, primary_key=True)
    treatment_id: int = Field(foreign_key="treatment.id", index=True)
    indication_id: int | None = Field(default=None, foreign_key="indication.id")
    query: str = Field(sa_column=Column(Text, nullable=False))
    is_default: bool = False
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_run_at: datetime | None = None
    last_hit_count: int | None = None
    new_since_last_run: int | None = None
    # Living evidence (evidence/literature/living.py): off, weekly or monthly runs by the periodic
    # task.
    schedule: str = Field(default=SearchSchedule.OFF, max_length=20)  # SearchSchedule


class FetchJob(SQLModel, table=True):
    """A background fetch, import or refresh, with enough state to show progress and resume."""

    __tablename__ = "fetch_job"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # JobKind
    saved_search_id: int | None = Field(default=None, foreign_key="saved_search.id")
    params: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    state: str = Field(default=JobState.QUEUED, max_length=20, index=True)  # JobState
    total: int | None = None
    done: int = 0
    added: int = 0
    updated: int = 0
    errors: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 0
    # Resume state: esearch history, or the id list, and how far the fetch got.
    webenv: str | None = Field(default=None, max_length=500)
    query_key: str | None = Field(default=None, max_length=20)
    resume: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    finished_at: datetime | None = None
    # The runner's lease (evidence/jobs.py): who runs it (host:pid) and until when, and how
    # many runners died holding it (a job that keeps killing its worker is given up).
    runner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = None
    deaths: int = 0


# --- people and reports ------------------------------------------------------------------


class User(SQLModel, table=True):
    """An account. Roles: viewer, practitioner, curator, admin."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=500)
    role: str = Field(default=Role.VIEWER, max_length=20)  # Role
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # Bumped at log-out; sessions carry it, so a cookie from before log-out is refused.
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class ApiToken(SQLModel, table=True):
    """A revocable API token; only its hash is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(default="", max_length=200)
    token_hash: str = Field(max_length=128, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class OutcomeReport(SQLModel, table=True):
    """A de-identified practitioner outcome report, or one quoted from a cited source.

    By construction there is no field for a patient's name, date of birth, contact,
    record number or photograph.
    """

    __tablename__ = "outcome_report"
    id: int | None = Field(default=None, primary_key=True)
    treatment_id: int = Field(foreign_key="treatment.id", index=True)
    indication_id: int | None = Field(default=None, foreign_key="indication.id", index=True)
    indication_detail: str | None = Field(default=None, max_length=500)
    reporter_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    # Reports quoted from a cited source (e.g. the seed forum thread) carry these instead.
    source_key: str | None = Field(default=None, max_length=100, unique=True)
    source_title: str | None = Field(default=None, max_length=500)
    source_site: str | None = Field(default=None, max_length=200)
    source_ref: str | None = Field(default=None, max_length=500)
    source_commenter: str | None = Field(default=None, max_length=200)
    source_role: str | None = Field(default=None, max_length=200)
    source_quote: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    source_mapping: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sessions: int | None = None
    interval_weeks: float | None = None
    fitzpatrick: int | None = Field(default=None, index=True)
    age_band: str | None = Field(default=None, max_length=20)
    device: str | None = Field(default=None, max_length=200)
    needle_depth_mm: float | None = None
    energy: str | None = Field(default=None, max_length=100)
    passes: int | None = None
    settings: str | None = Field(default=None, max_length=500)
    improvement: int | None = None
    satisfaction: int | None = None
    adverse_other: str | None = Field(default=None, max_length=500)
    downtime_days: float | None = None
    cost_per_session: float | None = None
    cost_per_course: float | None = None
    currency: str | None = Field(default=None, max_length=3)
    cost_note: str | None = Field(default=None, max_length=500)
    follow_up_months: float | None = None
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    protocol_pmid: str | None = Field(default=None, max_length=20)
    hidden: bool = Field(default=False, index=True)
    hidden_reason: str | None = Field(default=None, max_length=500)
    hidden_by_id: int | None = Field(default=None, foreign_key="user.id")
    hidden_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    # Optimistic lock: an edit names the version it started from; a stale one is refused.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    # Validated scales (migration 0011): Goodman-Baron qualitative grade 1-4 before and
    # after (acne scars only) and GAIS 1-5 (lower is better); older reports leave them empty.
    goodman_baron_before: int | None = None
    goodman_baron_after: int | None = None
    gais: int | None = None


class OutcomeAdverseEvent(SQLModel, table=True):
    """One adverse event of a report, from the fixed vocabulary (ADVERSE_EVENTS)."""

    __tablename__ = "outcome_adverse_event"
    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="outcome_report.id", index=True, ondelete="CASCADE")
    event: str = Field(max_length=40, index=True)
    detail: str | None = Field(default=None, max_length=500)


class OutcomeReportRevision(SQLModel, table=True):
    """One edit of a report: who, when, and what changed (JSON of field: [old, new])."""

    __tablename__ = "outcome_report_revision"
    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="outcome_report.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    changed_at: datetime = Field(default_factory=utcnow)
    action: str = Field(default=RevisionAction.EDIT, max_length=20)  # RevisionAction
    changes: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class PricePoint(SQLModel, table=True):
    """A quoted price for a treatment, kept with the words and source it came from."""

    __tablename__ = "price_point"
    id: int | None = Field(default=None, primary_key=True)
    treatment_id: int | None = Field(default=None, foreign_key="treatment.id", index=True)
    treatment_detail: str | None = Field(default=None, max_length=300)
    region: str | None = Field(default=None, max_length=100)
    unit: str = Field(max_length=100)
    low: float
    high: float
    currency: str = Field(default="USD", max_length=3)
    source_key: str = Field(max_length=100, unique=True)
    source_title: str | None = Field(default=None, max_length=500)
    source_commenter: str | None = Field(default=None, max_length=200)


# --- living evidence: scheduled runs, visits, retraction notices (evidence/literature/living.py)


class SearchRunTrigger(StrEnum):
    """What started a saved search's run."""

    SCHEDULE = "schedule"  # the periodic task (the only trigger so far)


class RetractionNature(StrEnum):
    """Retraction Watch's RetractionNature values this app keeps."""

    RETRACTION = "Retraction"
    EXPRESSION_OF_CONCERN = "Expression of concern"
    CORRECTION = "Correction"
    REINSTATEMENT = "Reinstatement"


RETRACTION_NATURES = tuple(n.value for n in RetractionNature)


class SearchRun(SQLModel, table=True):
    """One scheduled (or manual) run of a saved search: when, how many hits, what was new."""

    __tablename__ = "search_run"
    id: int | None = Field(default=None, primary_key=True)
    saved_search_id: int = Field(foreign_key="saved_search.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="fetch_job.id")
    trigger: str = Field(default=SearchRunTrigger.SCHEDULE, max_length=20)  # SearchRunTrigger
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    hits: int | None = None
    new: int = 0
    updated: int = 0
    notices: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PageVisit(SQLModel, table=True):
    """When a signed-in user last saw a page area (a treatment page, compare, the matrix)."""

    __tablename__ = "page_visit"
    __table_args__ = (UniqueConstraint("user_id", "area", name="uq_page_visit_user_area"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    area: str = Field(max_length=200)
    # What is "new" is measured from previous_at: the visit before the current one.
    previous_at: datetime | None = None
    last_at: datetime = Field(default_factory=utcnow)


class RetractionNotice(SQLModel, table=True):
    """A Retraction Watch record matched to a citation: nature, reason, date, source row."""

    __tablename__ = "retraction_notice"
    __table_args__ = (
        UniqueConstraint("citation_id", "record_id", name="uq_retraction_notice_record"),
    )
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    source: str = Field(default="retraction-watch", max_length=40)
    record_id: str = Field(max_length=40)
    nature: str = Field(max_length=60)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    notice_date: date | None = None
    notice_doi: str | None = Field(default=None, max_length=200)
    notice_pmid: str | None = Field(default=None, max_length=20)
    matched_by: str = Field(default="doi", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class DigestSubscription(SQLModel, table=True):
    """A user's opt-in to the weekly e-mail digest (evidence/literature/digests.py)."""

    __tablename__ = "digest_subscription"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", unique=True, ondelete="CASCADE")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    last_sent_at: datetime | None = None


# --- screening and duplicates (issue 11) -----------------------------------------------------


class Decision(StrEnum):
    """A screening decision: a reviewer's choice, or UNDO reversing an earlier decision."""

    INCLUDE = "include"
    EXCLUDE = "exclude"
    MAYBE = "maybe"
    UNDO = "undo"


SCREENING_CHOICES = (Decision.INCLUDE, Decision.EXCLUDE, Decision.MAYBE)


class ScreeningStage(StrEnum):
    """A reviewer's vote (SCREEN) or a third curator settling a disagreement (RESOLVE)."""

    SCREEN = "screen"
    RESOLVE = "resolve"


class DuplicateKind(StrEnum):
    """How two records relate: one study (EXACT, NEAR) or related items (linked, not merged)."""

    EXACT = "exact"
    NEAR = "near"
    ERRATUM = "erratum"
    UPDATE = "update"
    PREPRINT = "preprint"


class DuplicateState(StrEnum):
    """Where a duplicate pair stands."""

    MERGED = "merged"
    PENDING = "pending"
    KEPT_SEPARATE = "kept-separate"
    LINKED = "linked"


class ScreeningProject(SQLModel, table=True):
    """Screening settings for one treatment x indication (indication_key 0: no indication)."""

    __tablename__ = "screening_project"
    __table_args__ = (
        UniqueConstraint("treatment_id", "indication_key", name="uq_screening_project"),
    )
    id: int | None = Field(default=None, primary_key=True)
    treatment_id: int = Field(foreign_key="treatment.id", index=True)
    indication_id: int | None = Field(default=None, foreign_key="indication.id")
    indication_key: int = 0
    two_reviewer: bool = False
    changed_by_id: int | None = Field(default=None, foreign_key="user.id")
    changed_at: datetime = Field(default_factory=utcnow)


class ScreeningDecision(SQLModel, table=True):
    """One title/abstract screening decision; never changed: an undo is a new row (reverses_id)."""

    __tablename__ = "screening_decision"
    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="citation_link.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    # A Decision; UNDO reverses the decision named by reverses_id.
    decision: str = Field(max_length=20)
    stage: str = Field(default=ScreeningStage.SCREEN, max_length=20)  # ScreeningStage
    reason_code: str | None = Field(default=None, max_length=40)
    reason_text: str | None = Field(default=None, max_length=500)
    reverses_id: int | None = Field(default=None, foreign_key="screening_decision.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)


class DuplicatePair(SQLModel, table=True):
    """Two records found to be one study (merged or offered) or related (erratum, preprint)."""

    __tablename__ = "duplicate_pair"
    __table_args__ = (UniqueConstraint("kept_citation_id", "other_pmid", name="uq_duplicate"),)
    id: int | None = Field(default=None, primary_key=True)
    kept_citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    # NULL once a merge removed the other record; its PMID, DOI and title stay here.
    other_citation_id: int | None = Field(
        default=None, foreign_key="citation.id", index=True, ondelete="SET NULL"
    )
    other_pmid: str = Field(max_length=20, index=True)
    other_doi: str | None = Field(default=None, max_length=200)
    other_title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    kind: str = Field(max_length=20)  # DuplicateKind
    matched_on: str = Field(default="", max_length=200)  # "doi", "pmcid", "title 97 + year ..."
    score: float | None = None
    state: str = Field(default=DuplicateState.PENDING, max_length=20, index=True)  # DuplicateState
    # JSON list of [treatment_key, indication_key, found_by] of the removed record's links that
    # the kept record already had: the duplicates PRISMA counts as removed.
    removed_links: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


# --- audit log (issue 12: data safety) -------------------------------------------------------


class AuditEntry(SQLModel, table=True):
    """One write: who (account, or the command line / a background job), what, when.

    Written by evidence/audit.py from a session event, in the same transaction as the write.
    `fields` names the columns an insert set or an update changed; values are not copied, so
    password and token hashes never land here.
    """

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, index=True)  # no FK: entries outlive accounts
    actor: str = Field(max_length=320)
    action: str = Field(max_length=10)  # insert / update / delete
    table_name: str = Field(max_length=60, index=True)
    row_id: str | None = Field(default=None, max_length=60)
    fields: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    origin: str | None = Field(default=None, max_length=300)  # "POST /reports/new", "cli"


# --- rate limits (issue 10: several web processes share one count) -----------------------
# Without Redis, Flask-Limiter's counts live in these two tables (evidence/web/limitstore.py),
# so every gunicorn worker sees the same failed logins. Written with Core statements on their
# own connection: not ORM writes, so not in the audit log (a count is not a user's change).


class RateLimitEntry(SQLModel, table=True):
    """One counted hit of a moving-window limit: `key` names the limit and who it counts."""

    __tablename__ = "rate_limit_entry"
    __table_args__ = (Index("ix_rate_limit_entry_key_at", "key", "at"),)
    # 64-bit on PostgreSQL (the API limit counts every request); SQLite's rowid is 64-bit.
    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    )
    key: str = Field(max_length=1024)
    at: float  # seconds since the epoch
    expires_at: float = Field(index=True)  # at + the limit's window: purged after it


class RateLimitCounter(SQLModel, table=True):
    """A fixed-window counter (the strategy limits calls `incr`), expiring at `expires_at`."""

    __tablename__ = "rate_limit_counter"
    key: str = Field(primary_key=True, max_length=1024)
    count: int = 0
    expires_at: float = Field(index=True)


# --- full-text search (issue 10; migration 0006_fulltext_search) ------------------------
# The index itself is backend-specific and lives only in the migration: an FTS5 table citation_fts
# on SQLite, citation_search (tsvector + GIN) on PostgreSQL (evidence/literature/search.py).


class SearchDirty(SQLModel, table=True):
    """A citation whose search-index row is out of date (set by triggers, cleared by refresh)."""

    __tablename__ = "search_dirty"
    citation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


# --- export lists (issue 10; migration 0016_export_text) ---------------------------------
# Triggers on the child tables delete a citation's row whenever its lists change; an export
# fills the missing rows in bulk and reads the rows' lists from here instead of from five tables
# (evidence/output/exports/loader.py). A side table, not a citation column: filling it writes no
# citation row, so the data versions (migration 0012) do not move.


class CitationExport(SQLModel, table=True):
    """What exports read from a citation's child tables (authors, MeSH ...) as one JSON text."""

    __tablename__ = "citation_export"
    citation_id: int = Field(
        primary_key=True,
        foreign_key="citation.id",
        ondelete="CASCADE",
        sa_column_kwargs={"autoincrement": False},
    )
    lists: str = Field(sa_column=Column(Text, nullable=False))


# --- data versions (issue 10; migration 0012_data_versions) ------------------------------
# Triggers on the tables each side is computed from replace a row's token with a random one on
# every write, so the tokens of a side change exactly when its data does (evidence.db).


class DataVersion(SQLModel, table=True):
    """A random token per side of the data and shard, replaced by triggers on every write."""

    __tablename__ = "data_version"
    side: str = Field(primary_key=True, max_length=16)
    shard: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    token: str = Field(max_length=40)


class CompareCitationTotal(SQLModel, table=True):
    """Included citations per treatment, indication, level, flag and year, kept by triggers.

    The compare page reads one row per cell it shows (migration 0015_compare_totals).
    `indication_key` is the link's indication, 0 for none, or ANY_INDICATION for the
    treatment's citations over every indication (each counted once); `level_key` and
    `year_key` are 0 when unrated or unknown; `flagged` is 1 for a retracted or flagged one.
    Rows may hold n = 0.
    """

    __tablename__ = "compare_citation_total"
    treatment_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    indication_key: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    level_key: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    flagged: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    year_key: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int


ANY_INDICATION = -1  # CompareCitationTotal.indication_key: every indication together


# --- study extraction (issue 9: what the studies found) ------------------------------------
# Fixed vocabularies are StrEnums (see the top of this module). Every extracted number keeps the
# page it was read from (source_url, checked_on); a field the source did not state stays NULL.


class StudyDesign(StrEnum):
    """Study designs as extracted (the wording of study-outcomes.json)."""

    RANDOMIZED_PARALLEL = "randomized parallel"
    RANDOMIZED_SPLIT_FACE = "randomized split-face"
    NON_RANDOMIZED_COMPARATIVE = "non-randomized comparative"
    RETROSPECTIVE = "retrospective"
    SINGLE_ARM_PROSPECTIVE = "single-arm prospective"
    OTHER = "other"


class MeasureKind(StrEnum):
    """What an outcome measure counts."""

    CONTINUOUS = "continuous"
    DICHOTOMOUS = "dichotomous"
    ADVERSE = "adverse"
    # The generic measure for stated names that match no vocabulary entry (never guessed).
    UNCLASSIFIED = "unclassified"


class MeasureDirection(StrEnum):
    """Which way is better on a measure."""

    LOWER_IS_BETTER = "lower_is_better"
    HIGHER_IS_BETTER = "higher_is_better"


class SdOf(StrEnum):
    """Which value a stated SD belongs to."""

    BASELINE = "baseline"
    FINAL = "final"
    CHANGE = "change"


class StudyAdverseEventKind(StrEnum):
    """Adverse events extracted from studies."""

    PIH = "pih"
    ERYTHEMA = "erythema"
    EDEMA = "edema"
    PAIN = "pain"
    SCARRING = "scarring"
    HYPOPIGMENTATION = "hypopigmentation"
    INFECTION = "infection"
    HERPES = "herpes"
    ACNEIFORM = "acneiform"
    OTHER = "other"


class ExtractionAction(StrEnum):
    """What one change to an extraction did."""

    CREATE = "create"
    EDIT = "edit"
    VERIFY = "verify"
    IMPORT = "import"
    DELETE = "delete"


class OutcomeMeasure(SQLModel, table=True):
    """A vocabulary entry for outcome measures (Goodman-Baron, ECCA, GAIS, PIH ...)."""

    __tablename__ = "outcome_measure"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # MeasureKind
    direction: str | None = Field(default=None, max_length=20)  # MeasureDirection; None unknown
    scale_min: float | None = None
    scale_max: float | None = None
    unit: str | None = Field(default=None, max_length=60)
    description: str = Field(default="", max_length=1000)
    position: int = 0


class Study(SQLModel, table=True):
    """One clinical study reported by a citation, as extracted by a curator or the snapshot."""

    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    # "study-outcomes:<pmid>" for studies loaded from the snapshot (idempotent reloads).
    snapshot_key: str | None = Field(default=None, max_length=100, unique=True)
    design: str = Field(max_length=40, index=True)  # StudyDesign
    design_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    split_face: bool = False  # paired (within-person) comparison: split-face, split-scalp ...
    randomised: bool | None = None  # None: not stated
    blinded: bool | None = None  # None: not stated
    indication_id: int | None = Field(default=None, foreign_key="indication.id", index=True)
    indication_note: str | None = Field(default=None, max_length=1000)
    fitzpatrick_types: str | None = Field(default=None, max_length=40)  # as stated, e.g. III-V
    n_enrolled: int | None = None
    n_analysed: int | None = None
    downtime_days: float | None = None
    downtime_note: str | None = Field(default=None, max_length=1000)
    adverse_events_note: str | None = Field(default=None, max_length=1000)
    outcomes_note: str | None = Field(default=None, max_length=1000)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    source_url: str | None = Field(default=None, max_length=1000)
    extra_sources: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    checked_on: date | None = None
    verified_by_id: int | None = Field(default=None, foreign_key="user.id")
    verified_at: datetime | None = None
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    updated_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class StudyArm(SQLModel, table=True):
    """One arm (or side, for split-face studies) of a study: a catalogue treatment or a label."""

    __tablename__ = "study_arm"
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    position: int
    treatment_id: int | None = Field(default=None, foreign_key="treatment.id", index=True)
    # For arms outside the catalogue, e.g. "no treatment (control side)".
    comparator_label: str | None = Field(default=None, max_length=300)
    label: str | None = Field(default=None, max_length=300)  # the arm's own name as stated
    co_intervention: str | None = Field(default=None, max_length=300)
    sessions: int | None = None
    interval_weeks: float | None = None
    interval_as_stated: str | None = Field(default=None, max_length=200)
    n: int | None = None


class OutcomeMeasurement(SQLModel, table=True):
    """One outcome of one arm at one time point, with the numbers as stated."""

    __tablename__ = "outcome_measurement"
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    # None: stated for the whole cohort, not per arm.
    arm_id: int | None = Field(default=None, foreign_key="study_arm.id", ondelete="CASCADE")
    measure_id: int = Field(foreign_key="outcome_measure.id", index=True)
    measure_as_stated: str = Field(max_length=500)
    position: int = 0
    timepoint: str | None = Field(default=None, max_length=300)
    baseline: float | None = None
    baseline_sd: float | None = None
    final: float | None = None
    mean_change: float | None = None
    sd: float | None = None
    sd_of: str | None = Field(default=None, max_length=20)  # SdOf; None: not stated
    n: int | None = None
    percent_improvement: float | None = None
    responders: int | None = None  # count of responders (events)
    responders_n: int | None = None  # denominator the count is out of
    responders_percent: float | None = None
    value_as_stated: str | None = Field(default=None, max_length=500)
    ci_as_stated: str | None = Field(default=None, max_length=200)
    categories_as_stated: str | None = Field(default=None, max_length=1000)  # JSON as stated
    p_value_as_stated: str | None = Field(default=None, max_length=200)  # between arms
    p_vs_baseline_as_stated: str | None = Field(default=None, max_length=200)
    direction_as_stated: str | None = Field(default=None, max_length=300)  # which arm did better


class StudyAdverseEvent(SQLModel, table=True):
    """An adverse event count of one arm (or the whole cohort) of a study."""

    __tablename__ = "study_adverse_event"
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True, ondelete="CASCADE")
    arm_id: int | None = Field(default=None, foreign_key="study_arm.id", ondelete="CASCADE")
    position: int = 0
    event: str = Field(max_length=40, index=True)  # StudyAdverseEventKind
    event_as_stated: str | None = Field(default=None, max_length=500)
    scope_as_stated: str | None = Field(default=None, max_length=200)
    events: int | None = None
    n: int | None = None
    percent: float | None = None


class ExtractionRevision(SQLModel, table=True):
    """One change to an extraction: who, when, and the study before and after (JSON)."""

    __tablename__ = "extraction_revision"
    id: int | None = Field(default=None, primary_key=True)
    # No foreign key on study_id: the history outlives a deleted study.
    study_id: int = Field(index=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    changed_at: datetime = Field(default_factory=utcnow)
    action: str = Field(max_length=20)  # ExtractionAction
    summary: str = Field(default="", max_length=2000)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class PublishedMetaAnalysis(SQLModel, table=True):
    """A published systematic review / meta-analysis, shown beside the app's own pooling."""

    __tablename__ = "published_meta_analysis"
    id: int | None = Field(default=None, primary_key=True)
    pmid: str = Field(max_length=20, unique=True, index=True)
    citation_id: int | None = Field(default=None, foreign_key="citation.id", index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    year: int | None = None
    journal: str | None = Field(default=None, max_length=500)
    doi: str | None = Field(default=None, max_length=200)
    comparison_as_stated: str = Field(max_length=500)
    comparison_note: str | None = Field(default=None, max_length=1000)
    indication_id: int | None = Field(default=None, foreign_key="indication.id")
    studies_included: int | None = None
    patients_included: int | None = None
    studies_note: str | None = Field(default=None, max_length=1000)
    outcomes_note: str | None = Field(default=None, max_length=1000)
    source_url: str | None = Field(default=None, max_length=1000)
    extra_sources: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    checked_on: date | None = None


class PublishedPooledResult(SQLModel, table=True):
    """One pooled result of a published meta-analysis, exactly as printed."""

    __tablename__ = "published_pooled_result"
    id: int | None = Field(default=None, primary_key=True)
    meta_analysis_id: int = Field(
        foreign_key="published_meta_analysis.id", index=True, ondelete="CASCADE"
    )
    position: int = 0
    measure_as_stated: str = Field(max_length=500)
    measure_id: int | None = Field(default=None, foreign_key="outcome_measure.id")
    effect_type: str | None = Field(default=None, max_length=20)  # OR, RR, MD, SMD as stated
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_as_printed: str | None = Field(default=None, max_length=100)
    i2: float | None = None
    n_studies: int | None = None
    favours_as_stated: str | None = Field(default=None, max_length=300)
    p_value_as_stated: str | None = Field(default=None, max_length=100)


class CitationFieldSource(SQLModel, table=True):
    """A bibliographic fact read from a further page, kept labelled beside the citation's own.

    Where two pages disagree (e.g. e-pub year 2019 on one, print year 2020 on another) both
    facts stay, each with its label and source.
    """

    __tablename__ = "citation_field_source"
    id: int | None = Field(default=None, primary_key=True)
    citation_id: int = Field(foreign_key="citation.id", index=True, ondelete="CASCADE")
    field: str = Field(max_length=40)  # year / authors / journal / publication_types / title
    value: str = Field(sa_column=Column(Text, nullable=False))
    label: str | None = Field(default=None, max_length=1000)
    source_url: str | None = Field(default=None, max_length=1000)
