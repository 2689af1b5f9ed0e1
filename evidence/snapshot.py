"""The bundled offline snapshot: built from shared/data, committed, loaded idempotently."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from evidence import search
from evidence.catalogue import INDICATIONS, TREATMENTS
from evidence.levels import grade
from evidence.models import (
    Citation,
    CitationAuthor,
    CitationCoIntervention,
    CitationIdentifier,
    CitationLink,
    CitationPublicationType,
    Indication,
    OutcomeAdverseEvent,
    OutcomeReport,
    PricePoint,
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
    citations: int = 0
    links: int = 0
    reports: int = 0
    price_points: int = 0
    skipped: list[str] = field(default_factory=list)

    def total(self) -> int:
        """Return the number of rows added."""
        return (
            self.treatments
            + self.indications
            + self.citations
            + self.links
            + self.reports
            + self.price_points
        )


def split_author(name: str) -> dict[str, Any]:
    """Split PubMed's 'Last FM [Jr]' form into last name, initials and suffix."""
    match = re.fullmatch(r"(.+?)\s+([A-Z]{1,4})(?:\s+(Jr|Sr|2nd|3rd|4th|II|III|IV))?", name.strip())
    if match:
        return {"last_name": match.group(1), "initials": match.group(2), "suffix": match.group(3)}
    return {"last_name": None, "initials": None, "collective_name": name.strip()}


def build(shared_data: Path, out_dir: Path = SNAPSHOT_DIR) -> dict[str, int]:
    """Build the snapshot files from shared/data (maintainers run it; the output is committed)."""
    citations_in = json.loads((shared_data / "citations.json").read_text())
    forum = json.loads((shared_data / "forum-reports.json").read_text())
    citations = []
    for rec in citations_in:
        citations.append(
            {
                "pmid": str(rec["pmid"]),
                "title": rec["title"],
                "authors": [a for a in rec.get("authors") or []],
                "journal": rec.get("journal"),
                "year": rec.get("year"),
                "doi": rec.get("doi"),
                "publication_types": rec.get("publication_types") or [],
                "treatments": rec.get("treatments") or [],
                "indications": rec.get("indications") or [],
                "other_treatments": rec.get("other_treatments") or [],
                "verified_at": rec.get("verified_at"),
                "field_sources": rec.get("field_sources") or [],
            }
        )
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
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "citations.json").write_text(
        json.dumps(
            {"source": "shared/data/citations.json", "records": citations},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    (out_dir / "forum.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    return {"citations": len(citations), "reports": len(out["outcome_reports"])}


def load_catalogue(session: Session, report: LoadReport) -> None:
    """Insert catalogue treatments and indications that are missing (by slug)."""
    have_t = {t.slug for t in session.exec(select(Treatment))}
    for pos, entry in enumerate(TREATMENTS):
        if entry["slug"] not in have_t:
            session.add(Treatment(**entry, position=pos))
            report.treatments += 1
    have_i = {i.slug for i in session.exec(select(Indication))}
    for pos, ientry in enumerate(INDICATIONS):
        if ientry["slug"] not in have_i:
            session.add(Indication(**ientry, position=pos))
            report.indications += 1
    session.flush()


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
    for rec in forum["outcome_reports"]:
        _load_report(session, rec, forum["source"], treatments, indications, report)
    for rec in forum["price_points"]:
        _load_price(session, rec, forum["source"], treatments, report)
    session.flush()
    search.refresh(session.connection())  # index the citations just added
    return report


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
        g = grade(rec["publication_types"], rec["title"])
        citation = Citation(
            pmid=rec["pmid"],
            title=rec["title"],
            journal=rec["journal"],
            year=rec["year"],
            pub_date=str(rec["year"]) if rec["year"] else None,
            doi=rec["doi"],
            evidence_level=g.level,
            evidence_rule=g.rule,
            retraction_status="retracted" if g.flagged else "none",
            source="snapshot",
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
        tkey = treatment.id if treatment and treatment.id else 0
        ikey = indication.id if indication and indication.id else 0
        if (tkey, ikey) in existing or (tkey, ikey) == (0, 0):
            continue
        session.add(
            CitationLink(
                citation_id=citation.id,
                treatment_id=treatment.id if treatment else None,
                indication_id=indication.id if indication else None,
                treatment_key=tkey,
                indication_key=ikey,
                status="included",
                found_by="snapshot",
            )
        )
        existing.add((tkey, ikey))
        report.links += 1


def _load_report(
    session: Session,
    rec: dict[str, Any],
    source: dict[str, Any],
    treatments: dict[str, Treatment],
    indications: dict[str, Indication],
    report: LoadReport,
) -> None:
    """Insert one quoted forum report unless already present (by its source key)."""
    key = rec["id"]
    if session.exec(select(OutcomeReport).where(OutcomeReport.source_key == key)).first():
        return
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


def _load_price(
    session: Session,
    rec: dict[str, Any],
    source: dict[str, Any],
    treatments: dict[str, Treatment],
    report: LoadReport,
) -> None:
    """Insert one quoted price point unless already present."""
    slug = rec.get("treatment") or "none"
    key = re.sub(r"[^a-z0-9]+", "-", f"{rec['commenter']}-{slug}-{rec['unit']}".lower()).strip("-")
    if session.exec(select(PricePoint).where(PricePoint.source_key == key)).first():
        return
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
