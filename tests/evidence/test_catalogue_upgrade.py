"""After `evidence db upgrade` alone the catalogue is there; if it is not, errors say why."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, delete, select

from evidence.catalogue import INDICATIONS, TREATMENTS
from evidence.db import get_engine
from evidence.models import Indication, SavedSearch, Treatment
from tests.conftest import make_test_app, run_cli


def test_upgrade_alone_loads_the_catalogue_once(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    first = run_cli(app, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"added {len(TREATMENTS)} treatments, {len(INDICATIONS)} indications" in first.output
    second = run_cli(app, "db", "upgrade")
    assert "catalogue: added 0 treatments, 0 indications" in second.output
    with app.app_context(), Session(get_engine()) as session:
        slugs = [t.slug for t in session.exec(select(Treatment))]
        assert sorted(slugs) == sorted(t["slug"] for t in TREATMENTS)
        assert len(session.exec(select(Indication)).all()) == len(INDICATIONS)
        # Each treatment's default query is a saved search (the searches page only reads).
        defaults = session.exec(select(SavedSearch).where(SavedSearch.is_default)).all()
        assert len(defaults) == len(TREATMENTS)
    exported = run_cli(app, "export", "citations", "--treatment", "microneedling")
    assert exported.exit_code == 0, exported.output


def test_empty_catalogue_error_names_the_command(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert run_cli(app, "db", "upgrade").exit_code == 0
    with app.app_context(), Session(get_engine()) as session:
        session.exec(delete(SavedSearch))  # type: ignore[call-overload]
        session.exec(delete(Treatment))  # type: ignore[call-overload]
        session.exec(delete(Indication))  # type: ignore[call-overload]
        session.commit()
    result = run_cli(app, "pubmed", "fetch", "--treatment", "microneedling")
    assert result.exit_code == 2
    assert "the catalogue is empty; run `evidence db upgrade`" in result.output


def test_unknown_slug_lists_the_known_ones(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'known.sqlite3'}")
    assert run_cli(app, "db", "upgrade").exit_code == 0
    result = run_cli(app, "pubmed", "fetch", "--treatment", "microneedles")
    assert result.exit_code == 2
    assert "no treatment 'microneedles'; known: microneedling," in result.output
