"""The OpenAPI 3.1 document of /api/v1/, as data (served at /api/v1/openapi.json).

Objects are closed (additionalProperties: false) so the test that validates every
response against this document also catches a field the document does not name.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from evidence.catalogue import TREATMENTS
from evidence.models import ADVERSE_EVENTS, AGE_BANDS, RETRACTION_STATUSES, ROLES
from evidence.practice.reports import TEXT_LIMITS
from evidence.queries import LEVEL_KEYS


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    """Return a schema for a value of `kind` or null."""
    return {"type": [kind, "null"], **extra}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """Return a closed object schema; every property is required unless listed otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, str]:
    """Return a reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


STR = {"type": "string"}
TREATMENT_SLUGS = [t["slug"] for t in TREATMENTS]
TREATMENT_SLUG = {"type": "string", "enum": TREATMENT_SLUGS, "maxLength": 80}


def _text(name: str, **extra: Any) -> dict[str, Any]:
    """Return a nullable string schema with the length the API accepts for a report field."""
    return _nullable("string", maxLength=TEXT_LIMITS[name], **extra)


INT = {"type": "integer"}
LEVEL_COUNTS = _obj(dict.fromkeys(("1", "2", "3", "4", "5", "unrated"), INT))
NAMED = _obj({"slug": STR, "name": STR})

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": STR,
            "message": STR,
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": STR},
                "description": "For invalid input: messages per field.",
            },
        },
        required=["error", "message"],
    ),
    "Named": NAMED,
    "Index": _obj(
        {"name": STR, "version": STR, "openapi": STR, "endpoints": {"type": "array", "items": STR}}
    ),
    "Treatment": _obj(
        {
            "slug": STR,
            "name": STR,
            "category": STR,
            "summary": STR,
            "synonyms": {"type": "array", "items": STR},
            "default_query": {**STR, "description": "The default PubMed query."},
            "citations": {**INT, "description": "Included citations linked to it."},
            "citations_by_level": LEVEL_COUNTS,
            "retracted_citations": INT,
            "reports": {**INT, "description": "Visible outcome reports."},
        }
    ),
    "TreatmentList": _obj({"data": {"type": "array", "items": _ref("Treatment")}}),
    "Indication": _obj(
        {
            "slug": STR,
            "name": STR,
            "mesh_heading": STR,
            "in_catalogue": {"type": "boolean"},
            "citations": INT,
            "citations_by_level": LEVEL_COUNTS,
        }
    ),
    "IndicationList": _obj({"data": {"type": "array", "items": _ref("Indication")}}),
    "Author": _obj(
        {
            "name": {**STR, "description": "'Last FM', or the collective name."},
            "last_name": _nullable("string"),
            "fore_name": _nullable("string"),
            "initials": _nullable("string"),
            "collective_name": _nullable("string"),
        }
    ),
    "Citation": _obj(
        {
            "pmid": STR,
            "title": STR,
            "authors": {"type": "array", "items": _ref("Author")},
            "journal": _nullable("string"),
            "journal_abbrev": _nullable("string"),
            "year": _nullable("integer"),
            "pub_date": _nullable("string"),
            "volume": _nullable("string"),
            "issue": _nullable("string"),
            "pages": _nullable("string"),
            "doi": _nullable("string"),
            "pmcid": _nullable("string"),
            "language": _nullable("string"),
            "publication_types": {"type": "array", "items": STR},
            "mesh_terms": {
                "type": "array",
                "items": STR,
                "description": "MEDLINE form: '*Descriptor/qualifier'; '*' marks a major topic.",
            },
            "keywords": {"type": "array", "items": STR},
            "evidence_level": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": 5,
                "description": "1 (systematic reviews) to 5 (case reports); null: not rated.",
            },
            "evidence_rule": {**STR, "description": "The rule that gave the level."},
            "retraction_status": {"type": "string", "enum": list(RETRACTION_STATUSES)},
            "treatments": {"type": "array", "items": _ref("Named")},
            "indications": {"type": "array", "items": _ref("Named")},
            "pubmed_url": STR,
        }
    ),
    "CitationPage": _obj(
        {
            "data": {"type": "array", "items": _ref("Citation")},
            "total": INT,
            "limit": INT,
            "next_cursor": _nullable("string", description="Pass as ?cursor= for the next page."),
        }
    ),
    "Report": _obj(
        {
            "id": INT,
            "treatment": _ref("Named"),
            "indication": {"oneOf": [_ref("Named"), {"type": "null"}]},
            "reported_by": {"type": "string", "enum": ["practitioner", "quoted source"]},
            "indication_detail": _nullable("string"),
            "sessions": _nullable("integer"),
            "interval_weeks": _nullable("number"),
            "fitzpatrick": _nullable("integer", minimum=1, maximum=6),
            "age_band": _nullable("string"),
            "device": _nullable("string"),
            "needle_depth_mm": _nullable("number"),
            "energy": _nullable("string"),
            "passes": _nullable("integer"),
            "settings": _nullable("string"),
            "improvement": _nullable("integer", minimum=0, maximum=4),
            "satisfaction": _nullable("integer"),
            "goodman_baron_before": _nullable("integer", minimum=1, maximum=4),
            "goodman_baron_after": _nullable("integer", minimum=1, maximum=4),
            "gais": _nullable("integer", minimum=1, maximum=5),
            "adverse_other": _nullable("string"),
            "downtime_days": _nullable("number"),
            "cost_per_session": _nullable("number"),
            "cost_per_course": _nullable("number"),
            "currency": _nullable("string"),
            "cost_note": _nullable("string"),
            "follow_up_months": _nullable("number"),
            "protocol_pmid": _nullable("string"),
            "notes": _nullable("string"),
            "adverse_events": {
                "type": "array",
                "items": _obj(
                    {
                        "event": {"type": "string", "enum": [k for k, _ in ADVERSE_EVENTS]},
                        "label": STR,
                        "detail": _nullable("string"),
                    }
                ),
            },
            "quoted_source": {
                "oneOf": [
                    _obj(
                        {
                            "title": _nullable("string"),
                            "site": _nullable("string"),
                            "reference": _nullable("string"),
                            "commenter": _nullable("string"),
                            "role": _nullable("string"),
                            "quote": _nullable("string"),
                            "how_read": _nullable("string"),
                        }
                    ),
                    {"type": "null"},
                ]
            },
            "created_at": STR,
            "updated_at": STR,
        }
    ),
    "ReportPage": _obj(
        {
            "data": {"type": "array", "items": _ref("Report")},
            "total": INT,
            "limit": INT,
            "next_cursor": _nullable("string"),
        }
    ),
    "Proportion": _obj(
        {
            "k": INT,
            "n": INT,
            "rate": _nullable("number"),
            "low": _nullable("number", description="Wilson 95% interval."),
            "high": _nullable("number"),
            "too_few": {"type": "boolean", "description": "n below 10: too few reports."},
        }
    ),
    "GroupStats": _obj(
        {
            "label": STR,
            "n": INT,
            "too_few_reports": {"type": "boolean", "description": "n below 10."},
            "report_ids": {"type": "array", "items": INT},
            "improvement": _obj(
                {
                    "n": INT,
                    "mean": _nullable("number", description="Mean on the 0-4 scale."),
                    "low": _nullable(
                        "number",
                        description="t 95% interval clipped to 0-4; null below 10 reports.",
                    ),
                    "high": _nullable("number"),
                    "too_few": {"type": "boolean"},
                    "clipped": {
                        "type": "boolean",
                        "description": "The t interval ran past the scale and was cut at 0 or 4.",
                    },
                }
            ),
            "responders": _ref("Proportion"),
            "adverse_events": {"type": "object", "additionalProperties": _ref("Proportion")},
            "median_downtime_days": _nullable("number"),
            "median_cost_per_session": _nullable("number"),
            "median_cost_per_course": _nullable("number"),
            "currency": _nullable("string"),
        }
    ),
    "Comparison": _obj(
        {
            "treatments": {"type": "array", "items": _ref("Named")},
            "indication": {"oneOf": [_ref("Named"), {"type": "null"}]},
            "literature": {
                "type": "array",
                "items": _obj(
                    {
                        "treatment": STR,
                        "citations_by_level": LEVEL_COUNTS,
                        "counted": INT,
                        "level_1_2": INT,
                        "flagged": {**INT, "description": "Retracted or flagged, counted apart."},
                        "per_year": {
                            "type": "array",
                            "items": _obj({"year": INT, "citations": INT}),
                        },
                        "year_unknown": INT,
                        "newest_review": {
                            "oneOf": [
                                _obj({"pmid": STR, "title": STR, "year": _nullable("integer")}),
                                {"type": "null"},
                            ]
                        },
                    }
                ),
            },
            "practice": {
                "type": "array",
                "items": _obj(
                    {
                        "treatment": STR,
                        "overall": _ref("GroupStats"),
                        "by_skin_type": {
                            "type": "object",
                            "additionalProperties": _ref("GroupStats"),
                        },
                        "improvement_counts": {
                            "type": "array",
                            "items": INT,
                            "minItems": 5,
                            "maxItems": 5,
                        },
                        "quoted_prices": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "low": {"type": "number"},
                                    "high": {"type": "number"},
                                    "currency": STR,
                                    "unit": STR,
                                    "region": _nullable("string"),
                                    "source_title": _nullable("string"),
                                    "source_commenter": _nullable("string"),
                                }
                            ),
                        },
                    }
                ),
            },
            "findings": {
                "type": "array",
                "items": _obj({"treatment": STR, "kind": STR, "text": STR}),
            },
            "across_treatments": {"type": "array", "items": _obj({"kind": STR, "text": STR})},
        }
    ),
    # What the studies found (evidence/web/api_synthesis.py): every outcome's pooled result.
    "Synthesis": _obj(
        {
            "treatments": {"type": "array", "items": _ref("Named")},
            "indication": _ref("Named"),
            "studies_extracted": INT,
            "unverified": INT,
            "retracted_left_out": INT,
            "results": {
                "type": "array",
                "items": _obj(
                    {
                        "comparison": {"type": "array", "items": STR},
                        "head_to_head": {"type": "boolean"},
                        "outcome": STR,
                        "outcome_label": STR,
                        "skin_group": {"type": "string", "enum": ["all", "I-III", "IV-VI"]},
                        "effect_type": {
                            "type": "string",
                            "enum": ["RR", "MD", "proportion", "mean change"],
                        },
                        "estimate": _nullable("number"),
                        "ci_low": _nullable("number"),
                        "ci_high": _nullable("number"),
                        "pi_low": _nullable("number"),
                        "pi_high": _nullable("number"),
                        "risk_difference": {
                            "oneOf": [
                                _obj(
                                    {
                                        "estimate": {"type": "number"},
                                        "ci_low": {"type": "number"},
                                        "ci_high": {"type": "number"},
                                    }
                                ),
                                {"type": "null"},
                            ]
                        },
                        "i2": _nullable("number"),
                        "tau2": _nullable("number"),
                        "q": _nullable("number"),
                        "q_p": _nullable("number"),
                        "pooled": {"type": "boolean"},
                        "model": STR,
                        "studies": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "pmid": _nullable("string"),
                                    "label": STR,
                                    "verified": {"type": "boolean"},
                                    "design": STR,
                                }
                            ),
                        },
                        "participants": INT,
                        "certainty": _obj(
                            {
                                "level": {
                                    "type": "string",
                                    "enum": ["high", "moderate", "low", "very low"],
                                },
                                "steps": {
                                    "type": "array",
                                    "items": _obj(
                                        {"domain": STR, "rule": STR, "finding": STR, "change": INT}
                                    ),
                                },
                            }
                        ),
                        "notes": {"type": "array", "items": STR},
                    }
                ),
            },
            "published": {
                "type": "array",
                "items": _obj(
                    {
                        "pmid": STR,
                        "title": STR,
                        "year": _nullable("integer"),
                        "comparison": {"type": "array", "items": STR},
                        "measure": STR,
                        "effect_type": _nullable("string"),
                        "estimate": _nullable("number"),
                        "ci_low": _nullable("number"),
                        "ci_high": _nullable("number"),
                        "i2": _nullable("number"),
                    }
                ),
            },
        }
    ),
    "ReportInput": {
        "type": "object",
        "required": ["treatment", "improvement"],
        "additionalProperties": False,
        "properties": {
            "treatment": {**TREATMENT_SLUG, "description": "A treatment slug, e.g. microneedling."},
            "indication": _text("indication", description="An indication slug."),
            "indication_detail": _text("indication_detail"),
            "sessions": _nullable("integer", minimum=1, maximum=100),
            "interval_weeks": _nullable("number"),
            "fitzpatrick": _nullable("integer", minimum=1, maximum=6),
            "age_band": {"enum": [*AGE_BANDS, None]},
            "device": _text("device"),
            "needle_depth_mm": _nullable("number"),
            "energy": _text("energy"),
            "passes": _nullable("integer"),
            "settings": _text("settings"),
            "improvement": {"type": "integer", "minimum": 0, "maximum": 4},
            "satisfaction": _nullable("integer", minimum=1, maximum=5),
            "goodman_baron_before": _nullable(
                "integer",
                minimum=1,
                maximum=4,
                description="Goodman-Baron qualitative grade before treatment: 1 macular, "
                "2 mild, 3 moderate, 4 severe. Only with the indication acne-scars.",
            ),
            "goodman_baron_after": _nullable(
                "integer",
                minimum=1,
                maximum=4,
                description="Goodman-Baron grade at follow-up (higher than before: worse).",
            ),
            "gais": _nullable(
                "integer",
                minimum=1,
                maximum=5,
                description="GAIS: 1 exceptional improvement, 2 very improved, 3 improved, "
                "4 no change, 5 worse (lower is better).",
            ),
            "adverse_events": {
                "type": "array",
                "items": {"type": "string", "enum": [k for k, _ in ADVERSE_EVENTS]},
            },
            "adverse_other": _text("adverse_other"),
            "downtime_days": _nullable("number"),
            "cost_per_session": _nullable("number"),
            "cost_per_course": _nullable("number"),
            "currency": _text("currency", pattern="^[A-Z]{3}$"),
            "follow_up_months": _nullable("number"),
            "notes": _text(
                "notes", description="No patient identifiers: names, dates, contacts are refused."
            ),
            "protocol_pmid": _text("protocol_pmid"),
        },
    },
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return an optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or STR,
    }


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema or STR}


PAGING = [
    _query(
        "limit",
        "Items per page, 1-500 (default 50).",
        {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    ),
    _query("cursor", "The next_cursor of the previous page."),
]
CITATION_FILTERS = [
    _query("treatment", "Treatment slug.", TREATMENT_SLUG),
    _query("indication", "Indication slug."),
    _query("level", "Evidence level.", {"type": "string", "enum": list(LEVEL_KEYS)}),
    _query(
        "year_from",
        "Earliest publication year.",
        {"type": "integer", "minimum": 1000, "maximum": 9999},
    ),
    _query(
        "year_to", "Latest publication year.", {"type": "integer", "minimum": 1000, "maximum": 9999}
    ),
    _query("pub_type", "PubMed publication type, e.g. 'Randomized Controlled Trial'."),
    _query("q", "Text in title, abstract, journal or author; or a PMID or DOI."),
    _query(
        "status",
        "Link screening status: included (default), candidate, excluded, any.",
        {"type": "string", "enum": ["included", "candidate", "excluded", "any"]},
    ),
    _query(
        "retracted",
        "'only' or 'exclude' retracted and flagged citations.",
        {"type": "string", "enum": ["only", "exclude"]},
    ),
]
REPORT_FILTERS = [
    _query("treatment", "Treatment slug.", TREATMENT_SLUG),
    _query("indication", "Indication slug."),
    _query(
        "skin",
        "Fitzpatrick type 1-6, 'I-III', 'IV-VI' or 'none' (not stated).",
        {"type": "string", "enum": [*"123456", "I-III", "IV-VI", "none"]},
    ),
    _query(
        "role",
        "Reporter role, or 'source' for quoted sources.",
        {"type": "string", "enum": [*ROLES, "source"]},
    ),
    _query(
        "event",
        "Only reports with this adverse event.",
        {"type": "string", "enum": [k for k, _ in ADVERSE_EVENTS]},
    ),
    _query(
        "date_from", "Submitted on or after (YYYY-MM-DD).", {"type": "string", "format": "date"}
    ),
    _query("date_to", "Submitted on or before (YYYY-MM-DD).", {"type": "string", "format": "date"}),
]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """Return a JSON response object."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _ref("Error")


