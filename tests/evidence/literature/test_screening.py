"""Screening: one and two reviewers, undo, disagreements resolved, kappa, and PRISMA counts."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence.db import session_scope
from evidence.literature import prisma, screening
from evidence.models import Citation, CitationLink, ScreeningDecision
from tests.conftest import csrf_token
from tests.evidence.screening_helpers import QUEUE, candidates, current_pmid, hidden, screen
from tests.evidence.web.test_auth import login, make_user


def _curator(app: Flask, email: str) -> FlaskClient:
    make_user(app, email, "curator")
    client = app.test_client()
    login(client, email)
    return client


def _status(app: Flask, pmid: str) -> CitationLink:
    with app.app_context(), session_scope() as session:
        cid = session.exec(select(Citation.id).where(Citation.pmid == pmid)).one()
        return session.exec(select(CitationLink).where(CitationLink.citation_id == cid)).one()


def _prisma(app: Flask) -> prisma.Prisma:
    with app.app_context(), session_scope() as session:
        cell = screening.find_cell(session, "microneedling", "acne-scars")
        assert cell is not None
        return prisma.counts(session, cell=cell)


# --- Cohen's kappa against published worked examples ------------------------------------------


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # Wikipedia, "Cohen's kappa", simple example: 50 grant proposals read by two readers,
        # 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no; p_o = 0.7, p_e = 0.5, kappa = 0.4.
        ([[20, 5], [10, 15]], 0.40),
        # The same article's "same percentages but different numbers": both agree 60% of the
        # time, kappa 0.1304 and 0.2593 because their marginals differ.
        ([[45, 15], [25, 15]], 0.1304),
        ([[25, 35], [5, 35]], 0.2593),
    ],
)
def test_kappa_reproduces_the_textbook_examples(table: list[list[int]], expected: float) -> None:
    assert round(screening.kappa_table(table)["kappa"], 4) == expected


def test_kappa_is_marked_when_too_few_or_undefined() -> None:
    few = screening.kappa_from_pairs([("include", "include"), ("exclude", "include")])
    assert few.n == 2 and "Too few double-screened records (2" in few.note
    alike = screening.kappa_from_pairs([("include", "include")] * 12)
    assert alike.kappa is None and "undefined" in alike.note


# --- one reviewer --------------------------------------------------------------------------------


def test_one_curator_includes_excludes_maybes_and_undoes(app: Flask) -> None:
    pmids = candidates(app, 3)
    client = _curator(app, "solo@example.org")
    first, resp = screen(client, "include")
    assert resp.status_code == 302 and first == str(pmids[0])
    assert _status(app, first).status == "included"
    second, _ = screen(client, "exclude", reason="wrong-design", text="in vitro only")
    link = _status(app, str(second))
    assert link.status == "excluded"
    assert (
        link.exclusion_reason
        == "Wrong study design (in vitro, animal, protocol only): in vitro only"
    )
    third, _ = screen(client, "maybe")
    assert _status(app, str(third)).status == "candidate"
    page = client.get(QUEUE).data.decode()
    assert current_pmid(page) is None and "You marked 1 record maybe" in page
    flow = _prisma(app)
    assert flow.maybe == 1 and flow.check() == []

    # Undo reverses the latest decision (the maybe), then the exclusion: both are recorded.
    for _ in range(2):
        token = hidden(client.get(QUEUE).data.decode(), "u-csrf_token")
        assert client.post(QUEUE + "/undo", data={"u-csrf_token": token}).status_code == 302
    assert _status(app, str(second)).status == "candidate"
    assert _status(app, str(second)).exclusion_reason is None
    with app.app_context(), session_scope() as session:
        rows = list(session.exec(select(ScreeningDecision).order_by(ScreeningDecision.id)))  # type: ignore[arg-type]
    assert [r.decision for r in rows] == ["include", "exclude", "maybe", "undo", "undo"]
    assert rows[3].reverses_id == rows[2].id and rows[4].reverses_id == rows[1].id
    assert all(r.user_id == rows[0].user_id and r.created_at for r in rows)
    # The undone record is back in the queue, shown first after the undo.
    assert current_pmid(client.get(QUEUE).data.decode()) in {str(second), str(third)}


def test_exclusion_needs_a_listed_reason_and_keeps_what_was_typed(app: Flask) -> None:
    candidates(app, 1)
    client = _curator(app, "solo@example.org")
    pmid, resp = screen(client, "exclude", reason="", text="looks like a protocol")
    assert resp.status_code == 400
    html = resp.data.decode()
    assert "Choose the reason for excluding this record from the list." in html
    assert 'value="looks like a protocol"' in html
    assert _status(app, str(pmid)).status == "candidate"
    _, resp = screen(client, "exclude", reason="other", text="")
    assert "Say why in the free-text box" in resp.data.decode()


def test_viewers_cannot_screen_and_see_no_queue(app: Flask) -> None:
    candidates(app, 1)
    make_user(app, "viewer@example.org", "viewer")
    client = app.test_client()
    login(client, "viewer@example.org")
    assert client.get(QUEUE).status_code == 403
    index = client.get("/screening").data.decode()
    assert "Microneedling" in index and ">Screen<" not in index


# --- two reviewers: the "done when" -------------------------------------------------------


def test_two_curators_screen_ten_with_one_disagreement_resolved_and_prisma_matches(
    any_app: Flask,
) -> None:
    app = any_app
    before = _prisma(app)
    assert before.check() == []
    pmids = [str(p) for p in candidates(app, 10)]
    alice = _curator(app, "alice@example.org")
    bob = _curator(app, "bob@example.org")
    carol = _curator(app, "carol@example.org")

    page = alice.get(QUEUE).data.decode()
    alice.post(
        QUEUE + "/settings",
        data={"s-csrf_token": hidden(page, "s-csrf_token"), "s-two_reviewer": "y"},
    )
    assert "two reviewers" in alice.get(QUEUE).data.decode()

    # Records 1-6 both include; 7-9 both exclude (wrong design); 10: Alice includes, Bob excludes.
    plan = dict.fromkeys(pmids[:6], ("include", "include"))
    plan.update(dict.fromkeys(pmids[6:9], ("exclude", "exclude")))
    plan[pmids[9]] = ("include", "exclude")
    for who, client in ((0, alice), (1, bob)):
        for _ in range(10):
            pmid = current_pmid(client.get(QUEUE).data.decode())
            assert pmid is not None
            decision = plan[pmid][who]
            screen(
                client, decision, reason="wrong-design" if pmid != pmids[9] else "wrong-indication"
            )
            if who == 0:
                # Alone, a vote decides nothing and the second reviewer sees no trace of it.
                assert _status(app, pmid).status == "candidate"
        assert current_pmid(client.get(QUEUE).data.decode()) is None
        if who == 0:
            bob_view = bob.get(QUEUE).data.decode()
            assert "alice@example.org" not in bob_view and "Included" not in bob_view
            conflicts = carol.get(QUEUE + "/conflicts").data.decode()
            assert "No disagreement awaits a resolution." in conflicts

    assert {_status(app, p).status for p in pmids[:6]} == {"included"}
    assert {_status(app, p).status for p in pmids[6:9]} == {"excluded"}
    assert _status(app, pmids[9]).status == "candidate"
    # A third curator's queue offers nothing: two have screened every record.
    assert current_pmid(carol.get(QUEUE).data.decode()) is None

    conflicts = carol.get(QUEUE + "/conflicts").data.decode()
    assert "alice@example.org</strong>: include" in conflicts
    assert "bob@example.org</strong>: exclude" in conflicts
    link_id = _status(app, pmids[9]).id
    # Kappa over the 10 records: table [[6, 1], [0, 3]], p_o = 0.9,
    # p_e = 0.7 * 0.6 + 0.3 * 0.4 = 0.54, kappa = 0.36 / 0.46 = 0.78.
    assert "Cohen's kappa <strong>0.78</strong>" in conflicts
    assert "over <strong>10</strong> double-screened records" in conflicts

    # A reviewer is offered no resolution form, and the server refuses one anyway.
    alice_view = alice.get(QUEUE + "/conflicts").data.decode()
    assert "You reviewed this record: a third curator resolves it." in alice_view
    own = alice.post(
        f"{QUEUE}/resolve/{link_id}",
        data={f"r{link_id}-csrf_token": csrf_token(alice_view), f"r{link_id}-include": "y"},
        follow_redirects=True,
    )
    assert "A third curator resolves a disagreement" in own.data.decode()
    resolved = carol.post(
        f"{QUEUE}/resolve/{link_id}",
        data={
            f"r{link_id}-csrf_token": hidden(conflicts, f"r{link_id}-csrf_token"),
            f"r{link_id}-reason_code": "wrong-indication",
            f"r{link_id}-reason_text": "melasma, not scars",
            f"r{link_id}-exclude": "y",
        },
        follow_redirects=True,
    )
    assert "Resolved: record" in resolved.data.decode()
    final = _status(app, pmids[9])
    assert final.status == "excluded" and final.exclusion_reason == (
        "Wrong indication: melasma, not scars"
    )
    with app.app_context(), session_scope() as session:
        resolution = session.exec(
            select(ScreeningDecision).where(ScreeningDecision.stage == "resolve")
        ).one()
        assert final.decided_by_id == resolution.user_id

    after = _prisma(app)
    assert after.check() == []
    assert after.identified["Import file test-candidates.xml"] == 10
    assert after.identified_total == before.identified_total + 10
    assert after.screened == before.screened + 10
    assert after.included == before.included + 6
    assert after.excluded == before.excluded + 4
    assert after.awaiting == before.awaiting
    assert after.exclusion_reasons["Wrong study design (in vitro, animal, protocol only)"] == 3
    assert after.exclusion_reasons["Wrong indication"] == 1
    assert after.screened_in_log == 10

    page = app.test_client().get("/prisma/microneedling/acne-scars").data.decode()
    assert f"Studies included (n = {after.included})" in page  # the SVG's own text
    assert f"Records excluded (n = {after.excluded})" in page
    assert f"Records identified (n = {after.identified_total})" in page
    assert "The counts do not add up" not in page
    download = app.test_client().get("/prisma/microneedling/acne-scars/prisma.csv")
    rows = {
        r["item"]: r["count"]
        for r in csv.DictReader(io.StringIO(download.data.decode("utf-8-sig")))
    }
    assert rows["Studies included"] == str(after.included)
    assert rows["Records screened (title and abstract)"] == str(after.screened)
    assert rows["Excluded: Wrong indication"] == "1"
    assert rows["Reports sought for retrieval"].startswith("not tracked")
    png = app.test_client().get("/prisma/microneedling/acne-scars/prisma.png")
    assert png.data.startswith(b"\x89PNG") and "attachment" in png.headers["Content-Disposition"]
    svg = app.test_client().get("/prisma/microneedling/acne-scars/prisma.svg")
    assert svg.mimetype == "image/svg+xml" and b"Records screened" in svg.data


@pytest.mark.parametrize("link_id", ["²", "abc", "-1", ""])
def test_a_malformed_record_id_is_refused_with_the_queue_again(app: Flask, link_id: str) -> None:
    candidates(app, n=1)
    client = _curator(app, "odd-id@example.org")
    page = client.get(QUEUE).data.decode()
    data = {"d-csrf_token": hidden(page, "d-csrf_token"), "d-link_id": link_id, "d-include": "1"}
    resp = client.post(QUEUE + "/decide", data=data)
    assert resp.status_code == 400
    assert "The form was not complete or has expired" in resp.data.decode()
