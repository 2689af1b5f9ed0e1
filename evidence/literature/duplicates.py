"""Duplicate records: exact ones merged on arrival, near ones offered to a curator, related
ones (erratum and original, preprint and published version, an update) linked, not merged.

`after_batch` is called by `evidence.literature.ingest.upsert_batch` once a batch is stored, inside
the batch's transaction, so an import that is rolled back leaves no merge behind. Merging keeps the
first-stored record and removes the other, moving its links (or, when both records were linked to
the same treatment x indication, counting the other as a duplicate removed for PRISMA); the removed
record's PMID, DOI and title stay in its `DuplicatePair` row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, utils
from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlmodel import Session

from evidence.models import (
    Citation,
    CitationAuthor,
    CitationCoIntervention,
    CitationCorrection,
    CitationLink,
    CitationPublicationType,
    DuplicateKind,
    DuplicatePair,
    DuplicateState,
    ScreeningDecision,
    User,
    utcnow,
)

CITATION: Table = Citation.__table__  # type: ignore[attr-defined]
AUTHOR: Table = CitationAuthor.__table__  # type: ignore[attr-defined]
PTYPE: Table = CitationPublicationType.__table__  # type: ignore[attr-defined]
CORRECTION: Table = CitationCorrection.__table__  # type: ignore[attr-defined]
LINK: Table = CitationLink.__table__  # type: ignore[attr-defined]
PAIR: Table = DuplicatePair.__table__  # type: ignore[attr-defined]
DECISION: Table = ScreeningDecision.__table__  # type: ignore[attr-defined]
COINTERVENTION: Table = CitationCoIntervention.__table__  # type: ignore[attr-defined]

# token_sort_ratio on processed titles: 92 catches punctuation, case and word-order changes
# ("A randomized trial of X: ..." vs "X: a randomized trial ...") without pairing distinct
# trials of the same device, whose titles differ by more than a few words.
NEAR_TITLE_SCORE = 92.0
# Publication types that make a record a different kind of item from its look-alike.
RELATED_TYPES = {"Published Erratum": DuplicateKind.ERRATUM, "Preprint": DuplicateKind.PREPRINT}
# CommentsCorrections types that tie two records together without making them one.
RELATED_REFS = {
    "ErratumFor": DuplicateKind.ERRATUM,
    "ErratumIn": DuplicateKind.ERRATUM,
    "UpdateOf": DuplicateKind.UPDATE,
    "UpdateIn": DuplicateKind.UPDATE,
}


class DuplicateError(ValueError):
    """A duplicate decision could not be recorded; the message says why."""


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """Split a list so IN lists stay under every backend's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalise_doi(doi: str | None) -> str | None:
    """Return a DOI lower-cased, without a resolver prefix (DOIs are case-insensitive)."""
    if not doi:
        return None
    doi = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://dx.doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    return doi or None


def normalise_pmcid(pmcid: str | None) -> str | None:
    """Return a PMCID upper-cased with its PMC prefix."""
    if not pmcid:
        return None
    value = pmcid.strip().upper()
    return value if value.startswith("PMC") else f"PMC{value}"


def normalise_title(title: str) -> str:
    """Return a title lower-cased with punctuation and extra spaces removed."""
    return str(utils.default_process(title.rstrip(". ")))


def normalise_name(name: str | None) -> str:
    """Return an author's last name for blocking (case and punctuation folded)."""
    return str(utils.default_process(name or "")).replace(" ", "")


_NUMBER = re.compile(r"\d+")


def title_score(a: str, b: str) -> float:
    """Return how alike two titles are, 0-100 (word order and punctuation ignored).

    Titles whose numbers differ score 0: "12-month results" and "24-month results", or
    "part 1" and "part 2", are different reports however alike their words.
    """
    if _NUMBER.findall(a) != _NUMBER.findall(b):
        return 0.0
    return float(fuzz.token_sort_ratio(normalise_title(a), normalise_title(b)))


