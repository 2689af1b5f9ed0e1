"""HTTP side of PubMed: Bio.Entrez requests with our base URL, rate limit, timeouts and retries.

Bio.Entrez builds the requests (parameters, GET/POST choice) and hands them to
``Bio.Entrez.urlopen``. We replace that one name, once, with a dispatcher: on a thread
where an :class:`EntrezClient` call is running, the request is rewritten to the client's
base URL, spaced by the process-wide rate limiter, opened with a timeout, and any failure
is raised as our own exception type (not a ``URLError``), so Bio.Entrez's immediate,
sleepless retry loop steps aside and our backoff takes over. On other threads the
original ``urlopen`` is used unchanged.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections.abc import Callable
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, build_opener

import Bio.Entrez

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

Opener = Callable[[Request, float], IO[bytes]]


class RateLimiter:
    """Space requests at least ``interval`` seconds apart across every thread of the process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no request made."""
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._clock = clock

    def acquire(self, interval: float) -> float:
        """Block until this caller's slot arrives; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + interval
        wait = slot - now
        if wait > 0:
            time.sleep(wait)
        return wait


# NCBI counts requests per process (per IP, really): every client in the process shares this.
PROCESS_LIMITER = RateLimiter()

_local = threading.local()
_install_lock = threading.Lock()
_original_urlopen: Callable[..., Any] = Bio.Entrez.urlopen


def _entrez_urlopen(request: Any, *args: Any, **kwargs: Any) -> Any:
    """Stand in for Bio.Entrez.urlopen: route through the active client on this thread."""
    client: EntrezClient | None = getattr(_local, "client", None)
    if client is None:
        return _original_urlopen(request, *args, **kwargs)
    return client._open(request)


def _install_hook() -> None:
    """Point Bio.Entrez.urlopen at our dispatcher (idempotent, thread-safe)."""
    with _install_lock:
        if Bio.Entrez.urlopen is not _entrez_urlopen:
            Bio.Entrez.urlopen = _entrez_urlopen  # type: ignore[assignment]


def _default_opener(request: Request, timeout: float) -> IO[bytes]:
    """Open a request with urllib, no proxies from the environment, and a timeout."""
    response: IO[bytes] = build_opener().open(request, timeout=timeout)
    return response


def _retry_after(error: HTTPError) -> float | None:
    """Read a Retry-After header given in seconds."""
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class _Transient(TransientEntrezError):
    """A transient failure that carries the server's Retry-After hint."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Keep the hint next to the message."""
        super().__init__(message)
        self.retry_after = retry_after


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
        opener: Opener | None = None,
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
        self.opener: Opener = opener or _default_opener
        self.requests_sent = 0
        self.retries = 0
        _install_hook()

    # -- the HTTP hook -------------------------------------------------------------------

    def _open(self, request: Request) -> IO[bytes]:
        """Send one HTTP request (called by Bio.Entrez through the hook)."""
        url = request.full_url
        if url.startswith(NCBI_EUTILS_URL):
            request.full_url = self.base_url + url[len(NCBI_EUTILS_URL) :]
        self.limiter.acquire(self.interval)
        self.requests_sent += 1
        try:
            return self.opener(request, self.timeout)
        except HTTPError as exc:
            try:
                body = exc.read()[:2000].decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                body = ""
            finally:
                exc.close()  # the error carries the open response; free its socket
            where = request.full_url.split("?")[0]
            if exc.code == 429 or exc.code >= 500:
                raise _Transient(f"HTTP {exc.code} from {where}", _retry_after(exc)) from exc
            if "obtain query" in body.lower() or "webenv" in body.lower():
                raise HistoryExpiredError(f"HTTP {exc.code}: {body.strip()[:300]}") from exc
            raise EntrezError(f"HTTP {exc.code} from {where}: {body.strip()[:300]}") from exc
        except (URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            raise _Transient(f"network error: {exc!r}") from exc

    # -- calls with retries --------------------------------------------------------------

    def _backoff(self, attempt: int, error: BaseException) -> float:
        """Return the sleep before the next attempt: exponential with jitter, Retry-After kept."""
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        delay *= 0.5 + random.random() / 2
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            delay = max(delay, min(float(hint), self.backoff_max))
        return delay

    def _call(
        self, function: Callable[..., Any], parse: Callable[[bytes], Any], **params: Any
    ) -> Any:
        """Run one Bio.Entrez function and parse its body, retrying transient failures."""
        last: BaseException | None = None
        for attempt in range(self.max_attempts):
            _local.client = self
            try:
                handle = function(
                    db="pubmed", tool=self.tool, email=self.email, api_key=self.api_key, **params
                )
                try:
                    body = handle.read()
                finally:
                    handle.close()
                if isinstance(body, str):
                    body = body.encode("utf-8")
                return parse(body)
            except (TransientEntrezError, PubMedParseError) as exc:
                last = exc
            except (http.client.HTTPException, TimeoutError, URLError, OSError) as exc:
                # Raised while reading the body: IncompleteRead, a reset, a read timeout.
                last = exc
            finally:
                _local.client = None
            if attempt + 1 < self.max_attempts:
                self.retries += 1
                time.sleep(self._backoff(attempt, last))
        raise RetriesExhaustedError(
            f"gave up after {self.max_attempts} attempts: {last}", self.max_attempts, last
        )

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
        result: SearchResult = self._call(Bio.Entrez.esearch, parse_esearch, **params)
        return result

    def efetch_history(
        self, *, webenv: str, query_key: str, retstart: int, retmax: int
    ) -> list[ParsedItem]:
        """Fetch one batch of a history-server result set as parsed records."""
        items: list[ParsedItem] = self._call(
            Bio.Entrez.efetch,
            parse_efetch,
            WebEnv=webenv,
            query_key=query_key,
            retstart=retstart,
            retmax=retmax,
            retmode="xml",
        )
        return items

    def efetch_ids(self, pmids: list[int]) -> list[ParsedItem]:
        """Fetch the given PMIDs (Bio.Entrez posts lists of 200 or more) as parsed records."""
        if not pmids:
            return []
        items: list[ParsedItem] = self._call(
            Bio.Entrez.efetch, parse_efetch, id=[str(p) for p in pmids], retmode="xml"
        )
        return items
