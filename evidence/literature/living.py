"""Living evidence: scheduled searches, "new since your last visit" and changed matrix cells.

A saved search's schedule (off, weekly, monthly) makes it due a week or 30 days after its
last run; the hourly periodic task (evidence/jobs.py) runs due searches one by one. Each run
is a SearchRun row tied to the resumable FetchJob that does the work, so a run cut short
(worker killed, network gone) is resumed by the next tick instead of starting over.

For signed-in users each page area (a treatment page, the compare page, the matrix) keeps a
PageVisit: what is "new" is what arrived after the visit before the current one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from evidence.models import (
    SEARCH_SCHEDULES,
    Citation,
    CitationLink,
    CitationSource,
    FetchJob,
    JobState,
    LinkStatus,
    PageVisit,
    RetractionNature,
    RetractionNotice,
    RetractionStatus,
    SavedSearch,
    SearchRun,
    SearchRunTrigger,
    SearchSchedule,
    utcnow,
)

SCHEDULE_INTERVALS: dict[str, timedelta] = {
    SearchSchedule.WEEKLY: timedelta(days=7),
    SearchSchedule.MONTHLY: timedelta(days=30),
}
SCHEDULE_LABELS: dict[str, str] = {
    SearchSchedule.OFF: "Off",
    SearchSchedule.WEEKLY: "Weekly",
    SearchSchedule.MONTHLY: "Monthly",
}
# A reload within this gap is the same visit: "new" stays new until the user comes back later.
VISIT_GAP = timedelta(minutes=30)
# Anonymous visitors see cells changed within this window.
DEFAULT_WINDOW = timedelta(days=30)
HIGH_LEVELS = (1, 2)


def _aware(moment: datetime) -> datetime:
    """Treat a naive timestamp read from the database as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- scheduled searches -------------------------------------------------------------------


def is_due(search: SavedSearch, now: datetime) -> bool:
    """True when a scheduled search has never run or its interval has passed."""
    interval = SCHEDULE_INTERVALS.get(search.schedule)
    if interval is None:
        return False
    return search.last_run_at is None or _aware(search.last_run_at) + interval <= now


def set_schedule(session: Session, search: SavedSearch, schedule: str) -> None:
    """Change a saved search's schedule (one of SEARCH_SCHEDULES)."""
    if schedule not in SEARCH_SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SEARCH_SCHEDULES)}")
    search.schedule = schedule
    session.add(search)


def due_searches(session: Session, now: datetime) -> list[SavedSearch]:
    """Return the searches to run now: those due, and those whose last run did not finish."""
    unfinished = {
        run.saved_search_id
        for run in session.exec(select(SearchRun).where(col(SearchRun.finished_at).is_(None)))
    }
    stmt = (
        select(SavedSearch)
        .where(SavedSearch.schedule != SearchSchedule.OFF)
        .order_by(col(SavedSearch.id))
    )
    return [s for s in session.exec(stmt) if s.id in unfinished or is_due(s, now)]


def _open_run(session: Session, search: SavedSearch, trigger: str) -> SearchRun:
    """Return the search's unfinished run (to resume it) or start a new one with its job."""
    from evidence import jobs

    run = session.exec(
        select(SearchRun)
        .where(SearchRun.saved_search_id == search.id, col(SearchRun.finished_at).is_(None))
        .order_by(col(SearchRun.id).desc())
    ).first()
    if run is None:
        run = SearchRun(saved_search_id=search.id or 0, trigger=trigger)
    job = jobs.start_search_job(session, search)
    run.job_id = job.id
    session.add(run)
    session.commit()
    return run