def _title_scorer() -> Callable[[str, str], float]:
    """Return `title_score`, computing each title's numbers and normal form only once
    (a block of n records is n * n comparisons of the same titles)."""
    numbers: dict[str, list[str]] = {}
    forms: dict[str, str] = {}

    def score(a: str, b: str) -> float:
        """`title_score(a, b)`."""
        for title in (a, b):
            if title not in numbers:
                numbers[title] = _NUMBER.findall(title)
        if numbers[a] != numbers[b]:
            return 0.0
        for title in (a, b):
            if title not in forms:
                forms[title] = normalise_title(title)
        return float(fuzz.token_sort_ratio(forms[a], forms[b]))

    return score


# --- the hook ------------------------------------------------------------------------------


@dataclass
class BatchDuplicates:
    """What the duplicate pass did for one stored batch."""

    merged: int = 0
    pmid_duplicates: int = 0
    near_offered: int = 0
    related_linked: int = 0


def after_batch(
    conn: Any,
    *,
    batch_ids: list[int],
    stored_ids: list[int],
    found_by: str | None,
    treatment_id: int | None,
    indication_id: int | None,
    now: datetime | None = None,
) -> BatchDuplicates:
    """Merge exact duplicates, offer near ones and link related records for a stored batch.

    `batch_ids` are every record of the batch, `stored_ids` those added or changed by it
    (unchanged records were checked when they were first stored).
    """
    now = now or utcnow()
    result = BatchDuplicates()
    if found_by is not None:
        result.pmid_duplicates = _record_pmid_duplicates(
            conn, batch_ids, found_by, *CitationLink.keys_for(treatment_id, indication_id), now
        )
    if not stored_ids:
        return result
    ptypes = _publication_kinds(conn, stored_ids)
    merged_away: set[int] = set()
    for kept, other, matched in _exact_matches(conn, stored_ids):
        if kept in merged_away or other in merged_away:
            continue
        kinds = ptypes | _publication_kinds(conn, [kept, other])
        kind = _related_kind(kinds, kept, other)
        if kind:
            result.related_linked += _link_related(conn, kept, other, kind, matched, now)
            continue
        merge(
            conn,
            kept_id=kept,
            other_id=other,
            kind=DuplicateKind.EXACT,
            matched_on=matched,
            now=now,
        )
        merged_away.add(other)
        result.merged += 1
    remaining = [cid for cid in stored_ids if cid not in merged_away]
    result.related_linked += _link_corrections(conn, remaining, now)
    result.near_offered += _offer_near(conn, remaining, now)
    return result


def _record_pmid_duplicates(
    conn: Any, batch_ids: list[int], found_by: str, tkey: int, ikey: int, now: datetime
) -> int:
    """Count records this source found that another source had already linked to the cell.

    Storing is by PMID, so such a record is never stored twice; PRISMA still counts it once
    per source as identified and once as a duplicate removed.
    """
    added = 0
    for chunk in _chunks(list(dict.fromkeys(batch_ids))):
        rows = conn.execute(
            select(LINK.c.citation_id, LINK.c.found_by, CITATION.c.pmid, CITATION.c.title)
            .join(CITATION, CITATION.c.id == LINK.c.citation_id)
            .where(
                LINK.c.citation_id.in_(chunk),
                LINK.c.treatment_key == tkey,
                LINK.c.indication_key == ikey,
                LINK.c.found_by != found_by,
            )
        ).all()
        for cid, _linked_by, pmid, title in rows:
            entry = [tkey, ikey, found_by]
            added += _add_removed(
                conn,
                kept_id=cid,
                other_pmid=pmid,
                other_doi=None,
                other_title=title,
                kind=DuplicateKind.EXACT,
                matched_on="pmid",
                entries=[entry],
                now=now,
            )
    return added


def _add_removed(
    conn: Any,
    *,
    kept_id: int,
    other_pmid: str,
    other_doi: str | None,
    other_title: str,
    kind: str,
    matched_on: str,
    entries: list[list[Any]],
    now: datetime,
    user_id: int | None = None,
    score: float | None = None,
) -> int:
    """Create or extend the merged pair (kept, other PMID); return how many entries were new."""
    row = conn.execute(
        select(PAIR.c.id, PAIR.c.removed_links).where(
            PAIR.c.kept_citation_id == kept_id, PAIR.c.other_pmid == other_pmid
        )
    ).first()
    if row is None:
        conn.execute(
            insert(PAIR).values(
                kept_citation_id=kept_id,
                other_citation_id=None,
                other_pmid=other_pmid,
                other_doi=other_doi,
                other_title=other_title,
                kind=kind,
                matched_on=matched_on,
                score=score,
                state=DuplicateState.MERGED,
                removed_links=json.dumps(entries),
                decided_by_id=user_id,
                decided_at=now,
                created_at=now,
            )
        )
        return len(entries)
    have = [list(e) for e in json.loads(row.removed_links)]
    new = [e for e in entries if e not in have]
    values: dict[str, Any] = {"state": DuplicateState.MERGED, "other_citation_id": None}
    if new:
        values["removed_links"] = json.dumps(have + new)
    if user_id is not None:
        values.update(decided_by_id=user_id, decided_at=now, kind=kind, matched_on=matched_on)
    conn.execute(update(PAIR).where(PAIR.c.id == row.id).values(**values))
    return len(new)


