"""Title/abstract screening of a treatment x indication's candidate links, one or two reviewers.

Every decision is a `ScreeningDecision` row and is never changed: an undo is a new row that
reverses an earlier one. A link's status (candidate / included / excluded) is derived from
its decisions and written back to the link, so the rest of the app (treatment pages, the
compare page, exports) sees screening results the way it sees the citation page's.

One reviewer: a record's latest decision sets its status (maybe leaves it a candidate).
Two reviewers: each record needs two curators' decisions, made blind to each other; when
they agree the status follows, when they differ a third curator resolves it. Agreement is
measured by Cohen's kappa (statsmodels) over the records both reviewers decided.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import Session, col, select
from statsmodels.stats.inter_rater import cohens_kappa

from evidence.models import (
    SCREENING_CHOICES,
    Citation,
    CitationLink,
    Decision,
    Indication,
    LinkStatus,
    ScreeningDecision,
    ScreeningProject,
    ScreeningStage,
    Treatment,
    User,
    utcnow,
)

EXCLUSION_REASONS = (
    ("wrong-treatment", "Wrong treatment or device"),
    ("wrong-indication", "Wrong indication"),
    ("wrong-population", "Wrong population (not human skin, not the condition)"),
    ("wrong-design", "Wrong study design (in vitro, animal, protocol only)"),
    ("not-primary", "Not primary research (narrative review, editorial, letter)"),
    ("no-outcome", "No clinical outcome reported"),
    ("language", "Language not read by the team"),
    ("other", "Other (say why)"),
)
REASON_LABELS = dict(EXCLUSION_REASONS)
DECISION_STATUS: dict[str, LinkStatus] = {
    Decision.INCLUDE: LinkStatus.INCLUDED,
    Decision.EXCLUDE: LinkStatus.EXCLUDED,
    Decision.MAYBE: LinkStatus.CANDIDATE,
}
# Below this many double-screened records kappa's interval is too wide to read much into.
KAPPA_MIN_RECORDS = 10
NO_INDICATION = "none"  # URL segment for a project whose links name no indication


class ScreeningError(ValueError):
    """A screening action could not be recorded; the message says why."""


@dataclass
class Cell:
    """A screening project's treatment and indication (None: links with no indication)."""

    treatment: Treatment
    indication: Indication | None

    @property
    def treatment_id(self) -> int:
        """The treatment's id."""
        assert self.treatment.id is not None
        return self.treatment.id

    @property
    def indication_key(self) -> int:
        """The indication's id, 0 when there is none (as CitationLink stores it)."""
        return CitationLink.keys_for(None, self.indication.id if self.indication else None)[1]

    @property
    def indication_slug(self) -> str:
        """The URL segment for the indication."""
        return self.indication.slug if self.indication else NO_INDICATION

    @property
    def label(self) -> str:
        """Name the cell for headings."""
        if self.indication is None:
            return f"{self.treatment.name} (no indication given)"
        return f"{self.treatment.name} for {self.indication.name}"


def find_cell(session: Session, treatment_slug: str, indication_slug: str) -> Cell | None:
    """Return the cell named by URL slugs, or None when either is unknown."""
    treatment = session.exec(select(Treatment).where(Treatment.slug == treatment_slug)).first()
    if treatment is None:
        return None
    if indication_slug == NO_INDICATION:
        return Cell(treatment, None)
    indication = session.exec(select(Indication).where(Indication.slug == indication_slug)).first()
    return Cell(treatment, indication) if indication else None


def project_for(session: Session, cell: Cell) -> ScreeningProject:
    """Return the cell's settings (an unsaved default when nobody changed them yet)."""
    found = session.exec(
        select(ScreeningProject).where(
            ScreeningProject.treatment_id == cell.treatment_id,
            ScreeningProject.indication_key == cell.indication_key,
        )
    ).first()
    if found is not None:
        return found
    return ScreeningProject(
        treatment_id=cell.treatment_id,
        indication_id=cell.indication.id if cell.indication else None,
        indication_key=cell.indication_key,
    )