def _finish_run(session: Session, run: SearchRun, job: FetchJob) -> None:
    """Record what the run's job found; a job that will resume leaves the run open."""
    search = session.get(SavedSearch, run.saved_search_id)
    run.error = job.error
    if job.state == JobState.INTERRUPTED:
        session.add(run)
        session.commit()
        return
    state: dict[str, Any] = json.loads(job.resume) if job.resume else {}
    run.finished_at = utcnow()
    run.hits = search.last_hit_count if search and job.state == JobState.DONE else None
    run.new = int(state.get("linked", 0))
    run.updated = job.updated
    run.notices = _notices_since(session, run)
    if job.state == JobState.FAILED and search is not None:
        # A failed run still counts as this period's try: do not retry it every hour.
        search.last_run_at = run.finished_at
        session.add(search)
    session.add(run)
    session.commit()


def _notices_since(session: Session, run: SearchRun) -> int:
    """Count the search's citations flagged (retraction, concern) during the run."""
    stmt = (
        select(func.count(func.distinct(Citation.id)))
        .join(CitationLink, col(CitationLink.citation_id) == col(Citation.id))
        .where(
            CitationLink.saved_search_id == run.saved_search_id,
            Citation.retraction_status != RetractionStatus.NONE,
            col(Citation.updated_at) >= run.started_at,
        )
    )
    return int(session.exec(stmt).one())


def run_search_now(
    app: Flask, search_id: int, trigger: str = SearchRunTrigger.SCHEDULE
) -> SearchRun:
    """Run one saved search to the end (or until it is interrupted) and record the run."""
    from evidence import jobs
    from evidence.db import get_engine

    with app.app_context():
        engine = get_engine(app)
        with Session(engine, expire_on_commit=False) as session:
            search = session.get(SavedSearch, search_id)
            if search is None:
                raise LookupError(f"no saved search {search_id}")
            run = _open_run(session, search, trigger)
            assert run.job_id is not None
            job = session.get(FetchJob, run.job_id)
            if job is not None and jobs.job_is_live(job):
                return run  # another worker is on it; its next tick records the run
        job = jobs.run_job(engine=engine, config=app.config, job_id=run.job_id)
        with Session(engine, expire_on_commit=False) as session:
            fresh = session.get(SearchRun, run.id)
            assert fresh is not None
            _finish_run(session, fresh, job)
            return fresh


def run_due_searches(app: Flask, now: datetime | None = None) -> list[int]:
    """Run every due saved search in turn; return the ids of the runs made or resumed."""
    from evidence.db import get_engine

    moment = now or utcnow()
    with app.app_context(), Session(get_engine(app)) as session:
        due = [s.id for s in due_searches(session, moment) if s.id is not None]
    runs = []
    for search_id in due:
        run = run_search_now(app, search_id)
        if run.id is not None:
            runs.append(run.id)
    return runs


def recent_runs(
    session: Session, search_ids: list[int], per_search: int = 1
) -> dict[int, SearchRun]:
    """Return each search's latest run."""
    latest: dict[int, SearchRun] = {}
    if not search_ids:
        return latest
    stmt = (
        select(SearchRun)
        .where(col(SearchRun.saved_search_id).in_(search_ids))
        .order_by(col(SearchRun.id))
    )
    for run in session.exec(stmt):
        latest[run.saved_search_id] = run
    return latest


# --- visits and what is new ---------------------------------------------------------------


def record_visit(
    session: Session,
    user_id: int,
    area: str,
    now: datetime | None = None,
    gap: timedelta = VISIT_GAP,
) -> datetime | None:
    """Note a visit to a page area; return the moment "new" is measured from (None: first)."""
    moment = now or utcnow()
    visit = session.exec(
        select(PageVisit).where(PageVisit.user_id == user_id, PageVisit.area == area)
    ).first()
    if visit is None:
        session.add(PageVisit(user_id=user_id, area=area, last_at=moment))
        session.commit()
        return None
    if moment - _aware(visit.last_at) >= gap:
        visit.previous_at = visit.last_at
    visit.last_at = moment
    session.add(visit)
    session.commit()
    return _aware(visit.previous_at) if visit.previous_at else None


