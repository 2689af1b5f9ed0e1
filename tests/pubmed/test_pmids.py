"""Plain PMID lists: separators, comments, duplicates and refused tokens."""

from __future__ import annotations

from pubmed import parse_pmid_text
from pubmed.pmids import looks_like_pmid_list


def test_mixed_separators_comments_and_invalid_tokens() -> None:
    """Lines, commas and spaces all separate; bad tokens are reported with their line."""
    text = "# exported by hand\n12091962\n9997, 11748933 PMID:11700088\nabc 12x\n0 9997\n"
    result = parse_pmid_text(text)
    assert result.pmids == [12091962, 9997, 11748933, 11700088]
    assert [(i.line, i.token, i.reason) for i in result.invalid] == [
        (4, "abc", "not a number"),
        (4, "12x", "not a number"),
        (5, "0", "out of PMID range"),
    ]
    assert result.duplicates == 1


def test_detection() -> None:
    """A PMID list is told apart from XML and MEDLINE text."""
    assert looks_like_pmid_list("123\n456,789\n")
    assert looks_like_pmid_list("123\nnot-a-pmid\n")  # still a list: the bad token is reported
    assert not looks_like_pmid_list("PMID- 123\nTI  - x\n")
    assert not looks_like_pmid_list("<?xml version='1.0'?>")
