"""Streaming parser from PubMed XML (efetch answers, baseline/update files) to plain records.

Memory stays flat in the size of the input: lxml's iterparse hands us one record element
at a time and each element (and its already-seen siblings) is cleared once read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from lxml import etree

from .errors import EntrezError, HistoryExpiredError, PubMedParseError, TransientEntrezError
from .records import (
    AbstractSection,
    Author,
    CommentCorrection,
    DeletedCitation,
    MeshHeading,
    MeshQualifier,
    PubDate,
    PubmedRecord,
    SearchResult,
)
from .safexml import SAFE_PARSER_OPTIONS, XMLSource, open_xml, parse_small

RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
ParsedItem = PubmedRecord | DeletedCitation

_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_YEAR = re.compile(r"(1[5-9]|20|21)\d\d")


def _text(element: etree._Element | None) -> str:
    """Return all text under an element (inline markup kept as its text), whitespace folded."""
    if element is None:
        return ""
    # Most elements are leaves: skip itertext and the regex unless they are needed.
    text = element.text or "" if len(element) == 0 else "".join(element.itertext())
    if "\n" in text or "  " in text or "\t" in text:
        # split() breaks on the same Unicode whitespace as \s+ and drops both ends, like
        # sub-then-strip, several times faster on an abstract.
        return " ".join(text.split())
    return text.strip()


def _leaf(element: etree._Element | None, path: str) -> str | None:
    """Return the stripped text of a leaf element at a path, or None when absent or empty."""
    if element is None:
        return None
    text = element.findtext(path)
    return text.strip() or None if text else None


def _child_text(element: etree._Element | None, path: str) -> str | None:
    """Return the folded text at a path (markup allowed inside), or None when absent or empty."""
    if element is None:
        return None
    found = element.find(path)
    if found is None:
        return None
    return _text(found) or None


def _yes(value: str | None) -> bool:
    """Read PubMed's Y/N flags."""
    return value == "Y"


def _int_or_none(value: str | None) -> int | None:
    """Turn digit strings into ints and everything else into None."""
    if value is not None and value.strip().isdigit():
        return int(value)
    return None


def _month(value: str | None) -> int | None:
    """Read a month given as a number or as a three-letter English name."""
    if not value:
        return None
    number = _int_or_none(value)
    if number is not None:
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(value.strip()[:3].lower())


def parse_pub_date(element: etree._Element | None) -> PubDate:
    """Read a PubDate: Year/Month/Day, Year/Season or a free-text MedlineDate."""
    if element is None:
        return PubDate()
    medline = _leaf(element, "MedlineDate")
    if medline:
        match = _YEAR.search(medline)
        return PubDate(year=int(match.group(0)) if match else None, medline_date=medline)
    month = _month(element.findtext("Month"))
    return PubDate(
        year=_int_or_none(element.findtext("Year")),
        month=month,
        day=_int_or_none(element.findtext("Day")) if month else None,
        season=_leaf(element, "Season"),
    )


def _author(node: etree._Element) -> Author:
    """Read one Author element in a single pass over its children (this is the hot loop)."""
    last = fore = initials = suffix = collective = orcid = None
    affiliations: list[str] = []
    for child in node:
        tag = child.tag
        if tag == "LastName":
            last = _text(child) or None
        elif tag == "ForeName":
            fore = _text(child) or None
        elif tag == "Initials":
            initials = _text(child) or None
        elif tag == "AffiliationInfo":
            text = _text(child.find("Affiliation"))
            if text:
                affiliations.append(text)
        elif tag == "CollectiveName":
            collective = _text(child) or None
        elif tag == "Suffix":
            suffix = _text(child) or None
        elif tag == "Identifier" and child.get("Source") == "ORCID":
            orcid = _text(child) or None
    return Author(last, fore, initials, suffix, collective, affiliations, orcid)


def _authors(author_list: etree._Element | None) -> list[Author]:
    """Read an AuthorList, keeping collective names and every affiliation."""
    if author_list is None:
        return []
    # ValidYN="N" marks an erroneous name PubMed keeps for the record; skip it.
    return [_author(node) for node in author_list.iterfind("Author") if node.get("ValidYN") != "N"]


