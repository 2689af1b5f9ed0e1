"""The /api/v1/ contract as pydantic models: request bodies, query strings and responses.

evidence/web/openapi.py generates the OpenAPI document from these models, and POST
/api/v1/reports validates its body with ReportInput. Objects are closed (extra="forbid",
so additionalProperties: false): the tests that validate every response against the served
document also catch a field the models do not name. Field names are the API's contract:
add fields, never rename or drop one within /api/v1/.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import WithJsonSchema

from evidence import models
from evidence.catalogue import TREATMENTS
from evidence.models import ADVERSE_EVENTS, AGE_BANDS, LINK_STATUSES, RETRACTION_STATUSES, ROLES
from evidence.practice.reports import REPORT_RANGES, TEXT_LIMITS
from evidence.queries import LEVEL_KEYS

TREATMENT_SLUGS = [t["slug"] for t in TREATMENTS]
EVENT_KEYS = [k for k, _ in ADVERSE_EVENTS]
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def one_of(values: Sequence[str | None], **extra: Any) -> WithJsonSchema:
    """Document a string drawn from a vocabulary the catalogue or the models define."""
    return WithJsonSchema({"type": "string", "enum": list(values), **extra})


# The slug as the path parameter and the filters document it (the column's length).
TREATMENT_SLUG_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": TREATMENT_SLUGS,
    "maxLength": models.Treatment.model_fields["slug"].metadata[0].max_length,
}
TreatmentSlug = Annotated[str, WithJsonSchema(TREATMENT_SLUG_SCHEMA)]


class Closed(BaseModel):
    """An object that names every field it may hold."""

    model_config = ConfigDict(extra="forbid")


# --- shared ---------------------------------------------------------------------------------


class Error(Closed):
    """Every error answer: a short code, a message, and for invalid input the fields."""

    error: str
    message: str
    fields: dict[str, list[str]] = Field(
        default_factory=dict, description="For invalid input: messages per field."
    )


class Named(Closed):
    """A treatment or indication by slug and name."""

    slug: str
    name: str


class LevelCounts(Closed):
    """Citations by evidence level (1-5) and not rated."""

    level_1: int = Field(alias="1")
    level_2: int = Field(alias="2")
    level_3: int = Field(alias="3")
    level_4: int = Field(alias="4")
    level_5: int = Field(alias="5")
    unrated: int


class Index(Closed):
    """Where everything is."""

    name: str
    version: str
    openapi: str
    endpoints: list[str]


class Page(Closed):
    """The paging fields every list answers."""

    total: int
    limit: int
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


# --- catalogue ------------------------------------------------------------------------------


class Treatment(Closed):
    """A treatment with its counts."""

    slug: str
    name: str
    category: str
    summary: str
    synonyms: list[str]
    default_query: str = Field(description="The default PubMed query.")
    citations: int = Field(description="Included citations linked to it.")
    citations_by_level: LevelCounts
    retracted_citations: int
    reports: int = Field(description="Visible outcome reports.")


class TreatmentList(Closed):
    """Every treatment."""

    data: list[Treatment]


class Indication(Closed):
    """An indication with its citation counts."""

    slug: str
    name: str
    mesh_heading: str
    in_catalogue: bool
    citations: int
    citations_by_level: LevelCounts


class IndicationList(Closed):
    """Every indication."""

    data: list[Indication]


# --- citations ------------------------------------------------------------------------------


class Author(Closed):
    """An author: display form and parts (collective authors have only a name)."""

    name: str = Field(description="'Last FM', or the collective name.")
    last_name: str | None
    fore_name: str | None
    initials: str | None
    collective_name: str | None


class Citation(Closed):
    """A citation as lists show it."""

    pmid: str
    title: str
    authors: list[Author]
    journal: str | None
    journal_abbrev: str | None
    year: int | None
    pub_date: str | None
    volume: str | None
    issue: str | None
    pages: str | None
    doi: str | None
    pmcid: str | None
    language: str | None
    publication_types: list[str]
    mesh_terms: list[str] = Field(
        description="MEDLINE form: '*Descriptor/qualifier'; '*' marks a major topic."
    )
    keywords: list[str]
    evidence_level: Annotated[int, Field(ge=1, le=5)] | None = Field(
        description="1 (systematic reviews) to 5 (case reports); null: not rated."
    )
    evidence_rule: str = Field(description="The rule that gave the level.")
    retraction_status: Annotated[str, one_of(RETRACTION_STATUSES)]
    treatments: list[Named]
    indications: list[Named]
    pubmed_url: str


class CitationPage(Page):
    """One page of citations."""

    data: list[Citation]


class AbstractSection(Closed):
    """One labelled part of a structured abstract."""

    label: str | None
    nlm_category: str | None
    text: str


class Identifier(Closed):
    """An identifier of the record (doi, pmc, pii ...)."""

    type: str
    value: str


class Correction(Closed):
    """A comment, erratum or retraction notice PubMed links to the record."""

    type: str
    pmid: str | None
    source: str | None


class CitationLink(Closed):
    """A link of the citation to a treatment and/or indication, with its screening status."""

    treatment: Named | None
    indication: Named | None
    status: Annotated[str, one_of(LINK_STATUSES)]
    exclusion_reason: str | None
    found_by: str


class CitationDetail(Citation):
    """One citation's full record."""

    abstract: str | None
    abstract_sections: list[AbstractSection]
    identifiers: list[Identifier]
    corrections: list[Correction]
    co_interventions: list[str]
    links: list[CitationLink]
    source: str
    updated_at: str | None


