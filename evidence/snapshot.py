"""The bundled offline snapshot: built from shared/data, committed, loaded idempotently."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from evidence.catalogue import INDICATIONS, TREATMENTS
from evidence.jobs import ensure_default_searches
from evidence.literature import extraction, search
from evidence.literature.levels import grade
from evidence.models import (
    Citation,
    CitationAuthor,
    CitationCoIntervention,
    CitationFieldSource,
    CitationIdentifier,
    CitationLink,
    CitationPublicationType,
    CitationSource,
    ExtractionAction,
    Indication,
    LinkStatus,
    OutcomeAdverseEvent,
    OutcomeMeasure,
    OutcomeReport,
    PricePoint,
    PublishedMetaAnalysis,
    PublishedPooledResult,
    RetractionStatus,
    Study,
    Treatment,
    utcnow,
)

SNAPSHOT_DIR = Path(__file__).parent / "snapshot"
FORUM_EVENT_MAP = {"hematoma/bruising": "bruising", "pih": "pih", "infection": "infection"}


@dataclass
class LoadReport:
    """What a snapshot load added (zero everywhere on a second run)."""

    treatments: int = 0
    indications: int = 0
    searches: int = 0
    citations: int = 0
    links: int = 0
    reports: int = 0
    price_points: int = 0
    measures: int = 0
    facts: int = 0
    studies: int = 0
    meta_analyses: int = 0
    skipped: list[str] = field(default_factory=list)

    def total(self) -> int:
        """Return the number of rows added."""
        return (
            self.treatments
            + self.indications
            + self.searches
            + self.citations
            + self.links
            + self.reports
            + self.price_points
            + self.measures
            + self.facts
            + self.studies
            + self.meta_analyses
        )


def split_author(name: str) -> dict[str, Any]:
    """Split PubMed's 'Last FM [Jr]' form into last name, initials and suffix."""
    match = re.fullmatch(r"(.+?)\s+([A-Z]{1,4})(?:\s+(Jr|Sr|2nd|3rd|4th|II|III|IV))?", name.strip())
    if match:
        return {"last_name": match.group(1), "initials": match.group(2), "suffix": match.group(3)}
    return {"last_name": None, "initials": None, "collective_name": name.strip()}


SOURCE_FILES = (
    "citations.json",
    "citations-extra.json",
    "forum-reports.json",
    "study-outcomes.json",
    "meta-analyses.json",
)
SOURCES_DIR = SNAPSHOT_DIR / "sources"


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(shared_data: Path, out_dir: Path = SNAPSHOT_DIR) -> dict[str, int]:
    """Copy shared/data's inputs into the repository, then build the snapshot from the copies.

    Maintainers run it; the copies (snapshot/sources/) and the output are both committed, so
    a clone can rebuild the snapshot from its own files and check it byte for byte.
    """
    sources = out_dir / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    for name in SOURCE_FILES:
        shutil.copyfile(shared_data / name, sources / name)
    return build_from_sources(sources, out_dir)


