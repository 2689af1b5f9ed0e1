"""HTTP side of PubMed: requests built by Bio.Entrez, sent through an injected transport.

Bio.Entrez builds each E-utilities request (parameters, NCBI's identification fields, POST
instead of GET for long id lists) with the function its own ``esearch``/``efetch`` use,
``Bio.Entrez._build_request``. The client sends that request itself, through a
:class:`Transport` handed to it (httpx-style: tests and other programs pass their own),
spaced by one rate limiter and retried by tenacity. Nothing in the process is patched, so
other users of Bio.Entrez are untouched, and Bio.Entrez's own spacing (0.37 s between calls)
and its immediate, sleepless retries never stack on ours.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.error import HTTPError, URLError
from urllib.request import Request, build_opener

import Bio.Entrez
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import (
    ConfigurationError,
    EntrezError,
    HistoryExpiredError,
    PubMedParseError,
    RetriesExhaustedError,
    TransientEntrezError,
)
from .parse import ParsedItem, parse_efetch, parse_esearch
from .records import SearchResult

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
DEFAULT_TOOL = "evidence-tracker"

# The request builder Bio.Entrez's public functions use. It is private, so its absence
# (a Biopython that renamed it) is reported here, at import, rather than mid-fetch.
_build_request: Callable[..., Request] | None = getattr(Bio.Entrez, "_build_request", None)
if _build_request is None:  # pragma: no cover - depends on the installed Biopython
    raise ImportError("this Biopython has no Bio.Entrez._build_request; install biopython 1.85+")


@dataclass(frozen=True)
class Response:
    """What a transport returns: the status, the headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(TransientEntrezError):
    """The request did not complete: no connection, a timeout, a cut or reset body."""


class Transport(Protocol):
    """Sends one HTTP request and returns the whole response, whatever its status."""

    def send(self, request: Request, timeout: float) -> Response:
        """Send the request; raise TransportError when no complete response arrived."""
        ...


