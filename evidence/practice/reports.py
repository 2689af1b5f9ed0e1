"""Outcome reports: create, edit with history, hide, identifier checks, filters and CSV import.

Plain functions with an explicit session; views call them and render.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time
from typing import Any, get_args, get_origin, get_type_hints

import re2
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from evidence.models import (
    ADVERSE_EVENT_LABELS,
    ADVERSE_EVENTS,
    AGE_BANDS,
    GOODMAN_BARON_INDICATION,
    ROLES,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    OutcomeReportRevision,
    RevisionAction,
    Role,
    Treatment,
    User,
    utcnow,
)
from evidence.practice.deidentify import find_personal_names
from evidence.practice.outcomes import RESPONDER_THRESHOLD
from evidence.roles import role_includes
from evidence.web.params import ArgParser

FITZPATRICK_NUMERALS = ("I", "II", "III", "IV", "V", "VI")
HAS_FILTERS = {
    "improvement": "improvement stated",
    "responder": "responders (improvement 2 or more)",
    "downtime": "downtime stated",
    "cost": "cost stated",
    "goodman_baron": "Goodman-Baron grade before and after stated",
    "gais": "GAIS stated",
}
SKIN_GROUP_TYPES = {"I-III": (1, 2, 3), "IV-VI": (4, 5, 6)}


def _field(
    label: str,
    *,
    within: tuple[float, float] | None = None,
    free_text: bool = False,
    scale: bool = False,
) -> Any:
    """Declare an optional report field: its label, its allowed range, whether it is free text.

    `scale` marks a validated scale (Goodman-Baron, GAIS): its range is checked with the scale's
    own wording (scale_problems), not the generic "Enter a value from ... to ...".
    """
    metadata = {"label": label, "within": within, "free_text": free_text, "scale": scale}
    return field(default=None, metadata=metadata)


@dataclass
class ReportInput:
    """A validated report as the form, a CSV row or the API gives it (slugs, not ids).

    This is the one list of report fields. Their order is the CSV's column order; each field's
    metadata holds its label (revisions, upload errors), its range (checked by every path, and
    the form's NumberRange) and whether it is free text (checked for patient identifiers). The
    constants below, the form's `to_input`, the CSV template and import and the API's field
    list are derived from it.
    """

    treatment: str = field(metadata={"label": "Treatment"})
    indication: str | None = _field("Indication")
    indication_detail: str | None = _field("Indication detail", free_text=True)
    sessions: int | None = _field("Sessions", within=(1, 100))
    interval_weeks: float | None = _field("Interval between sessions (weeks)", within=(0, 104))
    fitzpatrick: int | None = _field("Fitzpatrick skin type", within=(1, 6))
    age_band: str | None = _field("Age band")
    device: str | None = _field("Device", free_text=True)
    needle_depth_mm: float | None = _field("Needle depth (mm)", within=(0, 5))
    energy: str | None = _field("Energy", free_text=True)
    passes: int | None = _field("Passes", within=(0, 50))
    settings: str | None = _field("Other settings", free_text=True)
    improvement: int | None = _field("Improvement (0-4)", within=(0, 4))
    satisfaction: int | None = _field("Patient satisfaction (1-5)", within=(1, 5))
    adverse_events: list[str] = field(default_factory=list, metadata={"label": "Adverse events"})
    adverse_other: str | None = _field("Other adverse event", free_text=True)
    downtime_days: float | None = _field("Downtime (days)", within=(0, 365))
    cost_per_session: float | None = _field("Cost per session", within=(0, 1_000_000))
    cost_per_course: float | None = _field("Cost per course", within=(0, 10_000_000))
    currency: str | None = _field("Currency")
    follow_up_months: float | None = _field("Follow-up (months)", within=(0, 240))
    notes: str | None = _field("Notes", free_text=True)
    protocol_pmid: str | None = _field("Protocol PMID")
    # Validated scales, range-checked with their own wording (scale_problems).
    goodman_baron_before: int | None = _field(
        "Goodman-Baron grade before (1-4)", within=(1, 4), scale=True
    )
    goodman_baron_after: int | None = _field(
        "Goodman-Baron grade after (1-4)", within=(1, 4), scale=True
    )
    gais: int | None = _field("GAIS (1-5)", within=(1, 5), scale=True)


def _value_type(hint: Any) -> type:
    """Return the type a field holds: int, float, str or list (None aside)."""
    if get_origin(hint) is list:
        return list
    kinds = [t for t in get_args(hint) if t is not type(None)] or [hint]
    kind: type = kinds[0]
    return kind


# Derived from ReportInput: the CSV columns (in order), the fields copied onto a report row
# (the treatment and indication are looked up by slug, adverse events are rows of their own),
# labels, ranges, free-text fields and each field's value type.
CSV_COLUMNS = tuple(f.name for f in fields(ReportInput))
REPORT_FIELDS = tuple(
    name for name in CSV_COLUMNS if name not in ("treatment", "indication", "adverse_events")
)
FIELD_LABELS: dict[str, str] = {f.name: f.metadata["label"] for f in fields(ReportInput)}
# Every number's range (the API's schema documents them all); FIELD_RANGES leaves out the
# validated scales, whose ranges scale_problems checks with their own wording.
REPORT_RANGES: dict[str, tuple[float, float]] = {
    f.name: f.metadata["within"] for f in fields(ReportInput) if f.metadata.get("within")
}
SCALE_FIELDS = tuple(f.name for f in fields(ReportInput) if f.metadata.get("scale"))
FIELD_RANGES = {name: r for name, r in REPORT_RANGES.items() if name not in SCALE_FIELDS}
FREE_TEXT_FIELDS = tuple(f.name for f in fields(ReportInput) if f.metadata.get("free_text"))
FIELD_TYPES: dict[str, type] = {
    name: _value_type(hint) for name, hint in get_type_hints(ReportInput).items()
}


# --- identifiers in free text ------------------------------------------------------------

# The patterns run on RE2 (google-re2), which matches in time linear in the text: Python's
# backtracking engine took seconds to minutes on hostile input ("record" + 1,000 spaces).
# RE2's \d, \s and \w are ASCII, so the Unicode classes Python used are spelt out.
_D = r"\p{Nd}"
_S = r"[\s\pZ]"
_EMAIL = re2.compile(r"[\pL\pN_.+-]+@[\pL\pN_-]+(?:\.[\pL\pN_-]+)+")
# Phone numbers: 9-15 digits in groups, optionally with a + and brackets. RE2 has no
# look-around, so this stays on `re`; it is linear: a start needs a digit not preceded by
# [\w.,], and the greedy run ends at the last digit not followed by a letter or digit.
_PHONE = re.compile(r"(?<![\w.,])\+?\(?\d[\d\s().-]{7,}\d(?![\w])")
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_FULL_DATE = re2.compile(
    r"(?i)\b(?:"
    rf"{_D}{{1,2}}[/.-]{_D}{{1,2}}[/.-](?:19|20){_D}{{2}}"  # 12/03/1985, 12.3.1985
    rf"|(?:19|20){_D}{{2}}[/.-]{_D}{{1,2}}[/.-]{_D}{{1,2}}"  # 1985-03-12
    rf"|{_D}{{1,2}}(?:st|nd|rd|th)?{_S}+(?:{_MONTHS})\.?,?{_S}+(?:19|20){_D}{{2}}"  # 12 March 1985
    rf"|(?:{_MONTHS})\.?{_S}+{_D}{{1,2}}(?:st|nd|rd|th)?,?{_S}+(?:19|20){_D}{{2}}"  # March 12, 1985
    r")\b"
)
_DOB_WORD = re2.compile(r"(?i)\b(?:d\.?o\.?b\.?|date of birth|born on)\b")
_RECORD = re2.compile(
    r"(?i)\b(?:mrn|medical record|record|chart|patient|hospital|nhs|case|file|account)"
    rf"{_S}*(?:no\.?|number|num|nr|#|id)?{_S}*[:#]?{_S}*[A-Z]{{0,4}}-?{_D}{{3,}}"
)
# Maximal runs of word characters, dots and commas: a long number is a run of digits only.
_TOKEN = re.compile(r"[\w.,]+")
# Longer text is refused before any pattern runs (the longest form field takes 5,000).
MAX_CHECKED_TEXT = 10_000


def _after_pmid(before: str) -> bool:
    """Return True when text ends with "PMID", "PMID:" and spaces (the number is a PMID)."""
    tail = before.rstrip()
    if tail.endswith(":"):
        tail = tail[:-1].rstrip()
    return tail.lower().endswith("pmid")


def find_identifiers(text: str | None) -> list[str]:
    """Return a message for each thing in `text` that looks like a patient identifier."""
    if not text:
        return []
    if len(text) > MAX_CHECKED_TEXT:
        return [f"Shorten this text to at most {MAX_CHECKED_TEXT:,} characters."]
    problems: list[str] = []
    for match in _EMAIL.finditer(text):
        problems.append(f"Remove the e-mail address “{match.group()}”.")
    for match in _FULL_DATE.finditer(text):
        problems.append(
            f"Remove the full date “{match.group()}” (it could be a date of birth): "
            "give an age band, a year, or a time in months instead."
        )
    if _DOB_WORD.search(text):
        problems.append("Remove the date of birth: give the age band instead.")
    for match in _RECORD.finditer(text):
        problems.append(f"Remove the record number “{match.group().strip()}”.")
    flagged = "".join(problems)
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if match.group().strip().isdigit():
            continue  # a bare run of digits is reported as a long number below
        if (
            9 <= len(digits) <= 15
            and match.group().strip() not in flagged
            and not _FULL_DATE.search(match.group())
        ):
            problems.append(f"Remove the phone number “{match.group().strip()}”.")
    flagged = "".join(problems)
    for match in _TOKEN.finditer(text):
        if not (len(match.group()) >= 7 and match.group().isdecimal()):
            continue
        if match.group() in flagged or _after_pmid(text[: match.start()]):
            continue
        problems.append(
            f"Remove the long number “{match.group()}” (it could be a record or phone number)."
        )
    # Names and titles: a separate, regex-free check (evidence/practice/deidentify.py).
    problems.extend(find_personal_names(text))
    return problems


def identifier_problems(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """Return identifier messages per free-text field of a report."""
    out = {}
    for name in FREE_TEXT_FIELDS:
        found = find_identifiers(values.get(name))
        if found:
            out[name] = found
    return out


# --- create, edit, hide --------------------------------------------------------------------


class ReportError(ValueError):
    """A report could not be saved; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _resolve(session: Session, data: ReportInput) -> tuple[Treatment, Indication | None]:
    """Look up the treatment and indication slugs, raising ReportError for unknown ones."""
    errors = text_problems(data)
    if errors:
        raise ReportError(errors)
    treatment = session.exec(select(Treatment).where(Treatment.slug == data.treatment)).first()
    if treatment is None:
        errors["treatment"] = [f"Unknown treatment “{data.treatment}”."]
    indication = None
    if data.indication:
        indication = session.exec(
            select(Indication).where(Indication.slug == data.indication)
        ).first()
        if indication is None:
            errors["indication"] = [f"Unknown indication “{data.indication}”."]
    errors.update(validate_input(data))
    if errors or treatment is None:
        raise ReportError(errors)
    return treatment, indication


IMPROVEMENT_MISSING = "Choose the improvement on the 0-4 scale."
GOODMAN_BARON_RANGE = "Enter a Goodman-Baron grade from 1 (macular) to 4 (severe)."
GAIS_RANGE = "Enter a GAIS score from 1 (exceptional improvement) to 5 (worse)."


def range_message(name: str) -> str:
    """Return what to do about a number outside its field's range."""
    if name.startswith("goodman_baron"):
        return GOODMAN_BARON_RANGE
    if name == "gais":
        return GAIS_RANGE
    low, high = REPORT_RANGES[name]
    return f"Enter a value from {low:g} to {high:g}."


def _between(
    errors: dict[str, list[str]], name: str, value: float | None, low: float, high: float
) -> None:
    """Record an error when a number is outside [low, high]."""
    if value is not None and not low <= value <= high:
        errors.setdefault(name, []).append(range_message(name))


def _column_limit(name: str) -> int | None:
    """Return the length of a report text column (None when unbounded)."""
    column = OutcomeReport.__table__.columns.get(name)  # type: ignore[attr-defined]
    return getattr(column.type, "length", None) if column is not None else None


# Text lengths every path (form, API, CSV) checks before anything else: the column sizes
# (PostgreSQL refuses longer text, SQLite would store it), notes as on the form.
TEXT_LIMITS: dict[str, int] = {
    "treatment": 80,
    "indication": 80,
    **{n: _column_limit(n) or 5000 for n in (*FREE_TEXT_FIELDS, "age_band", "currency")},
    "protocol_pmid": 20,
}


def text_problems(data: ReportInput) -> dict[str, list[str]]:
    """Return messages for text that is too long or holds a NUL byte (checked first)."""
    errors: dict[str, list[str]] = {}
    for name, limit in TEXT_LIMITS.items():
        value = getattr(data, name)
        if not isinstance(value, str):
            continue
        if len(value) > limit:
            errors[name] = [f"Use at most {limit:,} characters (this has {len(value):,})."]
        elif "\x00" in value:
            errors[name] = ["Remove the NUL character (\\0) from this text."]
    return errors


def validate_input(data: ReportInput) -> dict[str, list[str]]:
    """Check ranges, vocabularies and identifiers that both the form and CSV rows must meet."""
    errors = text_problems(data)
    if errors:
        return errors  # no pattern or lookup runs on overlong or NUL-bearing text
    if data.improvement is None:
        errors["improvement"] = [IMPROVEMENT_MISSING]
    for name, (low, high) in FIELD_RANGES.items():
        _between(errors, name, getattr(data, name), low, high)
    errors.update(scale_problems(data))
    if data.age_band and data.age_band not in AGE_BANDS:
        errors["age_band"] = [f"Choose one of {', '.join(AGE_BANDS)}."]
    unknown = [e for e in data.adverse_events if e not in ADVERSE_EVENT_LABELS]
    if unknown:
        errors["adverse_events"] = [f"Unknown adverse event(s): {', '.join(unknown)}."]
    if "other" in data.adverse_events and not (data.adverse_other or "").strip():
        errors["adverse_other"] = ["Describe the other adverse event."]
    has_cost = data.cost_per_session is not None or data.cost_per_course is not None
    if has_cost and not data.currency:
        errors["currency"] = ["Give the currency of the cost (e.g. USD, EUR)."]
    if data.currency and not re.fullmatch(r"[A-Z]{3}", data.currency):
        errors["currency"] = ["Use a three-letter ISO currency code, e.g. USD."]
    if data.protocol_pmid and not re.fullmatch(r"\d{1,9}", data.protocol_pmid):
        errors["protocol_pmid"] = ["A PMID is a number of up to 9 digits."]
    for name, found in identifier_problems(_as_values(data)).items():
        errors.setdefault(name, []).extend(found)
    return errors


GOODMAN_BARON_ELSEWHERE = (
    "The Goodman-Baron grade is for acne scars only: choose the indication “Acne scars (atrophic)” "
    "or leave the grade empty."
)


def scale_problems(data: ReportInput) -> dict[str, list[str]]:
    """Check Goodman-Baron (1-4, acne scars only) and GAIS (1-5); worsening is allowed."""
    errors: dict[str, list[str]] = {}
    for name in ("goodman_baron_before", "goodman_baron_after"):
        value = getattr(data, name)
        if value is None:
            continue
        low, high = REPORT_RANGES[name]
        if not low <= value <= high:
            errors[name] = [GOODMAN_BARON_RANGE]
        elif data.indication != GOODMAN_BARON_INDICATION:
            errors[name] = [GOODMAN_BARON_ELSEWHERE]
    low, high = REPORT_RANGES["gais"]
    if data.gais is not None and not low <= data.gais <= high:
        errors["gais"] = [GAIS_RANGE]
    return errors


def _as_values(data: ReportInput) -> dict[str, Any]:
    """Return the input as a plain dict."""
    return {f.name: getattr(data, f.name) for f in fields(data)}


def _snapshot(report: OutcomeReport, events: list[str]) -> dict[str, Any]:
    """Return the report's recorded values (for diffing revisions)."""
    values: dict[str, Any] = {name: getattr(report, name) for name in REPORT_FIELDS}
    values["treatment_id"] = report.treatment_id
    values["indication_id"] = report.indication_id
    values["adverse_events"] = sorted(events)
    return values


def _events(session: Session, report_id: int) -> list[str]:
    """Return a report's adverse-event keys."""
    stmt = select(OutcomeAdverseEvent.event).where(OutcomeAdverseEvent.report_id == report_id)
    return sorted(session.exec(stmt))


def _apply(
    session: Session,
    report: OutcomeReport,
    data: ReportInput,
    treatment: Treatment,
    indication: Indication | None,
) -> None:
    """Copy validated input onto a report row and replace its adverse events."""
    report.treatment_id = treatment.id  # type: ignore[assignment]
    report.indication_id = indication.id if indication else None
    for name in REPORT_FIELDS:
        value = getattr(data, name)
        if isinstance(value, str):
            value = value.strip() or None
        setattr(report, name, value)
    report.updated_at = utcnow()
    session.add(report)
    session.flush()
    assert report.id is not None
    for old in session.exec(
        select(OutcomeAdverseEvent).where(OutcomeAdverseEvent.report_id == report.id)
    ):
        session.delete(old)
    session.flush()
    for event in sorted(set(data.adverse_events)):
        detail = data.adverse_other if event == "other" else None
        session.add(OutcomeAdverseEvent(report_id=report.id, event=event, detail=detail))
    session.flush()


def _revision(
    session: Session, *, report_id: int, user_id: int | None, action: str, changes: dict[str, Any]
) -> None:
    """Record one revision of a report."""
    session.add(
        OutcomeReportRevision(
            report_id=report_id,
            user_id=user_id,
            action=action,
            changes=json.dumps(changes, default=str, sort_keys=True),
        )
    )
    session.flush()


def create_report(session: Session, *, data: ReportInput, reporter: User) -> OutcomeReport:
    """Save a new report by a practitioner, with a 'create' revision."""
    treatment, indication = _resolve(session, data)
    report = OutcomeReport(treatment_id=treatment.id or 0, reporter_id=reporter.id)
    _apply(session, report, data, treatment, indication)
    assert report.id is not None
    created = {k: [None, v] for k, v in _snapshot(report, data.adverse_events).items() if v}
    _revision(
        session,
        report_id=report.id,
        user_id=reporter.id,
        action=RevisionAction.CREATE,
        changes=created,
    )
    return report


STALE_EDIT = (
    "Someone saved this report after you opened it, so your changes were not saved. "
    "They are kept below: reload the report to see its current values, then edit again."
)


def update_report(
    session: Session,
    *,
    report: OutcomeReport,
    data: ReportInput,
    editor: User,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Edit a report, keeping the old values in a revision; return what changed.

    Optimistic lock: the row's version must still be the one the edit started from
    (`expected_version`, else the one loaded); the UPDATE that bumps it also locks the row,
    so concurrent edits are saved one at a time or refused, and every revision's "before"
    values are the previous revision's "after" values.
    """
    assert report.id is not None
    treatment, indication = _resolve(session, data)
    version = report.version if expected_version is None else expected_version
    claimed = session.execute(
        update(OutcomeReport)
        .where(col(OutcomeReport.id) == report.id, col(OutcomeReport.version) == version)
        .values(version=version + 1)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ReportError({"version": [STALE_EDIT]})
    session.refresh(report)  # the committed values, read now that the row is ours
    before = _snapshot(report, _events(session, report.id))
    _apply(session, report, data, treatment, indication)
    after = _snapshot(report, _events(session, report.id))
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        _revision(
            session,
            report_id=report.id,
            user_id=editor.id,
            action=RevisionAction.EDIT,
            changes=changes,
        )
    return changes


def hide_report(session: Session, *, report: OutcomeReport, reason: str, by: User) -> None:
    """Hide a report from pages and statistics, with a reason; it stays in the database."""
    reason = reason.strip()
    if not reason:
        raise ReportError({"reason": ["Give the reason for hiding the report."]})
    assert report.id is not None
    report.hidden = True
    report.hidden_reason = reason
    report.hidden_by_id = by.id
    report.hidden_at = utcnow()
    session.add(report)
    _revision(
        session,
        report_id=report.id,
        user_id=by.id,
        action=RevisionAction.HIDE,
        changes={"hidden": [False, True], "hidden_reason": [None, reason]},
    )


def unhide_report(session: Session, *, report: OutcomeReport, reason: str, by: User) -> None:
    """Show a hidden report again, recording who and why."""
    assert report.id is not None
    old_reason = report.hidden_reason
    report.hidden = False
    report.hidden_reason = None
    report.hidden_by_id = None
    report.hidden_at = None
    session.add(report)
    _revision(
        session,
        report_id=report.id,
        user_id=by.id,
        action=RevisionAction.UNHIDE,
        changes={"hidden": [True, False], "hidden_reason": [old_reason, reason.strip() or None]},
    )


def can_edit(report: OutcomeReport, user: Any) -> bool:
    """Practitioners (and above) edit their own reports; admins any; quoted sources never."""
    if not getattr(user, "is_authenticated", False) or report.source_key:
        return False
    if user.role == Role.ADMIN:
        return True
    return role_includes(user.role, Role.PRACTITIONER) and report.reporter_id == user.id


@dataclass
class Revision:
    """One revision with readable field names and who made it."""

    action: str
    changed_at: datetime
    user_id: int | None
    user_email: str | None
    user_role: str | None
    changes: list[tuple[str, Any, Any]]


def history(session: Session, report_id: int) -> list[Revision]:
    """Return a report's revisions, oldest first, with field labels and the editor's role."""
    stmt = (
        select(OutcomeReportRevision, User)
        .outerjoin(User, col(User.id) == col(OutcomeReportRevision.user_id))
        .where(OutcomeReportRevision.report_id == report_id)
        .order_by(col(OutcomeReportRevision.changed_at), col(OutcomeReportRevision.id))
    )
    names = _name_lookup(session)
    out = []
    for rev, user in session.exec(stmt):
        raw = json.loads(rev.changes or "{}")
        changes = [
            (FIELD_LABELS.get(k, k.replace("_", " ")), *(_readable(k, v, names) for v in pair))
            for k, pair in sorted(raw.items())
        ]
        out.append(
            Revision(
                action=rev.action,
                changed_at=rev.changed_at,
                user_id=rev.user_id,
                user_email=user.email if user else None,
                user_role=user.role if user else None,
                changes=changes,
            )
        )
    return out


def _name_lookup(session: Session) -> dict[str, dict[int, str]]:
    """Return treatment and indication names by id."""
    return {
        "treatment_id": {t.id: t.name for t in session.exec(select(Treatment)) if t.id},
        "indication_id": {i.id: i.name for i in session.exec(select(Indication)) if i.id},
    }


def _readable(key: str, value: Any, names: dict[str, dict[int, str]]) -> Any:
    """Return a value as a person reads it."""
    if value is None or value == []:
        return "—"
    if key in names:
        return names[key].get(value, value)
    if key == "fitzpatrick":
        return FITZPATRICK_NUMERALS[int(value) - 1]
    if key == "adverse_events":
        return ", ".join(ADVERSE_EVENT_LABELS.get(v, v) for v in value)
    return value


# --- listing ------------------------------------------------------------------------------------


@dataclass
class ReportFilter:
    """Filters of a reports list, as read from a query string."""

    treatment: str | None = None
    indication: str | None = None
    skin: str | None = None  # "1".."6", "I-III", "IV-VI" or "none"
    role: str | None = None  # reporter role, or "source" for quoted sources
    date_from: date | None = None
    date_to: date | None = None
    event: str | None = None  # reports with this adverse event
    # Narrow to the reports one figure used: improvement stated, responders, downtime or
    # cost stated (cost medians also pass `currency`).
    has: str | None = None
    currency: str | None = None
    ids: tuple[int, ...] = ()  # the reports one figure was computed from
    hidden: bool = False  # curators may list hidden reports
    # What the query string asked for that could not be used (evidence/web/params.py).
    ignored: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(
        cls, args: Any, *, prefix: str = "", may_see_hidden: bool = False, **fixed: Any
    ) -> ReportFilter:
        """Build a filter from request args (names optionally prefixed); bad values are listed."""
        p = ArgParser(args, prefix)
        currency = p.text("currency", max_length=3)
        if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            p.ignore("currency", currency, "give a three-letter code such as USD.")
            currency = None
        flt = cls(
            treatment=fixed.get("treatment", p.text("treatment", max_length=80)),
            indication=p.text("indication", max_length=80),
            skin=p.choice("skin", (*"123456", "I-III", "IV-VI", "none")),
            role=p.choice("role", (*ROLES, "source")),
            date_from=p.iso_date("date_from"),
            date_to=p.iso_date("date_to"),
            event=p.choice("event", ADVERSE_EVENT_LABELS),
            has=p.choice("has", HAS_FILTERS),
            currency=currency.upper() if currency else None,
            ids=p.ids("ids", high=2**31 - 1, most=2000),
            hidden=p.text("hidden") == "1" and may_see_hidden,
        )
        return replace(flt, ignored=p.publish())

    def as_args(self, *, prefix: str = "", **override: Any) -> dict[str, Any]:
        """Return the non-empty filters as query-string arguments."""
        out: dict[str, Any] = {
            "treatment": self.treatment,
            "indication": self.indication,
            "skin": self.skin,
            "role": self.role,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "event": self.event,
            "has": self.has,
            "currency": self.currency,
            "ids": ",".join(map(str, self.ids)) if self.ids else None,
            "hidden": "1" if self.hidden else None,
        }
        out.update(override)
        return {prefix + k: v for k, v in out.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        """True when any filter beyond the treatment is set."""
        return any(
            (self.indication, self.skin, self.role, self.date_from, self.date_to, self.event)
            + (self.has, self.currency)
        ) or bool(self.ids or self.hidden)


def report_query(flt: ReportFilter) -> Any:
    """Return a SELECT of the reports matching a filter (unordered)."""
    stmt = select(OutcomeReport).where(col(OutcomeReport.hidden).is_(flt.hidden))
    if flt.treatment:
        stmt = stmt.join(Treatment, col(Treatment.id) == col(OutcomeReport.treatment_id)).where(
            col(Treatment.slug) == flt.treatment
        )
    if flt.indication:
        stmt = stmt.join(Indication, col(Indication.id) == col(OutcomeReport.indication_id)).where(
            col(Indication.slug) == flt.indication
        )
    if flt.skin == "none":
        stmt = stmt.where(col(OutcomeReport.fitzpatrick).is_(None))
    elif flt.skin in SKIN_GROUP_TYPES:
        stmt = stmt.where(col(OutcomeReport.fitzpatrick).in_(SKIN_GROUP_TYPES[flt.skin]))
    elif flt.skin:
        stmt = stmt.where(col(OutcomeReport.fitzpatrick) == int(flt.skin))
    if flt.role == "source":
        stmt = stmt.where(col(OutcomeReport.source_key).is_not(None))
    elif flt.role:
        stmt = stmt.join(User, col(User.id) == col(OutcomeReport.reporter_id)).where(
            col(User.role) == flt.role
        )
    if flt.date_from:
        stmt = stmt.where(
            col(OutcomeReport.created_at) >= datetime.combine(flt.date_from, time.min, tzinfo=UTC)
        )
    if flt.date_to:
        stmt = stmt.where(
            col(OutcomeReport.created_at) <= datetime.combine(flt.date_to, time.max, tzinfo=UTC)
        )
    if flt.event:
        with_event = select(OutcomeAdverseEvent.report_id).where(
            OutcomeAdverseEvent.event == flt.event
        )
        stmt = stmt.where(col(OutcomeReport.id).in_(with_event))
    if flt.has == "improvement":
        stmt = stmt.where(col(OutcomeReport.improvement).is_not(None))
    elif flt.has == "responder":
        stmt = stmt.where(col(OutcomeReport.improvement) >= RESPONDER_THRESHOLD)
    elif flt.has == "downtime":
        stmt = stmt.where(col(OutcomeReport.downtime_days).is_not(None))
    elif flt.has == "cost":
        stmt = stmt.where(
            (col(OutcomeReport.cost_per_session).is_not(None))
            | (col(OutcomeReport.cost_per_course).is_not(None))
        )
    elif flt.has == "goodman_baron":
        stmt = stmt.where(
            col(OutcomeReport.goodman_baron_before).is_not(None),
            col(OutcomeReport.goodman_baron_after).is_not(None),
        )
    elif flt.has == "gais":
        stmt = stmt.where(col(OutcomeReport.gais).is_not(None))
    if flt.currency:
        stmt = stmt.where(col(OutcomeReport.currency) == flt.currency)
    if flt.ids:
        stmt = stmt.where(col(OutcomeReport.id).in_(flt.ids))
    return stmt


def list_reports(
    session: Session, flt: ReportFilter, *, offset: int = 0, limit: int = 50
) -> list[OutcomeReport]:
    """Return `limit` reports matching a filter from `offset` on, newest first."""
    stmt = report_query(flt).order_by(
        col(OutcomeReport.created_at).desc(), col(OutcomeReport.id).desc()
    )
    return list(session.exec(stmt.offset(offset).limit(limit)))


def count_reports(session: Session, flt: ReportFilter) -> int:
    """Count the reports matching a filter."""
    sub = report_query(flt).subquery()
    return int(session.exec(select(func.count()).select_from(sub)).one())


def reports_by(session: Session, *, reporter_id: int) -> list[OutcomeReport]:
    """Return every report by one account, hidden ones included, newest first."""
    stmt = (
        select(OutcomeReport)
        .where(OutcomeReport.reporter_id == reporter_id)
        .order_by(col(OutcomeReport.created_at).desc(), col(OutcomeReport.id).desc())
    )
    return list(session.exec(stmt))


def count_hidden(session: Session, *, treatment_id: int) -> int:
    """Count a treatment's hidden reports (shown to curators)."""
    stmt = select(func.count()).where(
        col(OutcomeReport.treatment_id) == treatment_id, col(OutcomeReport.hidden).is_(True)
    )
    return int(session.exec(stmt).one())


# --- CSV template and import ------------------------------------------------------------------

MAX_CSV_ROWS = 5000  # every row is validated before any is saved; keep one upload bounded


def csv_template(treatments: Iterable[str], indications: Iterable[str]) -> bytes:
    """Return a CSV template: the header, then # lines (skipped on upload) with an example."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(CSV_COLUMNS)
    example = {
        "treatment": "microneedling",
        "indication": "acne-scars",
        "sessions": "3",
        "interval_weeks": "4",
        "fitzpatrick": "V",
        "age_band": "25-34",
        "device": "pen device",
        "needle_depth_mm": "1.5",
        "passes": "4",
        "improvement": "2",
        "satisfaction": "4",
        "adverse_events": "pih",
        "downtime_days": "3",
        "cost_per_session": "250",
        "currency": "USD",
        "follow_up_months": "3",
        "goodman_baron_before": "3",
        "goodman_baron_after": "2",
        "gais": "3",
    }
    example_row = io.StringIO()
    csv.writer(example_row, lineterminator="").writerow([example.get(c, "") for c in CSV_COLUMNS])
    # The example is a # line so that uploading the untouched template saves nothing.
    notes = [
        "# One row per patient under the header. Lines starting with # are skipped.",
        "# Example row (copy it without the leading '# '):",
        f"# {example_row.getvalue()}",
        f"# treatment: {' | '.join(treatments)}",
        f"# indication: {' | '.join(indications)} (or empty)",
        "# fitzpatrick: 1-6 or I-VI; improvement: 0-4 (0 none, 1 up to 25%, 2 26-50%, "
        "3 51-75%, 4 over 75%); satisfaction: 1-5",
        "# goodman_baron_before, goodman_baron_after: 1-4 (1 macular, 2 mild, 3 moderate, "
        "4 severe), acne-scars rows only; gais: 1-5 (1 exceptional improvement, 2 very improved, "
        "3 improved, 4 no change, 5 worse); leave empty when not assessed",
        f"# age_band: {' | '.join(AGE_BANDS)}",
        f"# adverse_events: any of {' ; '.join(k for k, _ in ADVERSE_EVENTS)} separated by ;",
        "# Never include names, dates of birth, contact details or record numbers.",
    ]
    return (out.getvalue() + "\n".join(notes) + "\n").encode("utf-8")


@dataclass
class ImportResult:
    """What a CSV upload did: rows saved, or every row's problems (and nothing saved)."""

    saved: list[int] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # line, column, message

    @property
    def ok(self) -> bool:
        """True when every row was valid and saved."""
        return not self.errors


def _parse_cell(name: str, raw: str) -> Any:
    """Convert one CSV cell, raising ValueError with a readable message."""
    raw = raw.strip()
    if raw == "":
        return None
    if name == "fitzpatrick" and raw.upper() in FITZPATRICK_NUMERALS:
        return FITZPATRICK_NUMERALS.index(raw.upper()) + 1
    kind = FIELD_TYPES.get(name)
    if kind is int:
        if not re.fullmatch(r"-?\d+", raw):
            raise ValueError(f"“{raw}” is not a whole number.")
        return int(raw)
    if kind is float:
        try:
            return float(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"“{raw}” is not a number.") from None
    if name == "currency":
        return raw.upper()
    if kind is list:  # adverse events
        return [p.strip().lower() for p in re.split(r"[;|]", raw) if p.strip()]
    return raw


def parse_csv(content: bytes) -> tuple[list[tuple[int, ReportInput]], list[tuple[int, str, str]]]:
    """Parse an uploaded CSV into report inputs, collecting every problem with its line."""
    errors: list[tuple[int, str, str]] = []
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(0, "", "The file is not UTF-8 text. Save it as CSV (UTF-8).")]
    # Comment lines become blank (which csv skips) so reported line numbers match the file.
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    reader = csv.DictReader(lines[first:])
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = {"treatment", "improvement"} - set(header)
    unknown = set(header) - set(CSV_COLUMNS)
    if missing or unknown:
        if missing:
            errors.append((first + 1, "", f"Missing column(s): {', '.join(sorted(missing))}."))
        if unknown:
            errors.append((first + 1, "", f"Unknown column(s): {', '.join(sorted(unknown))}."))
        return [], errors
    try:
        return _parse_rows(reader, first, errors)
    except csv.Error as exc:  # e.g. a field over csv's 131,072-character limit
        line_no = first + reader.line_num
        return [], [*errors, (line_no, "", f"This line cannot be read as CSV: {exc}.")]


def _parse_rows(
    reader: csv.DictReader[str], first: int, errors: list[tuple[int, str, str]]
) -> tuple[list[tuple[int, ReportInput]], list[tuple[int, str, str]]]:
    """Convert the CSV rows after the header, collecting every problem with its line."""
    rows: list[tuple[int, ReportInput]] = []
    for count, row in enumerate(reader, start=1):
        line_no = first + reader.line_num
        if count > MAX_CSV_ROWS:
            errors.append(
                (
                    line_no,
                    "",
                    f"At most {MAX_CSV_ROWS:,} rows per file: split the file and upload each part.",
                )
            )
            break
        values: dict[str, Any] = {}
        row_ok = True
        for name, raw in row.items():
            if name is None:
                errors.append((line_no, "", "This row has more cells than the header."))
                row_ok = False
                continue
            try:
                values[name.strip()] = _parse_cell(name.strip(), raw or "")
            except ValueError as exc:
                errors.append((line_no, name.strip(), str(exc)))
                row_ok = False
        if all(v in (None, []) for v in values.values()):
            continue  # blank line
        values["adverse_events"] = values.get("adverse_events") or []
        if not values.get("treatment"):
            errors.append((line_no, "treatment", "Give the treatment."))
            row_ok = False
        if row_ok:
            rows.append((line_no, ReportInput(**values)))
    return rows, errors


def import_csv(session: Session, *, content: bytes, reporter: User) -> ImportResult:
    """Import a CSV all-or-nothing: every row is checked first; one bad row saves none."""
    rows, errors = parse_csv(content)
    result = ImportResult(errors=list(errors))
    if not rows and not errors:
        result.errors.append((0, "", "The file holds no report rows."))
        return result
    # Validation touches nothing, so a failed file leaves the database exactly as it was.
    for line_no, data in rows:
        try:
            _resolve(session, data)
        except ReportError as exc:
            for name, messages in exc.errors.items():
                result.errors.extend((line_no, name, message) for message in messages)
    if result.errors:
        result.errors.sort()
        return result
    for _line_no, data in rows:
        report = create_report(session, data=data, reporter=reporter)
        assert report.id is not None
        result.saved.append(report.id)
    return result
