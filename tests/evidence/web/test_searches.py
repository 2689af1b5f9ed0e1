"""The saved-searches page only reads: the default searches come with the catalogue."""

from __future__ import annotations

from flask import Flask
from markupsafe import escape
from sqlmodel import Session, SQLModel, col, func, select

from evidence.catalogue import TREATMENTS
from evidence.db import get_engine
from evidence.models import SavedSearch


def _row_counts(app: Flask) -> dict[str, int]:
    """Return the number of rows in every table of the schema."""
    with app.app_context(), Session(get_engine()) as session:
        return {
            table.name: int(session.exec(select(func.count()).select_from(table)).one())
            for table in SQLModel.metadata.sorted_tables
        }


def test_get_searches_on_a_fresh_database_writes_nothing(any_app: Flask) -> None:
    """A GET of /searches leaves every table's row count as it was, and lists the defaults."""
    before = _row_counts(any_app)
    assert before["saved_search"] >= len(TREATMENTS)  # the catalogue load brought them
    client = any_app.test_client()
    page = client.get("/searches")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for entry in TREATMENTS:
        assert f"<code>{escape(entry['default_query'])}</code>" in html
    assert html.count('<span class="muted">(default)</span>') == len(TREATMENTS)
    assert client.get("/searches?treatment=microneedling").status_code == 200
    assert _row_counts(any_app) == before


def test_get_searches_never_adds_a_missing_default(any_app: Flask) -> None:
    """With a treatment's default search gone, a GET lists the rest and still writes nothing."""
    with any_app.app_context(), Session(get_engine()) as session:
        gone = session.exec(
            select(SavedSearch).where(col(SavedSearch.is_default).is_(True))
        ).first()
        assert gone is not None
        query = gone.query
        session.delete(gone)
        session.commit()
    before = _row_counts(any_app)
    html = any_app.test_client().get("/searches").get_data(as_text=True)
    assert f"<code>{escape(query)}</code>" not in html
    assert html.count('<span class="muted">(default)</span>') == len(TREATMENTS) - 1
    assert _row_counts(any_app) == before
