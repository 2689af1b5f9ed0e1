"""Search PubMed past esearch's 10,000-id cap by splitting on publication date, and fetch.

A :class:`SearchPlan` is plain data (it round-trips through ``to_dict``/``from_dict``), so a
job can persist it after every stored batch and resume exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from .client import EntrezClient
from .errors import HistoryExpiredError
from .parse import ParsedItem

# esearch returns at most this many ids per query, and efetch refuses retstart above 9,998.
ESEARCH_CAP = 10_000
EARLIEST = date(1781, 1, 1)  # older than any PubMed record


def _fmt(day: date) -> str:
    """Format a date the way E-utilities wants it."""
    return day.strftime("%Y/%m/%d")


def _parse(text: str) -> date:
    """Read a YYYY/MM/DD date."""
    year, month, day = (int(part) for part in text.split("/"))
    return date(year, month, day)


@dataclass
class SearchSlice:
    """One part of a search (a publication-date range) small enough for the history server."""

    count: int
    mindate: str | None = None
    maxdate: str | None = None
    webenv: str | None = None
    query_key: str | None = None
    retstart: int = 0
    cap: int = ESEARCH_CAP

    @property
    def fetchable(self) -> int:
        """Return how many of this slice's records efetch can reach."""
        return min(self.count, self.cap)


@dataclass
class SearchPlan:
    """A search split into slices, with how far fetching has got in each."""

    term: str
    total: int
    slices: list[SearchSlice] = field(default_factory=list)
    max_records: int | None = None

    @property
    def expected(self) -> int:
        """Return the number of records a complete fetch should deliver."""
        reachable = sum(s.fetchable for s in self.slices)
        return min(reachable, self.max_records) if self.max_records is not None else reachable

    @property
    def unreachable(self) -> int:
        """Return how many hits no slice can reach (a single day above the cap, undated hits)."""
        wanted = self.total if self.max_records is None else min(self.total, self.max_records)
        return max(0, wanted - self.expected)

    @property
    def done(self) -> int:
        """Return how many positions have been fetched so far."""
        return sum(s.retstart for s in self.slices)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready copy of the plan."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchPlan:
        """Rebuild a plan saved with to_dict."""
        slices = [SearchSlice(**s) for s in data.get("slices", [])]
        return cls(
            term=data["term"],
            total=data["total"],
            slices=slices,
            max_records=data.get("max_records"),
        )

    def advance(self, batch: Batch) -> None:
        """Record that a batch has been stored (call before persisting the plan)."""
        piece = self.slices[batch.slice_index]
        piece.retstart = max(piece.retstart, batch.next_retstart)


@dataclass
class Batch:
    """Records from one efetch, with the position to resume from once they are stored."""

    slice_index: int
    retstart: int
    next_retstart: int
    items: list[ParsedItem]


def plan_search(
    client: EntrezClient,
    term: str,
    *,
    max_records: int | None = None,
    cap: int = ESEARCH_CAP,
    earliest: date = EARLIEST,
    latest: date | None = None,
) -> SearchPlan:
    """Count a query's hits and, above the cap, split it by date until every part fits."""
    first = client.esearch(term, usehistory=True)
    plan = SearchPlan(term=term, total=first.count, max_records=max_records)
    if first.count < cap or (max_records is not None and max_records < cap):
        # Either it fits, or the caller wants fewer than the cap: the first slice serves.
        if first.count:
            plan.slices.append(
                SearchSlice(
                    count=first.count, webenv=first.webenv, query_key=first.query_key, cap=cap
                )
            )
        return plan
    end = latest or date(date.today().year + 1, 12, 31)
    _split(client, plan, earliest, end, cap)
    return plan


def _split(client: EntrezClient, plan: SearchPlan, low: date, high: date, cap: int) -> None:
    """Append slices for [low, high] to the plan, halving any range still at the cap."""
    result = client.esearch(plan.term, usehistory=True, mindate=_fmt(low), maxdate=_fmt(high))
    if result.count == 0:
        return
    if result.count < cap or low >= high:
        plan.slices.append(
            SearchSlice(
                count=result.count,
                mindate=_fmt(low),
                maxdate=_fmt(high),
                webenv=result.webenv,
                query_key=result.query_key,
                cap=cap,
            )
        )
        return
    middle = low + (high - low) // 2
    _split(client, plan, low, middle, cap)
    _split(client, plan, middle + timedelta(days=1), high, cap)


def _refresh_history(client: EntrezClient, plan: SearchPlan, piece: SearchSlice) -> None:
    """Run a slice's search again to get a live WebEnv (history entries expire after hours)."""
    result = client.esearch(
        plan.term, usehistory=True, mindate=piece.mindate, maxdate=piece.maxdate
    )
    piece.webenv, piece.query_key = result.webenv, result.query_key
    # The count may have grown since; positions already fetched stay fetched.
    piece.count = max(piece.count, result.count)


def iter_batches(
    client: EntrezClient, plan: SearchPlan, *, batch_size: int = 500
) -> Iterator[Batch]:
    """Fetch the plan's remaining records batch by batch, resuming from each slice's retstart."""
    budget = plan.max_records
    for index, piece in enumerate(plan.slices):
        while piece.retstart < piece.fetchable:
            if budget is not None and plan.done >= budget:
                return
            start = piece.retstart
            size = min(batch_size, piece.fetchable - start)
            if budget is not None:
                size = min(size, budget - plan.done)
            if piece.webenv is None or piece.query_key is None:
                _refresh_history(client, plan, piece)
            try:
                items = client.efetch_history(
                    webenv=piece.webenv or "",
                    query_key=piece.query_key or "",
                    retstart=start,
                    retmax=size,
                )
            except HistoryExpiredError:
                _refresh_history(client, plan, piece)
                items = client.efetch_history(
                    webenv=piece.webenv or "",
                    query_key=piece.query_key or "",
                    retstart=start,
                    retmax=size,
                )
            yield Batch(slice_index=index, retstart=start, next_retstart=start + size, items=items)
            piece.retstart = max(piece.retstart, start + size)


def iter_pmid_batches(
    client: EntrezClient, pmids: list[int], *, start: int = 0, batch_size: int = 200
) -> Iterator[Batch]:
    """Fetch known PMIDs in batches from position ``start`` (for refreshes and PMID lists)."""
    for offset in range(start, len(pmids), batch_size):
        chunk = pmids[offset : offset + batch_size]
        items = client.efetch_ids(chunk)
        yield Batch(slice_index=0, retstart=offset, next_retstart=offset + len(chunk), items=items)