@dataclass
class NewItems:
    """What arrived in an area since a moment: citations included, found, flagged."""

    since: datetime | None
    included: list[Citation] = field(default_factory=list)
    found: list[Citation] = field(default_factory=list)
    flagged: list[Citation] = field(default_factory=list)
    notices: list[RetractionNotice] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing is new."""
        return not (self.included or self.found or self.flagged)


def _link_time() -> Any:
    """When a link arrived: a curator's decision, or its creation."""
    return func.coalesce(col(CitationLink.decided_at), col(CitationLink.created_at))


def new_items(
    session: Session,
    since: datetime | None,
    *,
    treatment_id: int | None = None,
    indication_id: int | None = None,
    limit: int = 50,
) -> NewItems:
    """Return the citations of a treatment/indication that are new since a moment."""
    items = NewItems(since=since)
    if since is None:
        return items
    links = select(CitationLink.citation_id, CitationLink.status).where(_link_time() > since)
    if treatment_id is not None:
        links = links.where(CitationLink.treatment_id == treatment_id)
    if indication_id is not None:
        links = links.where(CitationLink.indication_id == indication_id)
    included_ids: set[int] = set()
    found_ids: set[int] = set()
    for citation_id, status in session.exec(links):
        (included_ids if status == LinkStatus.INCLUDED else found_ids).add(citation_id)
    found_ids -= included_ids
    scope = _area_citations(treatment_id, indication_id)
    flagged = select(Citation).where(
        col(Citation.id).in_(scope),
        Citation.retraction_status != RetractionStatus.NONE,
        col(Citation.updated_at) > since,
    )
    items.flagged = list(session.exec(flagged.limit(limit)))
    items.included = _load(session, included_ids, limit)
    items.found = _load(session, found_ids, limit)
    items.notices = list(
        session.exec(
            select(RetractionNotice)
            .where(col(RetractionNotice.citation_id).in_(scope))
            .where(col(RetractionNotice.created_at) > since)
        )
    )
    return items


def _area_citations(treatment_id: int | None, indication_id: int | None) -> Any:
    """Subquery: ids of the citations linked to the treatment and/or indication."""
    stmt = select(CitationLink.citation_id).where(CitationLink.status != LinkStatus.EXCLUDED)
    if treatment_id is not None:
        stmt = stmt.where(CitationLink.treatment_id == treatment_id)
    if indication_id is not None:
        stmt = stmt.where(CitationLink.indication_id == indication_id)
    return stmt