# --- outcome reports --------------------------------------------------------------------------


class ReportAdverseEvent(Closed):
    """An adverse event a report names."""

    event: Annotated[str, one_of(EVENT_KEYS)]
    label: str
    detail: str | None


class QuotedSource(Closed):
    """Where a quoted report was read, and how it was read into the fields."""

    title: str | None
    site: str | None
    reference: str | None
    commenter: str | None
    role: str | None
    quote: str | None
    how_read: str | None


def _range(name: str) -> Any:
    """Return the Field bounds a report number is checked against (evidence/practice)."""
    low, high = REPORT_RANGES[name]
    return Field(ge=low, le=high)


class Report(Closed):
    """A visible outcome report; it names no reporter, only whether it is a quoted source."""

    id: int
    treatment: Named
    indication: Named | None
    reported_by: Literal["practitioner", "quoted source"]
    indication_detail: str | None
    sessions: int | None
    interval_weeks: float | None
    fitzpatrick: Annotated[int, _range("fitzpatrick")] | None
    age_band: str | None
    device: str | None
    needle_depth_mm: float | None
    energy: str | None
    passes: int | None
    settings: str | None
    improvement: Annotated[int, _range("improvement")] | None
    satisfaction: int | None
    goodman_baron_before: Annotated[int, _range("goodman_baron_before")] | None
    goodman_baron_after: Annotated[int, _range("goodman_baron_after")] | None
    gais: Annotated[int, _range("gais")] | None
    adverse_other: str | None
    downtime_days: float | None
    cost_per_session: float | None
    cost_per_course: float | None
    currency: str | None
    cost_note: str | None
    follow_up_months: float | None
    protocol_pmid: str | None
    notes: str | None
    adverse_events: list[ReportAdverseEvent]
    quoted_source: QuotedSource | None
    created_at: str
    updated_at: str


class ReportPage(Page):
    """One page of outcome reports."""

    data: list[Report]


def _text(name: str) -> Any:
    """Return the length a report's text field is checked against (the column size)."""
    return Field(max_length=TEXT_LIMITS[name])


