"""The read API's data: JSON shapes with stable field names, cursors, and API tokens.

Plain functions with an explicit session; evidence/web/views/api.py only reads the request
and calls them. Field names here are the API's contract (the models in evidence/web/schemas.py,
from which evidence/web/openapi.py generates the document): add
fields, never rename or drop one within /api/v1/.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlmodel import Session, col, func, select

from evidence import queries
from evidence.models import (
    ADVERSE_EVENT_LABELS,
    ApiToken,
    Citation,
    Indication,
    LinkStatus,
    OutcomeAdverseEvent,
    OutcomeReport,
    Role,
    Treatment,
    User,
    utcnow,
)
from evidence.output import exports
from evidence.practice.reports import REPORT_FIELDS
from evidence.roles import role_includes
from evidence.web import schemas
from evidence.web.schemas import DEFAULT_LIMIT, MAX_LIMIT

PUBMED = "https://pubmed.ncbi.nlm.nih.gov/{}/"


class ApiError(Exception):
    """An error the API answers as JSON: an HTTP status, a short code and a message."""

    def __init__(
        self, status: int, error: str, message: str, fields: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.fields = fields

    def body(self) -> dict[str, Any]:
        """Return the JSON body: {"error", "message"} and, for invalid input, "fields"."""
        out: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.fields:
            out["fields"] = self.fields
        return out


# --- paging ----------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    """Return an opaque cursor that resumes after a row id."""
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """Return the row id a cursor resumes after (0 for none); ApiError 400 if malformed."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    prefix, _, number = raw.partition(":")
    if prefix != "after" or not number.isdigit() or len(number) > 10 or int(number) > 2**31 - 1:
        raise ApiError(400, "bad request", "The cursor is not one this API gave out.")
    return int(number)


def parse_limit(raw: str | None) -> int:
    """Return a page size from 1 to MAX_LIMIT; ApiError 400 otherwise."""
    if raw in (None, ""):
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, "bad request", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


