"""The curator's extraction form (WTForms): study fields, per-arm, per-outcome and AE rows."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # not in stubs yet
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from evidence.literature.extraction import DESIGNS, EVENT_LABELS
from evidence.models import SdOf


def _c(pairs: list[tuple[str, str]]) -> list[Any]:
    """Return WTForms choice objects for (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


MAX_ARMS = 8
MAX_ROWS = 60
TRISTATE = [("", "not stated"), ("yes", "yes"), ("no", "no")]  # _c() at use
NONNEG = NumberRange(min=0, message="cannot be negative")


def _arm_choices() -> list[Any]:
    """Arm references by row number (blank: the whole cohort)."""
    return _c([("", "whole cohort")] + [(str(i), f"arm {i}") for i in range(1, MAX_ARMS + 1)])


class ArmForm(Form):
    """One arm (or side) of the study."""

    treatment = SelectField("Treatment", choices=[], validate_choice=False)
    comparator_label = StringField("or comparator", validators=[Optional(), Length(max=300)])
    label = StringField("Arm label as stated", validators=[Optional(), Length(max=300)])
    co_intervention = StringField("Co-intervention", validators=[Optional(), Length(max=300)])
    sessions = IntegerField("Sessions", validators=[Optional(), NONNEG])
    interval_weeks = FloatField("Interval (weeks)", validators=[Optional(), NONNEG])
    interval_as_stated = StringField("Interval as stated", validators=[Optional(), Length(max=200)])
    n = IntegerField("n", validators=[Optional(), NONNEG])


class OutcomeRowForm(Form):
    """One outcome of one arm at one time point."""

    # Choices are checked by extraction.validate_record (blank spare rows carry None here).
    arm = SelectField("Arm", choices=_arm_choices(), validate_choice=False)
    measure = SelectField("Measure", choices=[], validate_choice=False)
    measure_as_stated = StringField("Measure as stated", validators=[Optional(), Length(max=500)])
    timepoint = StringField("Time point", validators=[Optional(), Length(max=300)])
    baseline = FloatField("Baseline mean", validators=[Optional()])
    final = FloatField("Final mean", validators=[Optional()])
    mean_change = FloatField("Mean change", validators=[Optional()])
    sd = FloatField(
        "SD", validators=[Optional(), NumberRange(min=0, message="SD cannot be negative")]
    )
    sd_of = SelectField(
        "SD of",
        choices=_c([("", "not stated")] + [(s.value, s.value) for s in SdOf]),
        validate_choice=False,
    )
    n = IntegerField("n", validators=[Optional(), NONNEG])
    percent_improvement = FloatField("% improvement", validators=[Optional()])
    responders = IntegerField("Responders", validators=[Optional(), NONNEG])
    responders_n = IntegerField("of n", validators=[Optional(), NONNEG])
    p_value_as_stated = StringField("p as stated", validators=[Optional(), Length(max=200)])


class AdverseRowForm(Form):
    """One adverse-event count of one arm."""

    # Choices are checked by extraction.validate_record (blank spare rows carry None here).
    arm = SelectField("Arm", choices=_arm_choices(), validate_choice=False)
    event = SelectField(
        "Event", choices=_c([("", "choose")] + list(EVENT_LABELS.items())), validate_choice=False
    )
    event_as_stated = StringField("As stated", validators=[Optional(), Length(max=500)])
    events = IntegerField("Events", validators=[Optional(), NONNEG])
    n = IntegerField("n", validators=[Optional(), NONNEG])
    percent = FloatField("%", validators=[Optional(), NumberRange(min=0, max=100)])


class ExtractionForm(FlaskForm):
    """A study's extraction: the study, its arms, outcomes and adverse events."""

    design = SelectField(
        "Design", choices=_c([(d, d) for d in DESIGNS]), validators=[InputRequired()]
    )
    split_face = SelectField(
        "Paired (split-face, split-scalp ...)", choices=_c([("no", "no"), ("yes", "yes")])
    )
    randomised = SelectField("Randomised", choices=_c(TRISTATE))
    blinded = SelectField("Blinded", choices=_c(TRISTATE))
    indication = SelectField("Indication", choices=[], validate_choice=False)
    fitzpatrick_types = StringField(
        "Fitzpatrick types as stated", validators=[Optional(), Length(max=40)]
    )
    n_enrolled = IntegerField("Enrolled", validators=[Optional(), NONNEG])
    n_analysed = IntegerField("Analysed", validators=[Optional(), NONNEG])
    downtime_days = FloatField("Downtime (days)", validators=[Optional(), NONNEG])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    source_url = StringField("Source page (URL)", validators=[Optional(), Length(max=1000)])
    checked_on = DateField("Checked on", validators=[Optional()])
    arms = FieldList(FormField(ArmForm), min_entries=2, max_entries=MAX_ARMS)
    outcomes = FieldList(FormField(OutcomeRowForm), min_entries=2, max_entries=MAX_ROWS)
    adverse_events = FieldList(FormField(AdverseRowForm), min_entries=2, max_entries=MAX_ROWS)
    submit = SubmitField("Save extraction")

    def set_choices(self, treatments: list[tuple[str, str]], indications: list[tuple[str, str]],
                    measures: list[tuple[str, str]]) -> None:  # fmt: skip
        """Fill the catalogue choices (treatments, indications, measures)."""
        self.indication.choices = _c([("", "not stated")] + indications)
        for arm in self.arms:
            arm.form.treatment.choices = _c([("", "not in catalogue")] + treatments)
        for row in self.outcomes:
            row.form.measure.choices = _c([("", "match the stated name")] + measures)


class VerifyForm(FlaskForm):
    """A second curator's verification mark (CSRF only)."""

    submit = SubmitField("Mark verified")


class ExtractionUploadForm(FlaskForm):
    """A CSV file of extraction rows in the documented long format."""

    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])
    submit = SubmitField("Import")


