"""The streaming PubMed XML parser, checked field by field against recorded efetch answers."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from pubmed import (
    DeletedCitation,
    EntrezError,
    PubMedParseError,
    PubmedRecord,
    iter_pubmed_xml,
    parse_efetch,
    parse_esearch,
)
from tests.fake_eutils import iter_synthetic_articles, write_pubmed_xml

from .conftest import ENTREZ


def records(name: str) -> dict[int, PubmedRecord]:
    """Parse a test file and index its articles by PMID."""
    return {r.pmid: r for r in iter_pubmed_xml(ENTREZ / name) if isinstance(r, PubmedRecord)}


def test_pubmed1_seasonal_date_review_mesh_and_keywords() -> None:
    """efetch id=12091962,9997: two articles, a seasonal date, major MeSH and qualifiers."""
    parsed = records("pubmed1.xml")
    assert list(parsed) == [12091962, 9997]
    aids = parsed[12091962]
    assert aids.title == "The treatment of AIDS behind the walls of correctional facilities."
    assert aids.pub_date.year == 1990 and aids.pub_date.season == "Spring"
    assert aids.pub_date.text == "1990 Spring"
    assert (aids.journal_iso, aids.volume, aids.issue, aids.pages) == (
        "Soc Justice",
        "17",
        "1",
        "113-25",
    )
    assert aids.publication_types == ["Journal Article", "Review"]
    assert aids.keywords == ["Health Care and Public Health", "Legal Approach"]
    majors = [m.descriptor for m in aids.mesh_headings if m.major_topic]
    assert "Acquired Immunodeficiency Syndrome" in majors and "Humans" not in majors
    assert aids.authors[0].last_name == "Olivero" and aids.authors[0].initials == "JM"
    assert aids.abstract_sections == [] and aids.doi is None

    flavo = parsed[9997]
    assert flavo.pub_date.text == "1976 Sep 28"
    assert flavo.doi == "10.1016/0005-2795(76)90109-4"  # only in ArticleIdList
    chromatium = next(m for m in flavo.mesh_headings if m.descriptor == "Chromatium")
    assert not chromatium.major_topic and chromatium.is_major
    assert [(q.name, q.ui, q.major_topic) for q in chromatium.qualifiers] == [
        ("enzymology", "Q000201", True)
    ]
    assert flavo.abstract.startswith("Electron paramagnetic resonance")


def test_pubmed2_affiliations_entities_and_status() -> None:
    """efetch id=11748933,11700088: affiliations with character references, statuses."""
    parsed = records("pubmed2.xml")
    cryo = parsed[11748933]
    assert len(cryo.authors) == 8
    assert cryo.authors[0].affiliations == [
        "Dipartimento di Scienze Ambientali, Università degli Studi della Tuscia, "
        "01100 Viterbo, Italy."
    ]
    assert "(P < 0.001)" in cryo.abstract
    assert parsed[11700088].status == "PubMed-not-MEDLINE"
    assert (
        parsed[11700088].title
        == "Proton MRI of (13)C distribution by J and chemical shift editing."
    )


def test_pubmed4_structured_abstract_pmcid_comment_and_markup() -> None:
    """efetch id=27797938: labelled sections, PMCID, CommentIn, inline <i>/<sub>/<sup>."""
    gut = records("pubmed4.xml")[27797938]
    assert [s.label for s in gut.abstract_sections] == [
        "OBJECTIVE",
        "DESIGN",
        "RESULTS",
        "CONCLUSIONS",
    ]
    assert gut.pmcid == "PMC5442267"
    assert gut.doi == "10.1136/gutjnl-2016-312510"
    assert gut.journal_iso == "Gut" and gut.pages == "1116-1122"
    assert "Observational Study" in gut.publication_types
    assert [(c.ref_type, c.pmid) for c in gut.comments_corrections] == [("CommentIn", 27920200)]
    # <i>TERT</i> inside the abstract: the markup is dropped, its text is kept in place.
    assert "TERT" in gut.abstract and "<i>" not in gut.abstract
    assert gut.keywords == ["PANCREATIC CANCER"]
    assert len(gut.authors) == 22
    assert not gut.is_retracted and gut.retraction_status == "none"


def test_pubmed5_nlm_categories_and_underline() -> None:
    """efetch id=28775130: Label with NlmCategory, <u> markup, In-Data-Review status."""
    occ = records("pubmed5.xml")[28775130]
    assert [(s.label, s.nlm_category) for s in occ.abstract_sections] == [
        ("OBJECTIVES", "OBJECTIVE"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]
    assert occ.status == "In-Data-Review"
    assert occ.abstract.startswith("OBJECTIVES: ")
    assert "<" in occ.abstract_sections[2].text  # from <u>&lt;</u>


def test_pubmed6_and_7_missing_issue_mathml_and_references_ignored() -> None:
    """efetch id=30108519 and 29963580: no Issue; MathML text; references' ids not taken."""
    physio = records("pubmed6.xml")[30108519]
    assert physio.issue is None and physio.volume == "9" and physio.pages == "1034"
    assert physio.pmcid == "PMC6079548"
    imaging = records("pubmed7.xml")[29963580]
    assert imaging.pmcid == "PMC6022861" and imaging.doi == "10.1117/1.JMI.5.2.026002"
    assert imaging.pub_date.text == "2018 Apr"
    assert imaging.abstract and "<math" not in imaging.abstract


