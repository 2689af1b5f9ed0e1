"""Outcome reports: the form, identifier checks, edits and history, hiding, lists, stats, CSV."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, func, select

from evidence.db import session_scope
from evidence.models import OutcomeAdverseEvent, OutcomeReport, OutcomeReportRevision
from evidence.practice.reports import find_identifiers
from evidence.web import auth
from tests.conftest import csrf_token

PASSWORD = "correct horse battery"

REPORT = {
    "treatment": "microneedling",
    "indication": "acne-scars",
    "sessions": "3",
    "interval_weeks": "4",
    "fitzpatrick": "5",
    "age_band": "25-34",
    "device": "motorised pen",
    "needle_depth_mm": "1.5",
    "improvement": "2",
    "satisfaction": "4",
    "adverse_events": ["pih"],
    "downtime_days": "3",
    "cost_per_session": "250",
    "currency": "usd",
    "follow_up_months": "3",
    "notes": "PIH faded by week 6 with sunscreen and azelaic acid.",
}


def account(app: Flask, email: str, role: str) -> FlaskClient:
    """Create an account and return a client logged in as it."""
    with app.app_context(), session_scope() as session:
        auth.create_user(session, email=email, password=PASSWORD, role=role)
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 302
    return client


def submit(client: FlaskClient, **changes: Any) -> Any:
    """Post the report form with REPORT's values, changed as asked."""
    page = client.get("/reports/new")
    data: dict[str, Any] = {**REPORT, **changes, "csrf_token": csrf_token(page.text)}
    return client.post("/reports/new", data={k: v for k, v in data.items() if v is not None})


def report_id_of(response: Any) -> int:
    """Return the id of the report a redirect points at."""
    match = re.search(r"/reports/(\d+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return int(match.group(1))


def count_reports(app: Flask) -> int:
    """Count every report row, hidden ones included."""
    with app.app_context(), session_scope() as session:
        return int(session.exec(select(func.count()).select_from(OutcomeReport)).one())


def errors_in(html: str) -> list[str]:
    """Return the error messages shown beside fields."""
    return re.findall(r'<p class="error" id="[^"]+">([^<]+)</p>', html)


# --- identifiers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("contact her at jane.doe@mail.example", "e-mail address “jane.doe@mail.example”"),
        ("phone +1 (555) 123-4567 if worse", "phone number"),
        ("mobile 07700 900123", "phone number"),
        ("born 12/03/1985, fair skin", "full date “12/03/1985”"),
        ("DOB 1985-03-12", "full date “1985-03-12”"),
        ("dob: March 12, 1985", "date of birth"),
        ("seen on 3 March 2021 for the last pass", "full date “3 March 2021”"),
        ("MRN 00482913 in our EMR", "record number “MRN 00482913”"),
        ("patient #45821 from clinic B", "record number “patient #45821”"),
        ("chart no. 7781", "record number “chart no. 7781”"),
        ("ref 123456789", "long number “123456789”"),
    ],
)
def test_identifiers_are_found_with_what_to_remove(text: str, expected: str) -> None:
    """Each kind of identifier is refused with a message naming what to remove."""
    problems = find_identifiers(text)
    assert problems, text
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("Remove") for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "3 sessions 4 weeks apart, 1.5 mm, 4 passes, 250 USD each, 1,500-2,000 per course",
        "treated in 2019; follow-up at 6 months; improvement 51-75%",
        "protocol as in PMID 31234567 (split-face)",
        "Fitzpatrick V, 25-34, PIH resolved by week 6",
        "energy 70 mJ, density 5%, 10600 nm CO2",
    ],
)
def test_clinical_text_is_not_mistaken_for_identifiers(text: str) -> None:
    """Doses, counts, years, ranges and PMIDs pass."""
    assert find_identifiers(text) == []


# --- the form -------------------------------------------------------------------------------