def _publication_kinds(conn: Any, ids: Iterable[int]) -> set[tuple[int, str]]:
    """Return (citation id, related kind) for records typed as errata or preprints."""
    out: set[tuple[int, str]] = set()
    for chunk in _chunks(list(ids)):
        rows = conn.execute(
            select(PTYPE.c.citation_id, PTYPE.c.name).where(
                PTYPE.c.citation_id.in_(chunk), PTYPE.c.name.in_(list(RELATED_TYPES))
            )
        )
        out.update((cid, RELATED_TYPES[name]) for cid, name in rows)
    return out


def _related_kind(kinds: set[tuple[int, str]], a: int, b: int) -> str | None:
    """Return ERRATUM or PREPRINT when exactly one of two records is of that kind."""
    for kind in (DuplicateKind.ERRATUM, DuplicateKind.PREPRINT):
        if ((a, kind) in kinds) != ((b, kind) in kinds):
            return kind
    return None


# The identifiers that make two stored records one study, in the order a pair is labelled by.
# PMIDs need no pass of their own: records are stored by PMID, so no two rows share one (a
# source finding a PMID another source already linked is counted by _record_pmid_duplicates).
EXACT_IDENTIFIERS: tuple[tuple[str, Callable[[str | None], str | None]], ...] = (
    ("doi", normalise_doi),
    ("pmcid", normalise_pmcid),
)


def _rows_where_in(conn: Any, key: Any, value: Any, keys: Iterable[Any]) -> Iterator[Any]:
    """Yield (key, value) of the citations whose `key` column is one of `keys`, in chunks."""
    for chunk in _chunks(sorted(set(keys))):
        yield from conn.execute(select(key, value).where(key.in_(chunk)))


def _exact_matches(conn: Any, stored_ids: list[int]) -> list[tuple[int, int, str]]:
    """Return (kept id, other id, 'doi'/'pmcid') for stored records sharing a DOI or PMCID."""
    pairs: dict[tuple[int, int], str] = {}
    for label, normalise in EXACT_IDENTIFIERS:
        column = CITATION.c[label]
        mine = _rows_where_in(conn, CITATION.c.id, column, stored_ids)
        raw: set[str] = {value for _cid, value in mine if value}
        wanted = {key for value in raw if (key := normalise(value))}
        groups: dict[str, set[int]] = {}
        # Stored spellings may differ from the normalised one (a resolver prefix, case).
        for value, cid in _rows_where_in(conn, column, CITATION.c.id, raw | wanted):
            key = normalise(value)
            if key in wanted:
                groups.setdefault(key, set()).add(cid)
        for group in groups.values():
            kept = min(group)  # the first stored record stays
            for other in sorted(group - {kept}):
                pairs.setdefault((kept, other), label)
    return [(kept, other, label) for (kept, other), label in sorted(pairs.items())]


def _pair_exists(conn: Any, a: int, b: int) -> bool:
    """Return True when two stored records already form a pair (either way round)."""
    found = conn.execute(
        select(PAIR.c.id).where(
            or_(
                and_(PAIR.c.kept_citation_id == a, PAIR.c.other_citation_id == b),
                and_(PAIR.c.kept_citation_id == b, PAIR.c.other_citation_id == a),
            )
        )
    ).first()
    return found is not None