def test_constructed_variants_cover_rare_shapes() -> None:
    """The hand-written file: MedlineDate, collective author, links, book, delete."""
    items = list(iter_pubmed_xml(ENTREZ / "constructed_variants.xml"))
    split, striae, erbium, book, deleted = items
    assert isinstance(split, PubmedRecord)
    assert split.title == "Split-face trial of fractional CO2 laser versus microneedling."
    assert split.pub_date.medline_date == "1998 Dec-1999 Jan" and split.year == 1998
    assert split.doi == "10.9999/constructed.1"  # ELocationID wins over ArticleIdList
    assert split.pages == "1317-1325"
    assert [a.display_name for a in split.authors] == ["Doe JQ", "Acne Scar Study Group"]
    assert split.authors[0].orcid == "0000-0002-1825-0097"
    assert len(split.authors[0].affiliations) == 2
    assert split.languages == ["eng", "fre"] and split.language == "eng"
    assert [s.text for s in split.abstract_sections] == [
        "Atrophic scars respond to both modalities.",
        "Improvement of 2.5 cm2 on average; no PIH.",
    ]
    assert [c.ref_type for c in split.comments_corrections] == ["RetractionIn", "ErratumIn"]
    assert split.comments_corrections[1].note == "Dosage error in abstract"
    assert split.is_retracted and split.retraction_status == "retracted"
    assert split.keywords == ["microneedling", "acne scars"]
    assert isinstance(striae, PubmedRecord)
    assert striae.has_expression_of_concern and not striae.is_retracted
    assert striae.retraction_status == "concern" and striae.pub_date.text == "2020 Mar"
    assert isinstance(erbium, PubmedRecord)
    assert erbium.links_of("ErratumIn") and erbium.retraction_status == "none"
    assert isinstance(book, PubmedRecord)
    assert (book.kind, book.title, book.journal_title) == ("book", "Microneedling", "StatPearls")
    assert book.publication_types == ["Review"] and book.year == 2024
    assert isinstance(deleted, DeletedCitation) and deleted.pmids == [90000005, 90000006]


def test_gzip_input_is_detected(tmp_path: Path) -> None:
    """A .gz file (or any gzip stream) parses the same as the plain file."""
    target = tmp_path / "pubmed4.xml.gz"
    target.write_bytes(gzip.compress((ENTREZ / "pubmed4.xml").read_bytes()))
    assert [r.pmid for r in iter_pubmed_xml(target) if isinstance(r, PubmedRecord)] == [27797938]
    with target.open("rb") as stream:
        assert len(list(iter_pubmed_xml(stream))) == 1


def test_malformed_and_foreign_documents_raise() -> None:
    """Cut XML, other roots and E-utilities error documents raise clear errors."""
    body = (ENTREZ / "pubmed1.xml").read_bytes()
    with pytest.raises(PubMedParseError, match="malformed"):
        list(iter_pubmed_xml(body[: len(body) // 2]))
    with pytest.raises(PubMedParseError, match="not PubMed XML"):
        list(iter_pubmed_xml(b"<html><body>Service unavailable</body></html>"))
    with pytest.raises(EntrezError, match="retstart"):
        parse_efetch(b"<eFetchResult><ERROR>retstart cannot exceed 9998</ERROR></eFetchResult>")


def test_esearch_answers() -> None:
    """Recorded esearch answers: counts, ids, history keys, warnings."""
    first = parse_esearch((ENTREZ / "esearch1.xml").read_bytes())
    assert first.count == 63 and len(first.ids) == 20 and first.ids[0] == 41282813
    assert first.webenv is None
    cancer = parse_esearch((ENTREZ / "esearch2.xml").read_bytes())
    assert cancer.count == 42249 and cancer.query_key == "1"
    assert cancer.webenv == "MCID_6927d6e7fee3e90f880ec190" and len(cancer.ids) == 100
    empty = parse_esearch((ENTREZ / "esearch8.xml").read_bytes())
    assert empty.count == 0 and empty.ids == []
    assert empty.errors == ["PhraseNotFound: abcXYZ"]


def _peak_while_parsing(path: Path) -> int:
    """Return the tracemalloc peak while streaming a file."""
    tracemalloc.start()
    try:
        for _ in iter_pubmed_xml(path):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_in_file_size(tmp_path: Path) -> None:
    """Parsing 10x more records does not need anywhere near 10x the memory."""
    small, large = tmp_path / "small.xml", tmp_path / "large.xml"
    write_pubmed_xml(small, (x for _, _, x in iter_synthetic_articles(100)))
    write_pubmed_xml(large, (x for _, _, x in iter_synthetic_articles(1000)))
    peak_small, peak_large = _peak_while_parsing(small), _peak_while_parsing(large)
    assert peak_large < 2 * peak_small + 1_000_000, (peak_small, peak_large)
