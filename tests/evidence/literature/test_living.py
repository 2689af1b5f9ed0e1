"""Living evidence: scheduled searches, "new since your last visit" and the Atom feeds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import feedparser
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence import jobs
from evidence.db import session_scope
from evidence.literature import living
from evidence.models import CitationLink, SavedSearch, SearchRun, utcnow
from evidence.queries import treatment_by_slug
from tests.conftest import csrf_token
from tests.evidence.pubmed_helpers import count_rows, use_fake
from tests.evidence.web.test_auth import login, make_user
from tests.fake_eutils import FakeEutils, synthetic_corpus

FOUND = 30


@pytest.fixture
def server() -> Iterator[FakeEutils]:
    """A fake E-utilities server answering every query with 30 new records."""
    with FakeEutils(synthetic_corpus(FOUND, files=("pubmed1.xml",))) as fake:
        yield fake


def _default_search(app: Flask, slug: str = "microneedling") -> SavedSearch:
    """Return a treatment's default saved search."""
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, slug)
        assert treatment is not None
        return jobs.find_or_create_search(session, treatment=treatment)


def _schedule(client: FlaskClient, search_id: int, value: str) -> object:
    """Choose a schedule in the search's row of /searches and save it."""
    page = client.get("/searches").text
    prefix = f"search-{search_id}"
    token = re.search(rf'name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', page)
    token_value = token.group(1) if token else csrf_token(client.get("/login").text)
    return client.post(
        f"/searches/{search_id}/schedule",
        data={f"{prefix}-csrf_token": token_value, f"{prefix}-schedule": value},
    )


def _new_section(html: str) -> str:
    """Return the "New since your last visit" section of a page."""
    match = re.search(r'<section class="new-since".*?</section>', html, re.DOTALL)
    assert match, "no 'New since your last visit' section"
    return match.group(0)


def test_curator_schedules_search_and_the_periodic_task_finds_new_records(
    app: Flask, server: FakeEutils
) -> None:
    """A curator schedules the microneedling search; the periodic task runs it; new shows."""
    use_fake(app, server)
    app.config["LIVING_VISIT_GAP_SECONDS"] = 0
    search = _default_search(app)
    assert search.id is not None and search.schedule == "off"
    client = app.test_client()

    # Nobody but a curator may schedule.
    assert "/login" in _schedule(client, search.id, "weekly").headers["Location"]  # type: ignore[attr-defined]
    make_user(app, "viewer@example.org", "viewer")
    login(client, "viewer@example.org")
    page = client.get("/searches").text
    assert f"/searches/{search.id}/schedule" not in page
    refused = client.post(
        f"/searches/{search.id}/schedule",
        data={"csrf_token": csrf_token(page), f"search-{search.id}-schedule": "weekly"},
    )
    assert refused.status_code == 403 and _default_search(app).schedule == "off"
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    make_user(app, "curator@example.org", "curator")
    login(client, "curator@example.org")
    bad = _schedule(client, search.id, "hourly")
    assert _default_search(app).schedule == "off"
    assert "Not a valid choice" in client.get(bad.headers["Location"]).text  # type: ignore[attr-defined]
    saved = _schedule(client, search.id, "weekly")
    assert saved.status_code == 302  # type: ignore[attr-defined]
    listing = client.get("/searches").text
    assert "now runs weekly" in listing
    assert re.search(
        rf'id="search-{search.id}-schedule"[^>]*>.*?<option selected value="weekly"',
        listing,
        re.DOTALL,
    )

    first = client.get("/treatments/microneedling").text
    assert "This is your first visit here" in _new_section(first)
    assert client.get("/treatments/microneedling").text.count("New candidate") == 0

    # The hourly periodic task, as the consumer would call it.
    runs = jobs.get_queue(app).due_searches_task.call_local()
    assert len(runs) == 1
    with app.app_context(), session_scope() as session:
        run = session.get(SearchRun, runs[0])
        assert run is not None and run.finished_at is not None and run.error is None
        assert (run.hits, run.new, run.updated) == (FOUND, FOUND, 0)
        assert run.saved_search_id == search.id and run.trigger == "schedule"
    assert count_rows(app, CitationLink, saved_search_id=search.id) == FOUND
    # Not due again for a week: a second tick runs nothing.
    assert jobs.get_queue(app).due_searches_task.call_local() == []
    with app.app_context(), session_scope() as session:
        stored = session.get(SavedSearch, search.id)
        assert stored is not None
        assert not living.is_due(stored, utcnow() + timedelta(days=6))
        assert living.is_due(stored, utcnow() + timedelta(days=7, seconds=1))

    listing = client.get("/searches").text
    row = re.search(rf'<tr id="search-{search.id}">.*?</tr>', listing, re.DOTALL)
    assert row and f"{FOUND} hits, {FOUND} new, 0 updated, 0 notices" in row.group(0)

    news = _new_section(client.get("/treatments/microneedling").text)
    assert f"{FOUND} new candidates from searches and imports" in news
    assert news.count("New candidate") == 20 and "and 10 more candidates" in news
    # Seen now: the next visit has nothing new.
    assert "Nothing new since" in _new_section(client.get("/treatments/microneedling").text)


