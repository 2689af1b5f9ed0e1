"""CSV import and export of extracted studies in a long format (docs/extraction-csv.md).

One row per study x arm x outcome (row_type "outcome"), per adverse-event count
(row_type "adverse_event"), or per arm that has neither (row_type "arm"). Import is
all or nothing: any bad row stops the whole file, with every row error listed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from evidence.literature import extraction
from evidence.models import Citation, ExtractionAction, Indication, Study, Treatment

MAX_BYTES = 5 * 1024 * 1024
COLUMNS = (
    "pmid", "study_id", "study_design", "split_face", "randomised", "blinded", "indication",
    "fitzpatrick_types", "n_enrolled", "n_analysed", "source_url", "checked_on", "verified",
    "arm", "treatment", "comparator", "arm_label", "co_intervention", "sessions",
    "interval_weeks", "interval_as_stated", "arm_n", "row_type", "measure", "measure_as_stated",
    "timepoint", "n", "baseline", "mean", "mean_change", "sd", "sd_of", "percent_improvement",
    "events", "total", "percent", "p_value_as_stated", "baseline_sd", "value_as_stated",
    "ci_as_stated", "categories_as_stated", "p_vs_baseline_as_stated", "direction_as_stated",
    "scope_as_stated", "notes",
)  # fmt: skip
ROW_TYPES = ("outcome", "adverse_event", "arm")
INT_COLS = {"study_id", "n_enrolled", "n_analysed", "arm", "sessions", "arm_n", "n", "events",
            "total"}  # fmt: skip
FLOAT_COLS = {"interval_weeks", "baseline", "baseline_sd", "mean", "mean_change", "sd",
              "percent_improvement", "percent"}  # fmt: skip
BOOL_COLS = {"split_face", "randomised", "blinded"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Record fields -> CSV columns, to point a validation problem at the column to fix.
COLUMN_OF = {
    "design": "study_design", "n_enrolled": "n_enrolled", "n_analysed": "n_analysed",
    "indication": "indication", "treatment": "treatment", "n": "n", "sd": "sd",
    "baseline_sd": "sd", "events": "events", "responders": "events", "responders_n": "total",
    "percent": "percent", "responders_percent": "percent", "measure_as_stated": "measure_as_stated",
    "arm": "arm", "event": "measure", "sessions": "sessions", "interval_weeks": "interval_weeks",
}  # fmt: skip


@dataclass
class RowError:
    """One problem: the file's line number (header is line 1), the column, what is wrong."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        """Return 'row N, column C: message'."""
        return f"row {self.row}, column {self.column}: {self.message}"


class ImportFailed(Exception):
    """The file was refused; nothing was saved."""

    def __init__(self, errors: list[RowError]) -> None:
        """Keep every row error."""
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


@dataclass
class ImportResult:
    """What an import saved."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rows: int = 0
    pmids: list[str] = field(default_factory=list)


def neutralise(value: Any) -> str:
    """Return a cell as text, with a leading apostrophe before = + - @ (no formula runs)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text.startswith(FORMULA_START):
        if isinstance(value, int | float):
            return text  # a negative number is a number, not a formula
        return "'" + text
    return text


