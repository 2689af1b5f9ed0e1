"""E-mail digests: a user opts in on their account page; the digest reaches a local SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlmodel import select

from evidence import jobs
from evidence.db import session_scope
from evidence.literature import digests
from evidence.models import Citation, CitationLink, DigestSubscription, utcnow
from evidence.queries import treatment_by_slug
from tests.conftest import csrf_token
from tests.evidence.web.test_auth import login, make_user


class _Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        """Start empty."""
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Keep the message (aiosmtpd's hook name)."""
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, _Inbox]]:
    """A local SMTP server on 127.0.0.1, started and stopped by the test."""
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's own start-up check needs one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def _include_new_study(app: Flask) -> str:
    """Include a citation made in this test for microneedling; return its title."""
    title = "A split-face trial made in this test"
    with app.app_context(), session_scope() as session:
        treatment = treatment_by_slug(session, "microneedling")
        assert treatment is not None
        citation = Citation(pmid="99100001", title=title, year=2026, evidence_level=2)
        session.add(citation)
        session.flush()
        session.add(
            CitationLink(
                citation_id=citation.id or 0,
                treatment_id=treatment.id,
                treatment_key=treatment.id or 0,
                status="included",
                found_by="test",
                decided_at=utcnow(),
            )
        )
    return title


def test_opted_in_user_gets_a_digest_of_new_citations(
    app: Flask, smtp: tuple[Controller, _Inbox]
) -> None:
    """Opt in on the account page; the weekly task mails what is new, once."""
    controller, inbox = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    user_id = make_user(app, "reader@example.org", "viewer")
    client = app.test_client()
    assert "/login" in client.get("/account/digest").headers["Location"]
    login(client, "reader@example.org")
    page = client.get("/account/digest")
    assert page.status_code == 200 and "weekly digest" in page.text
    assert client.post("/account/digest", data={"weekly": "y"}).status_code == 400  # no CSRF
    saved = client.post(
        "/account/digest", data={"csrf_token": csrf_token(page.text), "weekly": "y"}
    )
    assert saved.status_code == 302
    assert "You will get the weekly digest." in client.get(saved.headers["Location"]).text
    with app.app_context(), session_scope() as session:
        assert digests.subscription(session, user_id) is not None

    title = _include_new_study(app)
    sent = jobs.get_queue(app).digest_task.call_local()
    assert sent == ["reader@example.org"]
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "reader@example.org"
    assert message["Subject"].startswith("Evidence tracker: ")
    body = message.get_payload(decode=True).decode()
    assert f"Included: {title} (PMID 99100001)" in body and "/citations/99100001" in body
    # Nothing new since: the next week's run sends nothing.
    assert digests.send_digests(app) == [] and len(inbox.messages) == 1

    # Opting out stops it.
    page = client.get("/account/digest")
    client.post("/account/digest", data={"csrf_token": csrf_token(page.text)})
    with app.app_context(), session_scope() as session:
        sub = session.exec(select(DigestSubscription)).one()
        assert sub.active is False


def test_no_digest_without_an_smtp_host(app: Flask) -> None:
    """Without EVIDENCE_SMTP_HOST nothing is sent, and the page says so."""
    user_id = make_user(app, "quiet@example.org", "viewer")
    with app.app_context(), session_scope() as session:
        digests.set_opt_in(session, user_id, True)
    _include_new_study(app)
    assert digests.send_digests(app) == []
    client = app.test_client()
    login(client, "quiet@example.org")
    assert "no mail server configured" in client.get("/account/digest").text