def test_practitioner_submits_a_report_and_sees_it(app: Flask) -> None:
    """A saved report shows its fields, its reporter's role and a 'created' history entry."""
    doc = account(app, "doc@example.org", "practitioner")
    response = submit(doc)
    assert response.status_code == 302
    report_id = report_id_of(response)
    page = doc.get(f"/reports/{report_id}").text
    assert "Acne scars" in page or "acne scars" in page.lower()
    assert "Post-inflammatory hyperpigmentation (PIH)" in page
    assert ">V<" in page and "250 USD per session" in page
    assert "Reported by a practitioner" in page and "created" in page
    with app.app_context(), session_scope() as session:
        report = session.get(OutcomeReport, report_id)
        assert report is not None and report.currency == "USD" and report.fitzpatrick == 5
        events = session.exec(
            select(OutcomeAdverseEvent.event).where(OutcomeAdverseEvent.report_id == report_id)
        ).all()
        assert list(events) == ["pih"]


def test_errors_show_beside_fields_and_keep_what_was_typed(app: Flask) -> None:
    """Identifiers and missing answers are refused; typed values stay in the form."""
    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    response = submit(
        doc,
        improvement=None,
        notes="Seen again 12/03/2024, call 555-123-4567",
        cost_per_course="900",
        currency="",
        adverse_events=["pih", "other"],
    )
    assert response.status_code == 400
    messages = " ".join(errors_in(response.text))
    assert "Choose the improvement" in messages
    assert "Remove the full date “12/03/2024”" in messages
    assert "Remove the phone number “555-123-4567”" in messages
    assert "Give the currency" in messages
    assert "Describe the other adverse event" in messages
    # What was typed is still there.
    assert 'value="motorised pen"' in response.text
    assert "Seen again 12/03/2024, call 555-123-4567</textarea>" in response.text
    assert re.search(r'<option selected value="5">|<option value="5" selected>', response.text)
    assert count_reports(app) == before


def test_form_has_no_identifier_fields(app: Flask) -> None:
    """No input asks for a patient's name, birth date, contact, record number or photo."""
    doc = account(app, "doc@example.org", "practitioner")
    html = doc.get("/reports/new").text
    names = set(re.findall(r'name="([^"]+)"', html))
    forbidden = re.compile(
        r"name|birth|dob|email|phone|address|mrn|record|photo|image", re.IGNORECASE
    )
    assert not [n for n in names if forbidden.search(n)], names
    assert 'type="file"' not in html