class ReportInput(Closed):
    """An outcome report as a practitioner submits it (slugs, not ids).

    Types, lengths and ranges are checked here; vocabularies, slugs, patient identifiers and
    rules across fields are checked where the form and CSV uploads check them too
    (evidence/practice/reports.py), with the same messages.
    """

    # Strict: a number sent as a string, or a boolean, is the wrong type, never converted.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    treatment: Annotated[TreatmentSlug, Field(max_length=TEXT_LIMITS["treatment"])] = Field(
        description="A treatment slug, e.g. microneedling."
    )
    indication: Annotated[str, _text("indication")] | None = Field(
        None, description="An indication slug."
    )
    indication_detail: Annotated[str, _text("indication_detail")] | None = None
    sessions: Annotated[int, _range("sessions")] | None = None
    interval_weeks: Annotated[float, _range("interval_weeks")] | None = None
    fitzpatrick: Annotated[int, _range("fitzpatrick")] | None = None
    age_band: Annotated[str, _text("age_band"), one_of([*AGE_BANDS, None])] | None = None
    device: Annotated[str, _text("device")] | None = None
    needle_depth_mm: Annotated[float, _range("needle_depth_mm")] | None = None
    energy: Annotated[str, _text("energy")] | None = None
    passes: Annotated[int, _range("passes")] | None = None
    settings: Annotated[str, _text("settings")] | None = None
    improvement: Annotated[int, _range("improvement")]
    satisfaction: Annotated[int, _range("satisfaction")] | None = None
    goodman_baron_before: Annotated[int, _range("goodman_baron_before")] | None = Field(
        None,
        description="Goodman-Baron qualitative grade before treatment: 1 macular, "
        "2 mild, 3 moderate, 4 severe. Only with the indication acne-scars.",
    )
    goodman_baron_after: Annotated[int, _range("goodman_baron_after")] | None = Field(
        None, description="Goodman-Baron grade at follow-up (higher than before: worse)."
    )
    gais: Annotated[int, _range("gais")] | None = Field(
        None,
        description="GAIS: 1 exceptional improvement, 2 very improved, 3 improved, "
        "4 no change, 5 worse (lower is better).",
    )
    adverse_events: list[Annotated[str, one_of(EVENT_KEYS)]] = Field(default_factory=list)
    adverse_other: Annotated[str, _text("adverse_other")] | None = None
    downtime_days: Annotated[float, _range("downtime_days")] | None = None
    cost_per_session: Annotated[float, _range("cost_per_session")] | None = None
    cost_per_course: Annotated[float, _range("cost_per_course")] | None = None
    currency: (
        Annotated[
            str,
            _text("currency"),
            WithJsonSchema(
                {
                    "type": "string",
                    "maxLength": TEXT_LIMITS["currency"],
                    "pattern": "^[A-Z]{3}$",
                }
            ),
        ]
        | None
    ) = None
    follow_up_months: Annotated[float, _range("follow_up_months")] | None = None
    notes: Annotated[str, _text("notes")] | None = Field(
        None, description="No patient identifiers: names, dates, contacts are refused."
    )
    protocol_pmid: Annotated[str, _text("protocol_pmid")] | None = None


# --- statistics and comparison ---------------------------------------------------------------


class Proportion(Closed):
    """k of n with its Wilson interval."""

    k: int
    n: int
    rate: float | None
    low: float | None = Field(description="Wilson 95% interval.")
    high: float | None
    too_few: bool = Field(description="n below 10: too few reports.")


class ImprovementStats(Closed):
    """The mean improvement with its interval."""

    n: int
    mean: float | None = Field(description="Mean on the 0-4 scale.")
    low: float | None = Field(description="t 95% interval clipped to 0-4; null below 10 reports.")
    high: float | None
    too_few: bool
    clipped: bool = Field(description="The t interval ran past the scale and was cut at 0 or 4.")


class GroupStats(Closed):
    """A group of reports: n, mean improvement, responders, adverse events, medians."""

    label: str
    n: int
    too_few_reports: bool = Field(description="n below 10.")
    report_ids: list[int]
    improvement: ImprovementStats
    responders: Proportion
    adverse_events: dict[str, Proportion]
    median_downtime_days: float | None
    median_cost_per_session: float | None
    median_cost_per_course: float | None
    currency: str | None


class YearCount(Closed):
    """Citations published in one year."""

    year: int
    citations: int


class NewestReview(Closed):
    """The newest systematic review or meta-analysis."""

    pmid: str
    title: str
    year: int | None


class LiteratureColumn(Closed):
    """One treatment's literature."""

    treatment: str
    citations_by_level: LevelCounts
    counted: int
    level_1_2: int
    flagged: int = Field(description="Retracted or flagged, counted apart.")
    per_year: list[YearCount]
    year_unknown: int
    newest_review: NewestReview | None


class QuotedPrice(Closed):
    """A price range a source quoted."""

    low: float
    high: float
    currency: str
    unit: str
    region: str | None
    source_title: str | None
    source_commenter: str | None


class PracticeColumn(Closed):
    """One treatment's outcome-report statistics."""

    treatment: str
    overall: GroupStats
    by_skin_type: dict[str, GroupStats]
    improvement_counts: list[int] = Field(min_length=5, max_length=5)
    quoted_prices: list[QuotedPrice]


class TreatmentFinding(Closed):
    """What stands out for one treatment."""

    treatment: str
    kind: str
    text: str


class AcrossFinding(Closed):
    """Where the treatments point different ways."""

    kind: str
    text: str


class Comparison(Closed):
    """Literature and practice side by side."""

    treatments: list[Named]
    indication: Named | None
    literature: list[LiteratureColumn]
    practice: list[PracticeColumn]
    findings: list[TreatmentFinding]
    across_treatments: list[AcrossFinding]


# --- synthesis (evidence/web/api_synthesis.py) -----------------------------------------------


