"""A link's "no treatment" / "no indication" is stored as key 0, by one helper."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from evidence.db import session_scope
from evidence.models import Citation, CitationLink, Indication


def test_keys_stand_in_for_none() -> None:
    assert CitationLink.keys_for(None, None) == (0, 0)
    assert CitationLink.keys_for(3, None) == (3, 0)
    link = CitationLink.for_pair(7, None, 5, found_by="curator")
    assert (link.treatment_id, link.indication_id) == (None, 5)
    assert (link.treatment_key, link.indication_key) == (0, 5)
    assert link.found_by == "curator"


def test_two_links_naming_no_treatment_collide(app: Flask) -> None:
    """The keys exist so that the unique constraint sees two "indication only" links as one."""
    with app.app_context(), session_scope() as session:
        citation = session.exec(select(Citation)).first()
        indication = session.exec(select(Indication)).first()
        assert citation is not None and citation.id and indication is not None
        session.add(CitationLink.for_pair(citation.id, None, indication.id))
        session.add(CitationLink.for_pair(citation.id, None, indication.id))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
