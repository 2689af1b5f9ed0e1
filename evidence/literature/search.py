"""Full-text search of citations: a small PubMed-style query language on two real indexes.

SQLite: an FTS5 table `citation_fts` (title, abstract, authors, journal, mesh), ranked by
bm25. PostgreSQL: `citation_search.document`, a weighted tsvector (title A, authors B, MeSH
C, abstract and journal D) with a GIN index, ranked by ts_rank, and `journal` (the journal
alone, for [ta]). Both are built by migration 0006 and kept in step by triggers that only
mark a citation in `search_dirty`: `refresh()` rebuilds the marked citations' rows in one
statement per batch (the ingest calls it per batch, the snapshot load once, a search before
it runs), so a citation with 30 authors is tokenized once, not 30 times.

The user's text never reaches MATCH or to_tsquery as typed: it is parsed here into terms
(words of letters and digits only, quoted phrases, word* prefixes, [ti] [au] [mh] [ta]
field tags, AND / OR / NOT, parentheses) and each index's query is built from those terms,
so any input gives either results or a SearchSyntaxError with a message for the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Float, Integer, bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

# Field tags a user may write after a term, mapped to the field they search.
FIELD_TAGS = {
    "ti": "title",
    "title": "title",
    "au": "authors",
    "author": "authors",
    "mh": "mesh",
    "mesh": "mesh",
    "ta": "journal",
    "journal": "journal",
}
TAG_HELP = "[ti] title, [au] author, [mh] MeSH heading, [ta] journal"
# PostgreSQL weights of document (see the module docstring); the journal has its own column.
PG_WEIGHTS = {"title": "A", "authors": "B", "mesh": "C"}
# bm25 column weights in citation_fts column order: a title hit counts most.
BM25_WEIGHTS = "10.0, 1.0, 5.0, 2.0, 5.0"
MAX_TERMS = 32  # a longer query is almost certainly pasted text, not a search

_TOKEN = re.compile(
    r'\s*(?:(?P<phrase>"[^"]*"?)|(?P<tag>\[[^\]]*\]?)|(?P<paren>[()])|(?P<word>[^\s"\[\]()]+))'
)
_ALNUM = re.compile(r"[^\W_]+")


class SearchSyntaxError(ValueError):
    """The search text cannot be read as a query; the message says why, for the user."""


@dataclass(frozen=True)
class Term:
    """Words that must appear in this order (one word, or a quoted phrase)."""

    words: tuple[str, ...]
    prefix: bool = False  # the last word is a prefix (word*)
    field: str | None = None  # one of FIELD_TAGS' values, None: any field


@dataclass(frozen=True)
class Op:
    """AND / OR of its parts, or NOT of its one part."""

    kind: str  # "and", "or", "not"
    parts: tuple[Node, ...]


Node = Term | Op


# --- parsing ----------------------------------------------------------------------------


def _tokens(query: str) -> list[tuple[str, str]]:
    """Split the text into (kind, text) tokens: phrase, tag, paren, op, word."""
    out: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind is None:
            continue
        value = match.group(kind)
        if kind == "phrase" and (len(value) < 2 or not value.endswith('"')):
            raise SearchSyntaxError('A quotation mark is not closed: write "two words".')
        if kind == "tag" and not value.endswith("]"):
            raise SearchSyntaxError(f"A field tag is not closed: {value}]")
        if kind == "word" and value in ("AND", "OR", "NOT"):
            kind = "op"
        out.append((kind, value))
    return out


def _term(kind: str, value: str) -> Term | None:
    """Return the term of a word or phrase token (None when it holds no letter or digit)."""
    raw = value[1:-1] if kind == "phrase" else value
    prefix = raw.rstrip().endswith("*")
    if prefix:
        raw = raw.rstrip().rstrip("*")
        if kind == "word" and "*" in raw:
            raise SearchSyntaxError(f"'{value}': * goes at the end of a word, as in laser*.")
    words = tuple(w.lower() for w in _ALNUM.findall(raw))
    if not words:
        return None
    if prefix and len(words[-1]) < 2:
        raise SearchSyntaxError(f"'{value}': a prefix needs at least two letters before the *.")
    return Term(words, prefix)


class _Parser:
    """Recursive descent over the tokens: or := and (OR and)*; and := not ([AND] not)*."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        """Start at the first token."""
        self.tokens = tokens
        self.pos = 0
        self.terms = 0

    def peek(self) -> tuple[str, str] | None:
        """Return the next token without taking it."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        """Take the next token."""
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_or(self) -> Node | None:
        """Parse alternatives joined by OR."""
        parts = [self.parse_and()]
        while self.peek() == ("op", "OR"):
            self.take()
            parts.append(self.parse_and())
        kept = tuple(p for p in parts if p is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Op("or", kept)

    def parse_and(self) -> Node | None:
        """Parse terms that must all match (AND, or nothing, between them)."""
        parts: list[Node | None] = []
        while True:
            token = self.peek()
            if token is None or token == ("paren", ")") or token == ("op", "OR"):
                break
            if token == ("op", "AND"):
                self.take()
                if self.peek() in (None, ("paren", ")"), ("op", "OR"), ("op", "AND")):
                    raise SearchSyntaxError("AND needs a term after it.")
                continue
            parts.append(self.parse_not())
        kept = tuple(p for p in parts if p is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Op("and", kept)

    def parse_not(self) -> Node | None:
        """Parse NOT term, or a primary."""
        if self.peek() == ("op", "NOT"):
            self.take()
            if self.peek() in (None, ("paren", ")"), ("op", "OR"), ("op", "AND")):
                raise SearchSyntaxError("NOT needs a term after it.")
            inner = self.parse_not()
            return None if inner is None else Op("not", (inner,))
        return self.parse_primary()

    def parse_primary(self) -> Node | None:
        """Parse a parenthesised query, or a word or phrase with an optional field tag."""
        kind, value = self.take()
        if kind == "paren":
            if value == ")":
                raise SearchSyntaxError("A closing parenthesis has no opening one.")
            inner = self.parse_or()
            if self.peek() != ("paren", ")"):
                raise SearchSyntaxError("A parenthesis is not closed.")
            self.take()
            return inner
        if kind == "tag":
            raise SearchSyntaxError(f"The field tag {value} must follow a word or a phrase.")
        term = _term(kind, value)
        next_token = self.peek()
        if next_token is not None and next_token[0] == "tag":
            self.take()
            tag = next_token[1][1:-1].strip().lower()
            if tag not in FIELD_TAGS:
                raise SearchSyntaxError(f"Unknown field tag {next_token[1]}: use {TAG_HELP}.")
            if term is not None:
                term = Term(term.words, term.prefix, FIELD_TAGS[tag])
        if term is not None:
            self.terms += 1
            if self.terms > MAX_TERMS:
                raise SearchSyntaxError(f"A search may have at most {MAX_TERMS} terms.")
        return term


def _check_negation(node: Node) -> None:
    """Refuse a query (or an OR alternative) made only of NOT terms: it cannot use the index."""
    if isinstance(node, Term):
        return
    if node.kind == "not" or (
        node.kind == "and" and all(isinstance(p, Op) and p.kind == "not" for p in node.parts)
    ):
        raise SearchSyntaxError("A search needs a term that is not preceded by NOT.")
    for part in node.parts:
        if node.kind == "and" and isinstance(part, Op) and part.kind == "not":
            _check_negation(part.parts[0])  # "a NOT b": b follows the same rules
        else:
            _check_negation(part)


def parse(query: str) -> Node:
    """Parse search text into a query tree, or raise SearchSyntaxError with a clear message."""
    tokens = _tokens(query)
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise SearchSyntaxError("A closing parenthesis has no opening one.")
    if node is None:
        raise SearchSyntaxError("The search has no word to look for (letters or digits).")
    _check_negation(node)
    return node


def syntax_error(query: str | None) -> str | None:
    """Return the message for search text that cannot be read, None when it can (or is empty)."""
    if not query:
        return None
    try:
        parse(query)
    except SearchSyntaxError as exc:
        return str(exc)
    return None


# --- SQLite FTS5 ------------------------------------------------------------------------


def to_fts5(node: Node) -> str:
    """Return the FTS5 MATCH expression of a tree: every word a quoted string, ops explicit."""
    if isinstance(node, Term):
        # Words hold only letters and digits, so they can never close the quotes.
        out = '"' + " ".join(node.words) + '"' + (" *" if node.prefix else "")
        return f"{node.field} : {out}" if node.field else out
    if node.kind == "or":
        return "(" + " OR ".join(to_fts5(p) for p in node.parts) + ")"
    if node.kind == "not":  # only reached inside an AND: see _fts5_and
        raise AssertionError("NOT outside AND")
    return _fts5_and(node.parts)


def _fts5_and(parts: Sequence[Node]) -> str:
    """Return FTS5's form of an AND: positives joined by AND, then NOT each negative."""
    positive = [to_fts5(p) for p in parts if not (isinstance(p, Op) and p.kind == "not")]
    negative = [to_fts5(p.parts[0]) for p in parts if isinstance(p, Op) and p.kind == "not"]
    out = "(" + " AND ".join(positive) + ")"
    for neg in negative:
        out = f"({out} NOT {neg})"
    return out