def _tri(value: str) -> bool | None:
    """Map a yes / no / not stated choice to True / False / None."""
    return {"yes": True, "no": False}.get(value)


def _blank(data: dict[str, Any], ignore: tuple[str, ...] = ()) -> bool:
    """True when a row holds nothing a curator typed."""
    return all(v in (None, "") for k, v in data.items() if k not in ignore and k != "csrf_token")


def form_to_record(form: ExtractionForm) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn the form into a study record; return it with a map from record keys to field ids.

    Blank rows are left out, so the map says which form row each record row came from.
    """
    where: dict[str, str] = {}
    arms: list[dict[str, Any]] = []
    arm_index: dict[int, int] = {}
    for i, entry in enumerate(form.arms):
        data = dict(entry.form.data)
        if _blank(data):
            continue
        arm_index[i + 1] = len(arms)
        where[f"arms-{len(arms)}"] = f"arms-{i}"
        arms.append(
            {
                "treatment": data["treatment"] or None,
                "comparator_label": (data["comparator_label"] or "").strip() or None,
                "label": data["label"] or None,
                "co_intervention": data["co_intervention"] or None,
                "sessions": data["sessions"],
                "interval_weeks": data["interval_weeks"],
                "interval_as_stated": data["interval_as_stated"] or None,
                "n": data["n"],
            }
        )

    def arm_ref(value: str) -> int | None:
        """Map a 1-based form arm number to the record's arm index (-1: a blank arm)."""
        if not value:
            return None
        return arm_index.get(int(value), -1)

    outcomes: list[dict[str, Any]] = []
    for i, out_entry in enumerate(form.outcomes):
        data = dict(out_entry.form.data)
        if _blank(data, ignore=("arm", "sd_of", "measure")):
            continue
        where[f"outcomes-{len(outcomes)}"] = f"outcomes-{i}"
        outcomes.append(
            {
                "arm": arm_ref(data["arm"]),
                "measure": data["measure"] or None,
                "measure_as_stated": (data["measure_as_stated"] or "").strip(),
                **{
                    k: data[k]
                    for k in (
                        "timepoint",
                        "baseline",
                        "final",
                        "mean_change",
                        "sd",
                        "n",
                        "percent_improvement",
                        "responders",
                        "responders_n",
                    )
                },  # fmt: skip
                "sd_of": data["sd_of"] or None,
                "p_value_as_stated": data["p_value_as_stated"] or None,
            }
        )
    events: list[dict[str, Any]] = []
    for i, ae_entry in enumerate(form.adverse_events):
        data = dict(ae_entry.form.data)
        if _blank(data, ignore=("arm",)):
            continue
        where[f"adverse_events-{len(events)}"] = f"adverse_events-{i}"
        events.append(
            {
                "arm": arm_ref(data["arm"]),
                "event": data["event"],
                "event_as_stated": data["event_as_stated"] or None,
                "events": data["events"],
                "n": data["n"],
                "percent": data["percent"],
            }
        )
    rec = {
        "design": form.design.data,
        "split_face": form.split_face.data == "yes",
        "randomised": _tri(form.randomised.data or ""),
        "blinded": _tri(form.blinded.data or ""),
        "indication": form.indication.data or None,
        "fitzpatrick_types": form.fitzpatrick_types.data or None,
        "n_enrolled": form.n_enrolled.data,
        "n_analysed": form.n_analysed.data,
        "downtime_days": form.downtime_days.data,
        "notes": form.notes.data or None,
        "source_url": form.source_url.data or None,
        "checked_on": form.checked_on.data,
        "arms": arms,
        "outcomes": outcomes,
        "adverse_events": events,
    }
    return rec, where


def field_for(key: str, where: dict[str, str]) -> str:
    """Map a record problem key (e.g. 'arms-0-n') to the form field id it belongs to."""
    parts = key.split("-")
    if len(parts) >= 2 and f"{parts[0]}-{parts[1]}" in where:
        return "-".join([where[f"{parts[0]}-{parts[1]}"], *parts[2:]])
    return key


def record_to_formdata(rec: dict[str, Any]) -> dict[str, Any]:
    """Return form data for an existing study record (to prefill an edit)."""
    tri = {True: "yes", False: "no", None: ""}
    data: dict[str, Any] = {
        "design": rec["design"],
        "split_face": "yes" if rec["split_face"] else "no",
        "randomised": tri[rec["randomised"]],
        "blinded": tri[rec["blinded"]],
        "indication": rec["indication"] or "",
        "fitzpatrick_types": rec["fitzpatrick_types"],
        "n_enrolled": rec["n_enrolled"],
        "n_analysed": rec["n_analysed"],
        "downtime_days": rec["downtime_days"],
        "notes": rec["notes"],
        "source_url": rec["source_url"],
        "arms": [{**a, "treatment": a["treatment"] or ""} for a in rec["arms"]],
        "outcomes": [
            {**o, "arm": "" if o["arm"] is None else str(o["arm"] + 1), "measure": o["measure"]}
            for o in rec["outcomes"]
        ],
        "adverse_events": [
            {**e, "arm": "" if e["arm"] is None else str(e["arm"] + 1)}
            for e in rec["adverse_events"]
        ],
    }
    return data
