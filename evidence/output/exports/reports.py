"""The outcome-report CSV: visible reports only, and no reporter identity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlmodel import Session, col, select

from evidence import queries
from evidence.models import ADVERSE_EVENT_LABELS, OutcomeAdverseEvent, OutcomeReport
from evidence.practice import reports

from .csv import csv_chunks
from .loader import BATCH_SIZE
from .records import join

REPORT_COLUMNS = (
    "id",
    "treatment",
    "indication",
    "indication_detail",
    "reported_by",
    "source_title",
    "source_site",
    "source_ref",
    "source_commenter",
    "source_role",
    "source_quote",
    "source_mapping",
    "sessions",
    "interval_weeks",
    "fitzpatrick",
    "age_band",
    "device",
    "needle_depth_mm",
    "energy",
    "passes",
    "settings",
    "improvement",
    "satisfaction",
    "goodman_baron_before",
    "goodman_baron_after",
    "gais",
    "adverse_events",
    "adverse_other",
    "downtime_days",
    "cost_per_session",
    "cost_per_course",
    "currency",
    "cost_note",
    "follow_up_months",
    "protocol_pmid",
    "notes",
    "created_at",
)


def report_rows(
    session: Session, flt: reports.ReportFilter, *, batch_size: int = BATCH_SIZE
) -> Iterator[list[Any]]:
    """Yield visible outcome reports as rows of REPORT_COLUMNS, batch by batch, oldest first.

    The filter is the reports list's (treatment, indication, skin type, role, adverse event,
    dates). Hidden reports are never exported, and no reporter identity leaves the app: a
    practitioner's report says only 'practitioner'.
    """
    names = queries.name_maps(session)
    stmt = reports.report_query(replace(flt, hidden=False))
    last_id = 0
    while True:
        batch = list(
            session.exec(
                stmt.where(col(OutcomeReport.id) > last_id)
                .order_by(col(OutcomeReport.id))
                .limit(batch_size)
            )
        )
        if not batch:
            return
        ids = [r.id for r in batch if r.id is not None]
        last_id = ids[-1]
        events: dict[int, list[str]] = defaultdict(list)
        for report_id, event, detail in session.execute(
            select(
                OutcomeAdverseEvent.report_id, OutcomeAdverseEvent.event, OutcomeAdverseEvent.detail
            )
            .where(col(OutcomeAdverseEvent.report_id).in_(ids))
            .order_by(col(OutcomeAdverseEvent.id))
        ):
            label = ADVERSE_EVENT_LABELS.get(event, event)
            events[report_id].append(f"{label} ({detail})" if detail else label)
        for r in batch:
            assert r.id is not None
            values = r.model_dump()
            treatment = names.treatments.get(r.treatment_id)
            indication = names.indications.get(r.indication_id) if r.indication_id else None
            values.update(
                treatment=treatment.name if treatment else "",
                indication=indication.name if indication else "",
                reported_by="quoted source" if r.source_key else "practitioner",
                adverse_events=join(events[r.id]),
                created_at=r.created_at.strftime("%Y-%m-%d"),
            )
            yield ["" if values.get(c) is None else values[c] for c in REPORT_COLUMNS]


def export_reports(session: Session, flt: reports.ReportFilter) -> Iterator[bytes]:
    """Yield the visible outcome reports matching the filter as CSV bytes."""
    for chunk in csv_chunks(REPORT_COLUMNS, report_rows(session, flt)):
        yield chunk.encode("utf-8")
