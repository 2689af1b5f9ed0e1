"""CSL-JSON: the citation items reference managers and citeproc read; our grading in 'custom'."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from evidence.iterutil import batched

from .records import CHUNK_ROWS, CitationRecord, notes, page_range, tags


def csl_item(record: CitationRecord) -> dict[str, Any]:
    """Return one citation as a CSL-JSON item; our grading goes in the 'custom' object."""
    item: dict[str, Any] = {
        "id": f"pmid:{record.pmid}",
        "type": "article-journal",
        "title": record.title,
        "PMID": record.pmid,
    }
    authors = []
    for a in record.authors:
        if a.collective_name:
            authors.append({"literal": a.collective_name})
        else:
            name: dict[str, str] = {"family": a.last_name or ""}
            if a.fore_name or a.initials:
                name["given"] = a.fore_name or a.initials or ""
            if a.suffix:
                name["suffix"] = a.suffix
            authors.append(name)
    if authors:
        item["author"] = authors
    if record.year is not None:
        item["issued"] = {"date-parts": [[record.year]]}
    optional = {
        "container-title": record.journal,
        "container-title-short": record.journal_abbrev,
        "volume": record.volume,
        "issue": record.issue,
        "page": page_range(record.pages, "-"),
        "DOI": record.doi,
        "PMCID": record.pmcid,
        "language": record.language,
        "abstract": record.abstract,
    }
    item.update({k: v for k, v in optional.items() if v})
    item["URL"] = record.pubmed_url
    # CSL's 'keyword' is one comma-separated string.
    item["keyword"] = ", ".join(t.replace(",", " ") for t in tags(record))
    item["note"] = "\n".join(notes(record))
    item["custom"] = {
        "evidence_level": record.evidence_level,
        "evidence_rule": record.evidence_rule,
        "retraction_status": record.retraction_status,
        "publication_types": record.publication_types,
        "mesh_terms": record.mesh_terms,
        "treatments": [{"slug": t.slug, "name": t.name} for t in record.treatments],
        "indications": [{"slug": i.slug, "name": i.name} for i in record.indications],
    }
    return item


def write_csl_json(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield a CSL-JSON array, one item per citation, written as the items arrive."""
    yield "["
    first = True
    for batch in batched(records, CHUNK_ROWS):
        parts = []
        for r in batch:
            parts.append(("\n" if first else ",\n") + json.dumps(csl_item(r), ensure_ascii=False))
            first = False
        yield "".join(parts)
    yield "\n]\n"