def _abstract(abstract: etree._Element | None) -> list[AbstractSection]:
    """Read the AbstractText sections with their Label and NlmCategory."""
    if abstract is None:
        return []
    return [
        AbstractSection(
            text=_text(node), label=node.get("Label") or None, nlm_category=node.get("NlmCategory")
        )
        for node in abstract.iterchildren("AbstractText")
    ]


def _mesh(mesh_list: etree._Element | None) -> list[MeshHeading]:
    """Read a MeshHeadingList: descriptors with major-topic flags and qualifiers."""
    if mesh_list is None:
        return []
    headings = []
    for node in mesh_list:
        heading: MeshHeading | None = None
        qualifiers: list[MeshQualifier] = []
        # One pass over the children: path lookups per heading are the parser's hot spot.
        for child in node:
            if child.tag == "DescriptorName":
                heading = MeshHeading(
                    descriptor=_text(child),
                    ui=child.get("UI"),
                    major_topic=child.get("MajorTopicYN") == "Y",
                )
            elif child.tag == "QualifierName":
                qualifiers.append(
                    MeshQualifier(
                        name=_text(child),
                        ui=child.get("UI"),
                        major_topic=child.get("MajorTopicYN") == "Y",
                    )
                )
        if heading is not None:
            heading.qualifiers = qualifiers
            headings.append(heading)
    return headings


def _comments(comments_list: etree._Element) -> list[CommentCorrection]:
    """Read a CommentsCorrectionsList (retractions, errata, expressions of concern, comments)."""
    links = []
    for node in comments_list:
        ref_type = node.get("RefType", "")
        # "Cites" lists the paper's own references: dozens per record, no use to us.
        if ref_type == "Cites" or node.tag != "CommentsCorrections":
            continue
        link = CommentCorrection(ref_type=ref_type)
        for child in node:
            if child.tag == "PMID":
                link.pmid = _int_or_none(child.text)
            elif child.tag == "RefSource":
                link.ref_source = _text(child) or None
            elif child.tag == "Note":
                link.note = _text(child) or None
        links.append(link)
    return links


def _article_ids(id_list: etree._Element | None) -> dict[str, str]:
    """Map IdType to value for the record's own ArticleIdList (not its references')."""
    ids: dict[str, str] = {}
    if id_list is not None:
        for node in id_list.iterfind("ArticleId"):
            kind = node.get("IdType", "")
            value = _text(node)
            if kind and value and kind not in ids:
                ids[kind] = value
    return ids


def _doi(elocations: list[etree._Element], ids: dict[str, str]) -> str | None:
    """Prefer a valid ELocationID DOI, then the ArticleIdList one."""
    for node in elocations:
        if node.get("EIdType") == "doi" and node.get("ValidYN", "Y") == "Y" and _text(node):
            return _text(node)
    return ids.get("doi")


def _keywords(container: etree._Element) -> list[str]:
    """Read every KeywordList's keywords, in order, without duplicates."""
    seen: dict[str, None] = {}
    for node in container.iterfind("KeywordList/Keyword"):
        word = _text(node)
        if word:
            seen.setdefault(word, None)
    return list(seen)


def _pages(article: etree._Element) -> str | None:
    """Return MedlinePgn, or StartPage-EndPage, or an ELocationID-less None."""
    pgn = _leaf(article, "Pagination/MedlinePgn")
    if pgn:
        return pgn
    start = _leaf(article, "Pagination/StartPage")
    end = _leaf(article, "Pagination/EndPage")
    if start and end:
        return f"{start}-{end}"
    return start


