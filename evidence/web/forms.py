"""WTForms (Flask-WTF) forms for accounts and outcome reports; every one carries a CSRF token."""

from __future__ import annotations

import re
from typing import Any

import re2
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # not in stubs yet
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from evidence.models import (
    ADVERSE_EVENTS,
    AGE_BANDS,
    GAIS_SCALE,
    GOODMAN_BARON_SCALE,
    IMPROVEMENT_SCALE,
    ROLES,
)
from evidence.practice.reports import (
    FIELD_RANGES,
    FIELD_TYPES,
    FITZPATRICK_NUMERALS,
    MAX_CHECKED_TEXT,
    TEXT_LIMITS,
    ReportInput,
    find_identifiers,
)
from evidence.web.auth import MIN_PASSWORD_LENGTH

# RE2 runs in linear time (Python's engine took seconds on "a@" + 40,000 dots + "@").
_EMAIL_SHAPE = re2.compile(r"[^@\s\pZ]+@[^@\s\pZ]+\.[^@\s\pZ]+")
MAX_EMAIL_LENGTH = 320


def email_shape(_form: Any, field: Field) -> None:
    """Refuse text that is not shaped like an e-mail address (length checked first)."""
    value = (field.data or "").strip()
    if len(value) > MAX_EMAIL_LENGTH:
        return  # Length(max=320) says so; no pattern runs on overlong text
    if not _EMAIL_SHAPE.fullmatch(value):
        raise ValidationError("Enter an e-mail address such as name@clinic.example.")


def no_identifiers(_form: Any, field: Field) -> None:
    """Refuse free text holding something that looks like a patient identifier."""
    if len(field.data or "") > MAX_CHECKED_TEXT:
        return  # the field's Length validator says so; no pattern runs on overlong text
    problems = find_identifiers(field.data)
    if problems:
        raise ValidationError(" ".join(problems))


def options(pairs: Any) -> list[SelectChoice]:
    """Return (value, label) pairs as WTForms choices (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def _optional_int(value: Any) -> int | None:
    """Coerce a select's value to int, '' to None."""
    if value in (None, "", "None"):
        return None
    return int(value)


class FiniteDecimalField(DecimalField):
    """A DecimalField that refuses NaN, sNaN, Infinity and numbers of absurd size.

    Decimal("sNaN") parses, then raises InvalidOperation when NumberRange compares it.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse as DecimalField does, then refuse values that are not finite or sensible."""
        super().process_formdata(valuelist)
        value = self.data
        if value is not None and (not value.is_finite() or value.adjusted() > 12):
            self.data = None
            raise ValueError("Enter a number, such as 4 or 2.5.")


class BoundedIntegerField(IntegerField):
    """An IntegerField that refuses numbers of absurd size before any validator sees them.

    NumberRange calls math.isnan(), which raises OverflowError on a 400-digit integer.
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse as IntegerField does, then refuse values with more than 12 digits."""
        super().process_formdata(valuelist)
        if self.data is not None and abs(self.data) >= 10**12:
            self.data = None
            raise ValueError("Enter a whole number, such as 3.")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- accounts ------------------------------------------------------------------------------