# --- PostgreSQL tsquery -----------------------------------------------------------------


def _has_journal(node: Node) -> bool:
    """True when a [ta] term sits anywhere in the tree."""
    if isinstance(node, Term):
        return node.field == "journal"
    return any(_has_journal(p) for p in node.parts)


def to_tsquery_text(node: Node, *, journal_weight: bool = False) -> str:
    """Return to_tsquery('english', ...) input for a tree (words are letters and digits only).

    A [ta] term becomes a D-weight term when journal_weight (ranking), else it must not occur.
    """
    if isinstance(node, Term):
        weight = PG_WEIGHTS.get(node.field or "", "")
        if node.field == "journal":
            if not journal_weight:
                raise AssertionError("[ta] terms go through the journal column")
            weight = "D"
        lexemes = [f"{w}:{weight}" if weight else w for w in node.words]
        if node.prefix:
            last = node.words[-1]
            lexemes[-1] = f"{last}:*{weight}"
        body = " <-> ".join(lexemes)
        return f"({body})" if len(lexemes) > 1 else body
    if node.kind == "not":
        return "!" + to_tsquery_text(node.parts[0], journal_weight=journal_weight)
    joiner = " | " if node.kind == "or" else " & "
    return (
        "("
        + joiner.join(to_tsquery_text(p, journal_weight=journal_weight) for p in node.parts)
        + ")"
    )


