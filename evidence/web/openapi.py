"""The OpenAPI 3.1 document of /api/v1/, generated from the pydantic models (served at
/api/v1/openapi.json).

The schemas come from evidence/web/schemas.py; each operation is one row of OPERATIONS below:
its path, the models of its query string, body and answer, and the error statuses it gives.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from evidence.web import schemas

REF_TEMPLATE = "#/components/schemas/{model}"


class _Generator(GenerateJsonSchema):
    """Pydantic's JSON Schema, as OpenAPI documents write it: no generated titles, and a
    nullable simple value as `"type": [t, "null"]` with its constraints kept."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        """Leave out the titles pydantic derives from field names (they say nothing more)."""
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        """Write `T | None` as `{"type": [T, "null"], ...}` where T is a plain type."""
        inner = self.generate_inner(schema["schema"])
        kind = inner.get("type")
        if isinstance(kind, str) and kind != "null":
            merged = {**inner, "type": [kind, "null"]}
            if "enum" in merged and None not in merged["enum"]:
                merged["enum"] = [*merged["enum"], None]
            return merged
        if isinstance(kind, list) and "null" in kind:
            return inner
        return super().nullable_schema(schema)


HTTP_REASONS = {
    400: "Malformed request (bad limit, cursor or treatment list).",
    401: "Missing, unknown or revoked token.",
    403: "The token's account may not do this.",
    404: "No such record.",
    422: "Invalid input; 'fields' says what to fix.",
}


@dataclass(frozen=True)
class Operation:
    """One documented operation: what it takes and what it answers."""

    method: str
    path: str
    op_id: str
    summary: str
    response: type[BaseModel] | None  # None: any JSON object (the document itself)
    response_description: str = ""
    status: int = 200
    query: tuple[type[BaseModel], ...] = ()
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    token: bool = False


TREATMENT_SLUG = schemas.TREATMENT_SLUG_SCHEMA
STR = {"type": "string"}

# Every /api/v1/ operation, in the order the document lists them (evidence/web/views/api.py).
OPERATIONS = (
    Operation("get", "/api/v1/", "index", "Where everything is.", schemas.Index),
    Operation(
        "get",
        "/api/v1/openapi.json",
        "openapi",
        "This document.",
        None,
        response_description="The OpenAPI 3.1 document of this API.",
    ),
    Operation(
        "get",
        "/api/v1/treatments",
        "listTreatments",
        "Every treatment with its counts.",
        schemas.TreatmentList,
    ),
    Operation(
        "get",
        "/api/v1/treatments/{slug}",
        "getTreatment",
        "One treatment.",
        schemas.Treatment,
        path_params={"slug": TREATMENT_SLUG},
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/v1/indications",
        "listIndications",
        "Every indication with its counts.",
        schemas.IndicationList,
    ),
    Operation(
        "get",
        "/api/v1/indications/{slug}",
        "getIndication",
        "One indication.",
        schemas.Indication,
        path_params={"slug": STR},
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/v1/citations",
        "listCitations",
        "Citations, filtered as in the citation tables, in the order they were added.",
        schemas.CitationPage,
        query=(schemas.CitationQuery, schemas.PageQuery),
        errors=(400, 404),
    ),
    Operation(
        "get",
        "/api/v1/citations/{pmid}",
        "getCitation",
        "One citation's full record.",
        schemas.CitationDetail,
        path_params={"pmid": STR},
        errors=(404,),
    ),
    Operation(
        "get",
        "/api/v1/reports",
        "listReports",
        "Visible outcome reports, filtered as in the reports list, oldest first.",
        schemas.ReportPage,
        query=(schemas.ReportQuery, schemas.PageQuery),
        errors=(400, 404),
    ),
    Operation(
        "post",
        "/api/v1/reports",
        "createReport",
        "Submit an outcome report (a practitioner's token).",
        schemas.Report,
        response_description="The saved report.",
        status=201,
        body=schemas.ReportInput,
        errors=(400, 401, 403, 422),
        token=True,
    ),
    Operation(
        "get",
        "/api/v1/compare",
        "compareTreatments",
        "Literature and practice side by side for up to four treatments.",
        schemas.Comparison,
        query=(schemas.CompareQuery,),
        errors=(400, 404),
    ),
    Operation(
        "get",
        "/api/v1/synthesis",
        "synthesis",
        "What the extracted studies found: every outcome's pooled result, with its "
        "interval, heterogeneity, studies (PMIDs), model and GRADE certainty step by step.",
        schemas.Synthesis,
        query=(schemas.SynthesisQuery,),
        errors=(400, 404),
    ),
    Operation(
        "get",
        "/api/v1/reports/{report_id}",
        "getReport",
        "One visible outcome report.",
        schemas.Report,
        path_params={"report_id": {"type": "integer"}},
        errors=(404,),
    ),
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    """Return a reference to a model's component schema."""
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """Return a JSON response object."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Return a query model's fields as OpenAPI query parameters."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=_Generator)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", "")
        if prop.get("default", 0) is None:
            del prop["default"]
        kind = prop.get("type")
        if isinstance(kind, list):
            # A parameter left out is the null of the model: the parameter itself is never null.
            prop["type"] = next(k for k in kind if k != "null")
            if "enum" in prop:
                prop["enum"] = [v for v in prop["enum"] if v is not None]
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": description,
            "schema": prop,
        }
        if prop.get("type") == "array":
            parameter |= {"style": "form", "explode": True}
        out.append(parameter)
    return out


def _operation(op: Operation) -> dict[str, Any]:
    """Return one operation object."""
    success = _ref(op.response) if op.response else {"type": "object"}
    responses: dict[str, Any] = {
        str(op.status): _json(success, op.response_description or op.summary)
    }
    for code in op.errors:
        responses[str(code)] = _json(_ref(schemas.Error), HTTP_REASONS[code])
    out: dict[str, Any] = {"summary": op.summary, "operationId": op.op_id}
    if op.token:
        out["security"] = [{"bearerToken": []}]
    if op.method == "get":
        out["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": schema}
            for name, schema in op.path_params.items()
        ] + [p for model in op.query for p in _query_parameters(model)]
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(op.body)}},
        }
    out["responses"] = responses
    return out


def _components() -> dict[str, Any]:
    """Return the component schemas of every model an operation names (and theirs)."""
    used: set[type[BaseModel]] = {schemas.Error}
    for op in OPERATIONS:
        used.update(m for m in (op.response, op.body) if m is not None)
    _, top = models_json_schema(
        [(m, "validation") for m in sorted(used, key=lambda m: m.__name__)],
        ref_template=REF_TEMPLATE,
        schema_generator=_Generator,
    )
    # The component names say what the models' titles say.
    return {
        name: {k: v for k, v in schema.items() if k != "title"}
        for name, schema in sorted(top["$defs"].items())
    }


@cache
def _document() -> dict[str, Any]:
    """Build the document once."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
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
            "schemas": _components(),
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
