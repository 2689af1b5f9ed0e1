"""MEDLINE (.nbib / 'PubMed format') exports read through Bio.Medline."""

from __future__ import annotations

import pytest

from pubmed import PubMedParseError, iter_medline

from .conftest import MEDLINE


def test_single_record_export() -> None:
    """pubmed_result1.txt: PMID 12230038 with journal, date, author, MeSH."""
    (record,) = list(iter_medline(MEDLINE / "pubmed_result1.txt"))
    assert record.pmid == 12230038
    assert record.title == "The Bio* toolkits--a brief overview."
    assert record.pub_date.text == "2002 Sep" and record.year == 2002
    assert (record.journal_iso, record.volume, record.issue, record.pages) == (
        "Brief Bioinform",
        "3",
        "3",
        "296-302",
    )
    assert record.journal_title == "Briefings in bioinformatics"
    assert [a.display_name for a in record.authors] == ["Mangalam H"]
    assert record.authors[0].fore_name == "Harry"
    assert record.authors[0].affiliations == [
        "tacg Informatics, Irvine, CA 92612, USA. hjm@tacgi.com"
    ]
    majors = [m.descriptor for m in record.mesh_headings if m.major_topic]
    assert majors == ["Computational Biology", "Programming Languages", "Software"]
    assert record.abstract.startswith("Bioinformatics research is often difficult")
    assert record.language == "eng" and record.publication_types == ["Journal Article"]


def test_multi_record_export_doi_pmc_and_qualifiers() -> None:
    """pubmed_result2.txt: four records; DOI from AID, PMCID, qualifier major flags."""
    records = {r.pmid: r for r in iter_medline(MEDLINE / "pubmed_result2.txt")}
    assert list(records) == [16403221, 16377612, 14871861, 14630660]
    scop = records[16403221]
    assert scop.doi == "10.1186/1471-2105-7-10" and scop.pmcid == "PMC1373603"
    assert scop.publication_types == ["Evaluation Studies", "Journal Article"]
    assert len(scop.authors) == 3 and scop.authors[2].fore_name == "Mansoor A S"
    methods = next(m for m in scop.mesh_headings if m.descriptor == "Sequence Alignment")
    assert not methods.major_topic and methods.qualifiers[0].name == "methods"
    assert methods.qualifiers[0].major_topic and methods.is_major
    assert records[16377612].pub_date.text == "2006 Mar 1"


def test_comment_and_retraction_tags() -> None:
    """RIN/EIN/ECI lines become CommentsCorrections; errata alone are not retractions."""
    text = (
        b"PMID- 90000001\nTI  - A retracted split-face trial.\nDP  - 1998 Dec-1999 Jan\n"
        b"CN  - Acne Scar Study Group\n"
        b"RIN - Dermatol Surg. 2001 Jan;27(1):1. PMID: 90000009\n"
        b"EIN - Dermatol Surg. 1999 Mar;25(3):250.\n\n"
        b"PMID- 90000003\nTI  - Erbium laser for acne scars.\n"
        b"EIN - Lasers Surg Med. 2019;51(9):800. PMID: 90000011\n"
    )
    first, second = iter_medline(text)
    assert first.is_retracted and first.links_of("RetractionIn")[0].pmid == 90000009
    assert first.pub_date.medline_date == "1998 Dec-1999 Jan" and first.year == 1998
    assert first.authors[0].collective_name == "Acne Scar Study Group"
    assert not second.is_retracted and second.links_of("ErratumIn")[0].pmid == 90000011


def test_not_a_medline_file() -> None:
    """XML or free text handed to the MEDLINE reader is refused clearly."""
    with pytest.raises(PubMedParseError, match="not a MEDLINE file"):
        list(iter_medline(b"<?xml version='1.0'?><PubmedArticleSet/>"))