def _pg_condition(node: Node, params: list[str]) -> str:
    """Return a WHERE condition on citation_search `s`; each tsquery text goes into params."""
    if not _has_journal(node):
        params.append(to_tsquery_text(node))
        return f"s.document @@ to_tsquery('english', %({_pg_param(len(params))})s)"
    if isinstance(node, Term):  # a [ta] term
        plain = Term(node.words, node.prefix)
        params.append(to_tsquery_text(plain))
        return f"s.journal @@ to_tsquery('english', %({_pg_param(len(params))})s)"
    if node.kind == "not":
        return f"NOT ({_pg_condition(node.parts[0], params)})"
    joiner = " OR " if node.kind == "or" else " AND "
    return "(" + joiner.join(_pg_condition(p, params) for p in node.parts) + ")"


def _pg_param(index: int) -> str:
    """Return the name of the index-th tsquery parameter."""
    return f"fts_q{index}"


# --- SQL constructs ---------------------------------------------------------------------


class SearchMatch(ColumnElement[bool]):
    """`citation.id IN (ids the index finds for this query)`, compiled for each backend."""

    type = Boolean()
    inherit_cache = False  # the query tree is not a cacheable SQL structure
    # A predicate already: without this, SQLite gets "... IN (...) = 1", which no index serves.
    _is_implicitly_boolean = True

    def __init__(self, id_column: Any, node: Node) -> None:
        """Match id_column (citation.id) against the query tree."""
        self.id_column = id_column
        self.node = node


