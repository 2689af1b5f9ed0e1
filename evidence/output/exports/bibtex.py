"""BibTeX, written by bibtexparser: one @article per citation, keyed 'pmid<PMID>'."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from evidence.iterutil import batched

from .records import CHUNK_ROWS, Author, CitationRecord, notes, one_line, page_range, tags

if TYPE_CHECKING:  # bibtexparser loads with the first BibTeX export, not with the CLI
    from bibtexparser.model import Entry

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_TABLE = str.maketrans(_LATEX_SPECIALS)


def latex_escape(value: str) -> str:
    """Escape LaTeX's special characters (escaped braces: a lone brace cannot unbalance a value).

    Unicode is kept as is: biber and modern BibTeX read UTF-8.
    """
    return one_line(value).translate(_LATEX_TABLE)


def bibtex_name(author: Author) -> str:
    """Return an author as BibTeX wants it; braces keep a collective name from being split."""
    if author.collective_name:
        return "{" + latex_escape(author.collective_name) + "}"
    given = author.fore_name or author.initials
    if author.suffix and given:
        # BibTeX's three-part form: "von Last, Jr, First".
        return latex_escape(f"{author.last_name}, {author.suffix}, {given}")
    return latex_escape(author.inverted)


def bibtex_entry(record: CitationRecord) -> Entry:
    """Return one citation as a bibtexparser entry keyed 'pmid<PMID>'."""
    from bibtexparser.model import Entry
    from bibtexparser.model import Field as BibField

    fields: list[tuple[str, str | None]] = [
        ("title", record.title),
        ("author", None),
        ("journal", record.journal or record.journal_abbrev),
        ("year", str(record.year) if record.year is not None else None),
        ("volume", record.volume),
        ("number", record.issue),
        ("pages", page_range(record.pages, "--")),
        ("doi", record.doi),
        ("pmid", record.pmid),
        ("pmcid", record.pmcid),
        ("language", record.language),
        ("abstract", record.abstract),
        ("keywords", ", ".join(t.replace(",", " ") for t in tags(record))),
        ("note", ". ".join(notes(record))),
        ("url", record.pubmed_url),
    ]
    out = []
    for key, value in fields:
        if key == "author":
            if record.authors:
                out.append(BibField("author", " and ".join(bibtex_name(a) for a in record.authors)))
            continue
        if not value:
            continue
        # DOIs and URLs are read verbatim by biblatex: escaping them would corrupt them.
        text = one_line(value) if key in ("doi", "url") else latex_escape(value)
        out.append(BibField(key, text))
    return Entry("article", f"pmid{record.pmid}", out)


def write_bibtex(records: Iterable[CitationRecord]) -> Iterator[str]:
    """Yield BibTeX text, one @article per citation."""
    from bibtexparser.entrypoint import write_string as bibtex_write_string
    from bibtexparser.library import Library

    for batch in batched(records, CHUNK_ROWS):
        library = Library()
        library.add([bibtex_entry(r) for r in batch])
        yield bibtex_write_string(library).rstrip("\n") + "\n\n"