def test_viewers_and_anonymous_cannot_submit(app: Flask) -> None:
    """Only practitioners (and admins) reach the form; nothing is saved otherwise."""
    before = count_reports(app)
    anonymous = app.test_client()
    response = anonymous.get("/reports/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    viewer = account(app, "reader@example.org", "viewer")
    assert viewer.get("/reports/new").status_code == 403
    token = csrf_token(viewer.get("/").text)
    assert viewer.post("/reports/new", data={**REPORT, "csrf_token": token}).status_code == 403
    assert count_reports(app) == before


# --- edits and history ----------------------------------------------------------------------


def test_practitioner_edits_own_report_with_history(app: Flask) -> None:
    """Edits keep who, when and what changed; others cannot edit."""
    doc = account(app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(doc))
    form = doc.get(f"/reports/{report_id}/edit")
    assert form.status_code == 200 and 'value="motorised pen"' in form.text
    data = {**REPORT, "improvement": "3", "adverse_events": [], "csrf_token": csrf_token(form.text)}
    response = doc.post(f"/reports/{report_id}/edit", data=data)
    assert response.status_code == 302
    page = doc.get(f"/reports/{report_id}").text
    assert "edited" in page
    assert re.search(r"Improvement \(0-4\): <del>2</del> → <ins>3</ins>", page)
    assert re.search(r"Adverse events: <del>Post-inflammatory[^<]*</del> → <ins>—</ins>", page)
    with app.app_context(), session_scope() as session:
        revisions = session.exec(
            select(OutcomeReportRevision)
            .where(OutcomeReportRevision.report_id == report_id)
            .order_by(col(OutcomeReportRevision.id))
        ).all()
        assert [r.action for r in revisions] == ["create", "edit"]
        assert json.loads(revisions[1].changes)["improvement"] == [2, 3]
    other = account(app, "other@example.org", "practitioner")
    assert other.get(f"/reports/{report_id}/edit").status_code == 403
    token = csrf_token(other.get("/").text)
    hijack = {**REPORT, "improvement": "0", "csrf_token": token}
    assert other.post(f"/reports/{report_id}/edit", data=hijack).status_code == 403
    with app.app_context(), session_scope() as session:
        report = session.get(OutcomeReport, report_id)
        assert report is not None and report.improvement == 3


def test_quoted_source_reports_show_their_source_and_cannot_be_edited(app: Flask) -> None:
    """Snapshot reports from the forum thread carry source and quote, not a reporter."""
    with app.app_context(), session_scope() as session:
        quoted = session.exec(
            select(OutcomeReport).where(col(OutcomeReport.source_key).is_not(None))
        ).first()
        assert quoted is not None and quoted.id is not None
        quoted_id, commenter = quoted.id, quoted.source_commenter
    admin = account(app, "admin@example.org", "admin")
    page = admin.get(f"/reports/{quoted_id}").text
    assert "Quoted from a cited source" in page and str(commenter) in page
    assert "Reported by a" not in page and "Edit this report" not in page
    assert admin.get(f"/reports/{quoted_id}/edit").status_code == 403


# --- hiding -------------------------------------------------------------------------------------


def test_curator_hides_with_reason_and_nothing_is_deleted(any_app: Flask) -> None:
    """Hidden reports leave pages and statistics but stay in the database with their reason."""
    app = any_app
    doc = account(app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(doc))
    curator = account(app, "cur@example.org", "curator")
    page = curator.get(f"/reports/{report_id}")
    token = csrf_token(page.text)
    # A reason is required.
    assert curator.post(f"/reports/{report_id}/hide", data={"csrf_token": token}).status_code == 303
    assert "Hidden" not in curator.get(f"/reports/{report_id}").text.split("<h1")[1][:300]
    response = curator.post(
        f"/reports/{report_id}/hide",
        data={"csrf_token": token, "reason": "Duplicate of an earlier report"},
    )
    assert response.status_code == 303
    assert app.test_client().get(f"/reports/{report_id}").status_code == 404
    treatment_page = app.test_client().get("/treatments/microneedling").text
    assert f'id="report-{report_id}"' not in treatment_page
    # The reporter and curators still see it, with the reason.
    assert "Duplicate of an earlier report" in doc.get(f"/reports/{report_id}").text
    assert "Duplicate of an earlier report" in doc.get("/reports/mine").text
    with app.app_context(), session_scope() as session:
        report = session.get(OutcomeReport, report_id)
        assert report is not None and report.hidden and report.hidden_reason
    # Practitioners cannot hide; curators can show it again.
    token = csrf_token(doc.get("/").text)
    assert (
        doc.post(f"/reports/{report_id}/unhide", data={"csrf_token": token, "reason": "x"})
    ).status_code == 403
    curator.post(
        f"/reports/{report_id}/unhide",
        data={"csrf_token": csrf_token(curator.get("/").text), "reason": "Not a duplicate"},
    )
    assert app.test_client().get(f"/reports/{report_id}").status_code == 200
    history = curator.get(f"/reports/{report_id}").text
    assert "hidden" in history and "shown again" in history


def test_curators_can_list_hidden_reports_and_others_cannot(app: Flask) -> None:
    """The 'hidden only' filter works for curators and is ignored for everyone else."""
    doc = account(app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(doc))
    curator = account(app, "cur@example.org", "curator")
    curator.post(
        f"/reports/{report_id}/hide",
        data={"csrf_token": csrf_token(curator.get("/").text), "reason": "Test entry"},
    )
    hidden_list = curator.get("/reports?hidden=1").text
    assert (
        f'id="report-{report_id}"' in hidden_list
        and "Hidden by a curator: Test entry" in hidden_list
    )
    for client in (app.test_client(), doc):
        listed = client.get("/reports?hidden=1").text
        assert f'id="report-{report_id}"' not in listed


# --- lists, filters and statistics ---------------------------------------------------------------


def test_treatment_page_shows_statistics_and_marks_small_groups(app: Flask) -> None:
    """The new report counts in the IV-VI group, marked 'too few reports' without a percentage."""
    doc = account(app, "doc@example.org", "practitioner")
    report_id = report_id_of(submit(doc))
    html = app.test_client().get("/treatments/microneedling").text
    section = html[html.index('id="reports"') :]
    assert f'id="report-{report_id}"' in section
    assert "too few reports" in section
    dark = section[section.index("Skin type IV–VI") :]
    assert "/reports?treatment=microneedling&amp;skin=IV-VI" in dark
    # Small groups show counts (k of n), never a bare percentage.
    table = section[: section.index("By indication")]
    assert not re.search(r"\d+%</strong>", table)


def test_ten_reports_give_rates_with_intervals(app: Flask) -> None:
    """With ten reports in a group the rate shows with its Wilson interval."""
    doc = account(app, "doc@example.org", "practitioner")
    for i in range(10):
        submit(doc, adverse_events=["pih"] if i < 3 else [], improvement=str(i % 5))
    html = app.test_client().get("/treatments/microneedling").text
    section = html[html.index("Skin type IV–VI") :]
    # PIH in 3 of 10: 30% (Wilson 95% CI 11% to 60%), as in test_outcomes.
    assert re.search(r"<strong>30%</strong></a> <span class=\"ci\">\(<a[^>]*>3</a> of", section)
    assert "95% CI 11%–60%" in section


def test_reports_list_filters(app: Flask) -> None:
    """Indication, skin type, reporter role, adverse event and date filter the list."""
    doc = account(app, "doc@example.org", "practitioner")
    dark = report_id_of(submit(doc))
    light = report_id_of(submit(doc, fitzpatrick="2", indication="wrinkles", adverse_events=[]))
    client = app.test_client()

    def ids(query: str) -> set[int]:
        html = client.get(f"/reports?{query}").text
        return {int(i) for i in re.findall(r'id="report-(\d+)"', html)}

    assert {dark, light} <= ids("treatment=microneedling")
    assert dark in ids("skin=IV-VI") and light not in ids("skin=IV-VI")
    assert ids("skin=5") & {dark, light} == {dark}
    assert ids("indication=wrinkles") & {dark, light} == {light}
    assert ids("event=pih") & {dark, light} == {dark}
    assert ids("role=practitioner") == {dark, light}
    assert dark not in ids("role=source")
    assert ids("date_from=2000-01-01&date_to=2000-12-31") == set()
    assert ids(f"ids={light}") == {light}
    # The same filters, prefixed, on the treatment page leave the citation filters alone.
    page = client.get("/treatments/microneedling?rep_skin=IV-VI").text
    shown = {int(i) for i in re.findall(r'id="report-(\d+)"', page)}
    assert dark in shown and light not in shown


def test_my_reports_lists_only_mine(app: Flask) -> None:
    """'My reports' shows the practitioner's own reports only."""
    doc = account(app, "doc@example.org", "practitioner")
    mine = report_id_of(submit(doc))
    other = account(app, "other@example.org", "practitioner")
    theirs = report_id_of(submit(other))
    html = doc.get("/reports/mine").text
    assert f'id="report-{mine}"' in html and f'id="report-{theirs}"' not in html


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_template_downloads_and_saves_nothing_untouched(app: Flask) -> None:
    """The template has the columns; uploading it unchanged saves no example report."""
    doc = account(app, "doc@example.org", "practitioner")
    response = app.test_client().get("/reports/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.text.startswith("treatment,indication,")
    before = count_reports(app)
    result = upload(doc, response.data)
    assert result.status_code == 400 and "holds no report rows" in result.text
    assert count_reports(app) == before


def upload(client: FlaskClient, content: bytes, name: str = "reports.csv") -> Any:
    """Upload a CSV through the form."""
    import io

    token = csrf_token(client.get("/reports/upload").text)
    return client.post(
        "/reports/upload",
        data={"csrf_token": token, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


HEADER = (
    "treatment,indication,fitzpatrick,improvement,adverse_events,cost_per_session,currency,notes"
)


def test_csv_upload_is_all_or_nothing_with_a_row_report(any_app: Flask) -> None:
    """One bad row saves nothing and every problem is listed by line; a clean file saves all."""
    app = any_app
    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    bad = "\n".join(
        [
            HEADER,
            "# a comment line keeps the numbering",
            "microneedling,acne-scars,V,2,pih,250,USD,",
            "microneedling,acne-scars,VII,2,,250,USD,",
            "fractional-co2-laser,acne-scars,IV,three,,,,",
            "microneedling,acne-scars,III,1,,,,call 555-123-4567",
            "laser-magic,acne-scars,II,1,,,,",
        ]
    ).encode()
    response = upload(doc, bad)
    assert response.status_code == 400
    assert "Nothing was imported" in response.text
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.text)
    by_line = {(int(line), column) for line, column, _ in rows}
    assert (4, "fitzpatrick") in by_line
    assert (5, "improvement") in by_line
    assert (6, "notes") in by_line
    assert (7, "treatment") in by_line
    assert not any(line == 3 for line, _ in by_line)
    assert "Remove the phone number" in response.text
    assert count_reports(app) == before
    good = "\n".join(
        [
            HEADER,
            "microneedling,acne-scars,V,2,pih,250,usd,",
            "microneedling,acne-scars,6,3,pih;erythema-7d,,,",
            "fractional-co2-laser,acne-scars,IV,3,,1200,USD,",
        ]
    ).encode()
    response = upload(doc, good)
    assert response.status_code == 302
    assert count_reports(app) == before + 3
    mine = doc.get("/reports/mine").text
    assert mine.count('class="report"') == 3


def test_every_figure_links_to_exactly_the_reports_it_used(app: Flask) -> None:
    """Following a figure's link lists the reports behind it, and no others."""
    import html as html_lib

    doc = account(app, "doc@example.org", "practitioner")
    rated = report_id_of(submit(doc, improvement="3", downtime_days="2", cost_per_session="300"))
    unrated = report_id_of(
        submit(doc, improvement="0", downtime_days="", cost_per_session="", currency="")
    )
    eur = report_id_of(submit(doc, improvement="1", adverse_events=[], currency="EUR"))
    client = app.test_client()
    page = client.get("/treatments/microneedling").text
    start = page.index('<table class="stats">')
    table = page[start : page.index("</table>", start)]
    rows = {
        re.sub(r"<[^>]+>", "", m.group(1)).strip(): m.group(2)
        for m in re.finditer(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table, re.DOTALL)
    }

    def listed(cell_html: str) -> set[int]:
        href = html_lib.unescape(re.findall(r'href="([^"]+)"', cell_html)[0])
        return {int(i) for i in re.findall(r'id="report-(\d+)"', client.get(href).text)}

    def dark_column(row: str) -> str:
        return re.findall(r"<td>(.*?)</td>", rows[row], re.DOTALL)[2]  # all, I-III, IV-VI, none

    mine = {rated, unrated, eur}
    assert listed(dark_column("Mean improvement (0–4)")) == mine
    assert listed(dark_column("Responders (improvement ≥ 2)")) == {rated}
    assert listed(dark_column("Post-inflammatory hyperpigmentation (PIH)")) == {rated, unrated}
    assert listed(dark_column("Median downtime")) == {rated, eur}
    # One costed report each in USD and EUR: the tie goes to the first code alphabetically,
    # and the median uses that currency's reports only.
    assert "250 EUR" in dark_column("Median cost per session")
    assert listed(dark_column("Median cost per session")) == {eur}


def test_csv_upload_has_a_row_limit(app: Flask) -> None:
    """A file over the row limit is refused whole, saying how to split it."""
    from evidence.practice import reports

    doc = account(app, "doc@example.org", "practitioner")
    before = count_reports(app)
    row = "microneedling,acne-scars,V,2,,,,"
    content = "\n".join([HEADER] + [row] * (reports.MAX_CSV_ROWS + 1)).encode()
    response = upload(doc, content)
    assert response.status_code == 400 and "At most 5,000 rows per file" in response.text
    assert count_reports(app) == before