@compiles(SearchMatch, "sqlite")
def _compile_sqlite(element: SearchMatch, compiler: Any, **kw: Any) -> str:
    """citation.id IN (SELECT rowid FROM citation_fts WHERE citation_fts MATCH ?)."""
    column = compiler.process(element.id_column, **kw)
    match = compiler.process(bindparam("fts_match", to_fts5(element.node), unique=True), **kw)
    return f"{column} IN (SELECT rowid FROM citation_fts WHERE citation_fts MATCH {match})"


@compiles(SearchMatch, "postgresql")
def _compile_postgresql(element: SearchMatch, compiler: Any, **kw: Any) -> str:
    """citation.id IN (SELECT citation_id FROM citation_search s WHERE s.document @@ ...)."""
    column = compiler.process(element.id_column, **kw)
    params: list[str] = []
    condition = _pg_condition(element.node, params)
    for index, value in enumerate(params, start=1):
        bound = compiler.process(bindparam(None, value, unique=True), **kw)
        condition = condition.replace(f"%({_pg_param(index)})s", bound, 1)
    return f"{column} IN (SELECT s.citation_id FROM citation_search s WHERE {condition})"


def ranked_hits(dialect: str, node: Node) -> Any:
    """Return a subquery (id, rank) of the query's hits, rank ascending = most relevant first."""
    if dialect == "sqlite":
        sql = text(
            f"SELECT rowid AS id, bm25(citation_fts, {BM25_WEIGHTS}) AS rank "
            "FROM citation_fts WHERE citation_fts MATCH :fts_rank_q"
        ).bindparams(fts_rank_q=to_fts5(node))
    elif dialect == "postgresql":
        params: list[str] = []
        condition = _pg_condition(node, params)
        binds = {_pg_param(i): v for i, v in enumerate(params, start=1)}
        condition = re.sub(r"%\((fts_q\d+)\)s", r":\1", condition)
        sql = text(
            "SELECT s.citation_id AS id, "
            "-ts_rank(s.document, to_tsquery('english', :fts_rank_q)) AS rank "
            f"FROM citation_search s WHERE {condition}"
        ).bindparams(fts_rank_q=to_tsquery_text(node, journal_weight=True), **binds)
    else:
        raise SearchSyntaxError(f"full-text search supports SQLite and PostgreSQL, not {dialect}")
    return sql.columns(id=Integer, rank=Float).subquery("search_hits")


# --- keeping the index in step ----------------------------------------------------------

_SQLITE_AUTHORS = (
    "(SELECT group_concat(coalesce(a.collective_name, '') || ' ' || coalesce(a.last_name, '')"
    " || ' ' || coalesce(a.fore_name, '') || ' ' || coalesce(a.initials, ''), '; ')"
    " FROM citation_author a WHERE a.citation_id = c.id)"
)
_SQLITE_MESH = (
    "(SELECT group_concat(m.descriptor || ' ' || coalesce(m.qualifiers, ''), '; ')"
    " FROM citation_mesh m WHERE m.citation_id = c.id)"
)
SQLITE_ROWS = (
    "SELECT c.id, c.title, coalesce(c.abstract, ''), "
    f"coalesce({_SQLITE_AUTHORS}, ''), "
    "coalesce(c.journal, '') || ' ' || coalesce(c.journal_abbrev, ''), "
    f"coalesce({_SQLITE_MESH}, '') FROM citation c"
)
SQLITE_INSERT = (
    "INSERT INTO citation_fts (rowid, title, abstract, authors, journal, mesh) " + SQLITE_ROWS
)