def _dump(path: Path, data: Any) -> None:
    """Write JSON the one way the snapshot is always written (stable bytes)."""
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def build_from_sources(sources: Path, out_dir: Path = SNAPSHOT_DIR) -> dict[str, int]:
    """Build the snapshot files from the committed source copies (deterministic)."""
    citations_in = json.loads((sources / "citations.json").read_text())
    extra_in = {
        str(r["pmid"]): r for r in json.loads((sources / "citations-extra.json").read_text())
    }
    forum = json.loads((sources / "forum-reports.json").read_text())
    citations = []
    for rec in citations_in:
        citations.append(
            {
                "pmid": str(rec["pmid"]),
                "title": rec["title"],
                "authors": list(rec.get("authors") or []),
                "journal": rec.get("journal"),
                "year": rec.get("year"),
                "doi": rec.get("doi"),
                "publication_types": rec.get("publication_types") or [],
                "treatments": rec.get("treatments") or [],
                "indications": rec.get("indications") or [],
                "other_treatments": rec.get("other_treatments") or [],
                "verified_at": rec.get("verified_at"),
                "field_sources": rec.get("field_sources") or [],
                "facts": [],
            }
        )
    by_pmid = {c["pmid"]: c for c in citations}
    for pmid, extra in extra_in.items():
        if pmid in by_pmid:
            _complete(by_pmid[pmid], extra)
        else:
            citations.append(_new_record(extra))
    citations.sort(key=lambda c: int(c["pmid"]))
    source = forum["source"]
    out = {
        "source": {
            "title": source["title"],
            "site": source["site"],
            "ref": "shared/seed/microneedling-forum-thread.txt",
            "note": source.get("note"),
        },
        "outcome_reports": forum.get("outcome_reports", []),
        "practice_notes": forum.get("practice_notes", []),
        "price_points": forum.get("price_points", []),
    }
    studies = json.loads((sources / "study-outcomes.json").read_text())
    studies.sort(key=lambda s: int(s["pmid"]))
    metas = json.loads((sources / "meta-analyses.json").read_text())
    metas.sort(key=lambda m: int(m["pmid"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    _dump(
        out_dir / "citations.json",
        {
            "source": "shared/data/citations.json + shared/data/citations-extra.json",
            "records": citations,
        },
    )
    _dump(out_dir / "forum.json", out)
    _dump(
        out_dir / "studies.json", {"source": "shared/data/study-outcomes.json", "studies": studies}
    )
    _dump(
        out_dir / "meta-analyses.json",
        {"source": "shared/data/meta-analyses.json", "meta_analyses": metas},
    )
    built = ("citations.json", "forum.json", "studies.json", "meta-analyses.json")
    _dump(
        out_dir / "manifest.json",
        {
            "sources": {f"sources/{n}": sha256_of(sources / n) for n in SOURCE_FILES},
            "built": {n: sha256_of(out_dir / n) for n in built},
        },
    )
    return {
        "citations": len(citations),
        "reports": len(out["outcome_reports"]),
        "studies": len(studies),
        "meta_analyses": len(metas),
    }


def _fact(field_name: str, value: Any, label: str | None, url: str | None) -> dict[str, Any]:
    """One labelled bibliographic fact with its page."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return {"field": field_name, "value": text, "label": label, "source_url": url}


def _complete(rec: dict[str, Any], extra: dict[str, Any]) -> None:
    """Fill a record's unknown fields from citations-extra.json; keep disagreements, labelled."""
    url, note = extra.get("source_url"), extra.get("note")
    for key in ("journal", "year", "doi", "publication_types", "authors"):
        value = extra.get(key)
        if value in (None, []):
            continue
        mine = rec.get(key)
        if mine in (None, []):
            rec[key] = value
            rec["facts"].append(_fact(key, value, note, url))
        elif key == "authors" and value[: len(mine)] == mine and len(value) > len(mine):
            # The first record showed only the first author(s): the longer byline completes it.
            rec[key] = value
            rec["facts"].append(_fact(key, value, note, url))
        elif value != mine:
            # Two pages disagree (e.g. e-pub year vs print year): keep both, each labelled.
            rec["facts"].append(_fact(key, mine, "as in citations.json", rec.get("verified_at")))
            rec["facts"].append(_fact(key, value, note, url))
    rec["field_sources"] = rec["field_sources"] + [
        u for u in [url, *(extra.get("extra_sources") or [])] if u and u not in rec["field_sources"]
    ]


def _new_record(extra: dict[str, Any]) -> dict[str, Any]:
    """A record the studies need that citations.json lacked (title may be unknown: None)."""
    url = extra.get("source_url")
    facts = (
        [_fact("note", extra["note"], "note on the page read", url)] if extra.get("note") else []
    )
    return {
        "pmid": str(extra["pmid"]),
        "title": extra.get("title"),
        "authors": extra.get("authors") or [],
        "journal": extra.get("journal"),
        "year": extra.get("year"),
        "doi": extra.get("doi"),
        "publication_types": extra.get("publication_types") or [],
        "treatments": extra.get("treatments") or [],
        "indications": extra.get("indications") or [],
        "other_treatments": extra.get("other_treatments") or [],
        "verified_at": url,
        "field_sources": list(extra.get("extra_sources") or []),
        "facts": facts,
    }


def _not_stored(
    session: Session,
    key_column: Any,
    records: Iterable[dict[str, Any]],
    key_of: Callable[[dict[str, Any]], str],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (key, record) for the records whose key `key_column` does not hold yet.

    Every loader of the snapshot is idempotent this one way: a record already stored (by its
    slug, PMID or source key) is passed over, so a second load adds nothing.
    """
    have = set(session.exec(select(key_column).where(col(key_column).is_not(None))))
    for rec in records:
        key = key_of(rec)
        if key not in have:
            have.add(key)
            yield key, rec


def _snapshot_list(path: Path, name: str) -> list[dict[str, Any]]:
    """Return the list `name` of a snapshot file, or none when the file is absent."""
    if not path.exists():
        return []
    records: list[dict[str, Any]] = json.loads(path.read_text())[name]
    return records


def _slug(rec: dict[str, Any]) -> str:
    """Return a catalogue entry's slug (its key)."""
    return str(rec["slug"])


def load_catalogue(session: Session, report: LoadReport) -> None:
    """Insert catalogue treatments and indications that are missing (by slug)."""
    treatments = [{**entry, "position": pos} for pos, entry in enumerate(TREATMENTS)]
    for _slug_t, entry in _not_stored(session, Treatment.slug, treatments, _slug):
        session.add(Treatment(**entry))
        report.treatments += 1
    indications = [{**entry, "position": pos} for pos, entry in enumerate(INDICATIONS)]
    for _slug_i, entry in _not_stored(session, Indication.slug, indications, _slug):
        session.add(Indication(**entry))
        report.indications += 1
    session.flush()
    # Each treatment's default query is a saved search from the start, so the searches
    # page only reads (it used to add them on its first view).
    report.searches += ensure_default_searches(session)


def load(session: Session, snapshot_dir: Path = SNAPSHOT_DIR) -> LoadReport:
    """Load the catalogue and snapshot into the database; running it twice adds nothing."""
    report = LoadReport()
    load_catalogue(session, report)
    treatments = {t.slug: t for t in session.exec(select(Treatment))}
    indications = {i.slug: i for i in session.exec(select(Indication))}
    data = json.loads((snapshot_dir / "citations.json").read_text())
    for rec in data["records"]:
        _load_citation(session, rec, treatments, indications, report)
    forum = json.loads((snapshot_dir / "forum.json").read_text())
    reports = forum["outcome_reports"]
    for key, rec in _not_stored(session, OutcomeReport.source_key, reports, lambda r: r["id"]):
        _load_report(session, key, rec, forum["source"], treatments, indications, report)
    prices = forum["price_points"]
    for key, rec in _not_stored(session, PricePoint.source_key, prices, _price_key):
        _load_price(session, key, rec, forum["source"], treatments, report)
    session.flush()
    report.measures += extraction.ensure_measures(session)
    _load_studies(session, snapshot_dir, report)
    _load_meta_analyses(session, snapshot_dir, indications, report)
    session.flush()
    search.refresh(session.connection())  # index the citations just added
    return report


def _citation_by_pmid(session: Session, pmid: str) -> Citation | None:
    """Return the citation with this PMID, if loaded."""
    return session.exec(select(Citation).where(Citation.pmid == pmid)).first()


def _load_studies(session: Session, snapshot_dir: Path, report: LoadReport) -> None:
    """Insert the snapshot's extracted studies that are missing (by snapshot key)."""
    studies = _snapshot_list(snapshot_dir / "studies.json", "studies")
    for key, rec in _not_stored(
        session, Study.snapshot_key, studies, lambda r: f"study-outcomes:{r['pmid']}"
    ):
        citation = _citation_by_pmid(session, str(rec["pmid"]))
        if citation is None:
            report.skipped.append(f"study {rec['pmid']}: no citation record")
            continue
        try:
            extraction.save_study(
                session,
                citation,
                extraction.record_from_source(rec),
                user_id=None,
                action=ExtractionAction.IMPORT,
                snapshot_key=key,
            )
        except extraction.ExtractionError as exc:
            report.skipped.append(f"study {rec['pmid']}: {exc}")
            continue
        report.studies += 1


def _load_meta_analyses(
    session: Session,
    snapshot_dir: Path,
    indications: dict[str, Indication],
    report: LoadReport,
) -> None:
    """Insert the published meta-analyses and their pooled results, as printed."""
    metas = _snapshot_list(snapshot_dir / "meta-analyses.json", "meta_analyses")
    measures = {m.slug: m.id for m in session.exec(select(OutcomeMeasure))}
    for pmid, rec in _not_stored(
        session, PublishedMetaAnalysis.pmid, metas, lambda r: str(r["pmid"])
    ):
        citation = _citation_by_pmid(session, pmid)
        indication = indications.get(rec.get("indication") or "")
        meta = PublishedMetaAnalysis(
            pmid=pmid,
            citation_id=citation.id if citation else None,
            title=rec["title"],
            year=rec.get("year"),
            journal=rec.get("journal"),
            doi=rec.get("doi"),
            comparison_as_stated=rec["comparison"],
            comparison_note=rec.get("comparison_note"),
            indication_id=indication.id if indication else None,
            studies_included=rec.get("studies_included"),
            patients_included=rec.get("patients_included"),
            studies_note=rec.get("studies_note"),
            outcomes_note=rec.get("outcomes_note"),
            source_url=rec.get("source_url"),
            extra_sources=json.dumps(rec.get("extra_sources") or []),
            checked_on=date.fromisoformat(rec["checked_on"]) if rec.get("checked_on") else None,
        )
        session.add(meta)
        session.flush()
        assert meta.id is not None
        for pos, out in enumerate(rec["outcomes"]):
            slug = extraction.measure_slug_for(out["measure"])
            session.add(
                PublishedPooledResult(
                    meta_analysis_id=meta.id,
                    position=pos,
                    measure_as_stated=out["measure"],
                    measure_id=measures.get(slug) if slug != extraction.GENERIC_MEASURE else None,
                    effect_type=out.get("effect_type"),
                    estimate=out.get("estimate"),
                    ci_low=out.get("ci_low"),
                    ci_high=out.get("ci_high"),
                    ci_as_printed=out.get("ci_as_printed"),
                    i2=out.get("i2"),
                    n_studies=out.get("n_studies"),
                    favours_as_stated=out.get("favours"),
                    p_value_as_stated=out.get("p_value"),
                )
            )
        report.meta_analyses += 1


def _load_citation(
    session: Session,
    rec: dict[str, Any],
    treatments: dict[str, Treatment],
    indications: dict[str, Indication],
    report: LoadReport,
) -> None:
    """Insert one snapshot citation and its links unless already present."""
    citation = session.exec(select(Citation).where(Citation.pmid == rec["pmid"])).first()
    if citation is None:
        g = grade(rec["publication_types"], rec["title"] or "")
        citation = Citation(
            pmid=rec["pmid"],
            # No page showed the title: stored empty (NOT NULL column), shown as unknown.
            title=rec["title"] or "",
            journal=rec["journal"],
            year=rec["year"],
            pub_date=str(rec["year"]) if rec["year"] else None,
            doi=rec["doi"],
            evidence_level=g.level,
            evidence_rule=g.rule,
            retraction_status=RetractionStatus.RETRACTED if g.flagged else RetractionStatus.NONE,
            source=CitationSource.SNAPSHOT,
            source_detail=rec.get("verified_at"),
            complete=False,
        )
        session.add(citation)
        session.flush()
        assert citation.id is not None
        for pos, name in enumerate(rec["authors"]):
            session.add(CitationAuthor(citation_id=citation.id, position=pos, **split_author(name)))
        for pos, ptype in enumerate(rec["publication_types"]):
            session.add(CitationPublicationType(citation_id=citation.id, position=pos, name=ptype))
        if rec["doi"]:
            session.add(
                CitationIdentifier(citation_id=citation.id, id_type="doi", value=rec["doi"])
            )
        for name in rec["other_treatments"]:
            session.add(CitationCoIntervention(citation_id=citation.id, name=name))
        for fact in rec.get("facts") or []:
            session.add(CitationFieldSource(citation_id=citation.id, **fact))
            report.facts += 1
        report.citations += 1
    assert citation.id is not None
    pairs: list[tuple[str | None, str | None]] = [
        (t, i) for t in (rec["treatments"] or [None]) for i in (rec["indications"] or [None])
    ]
    existing = {
        (link.treatment_key, link.indication_key)
        for link in session.exec(
            select(CitationLink).where(CitationLink.citation_id == citation.id)
        )
    }
    for tslug, islug in pairs:
        treatment = treatments.get(tslug) if tslug else None
        if tslug and treatment is None:
            report.skipped.append(f"PMID {rec['pmid']}: unknown treatment {tslug!r}")
            continue
        indication = indications.get(islug) if islug else None
        tid, iid = (treatment.id if treatment else None), (indication.id if indication else None)
        keys = CitationLink.keys_for(tid, iid)
        if keys in existing or keys == (0, 0):
            continue
        session.add(
            CitationLink.for_pair(
                citation.id,
                tid,
                iid,
                status=LinkStatus.INCLUDED,
                found_by=CitationSource.SNAPSHOT,
            )
        )
        existing.add(keys)
        report.links += 1


def _load_report(
    session: Session,
    key: str,
    rec: dict[str, Any],
    source: dict[str, Any],
    treatments: dict[str, Treatment],
    indications: dict[str, Indication],
    report: LoadReport,
) -> None:
    """Insert one quoted forum report (not yet stored: see _not_stored) under its source key."""
    treatment = treatments[rec["treatment"]]
    indication = indications.get(rec["indication"]) if rec.get("indication") else None
    course = rec.get("cost_per_course_usd")
    cost_note = None
    cost_per_course = None
    if isinstance(course, list) and course:
        # A stated range is kept verbatim; the figure used in statistics is its midpoint.
        cost_per_course = (min(course) + max(course)) / 2
        cost_note = f"stated as {min(course):,}-{max(course):,} USD per course"
    elif isinstance(course, int | float):
        cost_per_course = float(course)
    detail = rec.get("indication_detail") or rec.get("indication_context")
    outcome = OutcomeReport(
        treatment_id=treatment.id or 0,
        indication_id=indication.id if indication else None,
        indication_detail=detail,
        source_key=key,
        source_title=source["title"],
        source_site=source["site"],
        source_ref=source["ref"],
        source_commenter=rec.get("commenter"),
        source_role=rec.get("reporter_role"),
        source_quote=rec.get("quote"),
        source_mapping=rec.get("mapping"),
        sessions=rec.get("sessions"),
        fitzpatrick=rec.get("fitzpatrick_type"),
        improvement=rec.get("improvement_quartile"),
        cost_per_session=rec.get("cost_per_session_usd"),
        cost_per_course=cost_per_course,
        currency="USD" if (cost_per_course or rec.get("cost_per_session_usd")) else None,
        cost_note=cost_note,
        notes=_report_notes(rec),
        created_at=utcnow(),
    )
    session.add(outcome)
    session.flush()
    assert outcome.id is not None
    for item in rec.get("adverse_events") or []:
        event = FORUM_EVENT_MAP.get(item["event"])
        detail = item.get("detail")
        if event is None:
            # Outside the fixed vocabulary (e.g. same-day redness is not erythema > 7 days).
            event, detail = "other", f"{item['event']}: {detail}" if detail else item["event"]
        session.add(OutcomeAdverseEvent(report_id=outcome.id, event=event, detail=detail))
    report.reports += 1


def _report_notes(rec: dict[str, Any]) -> str | None:
    """Collect the stated context that has no structured field."""
    notes = []
    for key, label in (
        ("treatment_period_months", "treatment period (months)"),
        ("onset_of_improvement_months", "onset of improvement (months)"),
        ("region", "region"),
        ("follow_up", "follow-up"),
    ):
        if rec.get(key):
            notes.append(f"{label}: {rec[key]}")
    if rec.get("prior_treatments_without_benefit"):
        notes.append(
            "prior treatments without benefit: "
            + ", ".join(rec["prior_treatments_without_benefit"])
        )
    return "; ".join(notes) or None


def _price_key(rec: dict[str, Any]) -> str:
    """Return a quoted price point's source key: commenter, treatment and unit, slugged."""
    slug = rec.get("treatment") or "none"
    return re.sub(r"[^a-z0-9]+", "-", f"{rec['commenter']}-{slug}-{rec['unit']}".lower()).strip("-")


def _load_price(
    session: Session,
    key: str,
    rec: dict[str, Any],
    source: dict[str, Any],
    treatments: dict[str, Treatment],
    report: LoadReport,
) -> None:
    """Insert one quoted price point (not yet stored: see _not_stored) under its source key."""
    treatment = treatments.get(rec["treatment"]) if rec.get("treatment") else None
    low, high = min(rec["usd"]), max(rec["usd"])
    session.add(
        PricePoint(
            treatment_id=treatment.id if treatment else None,
            treatment_detail=rec.get("treatment_detail"),
            region=rec.get("region"),
            unit=rec["unit"],
            low=low,
            high=high,
            currency="USD",
            source_key=key,
            source_title=source["title"],
            source_commenter=rec.get("commenter"),
        )
    )
    report.price_points += 1