def _load(session: Session, ids: set[int], limit: int) -> list[Citation]:
    """Load citations by id, newest publication first."""
    if not ids:
        return []
    stmt = (
        select(Citation)
        .where(col(Citation.id).in_(sorted(ids)))
        .order_by(col(Citation.year).desc(), col(Citation.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


# --- changed cells ------------------------------------------------------------------------


@dataclass
class CellChange:
    """What changed in a treatment x indication cell since a moment."""

    since: datetime
    retracted: list[str] = field(default_factory=list)
    concerns: list[str] = field(default_factory=list)
    high_level: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """Say what changed, in words."""
        parts = []
        if self.retracted:
            parts.append(
                _count(self.retracted, "retraction") + " (PMID " + ", ".join(self.retracted) + ")"
            )
        if self.concerns:
            parts.append(
                _count(self.concerns, "expression of concern", "expressions of concern")
                + " (PMID "
                + ", ".join(self.concerns)
                + ")"
            )
        if self.high_level:
            parts.append(
                _count(self.high_level, "new level 1-2 study", "new level 1-2 studies")
                + " (PMID "
                + ", ".join(self.high_level)
                + ")"
            )
        return "; ".join(parts)


def _count(items: list[str], one: str, many: str | None = None) -> str:
    """'1 retraction', '2 retractions'."""
    return f"{len(items)} {one if len(items) == 1 else (many or one + 's')}"


def _cell_rows(
    session: Session,
    *columns: Any,
    where: list[Any],
    notices: bool = False,
    treatment_ids: Sequence[int] | None = None,
    among: Any = None,
) -> list[Any]:
    """Rows of included treatment x indication links joined to their citations (and notices).

    `among`, a query of citation ids, names the few citations that can qualify (a notice or a
    flag since the moment: usually none). They are read first, and only their links are read
    (by the citation-id index) and filtered here: the cost follows those few citations, not
    the number of links, and no planner can prefer the link-status index over them.
    """
    links: list[Any] = CitationLink.in_cell()
    if among is not None:
        ids = sorted(set(session.execute(among).scalars()))
        if not ids:
            return []
        links = [col(CitationLink.citation_id).in_(ids)]
    else:
        links.append(col(CitationLink.status) == LinkStatus.INCLUDED)
        if treatment_ids is not None:
            links.append(col(CitationLink.treatment_id).in_(treatment_ids))
    stmt = (
        sa_select(
            col(CitationLink.treatment_id),
            col(CitationLink.indication_id),
            col(CitationLink.status),
            *columns,
        )
        .join(Citation, col(Citation.id) == col(CitationLink.citation_id))
        .where(*links, *where)
    )
    if notices:
        stmt = stmt.join(RetractionNotice, col(RetractionNotice.citation_id) == col(Citation.id))
    shown = set(treatment_ids) if treatment_ids is not None else None
    return [
        (row[0], row[1], *row[3:])
        for row in session.execute(stmt)
        if row[2] == LinkStatus.INCLUDED
        and row[0] is not None
        and row[1] is not None
        and (shown is None or row[0] in shown)
    ]


def cell_changes(
    session: Session, since: datetime, *, treatment_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], CellChange]:
    """Return the cells where a retraction or a new level 1-2 study landed since a moment.

    `treatment_ids` limits the cells to those treatments' rows (the compare page shows no
    others), so the cost follows the treatments shown rather than the size of the tables.

    A retraction or expression of concern counts when its Retraction Watch notice arrived
    since then, or when PubMed's flag reached a citation stored before then. A level 1-2
    study counts when its link arrived since then, except links loaded with the bundled
    snapshot (installing the app is not new evidence).
    """
    changes: dict[tuple[int, int], CellChange] = defaultdict(lambda: CellChange(since=since))
    seen: set[tuple[int, int, str]] = set()

    def add(tid: int, iid: int, pmid: str, status: str | None) -> None:
        """Record one change once: a retraction status, or None for a new level 1-2 study."""
        if (tid, iid, pmid) in seen:
            return
        seen.add((tid, iid, pmid))
        change = changes[(tid, iid)]
        flagged: dict[str, list[str]] = {
            RetractionStatus.RETRACTED: change.retracted,
            RetractionStatus.EXPRESSION_OF_CONCERN: change.concerns,
        }
        (change.high_level if status is None else flagged[status]).append(pmid)

    nature_status = {
        RetractionNature.RETRACTION: RetractionStatus.RETRACTED,
        RetractionNature.EXPRESSION_OF_CONCERN: RetractionStatus.EXPRESSION_OF_CONCERN,
    }
    recent_notice = [
        col(RetractionNotice.created_at) > since,
        col(RetractionNotice.nature).in_(nature_status),
    ]
    for tid, iid, pmid, nature in _cell_rows(
        session,
        col(Citation.pmid),
        col(RetractionNotice.nature),
        notices=True,
        treatment_ids=treatment_ids,
        among=sa_select(col(RetractionNotice.citation_id)).where(*recent_notice),
        where=recent_notice,
    ):
        add(tid, iid, pmid, nature_status[nature])
    newly_flagged = [
        col(Citation.retraction_status).in_(
            (RetractionStatus.RETRACTED, RetractionStatus.EXPRESSION_OF_CONCERN)
        ),
        col(Citation.updated_at) > since,
        col(Citation.created_at) <= since,
    ]
    for tid, iid, pmid, status in _cell_rows(
        session,
        col(Citation.pmid),
        col(Citation.retraction_status),
        treatment_ids=treatment_ids,
        among=sa_select(col(Citation.id)).where(*newly_flagged),
        where=newly_flagged,
    ):
        add(tid, iid, pmid, status)
    for tid, iid, pmid in _cell_rows(
        session,
        col(Citation.pmid),
        treatment_ids=treatment_ids,
        where=[
            col(Citation.evidence_level).in_(HIGH_LEVELS),
            col(Citation.retraction_status) == RetractionStatus.NONE,
            _link_time() > since,
            col(CitationLink.found_by) != CitationSource.SNAPSHOT,
        ],
    ):
        add(tid, iid, pmid, None)
    return {key: value for key, value in changes.items() if value.describe()}


def changes_since(user_id: int | None, session: Session, area: str, gap: timedelta) -> datetime:
    """The moment a page's "changed since" is measured from: the user's visit, or 30 days."""
    if user_id is not None:
        since = record_visit(session, user_id, area, gap=gap)
        if since is not None:
            return since
    return utcnow() - DEFAULT_WINDOW


# --- what the pages call --------------------------------------------------------------------


def _visit_gap() -> timedelta:
    """The app's visit gap (LIVING_VISIT_GAP_SECONDS; tests set 0 to see each visit)."""
    from flask import current_app

    seconds = current_app.config.get("LIVING_VISIT_GAP_SECONDS")
    return VISIT_GAP if seconds is None else timedelta(seconds=float(seconds))


def _user_id() -> int | None:
    """The signed-in user's id, or None."""
    from evidence.web.auth import current_account

    account = current_account()
    return account.id if account is not None else None


def page_news(
    area: str, *, treatment_id: int | None = None, indication_id: int | None = None
) -> NewItems | None:
    """For a signed-in user: note the visit and return what is new since the previous one."""
    from evidence.db import get_session

    user_id = _user_id()
    if user_id is None:
        return None
    session = get_session()
    since = record_visit(session, user_id, area, gap=_visit_gap())
    return new_items(session, since, treatment_id=treatment_id, indication_id=indication_id)


@dataclass
class PageChanges:
    """The changed cells of a page and the moment they are measured from."""

    since: datetime
    cells: dict[tuple[int, int], CellChange]
    signed_in: bool

    def cell(self, treatment_id: int | None, indication_id: int | None) -> CellChange | None:
        """Return a cell's change, if any."""
        return self.cells.get(CitationLink.keys_for(treatment_id, indication_id))

    def key(self) -> str:
        """Return what a page shows of these changes, as a cache key part.

        The page names the day they are measured from and each changed cell in words.
        """
        cells = sorted((tid, iid, change.describe()) for (tid, iid), change in self.cells.items())
        return repr((self.since.strftime("%Y-%m-%d"), self.signed_in, cells))


def page_changes(area: str, *, treatment_ids: Sequence[int] | None = None) -> PageChanges:
    """The matrix's and compare page's changed cells: since the user's last visit, or 30 days.

    `treatment_ids`: only those treatments' cells (the compare page's columns).
    """
    from evidence.db import get_session

    session = get_session()
    user_id = _user_id()
    if user_id is not None:
        since = changes_since(user_id, session, area, _visit_gap())
        cells = cell_changes(session, since, treatment_ids=treatment_ids)
    else:
        since, cells = _anonymous_changes(session, treatment_ids)
    return PageChanges(since=since, cells=cells, signed_in=user_id is not None)


def _anonymous_changes(
    session: Session, treatment_ids: Sequence[int] | None
) -> tuple[datetime, dict[tuple[int, int], CellChange]]:
    """A visitor's changed cells: since the start of the day 30 days ago, from the shared cache.

    The page names that day, so counting from its start matches what it says; and with the
    moment fixed for a whole day the cells depend only on the data, so every worker reuses
    them until the literature's data version moves (a new link, flag or notice).
    """
    from evidence.db import data_versions
    from evidence.web import cache

    moment = utcnow() - DEFAULT_WINDOW
    since = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    shown = "all" if treatment_ids is None else ",".join(map(str, sorted(treatment_ids)))
    name = cache.key("cell-changes", data_versions(session)["literature"], since.isoformat(), shown)
    return since, cache.remember(
        name, lambda: cell_changes(session, since, treatment_ids=treatment_ids)
    )