@dataclass
class Page:
    """One page of a list: its items, the total matching, and the cursor for the next page."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        """Return the JSON body of a page."""
        return {
            "data": self.items,
            "total": self.total,
            "limit": self.limit,
            "next_cursor": self.next_cursor,
        }


# --- catalogue ---------------------------------------------------------------------------


def named(item: Treatment | Indication | exports.Named | None) -> dict[str, str] | None:
    """Return a treatment or indication as {"slug", "name"}."""
    if item is None:
        return None
    return {"slug": item.slug, "name": item.name}


def treatment_json(summary: queries.TreatmentSummary) -> dict[str, Any]:
    """Return a treatment with its counts."""
    t = summary.treatment
    return {
        "slug": t.slug,
        "name": t.name,
        "category": t.category,
        "summary": t.summary,
        "synonyms": [s.strip() for s in t.synonyms.split(",") if s.strip()],
        "default_query": t.default_query,
        "citations": summary.citations,
        "citations_by_level": summary.levels,
        "retracted_citations": summary.retracted,
        "reports": summary.reports,
    }


def treatments(session: Session) -> list[dict[str, Any]]:
    """Return every treatment in catalogue order, with citation and report counts."""
    return [treatment_json(s) for s in queries.treatment_summaries(session)]


def treatment(session: Session, slug: str) -> dict[str, Any]:
    """Return one treatment; ApiError 404 if unknown."""
    for summary in queries.treatment_summaries(session):
        if summary.treatment.slug == slug:
            return treatment_json(summary)
    raise ApiError(404, "not found", f"No treatment is called {slug!r}.")


def indication_json(session: Session, item: Indication) -> dict[str, Any]:
    """Return an indication with its citation counts by level."""
    assert item.id is not None
    levels = queries.level_counts(session, indication_id=item.id)
    return {
        "slug": item.slug,
        "name": item.name,
        "mesh_heading": item.mesh_heading,
        "in_catalogue": item.in_catalogue,
        "citations": queries.count_citations(session, queries.CitationFilter(indication=item.slug)),
        "citations_by_level": levels,
    }


def indications(session: Session) -> list[dict[str, Any]]:
    """Return every indication, catalogue ones first."""
    return [indication_json(session, i) for i in queries.indications(session)]


def indication(session: Session, slug: str) -> dict[str, Any]:
    """Return one indication; ApiError 404 if unknown."""
    found = queries.indication_by_slug(session, slug)
    if found is None:
        raise ApiError(404, "not found", f"No indication is called {slug!r}.")
    return indication_json(session, found)


# --- citations ---------------------------------------------------------------------------


def author_json(author: exports.Author) -> dict[str, Any]:
    """Return an author: display form and parts (collective authors have only a name)."""
    return {
        "name": author.label,
        "last_name": author.last_name,
        "fore_name": author.fore_name,
        "initials": author.initials,
        "collective_name": author.collective_name,
    }


def citation_json(record: exports.CitationRecord) -> dict[str, Any]:
    """Return a citation as the list endpoint shows it."""
    return {
        "pmid": record.pmid,
        "title": record.title,
        "authors": [author_json(a) for a in record.authors],
        "journal": record.journal,
        "journal_abbrev": record.journal_abbrev,
        "year": record.year,
        "pub_date": record.pub_date,
        "volume": record.volume,
        "issue": record.issue,
        "pages": record.pages,
        "doi": record.doi,
        "pmcid": record.pmcid,
        "language": record.language,
        "publication_types": record.publication_types,
        "mesh_terms": record.mesh_terms,
        "keywords": record.keywords,
        "evidence_level": record.evidence_level,
        "evidence_rule": record.evidence_rule,
        "retraction_status": record.retraction_status,
        "treatments": [named(t) for t in record.treatments],
        "indications": [named(i) for i in record.indications],
        "pubmed_url": PUBMED.format(record.pmid),
    }


def check_filter_slugs(session: Session, flt: Any) -> None:
    """Raise ApiError 404 when a filter names a treatment or indication that does not exist."""
    if flt.treatment and queries.treatment_by_slug(session, flt.treatment) is None:
        raise ApiError(404, "not found", f"No treatment is called {flt.treatment!r}.")
    if flt.indication and queries.indication_by_slug(session, flt.indication) is None:
        raise ApiError(404, "not found", f"No indication is called {flt.indication!r}.")


def citations_page(
    session: Session, flt: queries.CitationFilter, *, limit: int, after: int
) -> Page:
    """Return one page of the filter's citations in the order they were added."""
    check_filter_slugs(session, flt)
    ids = queries.citation_ids_query(flt).subquery()
    stmt = (
        select(Citation.id)
        .where(col(Citation.id).in_(select(ids.c.id)), col(Citation.id) > after)
        .order_by(col(Citation.id))
        .limit(limit + 1)
    )
    page_ids = [i for i in session.exec(stmt) if i is not None]
    more = len(page_ids) > limit
    page_ids = page_ids[:limit]
    loader = exports.RecordLoader(session, statuses=exports.link_statuses(flt))
    records = loader.load(page_ids)
    return Page(
        items=[citation_json(r) for r in records],
        total=queries.count_citations(session, flt),
        limit=limit,
        next_cursor=encode_cursor(page_ids[-1]) if more and page_ids else None,
    )