def set_two_reviewer(session: Session, *, cell: Cell, enabled: bool, user_id: int) -> None:
    """Switch a project between one and two reviewers; statuses are re-derived."""
    project = project_for(session, cell)
    project.two_reviewer = enabled
    project.changed_by_id, project.changed_at = user_id, utcnow()
    session.add(project)
    session.flush()
    links = cell_links(session, cell)
    decisions = decisions_by_link(session, [lk.id for lk in links if lk.id])
    for link in links:
        if link.id in decisions:
            _apply(session, link, derive(decisions[link.id], two_reviewer=enabled))
    session.flush()


def cell_links(session: Session, cell: Cell) -> list[CitationLink]:
    """Return every link of the cell, oldest first."""
    return list(
        session.exec(
            select(CitationLink)
            .where(
                CitationLink.treatment_key == cell.treatment_id,
                CitationLink.indication_key == cell.indication_key,
            )
            .order_by(col(CitationLink.id))
        )
    )


def decisions_by_link(
    session: Session, link_ids: Iterable[int]
) -> dict[int, list[ScreeningDecision]]:
    """Return each link's decisions in the order they were made."""
    ids = list(link_ids)
    out: dict[int, list[ScreeningDecision]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(ScreeningDecision)
            .where(col(ScreeningDecision.link_id).in_(ids[start : start + 500]))
            .order_by(col(ScreeningDecision.id))
        )
        for d in rows:
            out[d.link_id].append(d)
    return out


@dataclass
class LinkState:
    """What a link's decisions add up to."""

    votes: dict[int, ScreeningDecision] = field(default_factory=dict)  # user -> live vote
    resolution: ScreeningDecision | None = None
    status: str = LinkStatus.CANDIDATE
    deciding: ScreeningDecision | None = None  # the decision the status follows
    conflict: bool = False

    @property
    def reviewers(self) -> list[int]:
        """The first two reviewers, in the order they voted."""
        return sorted(self.votes, key=lambda uid: self.votes[uid].id or 0)[:2]


def live(decisions: list[ScreeningDecision]) -> list[ScreeningDecision]:
    """Return the decisions not reversed by an undo, in order."""
    reversed_ids = {d.reverses_id for d in decisions if d.decision == Decision.UNDO}
    return [d for d in decisions if d.decision != Decision.UNDO and d.id not in reversed_ids]


def derive(decisions: list[ScreeningDecision], *, two_reviewer: bool) -> LinkState:
    """Derive a link's status from its decisions."""
    state = LinkState()
    kept = live(decisions)
    for d in kept:
        if d.stage == ScreeningStage.RESOLVE:
            state.resolution = d
        else:
            state.votes[d.user_id] = d  # a later vote by the same curator replaces theirs
    if state.resolution is not None:
        state.deciding = state.resolution
    elif not two_reviewer:
        screens = [d for d in kept if d.stage == ScreeningStage.SCREEN]
        state.deciding = screens[-1] if screens else None
    else:
        first_two = [state.votes[uid] for uid in state.reviewers]
        if len(first_two) == 2:
            a, b = first_two
            if a.decision == b.decision and a.decision != Decision.MAYBE:
                state.deciding = a
            else:
                state.conflict = True
    if state.deciding is not None:
        state.status = DECISION_STATUS[state.deciding.decision]
    return state


def reason_text(decision: ScreeningDecision) -> str | None:
    """Return an exclusion's reason as the link keeps it: the label, then the curator's words."""
    if decision.decision != Decision.EXCLUDE:
        return None
    label = REASON_LABELS.get(decision.reason_code or "", decision.reason_code or "")
    if decision.reason_code == "other" and decision.reason_text:
        return decision.reason_text
    return f"{label}: {decision.reason_text}" if decision.reason_text else label


def _apply(session: Session, link: CitationLink, state: LinkState) -> None:
    """Write a derived status onto the link (the comparison caches watch decided_at)."""
    link.status = state.status
    deciding = state.deciding
    link.exclusion_reason = reason_text(deciding) if deciding else None
    link.decided_by_id = deciding.user_id if deciding else None
    link.decided_at = utcnow()
    session.add(link)