def parse_article(element: etree._Element) -> PubmedRecord:
    """Turn one PubmedArticle element into a record (one pass over each level's children)."""
    citation = pubmed_data = None
    for child in element:
        if child.tag == "MedlineCitation":
            citation = child
        elif child.tag == "PubmedData":
            pubmed_data = child
    if citation is None:
        raise PubMedParseError("PubmedArticle without MedlineCitation")
    record = PubmedRecord(pmid=0, status=citation.get("Status"))
    article = None
    keywords: dict[str, None] = {}
    for child in citation:
        tag = child.tag
        if tag == "PMID":
            record.pmid = _int_or_none(child.text) or 0
        elif tag == "Article":
            article = child
        elif tag == "MeshHeadingList":
            record.mesh_headings = _mesh(child)
        elif tag == "KeywordList":
            for node in child:
                word = _text(node)
                if word:
                    keywords.setdefault(word, None)
        elif tag == "CommentsCorrectionsList":
            record.comments_corrections = _comments(child)
        elif tag == "DateRevised":
            record.date_revised = _iso_date(child)
    if not record.pmid:
        raise PubMedParseError("PubmedArticle without a numeric PMID")
    if article is None:
        raise PubMedParseError(f"PMID {record.pmid}: no Article element")
    record.keywords = list(keywords)
    _read_article(article, record)
    ids: dict[str, str] = {}
    if pubmed_data is not None:
        ids = _article_ids(next(pubmed_data.iterchildren("ArticleIdList"), None))
    record.doi = record.doi or ids.get("doi")
    record.pmcid = ids.get("pmc")
    return record


def _read_article(article: etree._Element, record: PubmedRecord) -> None:
    """Fill a record from an Article element's children in one pass."""
    title = vernacular = None
    for child in article:
        tag = child.tag
        if tag == "Journal":
            _read_journal(child, record)
        elif tag == "ArticleTitle":
            title = _text(child)
        elif tag == "AuthorList":
            record.authors = _authors(child)
        elif tag == "Abstract":
            record.abstract_sections = _abstract(child)
        elif tag == "Pagination":
            record.pages = _pages(article)
        elif tag == "ELocationID":
            if (
                record.doi is None
                and child.get("EIdType") == "doi"
                and child.get("ValidYN", "Y") == "Y"
            ):
                record.doi = _text(child) or None
        elif tag == "Language":
            language = _text(child)
            if language:
                record.languages.append(language)
        elif tag == "PublicationTypeList":
            record.publication_types = [_text(node) for node in child]
        elif tag == "VernacularTitle":
            vernacular = _text(child)
    record.title = title or vernacular or ""


def _read_journal(journal: etree._Element, record: PubmedRecord) -> None:
    """Fill journal title, ISO abbreviation, volume, issue and date from a Journal element."""
    for child in journal:
        tag = child.tag
        if tag == "Title":
            record.journal_title = _text(child) or None
        elif tag == "ISOAbbreviation":
            record.journal_iso = _text(child) or None
        elif tag == "JournalIssue":
            for part in child:
                if part.tag == "Volume":
                    record.volume = _text(part) or None
                elif part.tag == "Issue":
                    record.issue = _text(part) or None
                elif part.tag == "PubDate":
                    record.pub_date = parse_pub_date(part)


def _iso_date(element: etree._Element | None) -> str | None:
    """Format a Year/Month/Day element as YYYY-MM-DD."""
    if element is None:
        return None
    year, month, day = element.findtext("Year"), element.findtext("Month"), element.findtext("Day")
    if not (year and month and day):
        return None
    return f"{year}-{int(month):02d}-{int(day):02d}"


def parse_book_article(element: etree._Element) -> PubmedRecord:
    """Turn one PubmedBookArticle (an NCBI Bookshelf chapter or book) into a record."""
    document = element.find("BookDocument")
    if document is None:
        raise PubMedParseError("PubmedBookArticle without BookDocument")
    pmid = _int_or_none(document.findtext("PMID"))
    if pmid is None:
        raise PubMedParseError("PubmedBookArticle without a numeric PMID")
    book = document.find("Book")
    ids = _article_ids(document.find("ArticleIdList"))
    ids.update(
        {
            k: v
            for k, v in _article_ids(element.find("PubmedBookData/ArticleIdList")).items()
            if k not in ids
        }
    )
    book_title = _child_text(book, "BookTitle")
    authors = _authors(document.find("AuthorList")) or _authors(
        book.find("AuthorList") if book is not None else None
    )
    return PubmedRecord(
        pmid=pmid,
        title=_child_text(document, "ArticleTitle") or book_title or "",
        kind="book",
        abstract_sections=_abstract(document.find("Abstract")),
        journal_title=book_title,
        volume=_child_text(book, "Volume"),
        pages=_pages(document),
        pub_date=parse_pub_date(book.find("PubDate") if book is not None else None),
        doi=_doi(document.findall("ELocationID"), ids),
        pmcid=ids.get("pmc"),
        languages=[_text(n) for n in document.iterfind("Language") if _text(n)],
        authors=authors,
        publication_types=[_text(n) for n in document.iterfind("PublicationType")],
        keywords=_keywords(document),
        comments_corrections=[],
    )