def citation(session: Session, pmid: str) -> dict[str, Any]:
    """Return one citation's full record: abstract sections, identifiers, every link."""
    detail = queries.citation_detail(session, pmid)
    if detail is None or detail.citation.id is None:
        raise ApiError(404, "not found", f"No citation with PMID {pmid} is in the database.")
    (record,) = exports.RecordLoader(
        session, statuses=(LinkStatus.INCLUDED, LinkStatus.CANDIDATE)
    ).load([detail.citation.id])
    out = citation_json(record)
    out.update(
        {
            "abstract": record.abstract,
            "abstract_sections": [
                {"label": s.label, "nlm_category": s.nlm_category, "text": s.text}
                for s in detail.sections
            ],
            "identifiers": [{"type": i.id_type, "value": i.value} for i in detail.identifiers],
            "corrections": [
                {"type": c.ref_type, "pmid": c.ref_pmid, "source": c.ref_source}
                for c in detail.corrections
            ],
            "co_interventions": detail.cointerventions,
            "links": [
                {
                    "treatment": named(link.treatment),
                    "indication": named(link.indication),
                    "status": link.link.status,
                    "exclusion_reason": link.link.exclusion_reason,
                    "found_by": link.link.found_by,
                }
                for link in detail.links
            ],
            "source": detail.citation.source,
            "updated_at": iso(detail.citation.updated_at),
        }
    )
    return out


def iso(moment: datetime | None) -> str | None:
    """Return a timestamp in ISO 8601 (UTC), or None."""
    return moment.isoformat() if moment else None


# --- outcome reports -----------------------------------------------------------------------

# What a practitioner fills in, plus what the app records beside it (read-only here).
REPORT_VALUE_FIELDS = (*REPORT_FIELDS, "cost_note")


def report_json(
    report: OutcomeReport, names: queries.NameMaps, events: list[OutcomeAdverseEvent]
) -> dict[str, Any]:
    """Return an outcome report; it names no reporter, only whether it is a quoted source."""
    assert report.id is not None
    out: dict[str, Any] = {
        "id": report.id,
        "treatment": named(names.treatments.get(report.treatment_id)),
        "indication": named(names.indications.get(report.indication_id))
        if report.indication_id
        else None,
        "reported_by": "quoted source" if report.source_key else "practitioner",
    }
    out.update({name: getattr(report, name) for name in REPORT_VALUE_FIELDS})
    out["adverse_events"] = [
        {"event": e.event, "label": ADVERSE_EVENT_LABELS.get(e.event, e.event), "detail": e.detail}
        for e in events
    ]
    out["quoted_source"] = (
        {
            "title": report.source_title,
            "site": report.source_site,
            "reference": report.source_ref,
            "commenter": report.source_commenter,
            "role": report.source_role,
            "quote": report.source_quote,
            "how_read": report.source_mapping,
        }
        if report.source_key
        else None
    )
    out["created_at"] = iso(report.created_at)
    out["updated_at"] = iso(report.updated_at)
    return out