def _new_pair(
    conn: Any,
    *,
    kept: int,
    other: int,
    kind: str,
    state: str,
    matched_on: str,
    now: datetime,
    score: float | None = None,
) -> int:
    """Store a pair between two stored records unless they already form one; return 1 if new."""
    if kept == other or _pair_exists(conn, kept, other):
        return 0
    row = conn.execute(
        select(CITATION.c.pmid, CITATION.c.doi, CITATION.c.title).where(CITATION.c.id == other)
    ).first()
    if row is None:
        return 0
    conn.execute(
        insert(PAIR).values(
            kept_citation_id=kept,
            other_citation_id=other,
            other_pmid=row.pmid,
            other_doi=row.doi,
            other_title=row.title,
            kind=kind,
            matched_on=matched_on,
            score=score,
            state=state,
            removed_links="[]",
            created_at=now,
        )
    )
    return 1


def _link_related(conn: Any, a: int, b: int, kind: str, matched: str, now: datetime) -> int:
    """Link an erratum or preprint to its look-alike, the erratum/preprint as 'other'."""
    kinds = _publication_kinds(conn, [a, b])
    kept, other = (b, a) if (a, kind) in kinds else (a, b)
    return _new_pair(
        conn,
        kept=kept,
        other=other,
        kind=kind,
        state=DuplicateState.LINKED,
        matched_on=matched,
        now=now,
    )


def _link_corrections(conn: Any, ids: list[int], now: datetime) -> int:
    """Link records tied by ErratumFor/ErratumIn/UpdateOf/UpdateIn, in either direction."""
    if not ids:
        return 0
    pmid_of: dict[int, str] = dict(_rows_where_in(conn, CITATION.c.id, CITATION.c.pmid, ids))
    edges: list[tuple[int, str, str]] = []  # (citation id, ref type, referenced PMID)
    for chunk in _chunks(ids):
        edges.extend(
            conn.execute(
                select(
                    CORRECTION.c.citation_id, CORRECTION.c.ref_type, CORRECTION.c.ref_pmid
                ).where(
                    CORRECTION.c.citation_id.in_(chunk),
                    CORRECTION.c.ref_type.in_(list(RELATED_REFS)),
                    CORRECTION.c.ref_pmid.is_not(None),
                )
            ).all()
        )
    # Stored records that name one of this batch's PMIDs (the other end arrived first).
    for chunk in _chunks(sorted(set(pmid_of.values()))):
        edges.extend(
            conn.execute(
                select(
                    CORRECTION.c.citation_id, CORRECTION.c.ref_type, CORRECTION.c.ref_pmid
                ).where(
                    CORRECTION.c.ref_pmid.in_(chunk), CORRECTION.c.ref_type.in_(list(RELATED_REFS))
                )
            ).all()
        )
    refs = {ref for _c, _t, ref in edges}
    id_of: dict[str, int] = dict(_rows_where_in(conn, CITATION.c.pmid, CITATION.c.id, refs))
    linked = 0
    for cid, ref_type, ref in edges:
        target = id_of.get(ref)
        if target is None:
            continue
        kind = RELATED_REFS[ref_type]
        kinds = _publication_kinds(conn, [cid, target])
        if (cid, DuplicateKind.PREPRINT) in kinds or (target, DuplicateKind.PREPRINT) in kinds:
            kind = DuplicateKind.PREPRINT
        # The erratum notice, the preprint or the older version is the 'other' record.
        if ref_type == "ErratumFor" or ref_type == "UpdateOf":
            kept, other = cid, target
            if ref_type == "ErratumFor":
                kept, other = target, cid
        else:  # ErratumIn / UpdateIn: the record holding the link is the original
            kept, other = (target, cid) if ref_type == "UpdateIn" else (cid, target)
        if kind == DuplicateKind.PREPRINT and (kept, DuplicateKind.PREPRINT) in kinds:
            kept, other = other, kept
        linked += _new_pair(
            conn,
            kept=kept,
            other=other,
            kind=kind,
            state=DuplicateState.LINKED,
            matched_on=ref_type,
            now=now,
        )
    return linked


def _first_authors(conn: Any, ids: list[int]) -> dict[int, str]:
    """Return each record's first author's normalised last (or collective) name."""
    out: dict[int, str] = {}
    for chunk in _chunks(ids):
        for cid, last, collective in conn.execute(
            select(AUTHOR.c.citation_id, AUTHOR.c.last_name, AUTHOR.c.collective_name).where(
                AUTHOR.c.citation_id.in_(chunk), AUTHOR.c.position == 0
            )
        ):
            out[cid] = normalise_name(last or collective)
    return out