class RegisterForm(FlaskForm):
    """Create an account: viewer by default, practitioner when declared."""

    email = StringField(
        "E-mail",
        validators=[DataRequired(), Length(max=320), email_shape],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )
    name = StringField(
        "Name (optional)",
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    password = PasswordField(
        f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    practitioner = BooleanField(
        "I treat patients and will submit outcome reports (practitioner account)"
    )
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    """Log in with e-mail and password."""

    email = StringField(
        "E-mail", validators=[DataRequired(), Length(max=320)], render_kw={"autocomplete": "email"}
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField("Log in")


class LogoutForm(FlaskForm):
    """Log out (a POST with a CSRF token, so another site cannot log a user out)."""

    submit = SubmitField("Log out")


class ChangePasswordForm(FlaskForm):
    """Change one's own password."""

    current = PasswordField(
        "Current password",
        validators=[DataRequired()],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        f"New password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Change password")


class RoleForm(FlaskForm):
    """An admin sets one user's role."""

    role = SelectField("Role", choices=options((r, r) for r in ROLES), validators=[DataRequired()])
    submit = SubmitField("Save role")


# --- reports --------------------------------------------------------------------------------


def _in_range(name: str) -> list[Any]:
    """Validators for an optional number within its report field's range (ReportInput)."""
    return [Optional(), NumberRange(*FIELD_RANGES[name])]


def _free_text(name: str, *, optional: bool = True) -> list[Any]:
    """Validators for a report's free text: its column's length, no patient identifiers.

    `optional=False` keeps the chain going on empty input, so an inline validate_<name> runs.
    """
    return [*([Optional()] if optional else []), Length(max=TEXT_LIMITS[name]), no_identifiers]


class ReportForm(FlaskForm):
    """A de-identified outcome report: no field exists for any patient identifier."""

    treatment = SelectField("Treatment", validators=[DataRequired()])
    indication = SelectField("Indication", validators=[Optional()])
    indication_detail = StringField(
        "Indication detail (optional, e.g. rolling and boxcar scars)",
        validators=_free_text("indication_detail"),
    )
    sessions = BoundedIntegerField("Number of sessions", validators=_in_range("sessions"))
    interval_weeks = FiniteDecimalField(
        "Interval between sessions (weeks)",
        places=None,
        validators=_in_range("interval_weeks"),
    )
    fitzpatrick = SelectField(
        "Fitzpatrick skin type",
        choices=options(
            [("", "Not stated")]
            + [(i + 1, f"Type {n}") for i, n in enumerate(FITZPATRICK_NUMERALS)]
        ),
        coerce=_optional_int,
        validators=[Optional()],
    )
    age_band = SelectField(
        "Age band",
        choices=options([("", "Not stated")] + [(a, a) for a in AGE_BANDS]),
        validators=[Optional()],
    )
    device = StringField("Device", validators=_free_text("device"))
    needle_depth_mm = FiniteDecimalField(
        "Needle depth (mm)", places=None, validators=_in_range("needle_depth_mm")
    )
    energy = StringField("Energy (e.g. 20 mJ, 40 W)", validators=_free_text("energy"))
    passes = BoundedIntegerField("Passes", validators=_in_range("passes"))
    settings = StringField("Other settings", validators=_free_text("settings"))
    improvement = RadioField(
        "Improvement (quartile scale)",
        choices=options(IMPROVEMENT_SCALE),
        coerce=_optional_int,
        validators=[InputRequired(message="Choose the improvement on the 0-4 scale.")],
    )
    satisfaction = SelectField(
        "Patient satisfaction",
        choices=options([("", "Not stated")] + [(i, f"{i} of 5") for i in range(1, 6)]),
        coerce=_optional_int,
        validators=[Optional()],
    )
    # Validated scales: Goodman-Baron for acne scars only (checked in reports.scale_problems).
    goodman_baron_before = SelectField(
        "Goodman-Baron grade before treatment",
        choices=options([("", "Not assessed"), *GOODMAN_BARON_SCALE]),
        coerce=_optional_int,
        validators=[Optional()],
    )
    goodman_baron_after = SelectField(
        "Goodman-Baron grade at follow-up",
        choices=options([("", "Not assessed"), *GOODMAN_BARON_SCALE]),
        coerce=_optional_int,
        validators=[Optional()],
    )
    gais = SelectField(
        "GAIS (Global Aesthetic Improvement Scale)",
        choices=options([("", "Not assessed"), *GAIS_SCALE]),
        coerce=_optional_int,
        validators=[Optional()],
    )
    adverse_events = MultiCheckboxField("Adverse events", choices=options(ADVERSE_EVENTS))
    adverse_other = StringField(
        "Other adverse event (describe)", validators=_free_text("adverse_other", optional=False)
    )
    downtime_days = FiniteDecimalField(
        "Downtime (days)", places=None, validators=_in_range("downtime_days")
    )
    cost_per_session = FiniteDecimalField(
        "Cost per session", places=None, validators=_in_range("cost_per_session")
    )
    cost_per_course = FiniteDecimalField(
        "Cost per course (optional)",
        places=None,
        validators=_in_range("cost_per_course"),
    )
    currency = StringField(
        "Currency (ISO code, e.g. USD)",
        # No Optional(): it would stop the chain before validate_currency sees a cost.
        validators=[Length(max=3)],
        render_kw={"autocapitalize": "characters", "size": 4},
    )
    follow_up_months = FiniteDecimalField(
        "Follow-up (months)", places=None, validators=_in_range("follow_up_months")
    )
    notes = TextAreaField(
        "Notes (no names, dates of birth, contact details or record numbers)",
        validators=_free_text("notes"),
    )
    protocol_pmid = StringField(
        "PMID of the protocol paper followed (optional)",
        validators=[Optional(), Length(max=9)],
        render_kw={"inputmode": "numeric"},
    )
    # The report version the edit started from: a stale edit is refused (optimistic lock).
    version = HiddenField()
    submit = SubmitField("Save report")

    def validate_currency(self, field: Field) -> None:
        """Require a currency when a cost is given; normalize to upper case."""
        if field.data:
            field.data = field.data.strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", field.data):
                raise ValidationError("Use a three-letter ISO currency code, e.g. USD.")
        elif self.cost_per_session.data is not None or self.cost_per_course.data is not None:
            raise ValidationError("Give the currency of the cost (e.g. USD, EUR).")

    def validate_adverse_other(self, field: Field) -> None:
        """Require a description when 'other' is ticked."""
        if "other" in (self.adverse_events.data or []) and not (field.data or "").strip():
            raise ValidationError("Describe the other adverse event.")

    def validate_protocol_pmid(self, field: Field) -> None:
        """A PMID is digits only."""
        if field.data and not field.data.strip().isdigit():
            raise ValidationError("A PMID is a number, e.g. 31234567.")

    def to_input(self) -> ReportInput:
        """Return the form's values as plain report input (a field per ReportInput field)."""
        values: dict[str, Any] = {}
        for name, kind in FIELD_TYPES.items():
            data = self[name].data
            if kind is float:  # DecimalField gives a Decimal
                values[name] = None if data is None else float(data)
            elif kind is list:
                values[name] = list(data or [])
            elif kind is str:
                values[name] = (data or "").strip() or None
            else:
                values[name] = data
        values["treatment"] = values["treatment"] or ""
        return ReportInput(**values)


class HideForm(FlaskForm):
    """A curator hides (or shows again) a report, giving the reason."""

    reason = TextAreaField(
        "Reason", validators=[DataRequired(message="Give the reason."), Length(max=500)]
    )
    submit = SubmitField("Hide report")


class UploadForm(FlaskForm):
    """Upload a CSV of reports."""

    file = FileField(
        "CSV file",
        validators=[FileRequired(), FileAllowed(["csv", "txt"], "Upload a .csv file.")],
    )
    submit = SubmitField("Check and import")