def reports_page(session: Session, flt: Any, *, limit: int, after: int) -> Page:
    """Return one page of visible reports matching a reports.ReportFilter, oldest first."""
    from evidence.practice import reports

    check_filter_slugs(session, flt)
    flt = replace(flt, hidden=False)  # hidden reports never leave through the open API
    stmt = (
        reports.report_query(flt)
        .where(col(OutcomeReport.id) > after)
        .order_by(col(OutcomeReport.id))
        .limit(limit + 1)
    )
    rows = list(session.exec(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.id for r in rows if r.id is not None]
    events = queries.adverse_events_by_report(session, ids)
    names = queries.name_maps(session)
    total_stmt = select(func.count()).select_from(reports.report_query(flt).subquery())
    return Page(
        items=[report_json(r, names, events[r.id]) for r in rows if r.id is not None],
        total=int(session.exec(total_stmt).one()),
        limit=limit,
        next_cursor=encode_cursor(ids[-1]) if more and ids else None,
    )


def report(session: Session, report_id: int) -> dict[str, Any]:
    """Return one visible report; ApiError 404 if missing or hidden."""
    found = session.get(OutcomeReport, report_id)
    if found is None or found.hidden or found.id is None:
        raise ApiError(404, "not found", f"No visible outcome report has id {report_id}.")
    events = queries.adverse_events_by_report(session, [found.id])
    return report_json(found, queries.name_maps(session), events[found.id])


TREATMENT_MESSAGE = "Give the treatment's slug, e.g. 'microneedling'."


def _field_message(name: str, error: ErrorDetails) -> str:
    """Return the message for one field pydantic refused, worded as the form words it."""
    from evidence.practice import reports

    kind = error["type"]
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind == "string_too_long":
        limit = error.get("ctx", {})["max_length"]
        return f"Use at most {limit:,} characters (this has {len(error['input']):,})."
    if name == "treatment":
        return TREATMENT_MESSAGE
    if kind == "missing":
        return reports.IMPROVEMENT_MISSING
    if kind in {"greater_than_equal", "less_than_equal"}:
        return reports.range_message(name)
    if kind == "finite_number" or (kind == "float_type" and type(error["input"]) is int):
        return f"{name} must be a finite number of sensible size."
    return f"Wrong type for {name}."


def report_input(body: Any) -> Any:
    """Turn a JSON body into a reports.ReportInput, validated by schemas.ReportInput.

    ApiError 400 when the body is not a JSON object, 422 with messages per field when a
    field is unknown, of the wrong type, too long or out of range; null means "not given".
    """
    from evidence.practice import reports

    if not isinstance(body, dict):
        raise ApiError(400, "bad request", "Send a JSON object (Content-Type: application/json).")
    known = schemas.ReportInput.model_fields
    given = {k: v for k, v in body.items() if v is not None or k not in known}
    try:
        valid = schemas.ReportInput.model_validate(given)
    except ValidationError as invalid:
        errors: dict[str, list[str]] = {}
        for error in invalid.errors():
            name = str(error["loc"][0])
            message = _field_message(name, error)
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
        raise ApiError(422, "invalid", "The report was not saved.", errors) from invalid
    return reports.ReportInput(**valid.model_dump(exclude_unset=True))


def create_report(session: Session, *, body: Any, reporter: User) -> dict[str, Any]:
    """Save a report sent through the API by a practitioner; ApiError 422 if invalid."""
    from evidence.practice import reports

    data = report_input(body)
    try:
        saved = reports.create_report(session, data=data, reporter=reporter)
    except reports.ReportError as error:
        raise ApiError(422, "invalid", "The report was not saved.", error.errors) from error
    assert saved.id is not None
    session.flush()
    return report(session, saved.id)


# --- API tokens ------------------------------------------------------------------------------

TOKEN_PREFIX = "evt_"
# Roles are cumulative: curators keep the practitioner's right to report.
WRITE_ROLES = (Role.PRACTITIONER, Role.CURATOR, Role.ADMIN)


def hash_token(raw: str) -> str:
    """Return the stored form of a token: its SHA-256 (tokens are random, so no salt is needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token for a user; return the row and the token, which is shown only once."""
    assert user.id is not None
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:200], token_hash=hash_token(raw))
    session.add(token)
    session.flush()
    return token, raw


def user_tokens(session: Session, *, user_id: int) -> list[ApiToken]:
    """Return a user's tokens, newest first (revoked ones too, marked)."""
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    )
    return list(session.exec(stmt))


def revoke_token(session: Session, *, token_id: int, user_id: int) -> bool:
    """Revoke one of the user's own tokens; return False if it is not theirs or already revoked."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    return True


def token_user(session: Session, raw: str) -> User | None:
    """Return the active user a live token belongs to, noting its use; None otherwise."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(raw)
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    # compare_digest: the lookup is by hash already; this keeps the final check constant-time.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    token.last_used_at = utcnow()
    session.add(token)
    return user


def writer_from_header(session: Session, header: str | None) -> User:
    """Return the practitioner an 'Authorization: Bearer' header names; ApiError 401/403."""
    scheme, _, raw = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise ApiError(
            401,
            "unauthorized",
            "Send 'Authorization: Bearer <token>' (create one at /account/tokens).",
        )
    user = token_user(session, raw.strip())
    if user is None:
        raise ApiError(401, "unauthorized", "This token is unknown or has been revoked.")
    if not role_includes(user.role, *WRITE_ROLES):
        raise ApiError(403, "forbidden", "Only practitioners may submit outcome reports.")
    return user