def _link_in_cell(session: Session, cell: Cell, link_id: int) -> CitationLink:
    """Return a link of this cell or refuse."""
    link = session.get(CitationLink, link_id)
    if (
        link is None
        or link.treatment_key != cell.treatment_id
        or link.indication_key != cell.indication_key
    ):
        raise ScreeningError("That record is not in this screening project.")
    return link


def record_decision(
    session: Session,
    *,
    cell: Cell,
    link_id: int,
    user_id: int,
    decision: str,
    reason_code: str | None = None,
    reason_free: str | None = None,
) -> ScreeningDecision:
    """Record a curator's include / exclude / maybe on a record and re-derive its status."""
    if decision not in DECISION_STATUS:
        raise ScreeningError("Choose include, exclude or maybe.")
    reason_free = (reason_free or "").strip()[:500] or None
    if decision == Decision.EXCLUDE:
        if reason_code not in REASON_LABELS:
            raise ScreeningError("Choose the reason for excluding this record from the list.")
        if reason_code == "other" and not reason_free:
            raise ScreeningError("Say why in the free-text box when the reason is 'Other'.")
    else:
        reason_code = None
    link = _link_in_cell(session, cell, link_id)
    project = project_for(session, cell)
    decisions = decisions_by_link(session, [link_id]).get(link_id, [])
    state = derive(decisions, two_reviewer=project.two_reviewer)
    if state.resolution is not None:
        raise ScreeningError("A curator has resolved this record; undo the resolution first.")
    if project.two_reviewer and user_id not in state.votes and len(state.votes) >= 2:
        raise ScreeningError(
            "Two curators have screened this record; a disagreement is resolved on the "
            "conflicts page."
        )
    row = ScreeningDecision(
        link_id=link_id,
        user_id=user_id,
        decision=decision,
        stage=ScreeningStage.SCREEN,
        reason_code=reason_code,
        reason_text=reason_free,
    )
    session.add(row)
    session.flush()
    _apply(session, link, derive([*decisions, row], two_reviewer=project.two_reviewer))
    session.flush()
    return row


def resolve(
    session: Session,
    *,
    cell: Cell,
    link_id: int,
    user_id: int,
    decision: str,
    reason_code: str | None = None,
    reason_free: str | None = None,
) -> ScreeningDecision:
    """Record a third curator's resolution of two reviewers' disagreement."""
    if decision not in (Decision.INCLUDE, Decision.EXCLUDE):
        raise ScreeningError("A resolution includes or excludes the record.")
    reason_free = (reason_free or "").strip()[:500] or None
    if decision == Decision.EXCLUDE and reason_code not in REASON_LABELS:
        raise ScreeningError("Choose the reason for excluding this record from the list.")
    if decision == Decision.EXCLUDE and reason_code == "other" and not reason_free:
        raise ScreeningError("Say why in the free-text box when the reason is 'Other'.")
    link = _link_in_cell(session, cell, link_id)
    project = project_for(session, cell)
    decisions = decisions_by_link(session, [link_id]).get(link_id, [])
    state = derive(decisions, two_reviewer=project.two_reviewer)
    if not state.conflict:
        raise ScreeningError("This record has no disagreement to resolve.")
    if user_id in state.reviewers:
        raise ScreeningError("A third curator resolves a disagreement, not one of its reviewers.")
    row = ScreeningDecision(
        link_id=link_id,
        user_id=user_id,
        decision=decision,
        stage=ScreeningStage.RESOLVE,
        reason_code=reason_code if decision == Decision.EXCLUDE else None,
        reason_text=reason_free,
    )
    session.add(row)
    session.flush()
    _apply(session, link, derive([*decisions, row], two_reviewer=project.two_reviewer))
    session.flush()
    return row