_PG_AUTHORS = (
    "coalesce((SELECT string_agg(concat_ws(' ', a.collective_name, a.last_name, a.fore_name,"
    " a.initials), '; ') FROM citation_author a WHERE a.citation_id = c.id), '')"
)
_PG_MESH = (
    "coalesce((SELECT string_agg(m.descriptor || ' ' || m.qualifiers, '; ')"
    " FROM citation_mesh m WHERE m.citation_id = c.id), '')"
)
_PG_JOURNAL = "concat_ws(' ', c.journal, c.journal_abbrev)"
PG_ROWS = (
    "SELECT c.id, "
    "setweight(to_tsvector('english', c.title), 'A') || "
    f"setweight(to_tsvector('english', {_PG_AUTHORS}), 'B') || "
    f"setweight(to_tsvector('english', {_PG_MESH}), 'C') || "
    "setweight(to_tsvector('english', coalesce(c.abstract, '') || ' ' || "
    f"{_PG_JOURNAL}), 'D'), to_tsvector('english', {_PG_JOURNAL}) FROM citation c"
)
PG_UPSERT = (
    "INSERT INTO citation_search (citation_id, document, journal) "
    + PG_ROWS
    + " {where} ON CONFLICT (citation_id) DO UPDATE SET document = EXCLUDED.document, "
    "journal = EXCLUDED.journal"
)

REFRESH_BATCH = 2000


def refresh_ids(conn: Connection, ids: Sequence[int]) -> None:
    """Rebuild the index rows of these citations (a deleted one loses its row)."""
    dialect = conn.dialect.name
    for start in range(0, len(ids), REFRESH_BATCH):
        chunk = list(ids[start : start + REFRESH_BATCH])
        if dialect == "sqlite":
            param = json.dumps(chunk)
            ids_sql = "(SELECT value FROM json_each(?))"
            conn.exec_driver_sql(f"DELETE FROM citation_fts WHERE rowid IN {ids_sql}", (param,))
            conn.exec_driver_sql(f"{SQLITE_INSERT} WHERE c.id IN {ids_sql}", (param,))
            conn.exec_driver_sql(
                f"DELETE FROM search_dirty WHERE citation_id IN {ids_sql}", (param,)
            )
        elif dialect == "postgresql":
            conn.exec_driver_sql(
                "DELETE FROM citation_search WHERE citation_id = ANY(%s) AND citation_id NOT IN "
                "(SELECT id FROM citation WHERE id = ANY(%s))",
                (chunk, chunk),
            )
            conn.exec_driver_sql(PG_UPSERT.format(where="WHERE c.id = ANY(%s)"), (chunk,))
            conn.exec_driver_sql("DELETE FROM search_dirty WHERE citation_id = ANY(%s)", (chunk,))


def refresh(conn: Connection) -> int:
    """Rebuild the index rows of every citation marked since the last refresh; return how many."""
    if conn.dialect.name not in ("sqlite", "postgresql"):
        return 0
    ids = [row[0] for row in conn.exec_driver_sql("SELECT citation_id FROM search_dirty")]
    if ids:
        refresh_ids(conn, ids)
    return len(ids)


def refresh_pending(engine: Any) -> None:
    """Before a search: index what other writers marked, in its own short transaction.

    Writers that refresh themselves (the ingest, the snapshot load) leave nothing marked,
    so a search usually only reads one empty table. A locked database leaves the index as
    it is for this search (the next one catches up).
    """
    from sqlalchemy.exc import OperationalError

    with engine.connect() as conn:
        if conn.exec_driver_sql("SELECT 1 FROM search_dirty LIMIT 1").first() is None:
            return
    try:
        with engine.begin() as conn:
            refresh(conn)
    except OperationalError:
        pass
