"""Optional e-mail digests of what is new, sent through the SMTP server named in the settings.

A user opts in on their account page (/account/digest). The weekly periodic task (or
`evidence digests send`) writes each subscriber one message listing the citations included
and the citations flagged (retracted, expression of concern) since their last digest, and
sends nothing when nothing is new. The server is EVIDENCE_SMTP_HOST / _PORT, with
EVIDENCE_SMTP_FROM as sender and, when set, EVIDENCE_SMTP_USER / _PASSWORD and
EVIDENCE_SMTP_STARTTLS=1. Without EVIDENCE_SMTP_HOST no digest is sent.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from flask import Flask
from sqlmodel import Session, col, select

from evidence.literature.living import new_items
from evidence.models import DigestSubscription, RetractionStatus, Treatment, User, utcnow

# A first digest covers the week before the user opted in.
FIRST_DIGEST_WINDOW = timedelta(days=7)


def _flag_word(status: str) -> str:
    """Name a flagged citation's state in a digest line."""
    return "Retracted" if status == RetractionStatus.RETRACTED else "Expression of concern"


def subscription(session: Session, user_id: int) -> DigestSubscription | None:
    """Return a user's digest subscription, if any."""
    return session.exec(
        select(DigestSubscription).where(DigestSubscription.user_id == user_id)
    ).first()


def set_opt_in(session: Session, user_id: int, wanted: bool) -> None:
    """Opt a user in or out of the weekly digest."""
    current = subscription(session, user_id)
    if wanted and current is None:
        session.add(DigestSubscription(user_id=user_id))
    elif wanted and current is not None:
        current.active = True
        session.add(current)
    elif current is not None:
        current.active = False
        session.add(current)


def _aware(moment: datetime) -> datetime:
    """Treat a naive database timestamp as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class Digest:
    """One user's digest: recipient, subject and plain-text body."""

    to: str
    subject: str
    body: str


def build_digest(session: Session, user: User, since: datetime, base_url: str) -> Digest | None:
    """Write the digest of what is new since a moment; None when nothing is."""
    sections = []
    total = 0
    for treatment in session.exec(select(Treatment).order_by(col(Treatment.position))):
        items = new_items(session, since, treatment_id=treatment.id)
        lines = [
            f"- Included: {c.title} (PMID {c.pmid}) {base_url}/citations/{c.pmid}"
            for c in items.included
        ]
        lines += [
            f"- {_flag_word(c.retraction_status)}: "
            f"{c.title} (PMID {c.pmid}) {base_url}/citations/{c.pmid}"
            for c in items.flagged
        ]
        if lines:
            total += len(lines)
            sections.append(f"{treatment.name}\n" + "\n".join(lines))
    if not sections:
        return None
    body = (
        f"New in the evidence tracker since {since.strftime('%Y-%m-%d %H:%M UTC')}:\n\n"
        + "\n\n".join(sections)
        + f"\n\nStop these e-mails on your account page: {base_url}/account/digest\n"
    )
    return Digest(to=user.email, subject=f"Evidence tracker: {total} new item(s)", body=body)


def send(config: Mapping[str, Any], digest: Digest) -> None:
    """Send one digest through the configured SMTP server."""
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = digest.to
    message["Subject"] = digest.subject
    message.set_content(digest.body)
    with smtplib.SMTP(config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=30) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)


def send_digests(app: Flask, now: datetime | None = None) -> list[str]:
    """Send every active subscriber their digest; return the addresses written to."""
    from evidence.db import get_engine

    if not app.config.get("SMTP_HOST"):
        return []
    moment = now or utcnow()
    base_url = str(app.config.get("PUBLIC_URL") or "http://127.0.0.1:5000").rstrip("/")
    sent = []
    with app.app_context(), Session(get_engine(app)) as session:
        subs = session.exec(
            select(DigestSubscription).where(col(DigestSubscription.active).is_(True))
        ).all()
        for sub in subs:
            user = session.get(User, sub.user_id)
            if user is None or not user.active:
                continue
            since = _aware(sub.last_sent_at or (sub.created_at - FIRST_DIGEST_WINDOW))
            digest = build_digest(session, user, since, base_url)
            if digest is not None:
                send(app.config, digest)
                sent.append(user.email)
            sub.last_sent_at = moment
            session.add(sub)
            session.commit()
    return sent