class RiskDifference(Closed):
    """The absolute effect with its interval."""

    estimate: float
    ci_low: float
    ci_high: float


class PooledStudy(Closed):
    """A study in a pooled result."""

    pmid: str | None
    label: str
    verified: bool
    design: str


class CertaintyStep(Closed):
    """One GRADE domain's finding."""

    domain: str
    rule: str
    finding: str
    change: int


class Certainty(Closed):
    """GRADE certainty, step by step."""

    level: Literal["high", "moderate", "low", "very low"]
    steps: list[CertaintyStep]


class PooledResult(Closed):
    """One outcome's pooled result."""

    comparison: list[str]
    head_to_head: bool
    outcome: str
    outcome_label: str
    skin_group: Literal["all", "I-III", "IV-VI"]
    effect_type: Literal["RR", "MD", "proportion", "mean change"]
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    pi_low: float | None
    pi_high: float | None
    risk_difference: RiskDifference | None
    i2: float | None
    tau2: float | None
    q: float | None
    q_p: float | None
    pooled: bool
    model: str
    studies: list[PooledStudy]
    participants: int
    certainty: Certainty
    notes: list[str]


class PublishedResult(Closed):
    """A published meta-analysis's stated result."""

    pmid: str
    title: str
    year: int | None
    comparison: list[str]
    measure: str
    effect_type: str | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    i2: float | None


class Synthesis(Closed):
    """What the studies found: every outcome's pooled result."""

    treatments: list[Named]
    indication: Named
    studies_extracted: int
    unverified: int
    retracted_left_out: int
    results: list[PooledResult]
    published: list[PublishedResult]


# --- query strings ---------------------------------------------------------------------------


class PageQuery(Closed):
    """Paging through a list."""

    limit: int = Field(
        DEFAULT_LIMIT,
        ge=1,
        le=MAX_LIMIT,
        description=f"Items per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}).",
    )
    cursor: str | None = Field(None, description="The next_cursor of the previous page.")


Year = Annotated[int, Field(ge=1000, le=9999)]


class CitationQuery(Closed):
    """The citation filters, as in the citation tables."""

    treatment: TreatmentSlug | None = Field(None, description="Treatment slug.")
    indication: str | None = Field(None, description="Indication slug.")
    level: Annotated[str, one_of(LEVEL_KEYS)] | None = Field(None, description="Evidence level.")
    year_from: Year | None = Field(None, description="Earliest publication year.")
    year_to: Year | None = Field(None, description="Latest publication year.")
    pub_type: str | None = Field(
        None, description="PubMed publication type, e.g. 'Randomized Controlled Trial'."
    )
    q: str | None = Field(
        None, description="Text in title, abstract, journal or author; or a PMID or DOI."
    )
    status: Literal["included", "candidate", "excluded", "any"] | None = Field(
        None, description="Link screening status: included (default), candidate, excluded, any."
    )
    retracted: Literal["only", "exclude"] | None = Field(
        None, description="'only' or 'exclude' retracted and flagged citations."
    )


class ReportQuery(Closed):
    """The report filters, as in the reports list."""

    treatment: TreatmentSlug | None = Field(None, description="Treatment slug.")
    indication: str | None = Field(None, description="Indication slug.")
    skin: Annotated[str, one_of([*"123456", "I-III", "IV-VI", "none"])] | None = Field(
        None, description="Fitzpatrick type 1-6, 'I-III', 'IV-VI' or 'none' (not stated)."
    )
    role: Annotated[str, one_of([*ROLES, "source"])] | None = Field(
        None, description="Reporter role, or 'source' for quoted sources."
    )
    event: Annotated[str, one_of(EVENT_KEYS)] | None = Field(
        None, description="Only reports with this adverse event."
    )
    date_from: Annotated[str, WithJsonSchema({"type": "string", "format": "date"})] | None = Field(
        None, description="Submitted on or after (YYYY-MM-DD)."
    )
    date_to: Annotated[str, WithJsonSchema({"type": "string", "format": "date"})] | None = Field(
        None, description="Submitted on or before (YYYY-MM-DD)."
    )


class CompareQuery(Closed):
    """The treatments to compare."""

    treatments: str = Field(description="Comma-separated treatment slugs (up to 4).")
    indication: str | None = Field(None, description="Indication slug.")


class SynthesisQuery(Closed):
    """The treatments and the indication to pool."""

    t: list[str] = Field(description="A treatment slug; repeat for each (up to 4).")
    indication: str = Field(
        description="Indication slug (results are never pooled across indications)."
    )
