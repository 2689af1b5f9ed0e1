"""Helpers for the screening, PRISMA and duplicate tests: candidates made in the test."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import select

from evidence.db import session_scope
from evidence.literature import ingest
from evidence.models import Indication, Treatment
from pubmed.records import AbstractSection, Author, PubDate, PubmedRecord

# Distinct titles: no two are near-duplicates of each other (their numbers differ too).
TOPICS = [
    "split-face comparison of needle depths in atrophic acne scars",
    "pain scores during collagen induction therapy under topical anaesthesia",
    "dermal collagen density on biopsy after three sessions of needling",
    "patient-reported outcomes after a course of needling for rolling scars",
    "post-inflammatory hyperpigmentation in Fitzpatrick IV to VI after needling",
    "needling with platelet-rich plasma versus saline in boxcar scars",
    "optical coherence tomography of scar volume after needling",
    "downtime and erythema duration after automated needling pens",
    "needling in an animal wound model: histology of scar remodelling",
    "cost per course of needling in a university dermatology clinic",
]


def record(
    pmid: int,
    title: str,
    *,
    year: int = 2021,
    author: str = "Alvarez",
    doi: str | None = None,
    pmcid: str | None = None,
    publication_types: list[str] | None = None,
    comments: list[Any] | None = None,
) -> PubmedRecord:
    """Return a PubMed record built in the test (never stored in the snapshot)."""
    return PubmedRecord(
        pmid=pmid,
        title=title,
        abstract_sections=[
            AbstractSection(text=f"Background: {title}. Results were recorded.", label="BACKGROUND")
        ],
        journal_title="Journal of Test Dermatology",
        journal_iso="J Test Dermatol",
        pub_date=PubDate(year=year),
        doi=doi,
        pmcid=pmcid,
        languages=["eng"],
        authors=[Author(last_name=author, fore_name="Maria", initials="M")],
        publication_types=publication_types or ["Journal Article"],
        comments_corrections=comments or [],
    )


def cell_ids(
    app: Flask, treatment: str = "microneedling", indication: str = "acne-scars"
) -> tuple[int, int]:
    """Return the ids of a treatment and an indication."""
    with app.app_context(), session_scope() as session:
        t = session.exec(select(Treatment).where(Treatment.slug == treatment)).one()
        i = session.exec(select(Indication).where(Indication.slug == indication)).one()
        assert t.id is not None and i.id is not None
        return t.id, i.id


def store(
    app: Flask,
    records: list[PubmedRecord],
    *,
    found_by: str = "import:test-candidates.xml",
    treatment: str = "microneedling",
    indication: str = "acne-scars",
) -> ingest.UpsertCounts:
    """Store records as candidates of a cell, the way an import does."""
    tid, iid = cell_ids(app, treatment, indication)
    with app.app_context(), session_scope() as session:
        return ingest.upsert_batch(
            session,
            records,
            source="import",
            source_detail=found_by,
            link=ingest.LinkTarget(treatment_id=tid, indication_id=iid, found_by=found_by),
        )


def candidates(app: Flask, n: int = 10, first_pmid: int = 93_000_001) -> list[int]:
    """Store n distinct candidate records in microneedling x acne scars; return their PMIDs."""
    pmids = [first_pmid + k for k in range(n)]
    store(
        app,
        [
            record(pmid, f"Trial {k + 1}: {TOPICS[k % len(TOPICS)]}", author=f"Author{k}")
            for k, pmid in enumerate(pmids)
        ],
    )
    return pmids


def hidden(html: str, name: str) -> str:
    """Return the value of a hidden input."""
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{re.escape(name)}"', html
    )
    assert match, f"no {name} on the page"
    return match.group(1)


QUEUE = "/screening/microneedling/acne-scars"


def current_pmid(html: str) -> str | None:
    """Return the PMID of the record the queue shows, or None when it shows none."""
    match = re.search(
        r'class="screen-record".*?PMID <a href="[^"]*"[^>]*>(\d+)</a>', html, re.DOTALL
    )
    return match.group(1) if match else None


def screen(
    client: FlaskClient, decision: str, *, reason: str = "", text: str = ""
) -> tuple[str | None, Any]:
    """Decide the record the queue shows through the page's own forms; return its PMID."""
    page = client.get(QUEUE).data.decode()
    pmid = current_pmid(page)
    token = hidden(page, "d-csrf_token") if "d-csrf_token" in page else hidden(page, "csrf_token")
    if decision == "exclude":
        data = {
            "x-csrf_token": token,
            "x-link_id": hidden(page, "x-link_id"),
            "x-reason_code": reason,
            "x-reason_text": text,
            "x-exclude": "Exclude",
        }
    else:
        data = {"d-csrf_token": token, "d-link_id": hidden(page, "d-link_id")}
        data["d-maybe" if decision == "maybe" else "d-include"] = decision.title()
    return pmid, client.post(QUEUE + "/decide", data=data)
