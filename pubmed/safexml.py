"""Guards that keep XML input from reaching the network or expanding entities."""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO, Protocol, TypedDict

from lxml import etree

from .errors import InflateLimitError, UnsafeXMLError

# How much of the prolog we inspect before the first element; a legitimate PubMed
# DOCTYPE is one line, so anything needing more than this is refused, not trusted.
PROLOG_LIMIT = 64 * 1024

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
# The most a gzip input may inflate to: PubMed's largest baseline files are well under 1 GiB.
MAX_INFLATED_BYTES = 2 * 1024**3

XMLSource = str | Path | bytes | IO[bytes]


# The one set of parser options for every XML input (lxml's XMLParser and iterparse take
# the same keywords): load no DTD, expand no entity, never use the network, refuse huge trees.
class _ParserOptions(TypedDict):
    """The keywords lxml's XMLParser and iterparse share (typed so both calls check)."""

    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    huge_tree: bool
    remove_comments: bool
    remove_pis: bool


SAFE_PARSER_OPTIONS = _ParserOptions(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def safe_parser() -> etree.XMLParser:
    """Return an lxml parser that loads no DTD, expands no entity and never uses the network."""
    return etree.XMLParser(**SAFE_PARSER_OPTIONS)


def check_prolog(head: bytes) -> None:
    """Refuse a document whose DOCTYPE declares entities (billion laughs, external entities)."""
    match = _DOCTYPE.search(head)
    if match is None:
        return
    rest = head[match.end() :]
    if _ENTITY_DECL.search(rest):
        raise UnsafeXMLError(
            "refused: the document's DOCTYPE declares entities "
            "(external entities and entity expansion are never processed)"
        )
    # An internal subset that does not close within the inspected prolog could hide a
    # declaration past the window; PubMed files never carry one, so refuse it.
    bracket = rest.find(b"[")
    close = rest.find(b">")
    if bracket != -1 and (close == -1 or bracket < close) and b"]" not in rest[bracket:]:
        raise UnsafeXMLError("refused: DOCTYPE internal subset too large to inspect")


class _ReplayStream(io.RawIOBase):
    """A read-only stream that yields an already-read head, then the rest of a file."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        """Keep the head bytes and the underlying stream."""
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        """Report that the stream can be read."""
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill the buffer from the head first, then from the underlying stream."""
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


def _read_head(stream: IO[bytes]) -> bytes:
    """Read the prolog (up to the first element after any DOCTYPE) within PROLOG_LIMIT."""
    head = b""
    while len(head) < PROLOG_LIMIT:
        chunk = stream.read(8192)
        if not chunk:
            break
        head += chunk
        # Stop once we have seen past the DOCTYPE (or know there is none).
        doctype = _DOCTYPE.search(head)
        if doctype is None:
            if re.search(rb"<[A-Za-z_]", head):
                break
            continue
        after = head[doctype.end() :]
        bracket, close = after.find(b"["), after.find(b">")
        if close != -1 and (bracket == -1 or bracket > close):
            break
        if bracket != -1 and re.search(rb"\]\s*>", after[bracket:]):
            break
    return head


class Readable(Protocol):
    """Anything with read(size) -> bytes (a file, a GzipFile)."""

    def read(self, size: int = -1, /) -> bytes:
        """Read up to `size` bytes."""
        ...


class BoundedReader(io.RawIOBase):
    """A readable stream that raises InflateLimitError once more than `limit` bytes came out."""

    def __init__(self, stream: Readable, limit: int) -> None:
        """Wrap `stream`, allowing at most `limit` bytes."""
        self.stream, self.limit, self.count = stream, limit, 0

    def readable(self) -> bool:
        """Say the stream can be read."""
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` from the wrapped stream, counting the bytes."""
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise InflateLimitError(
                f"the gzip file inflates past {self.limit:,} bytes; refused "
                "(split it, or raise the bound if the file is genuine)"
            )
        buffer[: len(data)] = data
        return len(data)


def read_bounded(stream: Readable, limit: int) -> bytes:
    """Read a whole (decompressed) stream, refusing one longer than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InflateLimitError(f"the gzip file inflates past {limit:,} bytes; refused")
    return data


@contextmanager
def open_xml(source: XMLSource, max_inflated: int | None = None) -> Iterator[BinaryIO]:
    """Open a path, bytes or binary stream (gzip detected by magic) with the prolog checked.

    A gzip input may inflate to `max_inflated` bytes (default MAX_INFLATED_BYTES) at most.
    """
    owned: IO[bytes] | None = None
    if isinstance(source, bytes):
        raw: IO[bytes] = io.BytesIO(source)
    elif isinstance(source, str | Path):
        owned = raw = open(source, "rb")  # noqa: SIM115 closed in finally
    else:
        raw = source
    try:
        peek = raw.read(2)
        replay = io.BufferedReader(_ReplayStream(peek, raw))
        stream: IO[bytes] = replay
        if peek == _GZIP_MAGIC:
            unzipped = gzip.GzipFile(fileobj=replay, mode="rb")
            limit = MAX_INFLATED_BYTES if max_inflated is None else max_inflated
            stream = io.BufferedReader(BoundedReader(unzipped, limit))
        head = _read_head(stream)
        check_prolog(head)
        yield io.BufferedReader(_ReplayStream(head, stream), buffer_size=256 * 1024)
    finally:
        if owned is not None:
            owned.close()


def parse_small(body: bytes) -> etree._Element:
    """Parse a small document (an esearch answer) safely into a tree."""
    check_prolog(body[:PROLOG_LIMIT])
    return etree.fromstring(body, parser=safe_parser())