class UrllibTransport:
    """The default transport: urllib, a timeout, and the body read in full inside the call."""

    def send(self, request: Request, timeout: float) -> Response:
        """Send with urllib; HTTP error statuses come back as responses, not exceptions."""
        try:
            with build_opener().open(request, timeout=timeout) as handle:
                return Response(handle.status, dict(handle.headers.items()), handle.read())
        except HTTPError as exc:
            try:
                body = exc.read()
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                exc.close()  # the error carries the open response; free its socket
            headers = dict(exc.headers.items()) if exc.headers else {}
            return Response(exc.code, headers, body)
        except (URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            # Connection refused, DNS failure, timeout, IncompleteRead, reset mid-body.
            raise TransportError(f"network error: {exc!r}") from exc


class RateLimiter:
    """Space requests at least ``interval`` seconds apart across every thread that shares it."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Start with no request made; the clock and sleep are injectable for tests."""
        self._lock = threading.Lock()
        self._next_slot = float("-inf")
        self._clock = clock
        self._sleep = sleep

    def acquire(self, interval: float) -> float:
        """Block until this caller's slot arrives; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


# NCBI counts requests per IP: every client in the process shares this one by default.
PROCESS_LIMITER = RateLimiter()


class _Transient(TransientEntrezError):
    """A transient failure that carries the server's Retry-After hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Keep the hint next to the message."""
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Read a Retry-After header given in seconds (header names are case-insensitive)."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class EntrezClient:
    """E-utilities client for PubMed: esearch with history, batched efetch, retries, limits."""

    def __init__(
        self,
        *,
        email: str | None,
        base_url: str = NCBI_EUTILS_URL,
        api_key: str | None = None,
        tool: str = DEFAULT_TOOL,
        timeout: float = 30.0,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        requests_per_second: float | None = None,
        limiter: RateLimiter | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Keep the settings; NCBI requires an email address with every request."""
        if not email:
            raise ConfigurationError("NCBI requires an email address (set NCBI_EMAIL)")
        self.email = email
        self.base_url = base_url.rstrip("/") + "/"
        self.api_key = api_key or None
        self.tool = tool
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        rate = requests_per_second or (10.0 if self.api_key else 3.0)
        self.interval = 1.0 / rate
        self.limiter = limiter or PROCESS_LIMITER
        self.transport: Transport = transport or UrllibTransport()
        self.sleep = sleep
        self.requests_sent = 0
        self.retries = 0
        self._jitter = wait_random_exponential(multiplier=backoff_base, max=backoff_max)

    # -- one request ---------------------------------------------------------------------

    def _request(self, utility: str, params: dict[str, Any]) -> Request:
        """Build the request as Bio.Entrez would, addressed to our base URL."""
        fields = {"db": "pubmed", "tool": self.tool, "email": self.email, **params}
        fields["api_key"] = self.api_key  # None is dropped by the builder
        assert _build_request is not None
        return _build_request(f"{self.base_url}{utility}.fcgi", fields)

    def _send(self, utility: str, params: dict[str, Any]) -> bytes:
        """Send one request through the limiter and the transport; return a 200's body."""
        request = self._request(utility, params)
        self.limiter.acquire(self.interval)
        self.requests_sent += 1
        response = self.transport.send(request, self.timeout)
        if response.status == 200:
            return response.body
        where = request.full_url.split("?")[0]
        text = response.body[:2000].decode("utf-8", "replace").strip()
        if response.status == 429 or response.status >= 500:
            raise _Transient(f"HTTP {response.status} from {where}", _retry_after(response.headers))
        if "obtain query" in text.lower() or "webenv" in text.lower():
            raise HistoryExpiredError(f"HTTP {response.status}: {text[:300]}")
        raise EntrezError(f"HTTP {response.status} from {where}: {text[:300]}")

    # -- calls with retries --------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        """Return the sleep before the next attempt: exponential with jitter, Retry-After kept."""
        delay = float(self._jitter(state))
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            delay = max(delay, min(float(hint), self.backoff_max))
        return delay

    def _count_retry(self, state: RetryCallState) -> None:
        """Count a retry (the figure the fetch report and benchmarks print)."""
        self.retries += 1

    def _call(self, utility: str, parse: Callable[[bytes], Any], **params: Any) -> Any:
        """Send one E-utilities call and parse its body, retrying transient failures.

        A malformed body is retried too: NCBI sometimes cuts a response short with a 200.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type((TransientEntrezError, PubMedParseError)),
            before_sleep=self._count_retry,
            sleep=self.sleep,
        )
        try:
            return retrying(lambda: parse(self._send(utility, params)))
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise RetriesExhaustedError(
                f"gave up after {self.max_attempts} attempts: {last}", self.max_attempts, last
            ) from last

    def esearch(
        self,
        term: str,
        *,
        retmax: int = 0,
        retstart: int = 0,
        usehistory: bool = True,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "pdat",
    ) -> SearchResult:
        """Search PubMed; with usehistory the result set stays on NCBI's history server."""
        params: dict[str, Any] = {"term": term, "retmax": retmax, "retstart": retstart}
        if usehistory:
            params["usehistory"] = "y"
        if mindate or maxdate:
            params.update(mindate=mindate, maxdate=maxdate, datetype=datetype)
        result: SearchResult = self._call("esearch", parse_esearch, **params)
        return result

    def efetch_history(
        self, *, webenv: str, query_key: str, retstart: int, retmax: int
    ) -> list[ParsedItem]:
        """Fetch one batch of a history-server result set as parsed records."""
        items: list[ParsedItem] = self._call(
            "efetch",
            parse_efetch,
            WebEnv=webenv,
            query_key=query_key,
            retstart=retstart,
            retmax=retmax,
            retmode="xml",
        )
        return items

    def efetch_ids(self, pmids: list[int]) -> list[ParsedItem]:
        """Fetch the given PMIDs (Bio.Entrez's builder posts lists of 200 or more)."""
        if not pmids:
            return []
        items: list[ParsedItem] = self._call(
            "efetch", parse_efetch, id=[str(p) for p in pmids], retmode="xml"
        )
        return items