def undo_last(session: Session, *, cell: Cell, user_id: int) -> ScreeningDecision:
    """Reverse the curator's latest live decision in this project (recorded, not deleted)."""
    links = {lk.id: lk for lk in cell_links(session, cell)}
    decisions = decisions_by_link(session, [i for i in links if i is not None])
    mine = [d for ds in decisions.values() for d in live(ds) if d.user_id == user_id and d.id]
    if not mine:
        raise ScreeningError("You have no decision in this project to undo.")
    last = max(mine, key=lambda d: d.id or 0)
    project = project_for(session, cell)
    row = ScreeningDecision(
        link_id=last.link_id,
        user_id=user_id,
        decision=Decision.UNDO,
        stage=last.stage,
        reverses_id=last.id,
    )
    session.add(row)
    session.flush()
    link = links[last.link_id]
    _apply(
        session, link, derive([*decisions[last.link_id], row], two_reviewer=project.two_reviewer)
    )
    session.flush()
    return last


# --- the queue -----------------------------------------------------------------------------


@dataclass
class Queue:
    """A curator's view of a project: what awaits them, their maybes, the project's totals."""

    project: ScreeningProject
    awaiting: list[CitationLink]  # not yet decided by this curator, oldest first
    maybes: list[CitationLink]  # this curator said maybe (one reviewer: still candidates)
    total: int  # every link of the cell
    candidates: int  # links still candidates
    mine: int  # records this curator has a live vote on
    conflicts: int
    last_mine: ScreeningDecision | None  # what undo would reverse


def queue(session: Session, *, cell: Cell, user_id: int) -> Queue:
    """Return the curator's queue: candidates they have not decided, blind to others' votes."""
    project = project_for(session, cell)
    links = cell_links(session, cell)
    decisions = decisions_by_link(session, [lk.id for lk in links if lk.id])
    awaiting, maybes = [], []
    mine = conflicts = 0
    last_mine: ScreeningDecision | None = None
    for link in links:
        ds = decisions.get(link.id or 0, [])
        for d in live(ds):
            if d.user_id == user_id and (last_mine is None or (d.id or 0) > (last_mine.id or 0)):
                last_mine = d
        state = derive(ds, two_reviewer=project.two_reviewer)
        conflicts += state.conflict and state.resolution is None
        vote = state.votes.get(user_id)
        if vote is not None:
            mine += 1
            if (
                vote.decision == Decision.MAYBE
                and link.status == LinkStatus.CANDIDATE
                and not state.conflict
            ):
                maybes.append(link)
            continue
        if link.status != LinkStatus.CANDIDATE or state.resolution is not None:
            continue
        if project.two_reviewer and len(state.votes) >= 2:
            continue  # two others screened it: a third curator only resolves
        awaiting.append(link)
    return Queue(
        project=project,
        awaiting=awaiting,
        maybes=maybes,
        total=len(links),
        candidates=sum(1 for lk in links if lk.status == LinkStatus.CANDIDATE),
        mine=mine,
        conflicts=conflicts,
        last_mine=last_mine,
    )


@dataclass
class Conflict:
    """A record two reviewers decided differently, with both votes (shown to others only)."""

    link: CitationLink
    citation: Citation
    votes: list[tuple[str, ScreeningDecision]]  # (reviewer e-mail, vote)


def conflicts(session: Session, *, cell: Cell) -> list[Conflict]:
    """Return the project's unresolved disagreements."""
    project = project_for(session, cell)
    links = cell_links(session, cell)
    decisions = decisions_by_link(session, [lk.id for lk in links if lk.id])
    users = {u.id: u.email for u in session.exec(select(User))}
    out = []
    for link in links:
        state = derive(decisions.get(link.id or 0, []), two_reviewer=project.two_reviewer)
        if not state.conflict or state.resolution is not None:
            continue
        citation = session.get(Citation, link.citation_id)
        assert citation is not None
        votes = [(users.get(uid, "?"), state.votes[uid]) for uid in state.reviewers]
        out.append(Conflict(link=link, citation=citation, votes=votes))
    return out


# --- agreement -----------------------------------------------------------------------------


@dataclass
class Agreement:
    """Cohen's kappa between first and second reviewers, with what it rests on."""

    n: int  # double-screened records
    agreed: int
    categories: list[str]
    table: list[list[int]]  # rows: first reviewer's decision, columns: second's
    kappa: float | None
    low: float | None
    high: float | None
    note: str


