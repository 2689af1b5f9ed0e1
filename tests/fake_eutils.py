"""A local fake of NCBI E-utilities (esearch with history, efetch) with injectable faults.

It runs on 127.0.0.1 on an ephemeral port in a thread of the test process, serves real
PubMed records recorded from NCBI (tests/data/entrez/, see tests/data/README.md), either
verbatim or replicated under new PMIDs and dates to make large result sets, and behaves
like NCBI where it matters: esearch returns at most 10,000 ids, efetch refuses a retstart
above 9,998, and history entries can expire. bench/ingest.py imports it too.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA = Path(__file__).parent / "data"
ENTREZ = DATA / "entrez"
RECORDED_FILES = (
    "pubmed1.xml",
    "pubmed2.xml",
    "pubmed4.xml",
    "pubmed5.xml",
    "pubmed6.xml",
    "pubmed7.xml",
)
ESEARCH_CAP = 10_000
MAX_RETSTART = 9_998

XML_HEAD = (
    b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
    b'1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
    b"<PubmedArticleSet>\n"
)
XML_TAIL = b"</PubmedArticleSet>\n"

_ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
_PMID = re.compile(rb"<PMID Version=\"\d+\">(\d+)</PMID>")
_PUBDATE_YEAR = re.compile(rb"(<PubDate>\s*<Year>)(\d{4})(</Year>)")
_TITLE_END = b"</ArticleTitle>"
# A replicated record is another study: it gets its own DOI and PMCID
# (evidence/literature/duplicates.py merges records that share one).
_DOI = re.compile(rb'((?:IdType|EIdType)="doi"[^>]*>)([^<]+)(<)')
_PMCID = re.compile(rb'(IdType="pmc">PMC)(\d+)(<)')


@dataclass
class CorpusRecord:
    """One record the fake server can return: its PMID, publication date and XML."""

    pmid: int
    pub_date: date
    xml: bytes


def recorded_articles(names: Iterable[str] = RECORDED_FILES) -> list[bytes]:
    """Return the raw <PubmedArticle> elements of the recorded efetch files."""
    articles: list[bytes] = []
    for name in names:
        articles.extend(_ARTICLE.findall((ENTREZ / name).read_bytes()))
    return articles


def recorded_corpus() -> list[CorpusRecord]:
    """Return the recorded records verbatim, under their real PMIDs and years."""
    corpus = []
    for xml in recorded_articles():
        pmid_match = _PMID.search(xml)
        year_match = _PUBDATE_YEAR.search(xml)
        assert pmid_match is not None
        year = int(year_match.group(2)) if year_match else 2000
        corpus.append(CorpusRecord(int(pmid_match.group(1)), date(year, 6, 1), xml))
    return corpus


def _template(xml: bytes) -> bytes:
    """Turn a real article into a template with {PMID}, {YEAR} and {VARIANT} slots."""
    pmid_match = _PMID.search(xml)
    assert pmid_match is not None
    pmid = pmid_match.group(1)
    xml = xml.replace(b">" + pmid + b"</PMID>", b">{PMID}</PMID>", 1)
    xml = xml.replace(b'IdType="pubmed">' + pmid + b"<", b'IdType="pubmed">{PMID}<', 1)
    xml = _PUBDATE_YEAR.sub(rb"\g<1>{YEAR}\g<3>", xml, count=1)
    xml = _DOI.sub(rb"\g<1>\g<2>.v{VARIANT}\g<3>", xml)
    xml = _PMCID.sub(rb"\g<1>\g<2>0{VARIANT}\g<3>", xml)
    return xml.replace(_TITLE_END, b" (variant {VARIANT})" + _TITLE_END, 1)


def iter_synthetic_articles(
    count: int,
    *,
    first_pmid: int = 50_000_000,
    first_year: int = 1990,
    years: int = 35,
    files: Iterable[str] = RECORDED_FILES,
) -> Iterator[tuple[int, date, bytes]]:
    """Yield (pmid, date, xml) for ``count`` records made by replicating the recorded ones."""
    templates = [_template(xml) for xml in recorded_articles(files)]
    for index in range(count):
        pmid = first_pmid + index
        day = date(first_year + (index * 7919) % years, 1 + index % 12, 1 + index % 28)
        xml = (
            templates[index % len(templates)]
            .replace(b"{PMID}", str(pmid).encode())
            .replace(b"{YEAR}", str(day.year).encode())
            .replace(b"{VARIANT}", str(index).encode())
        )
        yield pmid, day, xml


def synthetic_corpus(count: int, **kwargs: Any) -> list[CorpusRecord]:
    """Return ``count`` replicated records (see iter_synthetic_articles)."""
    return [CorpusRecord(p, d, x) for p, d, x in iter_synthetic_articles(count, **kwargs)]


def write_pubmed_xml(path: Path, articles: Iterable[bytes]) -> int:
    """Write a PubmedArticleSet file from article elements; return how many were written."""
    written = 0
    with path.open("wb") as handle:
        handle.write(XML_HEAD)
        for xml in articles:
            handle.write(xml)
            handle.write(b"\n")
            written += 1
        handle.write(XML_TAIL)
    return written


@dataclass
class Fault:
    """A failure to inject into the next matching request ('esearch', 'efetch' or None=any)."""

    kind: str  # 429, 500, 503, timeout, truncate, malformed, json-error, reset
    endpoint: str | None = None


@dataclass
class LoggedRequest:
    """What the fake server saw: endpoint, parameters, arrival time and the fault applied."""

    endpoint: str
    params: dict[str, str]
    at: float
    fault: str | None = None


@dataclass
class _State:
    """Mutable server state shared by handler threads."""

    corpus: list[CorpusRecord]
    by_pmid: dict[int, CorpusRecord]
    history: dict[str, list[int]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 2.0
    serial: int = 0
    queries: dict[str, list[int]] = field(default_factory=dict)


class FakeEutils:
    """The fake E-utilities server; use as a context manager or call start()/stop()."""

    def __init__(self, corpus: list[CorpusRecord] | None = None, *, fault_delay: float = 2.0):
        """Index the corpus (default: the recorded records) and prepare the server."""
        records = recorded_corpus() if corpus is None else corpus
        self.state = _State(corpus=records, by_pmid={r.pmid: r for r in records}, delay=fault_delay)
        state = self.state

        class Handler(_Handler):
            """Request handler bound to this server's state."""

            shared = state

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Return the URL to hand to EntrezClient(base_url=...)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/entrez/eutils/"

    @property
    def requests(self) -> list[LoggedRequest]:
        """Return a copy of the request log."""
        with self.state.lock:
            return list(self.state.log)

    def inject(self, kind: str, endpoint: str | None = None, times: int = 1) -> None:
        """Queue a fault for the next ``times`` matching requests."""
        with self.state.lock:
            self.state.faults.extend(Fault(kind, endpoint) for _ in range(times))

    def set_query(self, term: str, pmids: list[int]) -> None:
        """Make ``term`` match exactly these PMIDs (default: every term matches everything)."""
        self.state.queries[term] = pmids

    def expire_history(self) -> None:
        """Forget every WebEnv, as NCBI does after some hours."""
        with self.state.lock:
            self.state.history.clear()

    def replace_record(self, pmid: int, xml: bytes) -> None:
        """Serve new XML for a PMID (e.g. a retraction notice added after the first fetch)."""
        with self.state.lock:
            record = self.state.by_pmid[pmid]
            record.xml = xml

    def start(self) -> FakeEutils:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeEutils:
        """Start on entering a with block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving a with block."""
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    """Serves /esearch.fcgi and /efetch.fcgi from the shared state."""

    shared: _State

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        """Answer a GET request."""
        self._dispatch(urlsplit(self.path).query)

    def do_POST(self) -> None:
        """Answer a POST request (Bio.Entrez posts long id lists)."""
        length = int(self.headers.get("Content-Length", "0"))
        self._dispatch(self.rfile.read(length).decode())

    def _dispatch(self, query: str) -> None:
        """Apply any queued fault, then answer."""
        endpoint = urlsplit(self.path).path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        state = self.shared
        with state.lock:
            fault = next((f for f in state.faults if f.endpoint in (None, endpoint)), None)
            if fault is not None:
                state.faults.remove(fault)
            state.log.append(
                LoggedRequest(endpoint, params, time.monotonic(), fault.kind if fault else None)
            )
        try:
            status, body = self._answer(endpoint, params)
            self._send(status, body, fault.kind if fault else None)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do

    def _send(self, status: int, body: bytes, fault: str | None) -> None:
        """Write the response, damaged as the fault asks."""
        if fault in ("429", "500", "503"):
            self.send_response(int(fault))
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "reset":
            self.close_connection = True
            return
        if fault == "timeout":
            time.sleep(self.shared.delay)
        if fault == "json-error":
            status, body = 200, b'{"error":"API rate limit exceeded","count":"11"}'
        if fault == "malformed":
            body = body[: len(body) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "truncate":
            # Promise the whole body, send half, hang up: the client sees IncompleteRead.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def _answer(self, endpoint: str, params: dict[str, str]) -> tuple[int, bytes]:
        """Build the normal answer for an endpoint."""
        if endpoint == "esearch":
            return self._esearch(params)
        if endpoint == "efetch":
            return self._efetch(params)
        return 404, b"<ERROR>unknown endpoint</ERROR>"

    def _matching(self, params: dict[str, str]) -> list[int]:
        """Return the PMIDs a search matches, newest PMID first like PubMed."""
        state = self.shared
        term = params.get("term", "")
        if term in state.queries:
            pool = [state.by_pmid[p] for p in state.queries[term] if p in state.by_pmid]
        else:
            pool = state.corpus
        low = _date(params.get("mindate"), date.min)
        high = _date(params.get("maxdate"), date.max)
        return sorted((r.pmid for r in pool if low <= r.pub_date <= high), reverse=True)

    def _esearch(self, params: dict[str, str]) -> tuple[int, bytes]:
        """Answer esearch, storing the result on the history server when asked."""
        state = self.shared
        ids = self._matching(params)
        retstart = int(params.get("retstart", "0") or 0)
        retmax = min(int(params.get("retmax", "20") or 20), ESEARCH_CAP)
        history = b""
        if params.get("usehistory") == "y":
            with state.lock:
                state.serial += 1
                webenv = f"MCID_fake{state.serial:06d}"
                state.history[webenv] = ids
            history = f"<QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv>".encode()
        shown = ids[retstart : retstart + retmax]
        id_list = b"".join(b"<Id>%d</Id>\n" % p for p in shown)
        body = (
            b'<?xml version="1.0" encoding="UTF-8" ?>\n'
            b'<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
            b'"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
            b"<eSearchResult><Count>%d</Count><RetMax>%d</RetMax><RetStart>%d</RetStart>"
            % (len(ids), len(shown), retstart)
            + history
            + b"<IdList>\n"
            + id_list
            + b"</IdList><TranslationSet/></eSearchResult>\n"
        )
        return 200, body

    def _efetch(self, params: dict[str, str]) -> tuple[int, bytes]:
        """Answer efetch by id list or by WebEnv/query_key/retstart/retmax."""
        state = self.shared
        if "id" in params:
            ids = [int(p) for p in params["id"].split(",") if p.strip().isdigit()]
        else:
            webenv = params.get("WebEnv", "")
            with state.lock:
                stored = state.history.get(webenv)
            if stored is None:
                return 400, b'{"error":"Unable to obtain query #1","api-key":"","type":"invalid"}'
            retstart = int(params.get("retstart", "0") or 0)
            if retstart > MAX_RETSTART:
                return (
                    400,
                    b"<eFetchResult><ERROR>retstart cannot exceed 9998</ERROR></eFetchResult>",
                )
            retmax = int(params.get("retmax", "20") or 20)
            ids = stored[retstart : retstart + retmax]
        with state.lock:
            parts = [state.by_pmid[p].xml for p in ids if p in state.by_pmid]
        return 200, XML_HEAD + b"\n".join(parts) + b"\n" + XML_TAIL


def _date(text: str | None, default: date) -> date:
    """Read an E-utilities YYYY/MM/DD date (or YYYY)."""
    if not text:
        return default
    parts = [int(p) for p in text.split("/")]
    while len(parts) < 3:
        parts.append(1)
    return date(parts[0], parts[1], parts[2])