def parse_delete(element: etree._Element) -> DeletedCitation:
    """Read the PMIDs of a DeleteCitation block."""
    return DeletedCitation(
        pmids=[p for p in (_int_or_none(n.text) for n in element.iterfind("PMID")) if p]
    )


_HANDLERS: dict[str, Callable[[etree._Element], ParsedItem]] = {
    "PubmedArticle": parse_article,
    "PubmedBookArticle": parse_book_article,
    "DeleteCitation": parse_delete,
}


def iter_pubmed_xml(source: XMLSource, max_inflated: int | None = None) -> Iterator[ParsedItem]:
    """Yield records from PubMed XML (path, bytes or binary stream; plain or gzip) in order."""
    with open_xml(source, max_inflated) as stream:
        events = etree.iterparse(
            stream,
            events=("end",),
            tag=RECORD_TAGS,
            **SAFE_PARSER_OPTIONS,
        )
        try:
            for _, element in events:
                item: ParsedItem = _HANDLERS[str(element.tag)](element)
                # Free what we have read: the element itself and any earlier siblings.
                element.clear(keep_tail=False)
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
                yield item
            root = events.root
        except etree.XMLSyntaxError as exc:
            raise PubMedParseError(f"malformed XML: {exc}") from exc
    if root is not None and str(root.tag) not in ("PubmedArticleSet", "PubmedBookArticleSet"):
        _raise_for_error_document(root)


def _raise_for_error_document(root: etree._Element) -> None:
    """Raise the right error for an E-utilities error document, or for a foreign root."""
    message = _child_text(root, "ERROR") or _text(root)[:200]
    if root.tag in ("eFetchResult", "eSearchResult", "ERROR"):
        if "query" in message.lower() and (
            "obtain" in message.lower() or "webenv" in message.lower()
        ):
            raise HistoryExpiredError(message)
        raise EntrezError(message or f"E-utilities error document <{root.tag!s}>")
    raise PubMedParseError(f"not PubMed XML: root element <{root.tag!s}>")


def parse_efetch(body: bytes) -> list[ParsedItem]:
    """Parse a whole efetch answer; any malformation raises before a single record is returned."""
    stripped = body.lstrip()
    if stripped.startswith(b"{"):
        # NCBI answers some failures (rate limit) with a JSON object even for retmode=xml.
        raise TransientEntrezError(stripped[:200].decode("utf-8", "replace"))
    if not stripped:
        raise PubMedParseError("empty efetch answer")
    return list(iter_pubmed_xml(body))


def parse_esearch(body: bytes) -> SearchResult:
    """Parse an esearch answer into a SearchResult, raising EntrezError on an ERROR element."""
    try:
        root = parse_small(body)
    except etree.XMLSyntaxError as exc:
        raise PubMedParseError(f"malformed esearch answer: {exc}") from exc
    if root.tag != "eSearchResult":
        _raise_for_error_document(root)
    error = _child_text(root, "ERROR")
    if error:
        raise EntrezError(error)
    count = _int_or_none(root.findtext("Count"))
    if count is None:
        raise PubMedParseError("esearch answer without Count")
    return SearchResult(
        count=count,
        ids=[int(n.text) for n in root.iterfind("IdList/Id") if n.text and n.text.isdigit()],
        webenv=_child_text(root, "WebEnv"),
        query_key=_child_text(root, "QueryKey"),
        retstart=_int_or_none(root.findtext("RetStart")) or 0,
        query_translation=_child_text(root, "QueryTranslation"),
        errors=[f"{n.tag!s}: {_text(n)}" for n in root.iterfind("ErrorList/*")],
        warnings=[f"{n.tag!s}: {_text(n)}" for n in root.iterfind("WarningList/*")],
    )