# --- comparison ------------------------------------------------------------------------------


def _proportion(p: Any) -> dict[str, Any]:
    """Return k of n with its Wilson interval; too_few_reports marks n below 10."""
    return {"k": p.k, "n": p.n, "rate": p.rate, "low": p.low, "high": p.high, "too_few": p.small}


def group_json(g: Any) -> dict[str, Any]:
    """Return an outcomes.GroupStats: n, mean improvement, responders, adverse events, medians."""
    m = g.improvement
    return {
        "label": g.label,
        "n": g.n,
        "too_few_reports": g.small,
        "report_ids": list(g.report_ids),
        "improvement": {
            "n": m.n,
            "mean": m.mean,
            "low": m.low,
            "high": m.high,
            "too_few": m.small,
            "clipped": m.clipped,
        },
        "responders": _proportion(g.responders),
        "adverse_events": {event: _proportion(p) for event, p in g.adverse.items()},
        "median_downtime_days": g.median_downtime,
        "median_cost_per_session": g.median_cost_per_session,
        "median_cost_per_course": g.median_cost_per_course,
        "currency": g.currency,
    }


def comparison(
    session: Session, *, slugs: list[str], indication_slug: str | None
) -> dict[str, Any]:
    """Return the comparison of up to four treatments (literature and practice), as the page."""
    from evidence.synthesis import compare

    if not slugs:
        raise ApiError(400, "bad request", "Name treatments: ?treatments=slug,slug (up to 4).")
    if len(set(slugs)) > compare.MAX_COMPARED:
        raise ApiError(
            400, "bad request", f"At most {compare.MAX_COMPARED} treatments are compared."
        )
    for slug in slugs:
        if queries.treatment_by_slug(session, slug) is None:
            raise ApiError(404, "not found", f"No treatment is called {slug!r}.")
    if indication_slug and queries.indication_by_slug(session, indication_slug) is None:
        raise ApiError(404, "not found", f"No indication is called {indication_slug!r}.")
    selection = compare.select_treatments(session, slugs=slugs, indication=indication_slug)
    result = compare.cached_compare(session, selection=selection)
    out: dict[str, Any] = {
        "treatments": [{"slug": c.slug, "name": c.name} for c in result.columns],
        "indication": (
            {"slug": result.indication, "name": result.indication_name or ""}
            if result.indication
            else None
        ),
        "literature": [
            {
                "treatment": lit.treatment,
                "citations_by_level": lit.levels,
                "counted": lit.counted,
                "level_1_2": lit.high,
                "flagged": lit.flagged,
                "per_year": [{"year": y, "citations": n} for y, n in lit.per_year],
                "year_unknown": lit.year_unknown,
                "newest_review": (
                    {
                        "pmid": lit.newest_review.pmid,
                        "title": lit.newest_review.title,
                        "year": lit.newest_review.year,
                    }
                    if lit.newest_review
                    else None
                ),
            }
            for lit in result.literature
        ],
        "practice": [
            {
                "treatment": prac.treatment,
                "overall": group_json(prac.overall),
                "by_skin_type": {label: group_json(g) for label, g in prac.by_skin.items()},
                "improvement_counts": list(prac.improvement_counts),
                "quoted_prices": [
                    {
                        "low": q.low,
                        "high": q.high,
                        "currency": q.currency,
                        "unit": q.unit,
                        "region": q.region,
                        "source_title": q.source_title,
                        "source_commenter": q.source_commenter,
                    }
                    for q in prac.prices
                ],
            }
            for prac in result.practice
        ],
        "findings": [
            {"treatment": column.slug, "kind": f.kind, "text": f.text}
            for column, fs in zip(result.columns, result.findings, strict=True)
            for f in fs
        ],
        "across_treatments": [{"kind": f.kind, "text": f.text} for f in result.across],
    }
    return out