def first_author_key(last_name: str | None, collective_name: str | None) -> str:
    """Return citation.first_author_key for a first author as stored ("" for none)."""
    return normalise_name(last_name or collective_name)[:300]


def _offer_near(conn: Any, ids: list[int], now: datetime) -> int:
    """Offer pairs with the same year and first author and nearly the same title.

    The (year, first author) blocks are read through the index on citation.first_author_key;
    citations whose key was never computed (NULL) are read with their first author instead.
    """
    if not ids:
        return 0
    mine: dict[int, tuple[int, str]] = {}
    keys: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        for cid, year, title, key in conn.execute(
            select(CITATION.c.id, CITATION.c.year, CITATION.c.title, CITATION.c.first_author_key)
            .where(CITATION.c.id.in_(chunk), CITATION.c.year.is_not(None))
            .order_by(CITATION.c.id)
        ):
            mine[cid] = (year, title)
            keys[cid] = key
    authors = {cid: key for cid, key in keys.items() if key is not None}
    authors.update(_first_authors(conn, [cid for cid, key in keys.items() if key is None]))
    authors = dict(sorted(authors.items()))
    blocks = {(mine[cid][0], name) for cid, name in authors.items() if name}
    if not blocks:
        return 0
    years = sorted({year for year, _n in blocks})
    names = sorted({name for _y, name in blocks})
    candidates: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for year_chunk in _chunks(years):
        for chunk in _chunks(names):
            keyed = conn.execute(
                select(
                    CITATION.c.id, CITATION.c.year, CITATION.c.title, CITATION.c.first_author_key
                ).where(CITATION.c.year.in_(year_chunk), CITATION.c.first_author_key.in_(chunk))
            )
            for cid, year, title, name in keyed:
                if (year, name) in blocks:
                    candidates.setdefault((year, name), []).append((cid, title))
        unkeyed = conn.execute(
            select(
                CITATION.c.id,
                CITATION.c.year,
                CITATION.c.title,
                AUTHOR.c.last_name,
                AUTHOR.c.collective_name,
            )
            .join(AUTHOR, and_(AUTHOR.c.citation_id == CITATION.c.id, AUTHOR.c.position == 0))
            .where(CITATION.c.year.in_(year_chunk), CITATION.c.first_author_key.is_(None))
        )
        for cid, year, title, last, collective in unkeyed:
            name = normalise_name(last or collective)
            if (year, name) in blocks:
                candidates.setdefault((year, name), []).append((cid, title))
    for group in candidates.values():
        group.sort()
    score_titles = _title_scorer()
    found: list[tuple[int, int, int, str, float]] = []
    for cid, name in authors.items():
        if not name or cid not in mine:
            continue
        year, title = mine[cid]
        for other, other_title in candidates.get((year, name), []):
            if other == cid:
                continue
            score = score_titles(title, other_title)
            if score >= NEAR_TITLE_SCORE:
                found.append((cid, other, year, name, score))
    offered = 0
    kinds = _publication_kinds(conn, sorted({i for cid, other, *_ in found for i in (cid, other)}))
    for cid, other, year, name, score in found:
        kept, newer = (other, cid) if other < cid else (cid, other)
        related = _related_kind(kinds, kept, newer)
        matched = f"title {score:.0f}/100, year {year}, first author {name}"
        # An erratum or preprint is linked (as the 'other' record); a look-alike is offered.
        kind, state = (
            (related, DuplicateState.LINKED)
            if related
            else (DuplicateKind.NEAR, DuplicateState.PENDING)
        )
        if related and (kept, related) in kinds:
            kept, newer = newer, kept
        offered += _new_pair(
            conn,
            kept=kept,
            other=newer,
            kind=kind,
            state=state,
            matched_on=matched,
            now=now,
            score=score,
        )
    return offered


# --- merging -------------------------------------------------------------------------------


