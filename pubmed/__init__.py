"""PubMed client and parsers: E-utilities over Bio.Entrez, streaming XML, MEDLINE and PMID lists.

This package knows nothing of Flask or of the evidence application.
"""

from .client import (
    NCBI_EUTILS_URL,
    EntrezClient,
    RateLimiter,
    Response,
    Transport,
    TransportError,
    UrllibTransport,
)
from .errors import (
    ConfigurationError,
    EntrezError,
    HistoryExpiredError,
    PubMedError,
    PubMedParseError,
    RetriesExhaustedError,
    TransientEntrezError,
    UnsafeXMLError,
)
from .medline import iter_medline
from .parse import iter_pubmed_xml, parse_efetch, parse_esearch
from .pmids import PmidList, parse_pmid_text
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
from .search import (
    ESEARCH_CAP,
    Batch,
    SearchPlan,
    SearchSlice,
    iter_batches,
    iter_pmid_batches,
    plan_search,
)

__all__ = [
    "ESEARCH_CAP",
    "NCBI_EUTILS_URL",
    "AbstractSection",
    "Author",
    "Batch",
    "CommentCorrection",
    "ConfigurationError",
    "DeletedCitation",
    "EntrezClient",
    "EntrezError",
    "HistoryExpiredError",
    "MeshHeading",
    "MeshQualifier",
    "PmidList",
    "PubDate",
    "PubMedError",
    "PubMedParseError",
    "PubmedRecord",
    "RateLimiter",
    "Response",
    "RetriesExhaustedError",
    "SearchPlan",
    "SearchResult",
    "SearchSlice",
    "TransientEntrezError",
    "Transport",
    "TransportError",
    "UnsafeXMLError",
    "UrllibTransport",
    "iter_batches",
    "iter_medline",
    "iter_pmid_batches",
    "iter_pubmed_xml",
    "parse_efetch",
    "parse_esearch",
    "parse_pmid_text",
    "plan_search",
]