def export_csv(session: Session) -> str:
    """Return every extracted study as CSV text (formula cells neutralised)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    citations = {c.id: c for c in session.exec(select(Citation).join(Study).distinct())}
    for study in session.exec(select(Study).order_by(col(Study.citation_id), col(Study.id))):
        citation = citations[study.citation_id]
        rec = extraction.study_record(session, study)
        for row in _rows(citation, study, rec):
            writer.writerow([neutralise(row.get(c)) for c in COLUMNS])
    return out.getvalue()


def _rows(citation: Citation, study: Study, rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a study's long-format rows."""
    base = {
        "pmid": citation.pmid, "study_id": study.id, "study_design": rec["design"],
        "split_face": rec["split_face"], "randomised": rec["randomised"],
        "blinded": rec["blinded"], "indication": rec["indication"],
        "fitzpatrick_types": rec["fitzpatrick_types"], "n_enrolled": rec["n_enrolled"],
        "n_analysed": rec["n_analysed"], "source_url": rec["source_url"],
        "checked_on": rec["checked_on"], "verified": "yes" if study.verified_at else "no",
        "notes": rec["notes"],
    }  # fmt: skip

    def arm_cols(index: int | None) -> dict[str, Any]:
        """The arm columns of a row (blank for the whole cohort)."""
        if index is None:
            return {}
        arm = rec["arms"][index]
        return {
            "arm": index + 1, "treatment": arm["treatment"], "comparator": arm["comparator_label"],
            "arm_label": arm["label"], "co_intervention": arm["co_intervention"],
            "sessions": arm["sessions"], "interval_weeks": arm["interval_weeks"],
            "interval_as_stated": arm["interval_as_stated"], "arm_n": arm["n"],
        }  # fmt: skip

    rows = []
    used: set[int] = set()
    for out in rec["outcomes"]:
        if out["arm"] is not None:
            used.add(out["arm"])
        rows.append(
            {
                **base, **arm_cols(out["arm"]), "row_type": "outcome", "measure": out["measure"],
                "measure_as_stated": out["measure_as_stated"], "timepoint": out["timepoint"],
                "n": out["n"], "baseline": out["baseline"], "mean": out["final"],
                "mean_change": out["mean_change"], "sd": out["sd"], "sd_of": out["sd_of"],
                "percent_improvement": out["percent_improvement"], "events": out["responders"],
                "total": out["responders_n"], "percent": out["responders_percent"],
                "p_value_as_stated": out["p_value_as_stated"], "baseline_sd": out["baseline_sd"],
                "value_as_stated": out["value_as_stated"], "ci_as_stated": out["ci_as_stated"],
                "categories_as_stated": out["categories_as_stated"],
                "p_vs_baseline_as_stated": out["p_vs_baseline_as_stated"],
                "direction_as_stated": out["direction_as_stated"],
            }
        )  # fmt: skip
    for ev in rec["adverse_events"]:
        if ev["arm"] is not None:
            used.add(ev["arm"])
        rows.append(
            {
                **base, **arm_cols(ev["arm"]), "row_type": "adverse_event",
                "measure": ev["event"], "measure_as_stated": ev["event_as_stated"],
                "events": ev["events"], "total": ev["n"], "percent": ev["percent"],
                "scope_as_stated": ev["scope_as_stated"],
            }
        )  # fmt: skip
    for index in range(len(rec["arms"])):
        if index not in used:
            rows.append({**base, **arm_cols(index), "row_type": "arm"})
    return rows


def _parse(row: dict[str, str], line: int, errors: list[RowError]) -> dict[str, Any]:
    """Parse one row's cells into typed values, recording each bad cell."""
    out: dict[str, Any] = {}
    for column in COLUMNS:
        raw = (row.get(column) or "").strip()
        if raw.startswith("'") and raw[1:2] in FORMULA_START:
            raw = raw[1:]  # our own export's neutralising apostrophe
        if raw == "":
            out[column] = None
        elif column in INT_COLS:
            try:
                out[column] = int(raw)
            except ValueError:
                errors.append(RowError(line, column, f"{raw!r} is not a whole number"))
        elif column in FLOAT_COLS:
            try:
                out[column] = float(raw)
            except ValueError:
                errors.append(RowError(line, column, f"{raw!r} is not a number"))
        elif column in BOOL_COLS:
            value = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
            if raw.lower() not in value:
                errors.append(RowError(line, column, f"{raw!r}: write yes, no or leave blank"))
            out[column] = value.get(raw.lower())
        else:
            out[column] = raw
    return out