def agreement(session: Session, *, cell: Cell) -> Agreement:
    """Compute Cohen's kappa over every record two curators screened in this project."""
    links = cell_links(session, cell)
    decisions = decisions_by_link(session, [lk.id for lk in links if lk.id])
    pairs: list[tuple[str, str]] = []
    for ds in decisions.values():
        state = derive(ds, two_reviewer=True)
        reviewers = state.reviewers
        if len(reviewers) == 2:
            pairs.append((state.votes[reviewers[0]].decision, state.votes[reviewers[1]].decision))
    return kappa_from_pairs(pairs)


def kappa_from_pairs(pairs: list[tuple[str, str]]) -> Agreement:
    """Build the first x second reviewer table and compute kappa with statsmodels."""
    categories: list[str] = [c for c in SCREENING_CHOICES if any(c in p for p in pairs)]
    index = {c: i for i, c in enumerate(categories)}
    table = [[0] * len(categories) for _ in categories]
    for a, b in pairs:
        table[index[a]][index[b]] += 1
    n = len(pairs)
    agreed = sum(1 for a, b in pairs if a == b)
    if n == 0:
        return Agreement(0, 0, [], [], None, None, None, "No record has been screened by two.")
    if len(categories) < 2:
        note = (
            f"All {n} double-screened records got the same decision from both reviewers: "
            "kappa is undefined when there is no variation."
        )
        return Agreement(n, agreed, categories, table, None, None, None, note)
    result = kappa_table(table)
    note = f"Cohen's kappa over {n} records screened by two curators (statsmodels)."
    if n < KAPPA_MIN_RECORDS:
        note = (
            f"Too few double-screened records ({n}, fewer than {KAPPA_MIN_RECORDS}): "
            "kappa is shown but its interval is wide."
        )
    return Agreement(
        n, agreed, categories, table, result["kappa"], result["low"], result["high"], note
    )


def kappa_table(table: list[list[int]]) -> dict[str, Any]:
    """Return Cohen's kappa and its 95% interval for a square contingency table."""
    # One reviewer who never varies gives a zero variance: statsmodels then divides by zero
    # for its z statistic, which we do not use; the interval is reported as unavailable.
    with np.errstate(divide="ignore", invalid="ignore"):
        res = cohens_kappa(np.asarray(table, dtype=float))
    se = float(res.std_kappa)
    usable = bool(np.isfinite(se) and se > 0)
    return {
        "kappa": float(res.kappa),
        # statsmodels' Wald interval can pass kappa's bounds with few records: clip to -1..1.
        "low": max(-1.0, float(res.kappa_low)) if usable else None,
        "high": min(1.0, float(res.kappa_upp)) if usable else None,
        "se": se,
    }


# --- the index -----------------------------------------------------------------------------


@dataclass
class CellSummary:
    """One row of the screening index."""

    cell: Cell
    total: int
    candidates: int
    included: int
    excluded: int
    two_reviewer: bool


def cell_summaries(session: Session) -> list[CellSummary]:
    """Return every treatment x indication that has links, with its screening counts."""
    counts: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tkey, ikey, status in session.exec(
        select(CitationLink.treatment_key, CitationLink.indication_key, CitationLink.status).where(
            CitationLink.treatment_key != 0
        )
    ):
        counts[(tkey, ikey)][status] += 1
    treatments = {t.id: t for t in session.exec(select(Treatment))}
    indications = {i.id: i for i in session.exec(select(Indication))}
    two = {
        (p.treatment_id, p.indication_key): p.two_reviewer
        for p in session.exec(select(ScreeningProject))
    }
    out = []
    for (tkey, ikey), by_status in counts.items():
        treatment = treatments.get(tkey)
        if treatment is None:
            continue
        cell = Cell(treatment, indications.get(ikey) if ikey else None)
        out.append(
            CellSummary(
                cell=cell,
                total=sum(by_status.values()),
                candidates=by_status[LinkStatus.CANDIDATE],
                included=by_status[LinkStatus.INCLUDED],
                excluded=by_status[LinkStatus.EXCLUDED],
                two_reviewer=two.get((tkey, ikey), False),
            )
        )
    out.sort(
        key=lambda s: (
            -s.candidates,
            s.cell.treatment.position,
            s.cell.indication.position if s.cell.indication else -1,
        )
    )
    return out
