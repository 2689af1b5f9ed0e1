"""Curators' screening of citation links: include, exclude with a reason, link anew.

Decisions are recorded on the link (who, when, why); nothing is deleted, so an excluded
link keeps its reason and can be included again.
"""

from __future__ import annotations

from sqlmodel import Session, select

from evidence.models import (
    LINK_STATUSES,
    Citation,
    CitationLink,
    Indication,
    LinkStatus,
    Treatment,
    utcnow,
)


class CurationError(ValueError):
    """A screening decision could not be recorded; the message says why."""


def set_link_status(
    session: Session,
    *,
    citation: Citation,
    link_id: int,
    status: str,
    reason: str | None,
    user_id: int,
) -> CitationLink:
    """Record a curator's decision on one of a citation's links."""
    if status not in LINK_STATUSES:
        raise CurationError(f"Unknown status {status!r}: choose {', '.join(LINK_STATUSES)}.")
    link = session.get(CitationLink, link_id)
    if link is None or link.citation_id != citation.id:
        raise CurationError("That link does not belong to this citation.")
    reason = (reason or "").strip() or None
    if status == LinkStatus.EXCLUDED and not reason:
        raise CurationError("Give the reason for excluding this citation (e.g. wrong indication).")
    link.status = status
    link.exclusion_reason = reason if status == LinkStatus.EXCLUDED else None
    link.decided_by_id = user_id
    # The comparison caches watch decided_at: every decision must move it.
    link.decided_at = utcnow()
    session.add(link)
    session.flush()
    return link


def add_link(
    session: Session,
    *,
    citation: Citation,
    treatment_slug: str | None,
    indication_slug: str | None,
    user_id: int,
) -> CitationLink:
    """Link a citation to a treatment and/or indication as included (or include that link)."""
    treatment = (
        session.exec(select(Treatment).where(Treatment.slug == treatment_slug)).first()
        if treatment_slug
        else None
    )
    indication = (
        session.exec(select(Indication).where(Indication.slug == indication_slug)).first()
        if indication_slug
        else None
    )
    if treatment_slug and treatment is None:
        raise CurationError(f"No treatment is called {treatment_slug!r}.")
    if indication_slug and indication is None:
        raise CurationError(f"No indication is called {indication_slug!r}.")
    if treatment is None and indication is None:
        raise CurationError("Choose a treatment, an indication, or both.")
    assert citation.id is not None
    tid, iid = (treatment.id if treatment else None), (indication.id if indication else None)
    tkey, ikey = CitationLink.keys_for(tid, iid)
    link = session.exec(
        select(CitationLink).where(
            CitationLink.citation_id == citation.id,
            CitationLink.treatment_key == tkey,
            CitationLink.indication_key == ikey,
        )
    ).first()
    if link is None:
        link = CitationLink.for_pair(citation.id, tid, iid, found_by="curator")
    link.status = LinkStatus.INCLUDED
    link.exclusion_reason = None
    link.decided_by_id = user_id
    link.decided_at = utcnow()
    session.add(link)
    session.flush()
    return link