def merge(
    conn: Any,
    *,
    kept_id: int,
    other_id: int,
    kind: str,
    matched_on: str,
    now: datetime | None = None,
    user_id: int | None = None,
    score: float | None = None,
) -> None:
    """Merge `other` into `kept`: move its links and decisions, record the pair, remove it."""
    now = now or utcnow()
    other = conn.execute(
        select(CITATION.c.pmid, CITATION.c.doi, CITATION.c.title).where(CITATION.c.id == other_id)
    ).first()
    if other is None:
        raise DuplicateError("That record has already been merged or removed.")
    kept_links = {
        (t, i): lid
        for lid, t, i in conn.execute(
            select(LINK.c.id, LINK.c.treatment_key, LINK.c.indication_key).where(
                LINK.c.citation_id == kept_id
            )
        )
    }
    removed: list[list[Any]] = []
    for lid, tkey, ikey, found_by in conn.execute(
        select(LINK.c.id, LINK.c.treatment_key, LINK.c.indication_key, LINK.c.found_by).where(
            LINK.c.citation_id == other_id
        )
    ).all():
        target = kept_links.get((tkey, ikey))
        if target is None:
            conn.execute(update(LINK).where(LINK.c.id == lid).values(citation_id=kept_id))
            continue
        # Both records were found for this cell: one is a duplicate PRISMA counts as removed.
        removed.append([tkey, ikey, found_by])
        conn.execute(update(DECISION).where(DECISION.c.link_id == lid).values(link_id=target))
        conn.execute(delete(LINK).where(LINK.c.id == lid))
    kept_names = set(
        conn.execute(
            select(COINTERVENTION.c.name).where(COINTERVENTION.c.citation_id == kept_id)
        ).scalars()
    )
    for cid_row, name in conn.execute(
        select(COINTERVENTION.c.id, COINTERVENTION.c.name).where(
            COINTERVENTION.c.citation_id == other_id
        )
    ).all():
        if name not in kept_names:
            conn.execute(
                update(COINTERVENTION)
                .where(COINTERVENTION.c.id == cid_row)
                .values(citation_id=kept_id)
            )
    # Offers that involved the removed record are moot; decided pairs move to the kept one.
    conn.execute(
        delete(PAIR).where(
            PAIR.c.state == DuplicateState.PENDING,
            or_(PAIR.c.other_citation_id == other_id, PAIR.c.kept_citation_id == other_id),
        )
    )
    conn.execute(
        update(PAIR)
        .where(
            PAIR.c.kept_citation_id == other_id,
            or_(PAIR.c.other_citation_id.is_(None), PAIR.c.other_citation_id != kept_id),
        )
        .values(kept_citation_id=kept_id)
    )
    conn.execute(
        delete(PAIR).where(PAIR.c.kept_citation_id == other_id, PAIR.c.other_citation_id == kept_id)
    )
    _add_removed(
        conn,
        kept_id=kept_id,
        other_pmid=other.pmid,
        other_doi=other.doi,
        other_title=other.title,
        kind=kind,
        matched_on=matched_on,
        entries=removed,
        now=now,
        user_id=user_id,
        score=score,
    )
    conn.execute(delete(CITATION).where(CITATION.c.id == other_id))
    conn.execute(update(CITATION).where(CITATION.c.id == kept_id).values(updated_at=now))


# --- curators' decisions and listings --------------------------------------------------------


def decide(session: Session, *, pair_id: int, action: str, user_id: int) -> DuplicatePair:
    """Merge a near-duplicate pair or keep its records separate, recording who and when."""
    pair = session.get(DuplicatePair, pair_id)
    if pair is None:
        raise DuplicateError("No such duplicate pair.")
    if pair.state != DuplicateState.PENDING:
        raise DuplicateError(f"This pair was already decided ({pair.state}).")
    if action not in ("merge", "keep"):
        raise DuplicateError("Choose merge or keep separate.")
    now = utcnow()
    if action == "keep":
        pair.state = DuplicateState.KEPT_SEPARATE
        pair.decided_by_id, pair.decided_at = user_id, now
        session.add(pair)
        session.flush()
        return pair
    assert pair.other_citation_id is not None
    kept_id, other_id, matched, score = (
        pair.kept_citation_id,
        pair.other_citation_id,
        pair.matched_on,
        pair.score,
    )
    session.flush()
    conn = session.connection()
    # The pending offer becomes the merge record.
    conn.execute(
        update(PAIR)
        .where(PAIR.c.id == pair_id)
        .values(state=DuplicateState.MERGED, decided_by_id=user_id, decided_at=now)
    )
    merge(
        conn,
        kept_id=kept_id,
        other_id=other_id,
        kind=DuplicateKind.NEAR,
        matched_on=matched,
        now=now,
        user_id=user_id,
        score=score,
    )
    session.expire_all()
    merged = session.get(DuplicatePair, pair_id)
    assert merged is not None
    return merged


