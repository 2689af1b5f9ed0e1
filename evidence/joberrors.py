"""Say in words why a PubMed job stopped and what to do, instead of a raw Python error."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from urllib.error import HTTPError, URLError

from pubmed import (
    ConfigurationError,
    EntrezError,
    HistoryExpiredError,
    PubMedError,
    PubMedParseError,
    RetriesExhaustedError,
    UnsafeXMLError,
)

RESUME = "The job keeps what it fetched and resumes where it stopped when run again."


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """Yield an error, the error it wraps (RetriesExhaustedError.last_error, causes), and so on."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        if isinstance(exc, RetriesExhaustedError) and exc.last_error is not None:
            exc = exc.last_error
        elif isinstance(exc, URLError) and isinstance(exc.reason, BaseException):
            exc = exc.reason
        else:
            exc = exc.__cause__ or exc.__context__


def _network_reason(chain: list[BaseException]) -> str | None:
    """Return a plain account of a network failure in the chain, or None when there is none."""
    for item in chain:
        if isinstance(item, socket.gaierror):
            return "the name of the NCBI server could not be looked up (no network or no DNS)"
        if isinstance(item, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(item, TimeoutError | socket.timeout):
            return "the connection timed out"
        if isinstance(item, ssl.SSLError):
            return "the secure connection failed"
    for item in chain:
        # An HTTPError is an answer from the server, not a failure to reach it.
        if isinstance(item, URLError | OSError) and not isinstance(item, HTTPError):
            return "the connection failed"
    return None


def describe_failure(exc: BaseException) -> str:
    """Return what went wrong and what to set or do, in a sentence or two a user can act on."""
    chain = list(_chain(exc))
    if any(isinstance(item, ConfigurationError) for item in chain):
        return (
            "NCBI requires an e-mail address with every request: set NCBI_EMAIL "
            "(for example export NCBI_EMAIL=you@example.org) and run the search again."
        )
    for item in chain:
        status = re.search(r"\bHTTP (\d{3})\b", str(item))
        if status and isinstance(item, PubMedError) and not isinstance(item, EntrezError):
            code = int(status.group(1))
            if code == 429:
                return (
                    "NCBI is limiting requests (HTTP 429): set NCBI_API_KEY for 10 requests "
                    f"a second, or try again later. {RESUME}"
                )
            return f"NCBI answered with a server error (HTTP {code}): try again later. {RESUME}"
    reason = _network_reason(chain)
    if reason is not None:
        return f"NCBI could not be reached: check the network ({reason}). {RESUME}"
    if isinstance(exc, HistoryExpiredError):
        return "NCBI forgot this search's result list (it expires after a while): run it again."
    if isinstance(exc, EntrezError):
        return f"NCBI refused the request: check the query. NCBI said: {exc}"
    if isinstance(exc, UnsafeXMLError):
        return "NCBI's answer declared XML entities and was refused unread, for safety."
    if isinstance(exc, PubMedParseError) or any(isinstance(i, PubMedParseError) for i in chain):
        return f"NCBI's answer could not be read as PubMed XML: try again later. {RESUME}"
    if isinstance(exc, ValueError):
        return f"The search cannot run as asked: {exc}"
    return f"The job stopped on an unexpected problem ({exc or type(exc).__name__}). {RESUME}"
