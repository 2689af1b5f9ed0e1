"""No input may make the parsers reach the network or expand entities."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pubmed import PubmedRecord, UnsafeXMLError, iter_pubmed_xml, parse_esearch

from .conftest import ENTREZ

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&lol9;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


class _Recorder(BaseHTTPRequestHandler):
    """Counts every request; any hit means a parser reached the network."""

    hits: list[str] = []

    def do_GET(self) -> None:
        """Record the path and answer with a harmless DTD."""
        self.hits.append(self.path)
        body = b'<!ENTITY leak "LEAKED">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server whose request log must stay empty."""
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}", _Recorder.hits
    server.shutdown()
    server.server_close()


def test_billion_laughs_is_refused() -> None:
    """An entity bomb is refused before any expansion, with a clear message."""
    with pytest.raises(UnsafeXMLError, match="declares entities"):
        list(iter_pubmed_xml(BILLION_LAUGHS))


def test_external_entity_file_is_refused(tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    """A file whose DOCTYPE declares external entities (file and http) is refused, unread."""
    url, hits = listener
    secret = tmp_path / "secret.txt"
    secret.write_text("patient list")
    xxe = tmp_path / "xxe.xml"
    xxe.write_bytes(
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        + f'<!ENTITY file SYSTEM "file://{secret}">\n'.encode()
        + f'<!ENTITY web SYSTEM "{url}/x">\n'.encode()
        + b"]>\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
        b"<Article><ArticleTitle>&file;&web;</ArticleTitle></Article></MedlineCitation>"
        b"</PubmedArticle></PubmedArticleSet>"
    )
    with pytest.raises(UnsafeXMLError):
        list(iter_pubmed_xml(xxe))
    assert hits == []


def test_external_dtd_is_never_fetched(listener: tuple[str, list[str]]) -> None:
    """A DOCTYPE pointing at a DTD URL parses without the DTD being requested."""
    url, hits = listener
    body = (ENTREZ / "pubmed4.xml").read_bytes()
    body = body.replace(b"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_180101.dtd", url.encode())
    parsed = [r for r in iter_pubmed_xml(body) if isinstance(r, PubmedRecord)]
    assert [r.pmid for r in parsed] == [27797938]
    assert hits == []


def test_undeclared_entity_reference_is_an_error_not_a_fetch(
    listener: tuple[str, list[str]],
) -> None:
    """An entity the external DTD would define is not looked up: the file is refused."""
    url, hits = listener
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet SYSTEM "'
        + url.encode()
        + b'/evil.dtd">\n<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>'
        b"<Article><ArticleTitle>&leak;</ArticleTitle></Article></MedlineCitation>"
        b"</PubmedArticle></PubmedArticleSet>"
    )
    try:
        items = list(iter_pubmed_xml(body))
    except Exception as exc:  # refusing the file is fine; fetching or expanding is not
        assert "leak" in str(exc).lower() or "entity" in str(exc).lower()
    else:
        assert isinstance(items[0], PubmedRecord)
        assert "LEAKED" not in items[0].title
    assert hits == []


def test_esearch_parser_refuses_entities_too() -> None:
    """The small-document parser used for esearch has the same guard."""
    with pytest.raises(UnsafeXMLError):
        parse_esearch(BILLION_LAUGHS.replace(b"PubmedArticleSet", b"eSearchResult"))