def test_an_interrupted_scheduled_run_resumes_on_the_next_tick(
    app: Flask, server: FakeEutils
) -> None:
    """A run whose fetch is cut short stays open and the next tick completes the same run."""
    use_fake(app, server)
    search = _default_search(app)
    with app.app_context(), session_scope() as session:
        stored = session.get(SavedSearch, search.id)
        assert stored is not None
        stored.schedule = "monthly"
    server.inject("500", "efetch", times=4)  # every attempt of the first batch fails
    first = living.run_due_searches(app)
    with app.app_context(), session_scope() as session:
        run = session.get(SearchRun, first[0])
        assert run is not None and run.finished_at is None and "HTTP 500" in (run.error or "")
    again = living.run_due_searches(app)
    assert again == first  # the same run, resumed
    with app.app_context(), session_scope() as session:
        run = session.get(SearchRun, first[0])
        assert run is not None and run.finished_at is not None and run.new == FOUND
        assert len(session.exec(select(SearchRun)).all()) == 1


def test_treatment_feed_lists_included_citations_and_is_valid_atom(app: Flask) -> None:
    """The Atom feed parses cleanly and lists the treatment's included citations; pages link it."""
    client = app.test_client()
    response = client.get("/treatments/microneedling/feed.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Microneedling (collagen induction therapy): new evidence"
    assert feed.entries and all(e.title.startswith("Included: ") for e in feed.entries)
    assert all("/citations/" in e.link for e in feed.entries)
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, "microneedling")
        assert treatment is not None
        included = session.exec(
            select(CitationLink).where(
                CitationLink.treatment_id == treatment.id, CitationLink.status == "included"
            )
        ).all()
    assert len(feed.entries) == min(len({link.citation_id for link in included}), 50)
    page = client.get("/treatments/microneedling").text
    assert '<link rel="alternate" type="application/atom+xml"' in page
    assert 'href="/treatments/microneedling/feed.atom"' in page
    indication = client.get("/indications/acne-scars/feed.atom")
    assert indication.status_code == 200 and not feedparser.parse(indication.data).bozo
    assert client.get("/treatments/no-such/feed.atom").status_code == 404


def test_matrix_marks_a_cell_with_a_new_level_one_study_since_the_users_visit(app: Flask) -> None:
    """A signed-in user's matrix marks the cell that gained a level 1 study after their visit."""
    from evidence.models import Citation, Indication, Treatment

    app.config["LIVING_VISIT_GAP_SECONDS"] = 0
    client = app.test_client()
    make_user(app, "reader@example.org", "viewer")
    login(client, "reader@example.org")
    client.get("/matrix")  # first visit
    second = client.get("/matrix").text
    assert "your previous visit to this page" in second
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, "microneedling")
        indication = session.exec(select(Indication).where(Indication.slug == "acne-scars")).one()
        assert treatment is not None and isinstance(treatment, Treatment)
        citation = Citation(
            pmid="99000001",
            title="A randomised trial made in this test",
            year=2026,
            evidence_level=1,
            source="import",
        )
        session.add(citation)
        session.flush()
        session.add(
            CitationLink(
                citation_id=citation.id or 0,
                treatment_id=treatment.id,
                indication_id=indication.id,
                treatment_key=treatment.id or 0,
                indication_key=indication.id or 0,
                status="included",
                found_by="test",
                decided_at=utcnow(),
            )
        )
    matrix = client.get("/matrix").text
    cell = re.search(
        r'<td data-treatment="microneedling" data-indication="acne-scars".*?</td>',
        matrix,
        re.DOTALL,
    )
    assert cell and "changed since" in cell.group(0)
    assert "1 new level 1-2 study (PMID 99000001)" in cell.group(0)
    others = re.findall(
        r'<td data-treatment="[^"]+" data-indication="[^"]+".*?</td>', matrix, re.DOTALL
    )
    assert sum("changed since" in c for c in others) == 1
    # Seen: the next visit no longer marks it.
    assert "99000001" not in client.get("/matrix").text