@dataclass
class PairRow:
    """A pair as the duplicates page and CSV show it."""

    pair: DuplicatePair
    kept: Citation | None
    other: Citation | None
    decided_by: str | None


def pairs(session: Session, *, states: Iterable[str] | None = None) -> list[PairRow]:
    """Return pairs (optionally in some states), newest first, with their records."""
    stmt = select(DuplicatePair).order_by(DuplicatePair.id.desc())  # type: ignore[union-attr]
    if states is not None:
        stmt = stmt.where(DuplicatePair.state.in_(list(states)))  # type: ignore[attr-defined]
    found = [row[0] for row in session.execute(stmt).all()]
    ids = {p.kept_citation_id for p in found} | {
        p.other_citation_id for p in found if p.other_citation_id
    }
    citations = {
        c.id: c
        for (c,) in session.execute(
            select(Citation).where(Citation.id.in_(sorted(ids)))  # type: ignore[union-attr]
        ).all()
    }
    users = {
        u.id: u.email
        for (u,) in session.execute(
            select(User).where(
                User.id.in_(sorted({p.decided_by_id for p in found if p.decided_by_id}))  # type: ignore[union-attr]
            )
        ).all()
    }
    return [
        PairRow(
            pair=p,
            kept=citations.get(p.kept_citation_id),
            other=citations.get(p.other_citation_id) if p.other_citation_id else None,
            decided_by=users.get(p.decided_by_id) if p.decided_by_id else None,
        )
        for p in found
    ]


def state_counts(session: Session) -> dict[str, int]:
    """Return how many pairs are in each state."""
    rows = session.execute(select(PAIR.c.state, func.count()).group_by(PAIR.c.state)).all()
    return {state: int(n) for state, n in rows}


CSV_COLUMNS = (
    "pair_id",
    "kind",
    "state",
    "matched_on",
    "title_score",
    "kept_pmid",
    "kept_title",
    "other_pmid",
    "other_doi",
    "other_title",
    "removed_from",
    "decided_by",
    "decided_at",
    "found_at",
)


def decisions_csv(session: Session) -> str:
    """Return every duplicate pair and its decision as CSV text."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in pairs(session):
        p = row.pair
        removed = "; ".join(
            f"treatment {t} / indication {i or '-'} via {src}"
            for t, i, src in json.loads(p.removed_links)
        )
        writer.writerow(
            [
                p.id,
                p.kind,
                p.state,
                p.matched_on,
                "" if p.score is None else f"{p.score:.1f}",
                row.kept.pmid if row.kept else "",
                row.kept.title if row.kept else "",
                p.other_pmid,
                p.other_doi or "",
                p.other_title,
                removed,
                row.decided_by or ("automatic" if p.state == DuplicateState.MERGED else ""),
                p.decided_at.isoformat() if p.decided_at else "",
                p.created_at.isoformat(),
            ]
        )
    return buf.getvalue()


def merged_into(session: Session, pmid: str) -> str | None:
    """Return the PMID a removed record was merged into, or None."""
    row = session.execute(
        select(CITATION.c.pmid)
        .join(PAIR, PAIR.c.kept_citation_id == CITATION.c.id)
        .where(
            PAIR.c.other_pmid == pmid,
            PAIR.c.state == DuplicateState.MERGED,
            CITATION.c.pmid != pmid,
        )
    ).first()
    return str(row[0]) if row else None


def removed_for_cell(session: Session, *, treatment_id: int, indication_key: int) -> list[Any]:
    """Return (kind, found_by) of each duplicate removed from one treatment x indication."""
    out = []
    for kind, removed_links in session.execute(
        select(PAIR.c.kind, PAIR.c.removed_links).where(
            PAIR.c.state == DuplicateState.MERGED, PAIR.c.removed_links != "[]"
        )
    ).all():
        for tkey, ikey, found_by in json.loads(removed_links):
            if tkey == treatment_id and ikey == indication_key:
                out.append((kind, found_by))
    return out
