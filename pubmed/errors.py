"""Exceptions raised by the PubMed client, searcher and parsers."""

from __future__ import annotations


class PubMedError(Exception):
    """Base class for every error this package raises."""


class UnsafeXMLError(PubMedError):
    """The input declares entities or otherwise asks the parser to reach outside the file."""


class PubMedParseError(PubMedError):
    """The input is not well-formed PubMed XML (or MEDLINE text)."""


class InflateLimitError(PubMedParseError):
    """A gzip file inflates past the bound set for it (a decompression bomb, or too big)."""


class EntrezError(PubMedError):
    """E-utilities answered with an error that retrying will not fix."""


class TransientEntrezError(PubMedError):
    """A failure worth retrying: HTTP 429/5xx, timeout, dropped connection, cut or bad body."""


class HistoryExpiredError(EntrezError):
    """The WebEnv/query_key pair is unknown to the history server (expired or foreign)."""


class RetriesExhaustedError(PubMedError):
    """A request kept failing with transient errors until the attempt budget ran out."""

    def __init__(self, message: str, attempts: int, last_error: BaseException | None) -> None:
        """Keep the attempt count and the last underlying error for the report."""
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


class ConfigurationError(PubMedError):
    """The client was built without a setting NCBI requires (e.g. an email address)."""