def import_csv(session: Session, raw: bytes, *, user_id: int | None) -> ImportResult:
    """Save every study in a long-format CSV, or nothing (ImportFailed lists the row errors)."""
    if len(raw) > MAX_BYTES:
        raise ImportFailed([RowError(0, "-", f"the file is over {MAX_BYTES // 1024 // 1024} MB")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed([RowError(0, "-", "the file is not UTF-8 text")]) from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c for c in ("pmid", "study_design", "row_type") if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise ImportFailed([RowError(1, c, "this column is required") for c in missing])
    errors: list[RowError] = []
    groups: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    treatments = {t.slug for t in session.exec(select(Treatment))}
    indications = {i.slug for i in session.exec(select(Indication))}
    for line, row in enumerate(reader, start=2):
        cells = _parse(row, line, errors)
        if not cells["pmid"]:
            errors.append(RowError(line, "pmid", "every row needs the PMID"))
            continue
        if cells["row_type"] not in ROW_TYPES:
            errors.append(RowError(line, "row_type", f"write one of {', '.join(ROW_TYPES)}"))
        if cells["treatment"] and cells["treatment"] not in treatments:
            errors.append(RowError(line, "treatment", f"unknown treatment {cells['treatment']!r}"))
        if cells["indication"] and cells["indication"] not in indications:
            errors.append(
                RowError(line, "indication", f"unknown indication {cells['indication']!r}")
            )
        key = (cells["pmid"], str(cells["study_id"] or ""))
        groups.setdefault(key, []).append((line, cells))
    plans = []
    for (pmid, study_ref), rows in groups.items():
        plans.append(_plan(session, pmid, study_ref, rows, errors))
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    result = ImportResult(rows=sum(len(r) for r in groups.values()))
    for citation, study, rec, origin in plans:
        assert citation is not None and rec is not None
        before = extraction.study_record(session, study) if study else None
        try:
            extraction.save_study(session, citation, rec, user_id=user_id, study=study,
                                  action=ExtractionAction.IMPORT)  # fmt: skip
        except extraction.ExtractionError as exc:
            errors.extend(_locate(exc.problems, origin))
            continue
        if study is None:
            result.created += 1
        elif before == extraction.study_record(session, study):
            result.unchanged += 1
        else:
            result.updated += 1
        result.pmids.append(citation.pmid)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    return result


def _plan(
    session: Session,
    pmid: str,
    study_ref: str,
    rows: list[tuple[int, dict[str, Any]]],
    errors: list[RowError],
) -> tuple[Citation | None, Study | None, dict[str, Any] | None, dict[str, Any]]:
    """Assemble one study's record from its rows, recording problems against their rows."""
    first_line, first = rows[0]
    citation = session.exec(select(Citation).where(Citation.pmid == pmid)).first()
    if citation is None:
        errors.append(RowError(first_line, "pmid", f"no citation with PMID {pmid}: add it first"))
    study = None
    if study_ref:
        study = session.get(Study, int(study_ref))
        if study is None or (citation is not None and study.citation_id != citation.id):
            errors.append(RowError(first_line, "study_id", f"no study {study_ref} on PMID {pmid}"))
            study = None
    for line, cells in rows[1:]:
        for column in ("study_design", "n_enrolled", "n_analysed", "indication"):
            if cells[column] != first[column]:
                errors.append(RowError(line, column, "differs from the study's first row"))
    arms: dict[int, dict[str, Any]] = {}
    outcomes: list[tuple[int | None, dict[str, Any]]] = []
    events: list[tuple[int | None, dict[str, Any]]] = []
    origin: dict[str, int] = {}
    for line, cells in rows:
        number = cells["arm"]
        if number is not None:
            if number < 1:
                errors.append(RowError(line, "arm", "arms are numbered from 1"))
                continue
            arm = {
                "treatment": cells["treatment"], "comparator_label": cells["comparator"],
                "label": cells["arm_label"], "co_intervention": cells["co_intervention"],
                "sessions": cells["sessions"], "interval_weeks": cells["interval_weeks"],
                "interval_as_stated": cells["interval_as_stated"], "n": cells["arm_n"],
            }  # fmt: skip
            described = any(v is not None for v in arm.values())
            if described and number in arms and arms[number] != arm:
                errors.append(RowError(line, "arm", f"arm {number} is described differently above"))
            if (
                number not in arms
                or described
                and not any(v is not None for v in arms[number].values())
            ):
                arms[number] = arm
            origin.setdefault(f"arms-{number}", line)
        if cells["row_type"] == "outcome":
            origin[f"outcomes-{len(outcomes)}"] = line
            outcomes.append((number, cells))
        elif cells["row_type"] == "adverse_event":
            origin[f"adverse_events-{len(events)}"] = line
            events.append((number, cells))
    numbers = sorted(arms)
    index = {n: i for i, n in enumerate(numbers)}
    # Re-key arm origins by record index.
    for n in numbers:
        origin[f"arms-{index[n]}"] = origin.pop(f"arms-{n}")
    rec = {
        "design": first["study_design"],
        "split_face": bool(first["split_face"]),
        "randomised": first["randomised"],
        "blinded": first["blinded"],
        "indication": first["indication"],
        "fitzpatrick_types": first["fitzpatrick_types"],
        "n_enrolled": first["n_enrolled"],
        "n_analysed": first["n_analysed"],
        "source_url": first["source_url"],
        "checked_on": first["checked_on"],
        "notes": first["notes"],
        "arms": [arms[n] for n in numbers],
        "outcomes": [
            {
                "arm": index.get(n) if n is not None else None,
                "measure": c["measure"],
                "measure_as_stated": c["measure_as_stated"] or "",
                "timepoint": c["timepoint"],
                "n": c["n"],
                "baseline": c["baseline"],
                "final": c["mean"],
                "mean_change": c["mean_change"],
                "sd": c["sd"],
                "sd_of": c["sd_of"],
                "percent_improvement": c["percent_improvement"],
                "responders": c["events"],
                "responders_n": c["total"],
                "responders_percent": c["percent"],
                "p_value_as_stated": c["p_value_as_stated"],
                "baseline_sd": c["baseline_sd"],
                "value_as_stated": c["value_as_stated"],
                "ci_as_stated": c["ci_as_stated"],
                "categories_as_stated": c["categories_as_stated"],
                "p_vs_baseline_as_stated": c["p_vs_baseline_as_stated"],
                "direction_as_stated": c["direction_as_stated"],
            }
            for n, c in outcomes
        ],  # fmt: skip
        "adverse_events": [
            {
                "arm": index.get(n) if n is not None else None,
                "event": extraction.event_kind_for(c["measure"] or ""),
                "event_as_stated": c["measure_as_stated"],
                "events": c["events"],
                "n": c["total"],
                "percent": c["percent"],
                "scope_as_stated": c["scope_as_stated"],
            }
            for n, c in events
        ],  # fmt: skip
    }
    if first["checked_on"]:
        try:
            date.fromisoformat(first["checked_on"])
        except ValueError:
            errors.append(RowError(first_line, "checked_on", "write the date as YYYY-MM-DD"))
            rec["checked_on"] = None
    located = _locate(extraction.validate_record(rec), origin, first_line)
    errors.extend(located)
    return citation, study, rec, origin


def _locate(
    problems: list[tuple[str, str]], origin: dict[str, Any], default: int = 0
) -> list[RowError]:
    """Point each record problem at the row and column it came from."""
    out = []
    for key, message in problems:
        parts = key.split("-")
        line = origin.get("-".join(parts[:2]), default) if len(parts) >= 2 else default
        column = COLUMN_OF.get(parts[-1], parts[-1])
        if parts[0] == "arms" and column == "n":
            column = "arm_n"
        out.append(RowError(int(line), column, message))
    return out