def _get(
    summary: str,
    schema: str,
    *,
    parameters: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
    op_id: str,
) -> dict[str, Any]:
    """Return a GET operation answering `schema`, with JSON errors."""
    responses: dict[str, Any] = {"200": _json(_ref(schema), summary)}
    for code in errors:
        responses[str(code)] = _json(ERROR, HTTP_REASONS[code])
    return {
        "get": {
            "summary": summary,
            "operationId": op_id,
            "parameters": parameters or [],
            "responses": responses,
        }
    }


HTTP_REASONS = {
    400: "Malformed request (bad limit, cursor or treatment list).",
    401: "Missing, unknown or revoked token.",
    403: "The token's account may not do this.",
    404: "No such record.",
    422: "Invalid input; 'fields' says what to fix.",
}


@cache
def _document() -> dict[str, Any]:
    """Build the document once."""
    paths: dict[str, Any] = {
        "/api/v1/": _get("Where everything is.", "Index", op_id="index"),
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document.",
                "operationId": "openapi",
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI 3.1 document of this API.")
                },
            }
        },
        "/api/v1/treatments": _get(
            "Every treatment with its counts.", "TreatmentList", op_id="listTreatments"
        ),
        "/api/v1/treatments/{slug}": _get(
            "One treatment.",
            "Treatment",
            parameters=[_path("slug", TREATMENT_SLUG)],
            errors=(404,),
            op_id="getTreatment",
        ),
        "/api/v1/indications": _get(
            "Every indication with its counts.", "IndicationList", op_id="listIndications"
        ),
        "/api/v1/indications/{slug}": _get(
            "One indication.",
            "Indication",
            parameters=[_path("slug")],
            errors=(404,),
            op_id="getIndication",
        ),
        "/api/v1/citations": _get(
            "Citations, filtered as in the citation tables, in the order they were added.",
            "CitationPage",
            parameters=CITATION_FILTERS + PAGING,
            errors=(400, 404),
            op_id="listCitations",
        ),
        "/api/v1/citations/{pmid}": _get(
            "One citation's full record.",
            "CitationDetail",
            parameters=[_path("pmid")],
            errors=(404,),
            op_id="getCitation",
        ),
        "/api/v1/reports": {
            **_get(
                "Visible outcome reports, filtered as in the reports list, oldest first.",
                "ReportPage",
                parameters=REPORT_FILTERS + PAGING,
                errors=(400, 404),
                op_id="listReports",
            ),
            "post": {
                "summary": "Submit an outcome report (a practitioner's token).",
                "operationId": "createReport",
                "security": [{"bearerToken": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ReportInput")}},
                },
                "responses": {
                    "201": _json(_ref("Report"), "The saved report."),
                    **{str(c): _json(ERROR, HTTP_REASONS[c]) for c in (400, 401, 403, 422)},
                },
            },
        },
        "/api/v1/compare": _get(
            "Literature and practice side by side for up to four treatments.",
            "Comparison",
            parameters=[
                {
                    "name": "treatments",
                    "in": "query",
                    "required": True,
                    "description": "Comma-separated treatment slugs (up to 4).",
                    "schema": STR,
                },
                _query("indication", "Indication slug."),
            ],
            errors=(400, 404),
            op_id="compareTreatments",
        ),
        "/api/v1/synthesis": _get(
            "What the extracted studies found: every outcome's pooled result, with its "
            "interval, heterogeneity, studies (PMIDs), model and GRADE certainty step by step.",
            "Synthesis",
            parameters=[
                {
                    "name": "t",
                    "in": "query",
                    "required": True,
                    "description": "A treatment slug; repeat for each (up to 4).",
                    "schema": {"type": "array", "items": STR},
                    "style": "form",
                    "explode": True,
                },
                {
                    "name": "indication",
                    "in": "query",
                    "required": True,
                    "description": "Indication slug (results are never pooled across indications).",
                    "schema": STR,
                },
            ],
            errors=(400, 404),
            op_id="synthesis",
        ),
        "/api/v1/reports/{report_id}": _get(
            "One visible outcome report.",
            "Report",
            parameters=[_path("report_id", INT)],
            errors=(404,),
            op_id="getReport",
        ),
    }
    schemas = copy.deepcopy(SCHEMAS)
    detail = copy.deepcopy(SCHEMAS["Citation"])
    detail["properties"].update(
        {
            "abstract": _nullable("string"),
            "abstract_sections": {
                "type": "array",
                "items": _obj(
                    {"label": _nullable("string"), "nlm_category": _nullable("string"), "text": STR}
                ),
            },
            "identifiers": {"type": "array", "items": _obj({"type": STR, "value": STR})},
            "corrections": {
                "type": "array",
                "items": _obj(
                    {"type": STR, "pmid": _nullable("string"), "source": _nullable("string")}
                ),
            },
            "co_interventions": {"type": "array", "items": STR},
            "links": {
                "type": "array",
                "items": _obj(
                    {
                        "treatment": {"oneOf": [_ref("Named"), {"type": "null"}]},
                        "indication": {"oneOf": [_ref("Named"), {"type": "null"}]},
                        "status": {"type": "string", "enum": ["candidate", "included", "excluded"]},
                        "exclusion_reason": _nullable("string"),
                        "found_by": STR,
                    }
                ),
            },
            "source": STR,
            "updated_at": _nullable("string"),
        }
    )
    detail["required"] = list(detail["properties"])
    schemas["CitationDetail"] = detail
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Evidence tracker API",
            "version": "1.0.0",
            "description": (
                "Treatments, indications, PubMed citations graded by study design, and "
                "de-identified outcome reports. Reading is open; submitting a report needs a "
                "practitioner's token (create one at /account/tokens). Errors are JSON: "
                '{"error": ..., "message": ...}. Lists page with ?limit= and ?cursor=.'
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "From /account/tokens: 'Authorization: Bearer evt_...'.",
                }
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
