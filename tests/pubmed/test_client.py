"""The E-utilities client against the local fake server: parameters, faults, limits."""

from __future__ import annotations

import threading
import time
import urllib.request

import Bio.Entrez
import pytest

from pubmed import (
    ConfigurationError,
    EntrezClient,
    EntrezError,
    PubmedRecord,
    RateLimiter,
    Response,
    RetriesExhaustedError,
    iter_pmid_batches,
)
from tests.fake_eutils import FakeEutils

from .conftest import fast_client

RECORDED_PMIDS = [12091962, 9997, 11748933, 11700088, 27797938, 28775130, 30108519, 29963580]


def fetch_all(client_pmids: list[int], fake: FakeEutils, **overrides: object) -> list[int]:
    """Fetch PMIDs in batches of 3 and return the PMIDs received, in order."""
    client = fast_client(fake, **overrides)
    got: list[int] = []
    for batch in iter_pmid_batches(client, client_pmids, batch_size=3):
        got.extend(r.pmid for r in batch.items if isinstance(r, PubmedRecord))
    return got


def test_requests_carry_tool_email_api_key_and_use_base_url(fake: FakeEutils) -> None:
    """Every request reaches our base URL with NCBI's identification parameters."""
    client = fast_client(fake, tool="evidence-tests")
    result = client.esearch("microneedling", retmax=20)
    assert result.count == len(RECORDED_PMIDS) and result.webenv
    (logged,) = fake.requests
    assert logged.endpoint == "esearch"
    assert logged.params["tool"] == "evidence-tests"
    assert logged.params["email"] == "tests@example.org"
    assert logged.params["api_key"] == "test-key"
    assert logged.params["usehistory"] == "y" and logged.params["db"] == "pubmed"


def test_email_is_required() -> None:
    """NCBI requires an email: the client refuses to start without one."""
    with pytest.raises(ConfigurationError, match="NCBI_EMAIL"):
        fast_client_without_server()


def fast_client_without_server() -> object:
    """Build a client with no email (never sends anything)."""
    from pubmed import EntrezClient

    return EntrezClient(email=None, base_url="http://127.0.0.1:9/")


@pytest.mark.parametrize(
    "fault", ["429", "500", "503", "timeout", "truncate", "malformed", "json-error", "reset"]
)
def test_each_fault_ends_with_every_record_exactly_once(fake: FakeEutils, fault: str) -> None:
    """A fault in the middle of a fetch is retried; no record is lost or repeated."""
    fake.inject(fault, "efetch")  # hits the first batch
    fake.inject("ok", "efetch")  # lets the retry through
    fake.inject(fault, "efetch", times=2)  # hits the second batch twice
    got = fetch_all(RECORDED_PMIDS, fake)
    assert sorted(got) == sorted(RECORDED_PMIDS)
    assert len(got) == len(set(got))
    assert sum(1 for r in fake.requests if r.fault == fault) == 3


def test_persistent_failure_gives_up_with_the_cause(fake: FakeEutils) -> None:
    """After max_attempts transient failures the client raises, naming the last error."""
    fake.inject("500", "efetch", times=10)
    client = fast_client(fake, max_attempts=3)
    with pytest.raises(RetriesExhaustedError, match="HTTP 500") as caught:
        client.efetch_ids([9997])
    assert caught.value.attempts == 3
    assert len(fake.requests) == 3  # one request per attempt: nothing else retries


def test_client_errors_are_not_retried(fake: FakeEutils) -> None:
    """A 4xx other than 429 (here an unknown WebEnv) fails at once."""
    client = fast_client(fake)
    with pytest.raises(EntrezError):
        client.efetch_history(webenv="MCID_nope", query_key="1", retstart=0, retmax=5)
    assert len(fake.requests) == 1


def test_rate_limit_is_shared_by_threads(fake: FakeEutils) -> None:
    """Two threads with one limiter at 20 requests/s are spaced as one stream."""
    limiter = RateLimiter()
    clients = [fast_client(fake, requests_per_second=20.0, limiter=limiter) for _ in range(2)]

    def work(index: int) -> None:
        """Send four small searches."""
        for _ in range(4):
            clients[index].esearch("x", usehistory=False)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrivals = sorted(r.at for r in fake.requests)
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] >= 7 / 20 - 0.02


def test_default_limit_without_key_is_three_per_second(fake: FakeEutils) -> None:
    """Without an api_key the client sends no more than 3 requests per second."""
    client = fast_client(fake, api_key=None, requests_per_second=None, limiter=RateLimiter())
    start = time.monotonic()
    for _ in range(4):
        client.esearch("x", usehistory=False)
    assert time.monotonic() - start >= 3 / 3 - 0.02
    gaps = [b.at - a.at for a, b in zip(fake.requests, fake.requests[1:], strict=False)]
    assert min(gaps) >= 1 / 3 - 0.02


def test_other_users_of_bio_entrez_are_untouched(fake: FakeEutils) -> None:
    """Building and using a client patches nothing: Bio.Entrez.urlopen stays urllib's."""
    fast_client(fake).esearch("x", usehistory=False)
    assert Bio.Entrez.urlopen is urllib.request.urlopen


class FakeClock:
    """A clock whose sleep advances it: the limiter's waits cost no real time."""

    def __init__(self) -> None:
        """Start at an arbitrary time."""
        self.now = 1000.0
        self.lock = threading.Lock()

    def time(self) -> float:
        """Return the fake time."""
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        """Advance the fake time instead of sleeping."""
        with self.lock:
            self.now += seconds


def test_limiter_spaces_slots_by_the_interval_on_a_fake_clock() -> None:
    """Ten callers at 3 per second get slots 1/3 s apart: the tenth waits 3 s of fake time."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.time, sleep=clock.sleep)
    start = clock.time()
    slots = []
    for _ in range(10):
        limiter.acquire(1 / 3)
        slots.append(clock.time() - start)
    assert slots[0] == 0
    assert [round(b - a, 6) for a, b in zip(slots, slots[1:], strict=False)] == [0.333333] * 9


def test_limiter_lets_a_caller_through_at_once_after_a_pause() -> None:
    """A request after a long idle gap is not delayed (no burst debt carried over)."""
    clock = FakeClock()
    limiter = RateLimiter(clock=clock.time, sleep=clock.sleep)
    limiter.acquire(1.0)
    clock.sleep(5.0)
    assert limiter.acquire(1.0) == 0


class RecordingTransport:
    """A transport that answers from memory and records what it was sent (no sockets)."""

    def __init__(self, answers: list[Response]) -> None:
        """Answer with these responses in order."""
        self.answers = answers
        self.sent: list[urllib.request.Request] = []

    def send(self, request: urllib.request.Request, timeout: float) -> Response:
        """Record the request and return the next answer."""
        self.sent.append(request)
        return self.answers.pop(0)


ESEARCH_BODY = (
    b'<?xml version="1.0" ?><eSearchResult><Count>1</Count><RetMax>1</RetMax>'
    b"<RetStart>0</RetStart><IdList><Id>12091962</Id></IdList></eSearchResult>"
)


def test_an_injected_transport_carries_every_request_and_its_retries() -> None:
    """The client sends through the transport it is given: a 503 then a 200, one retry."""
    transport = RecordingTransport(
        [Response(503, {"Retry-After": "0"}, b"busy"), Response(200, {}, ESEARCH_BODY)]
    )
    slept: list[float] = []
    client = EntrezClient(
        email="tests@example.org",
        base_url="http://eutils.invalid/entrez/eutils",
        transport=transport,
        limiter=RateLimiter(),
        requests_per_second=1000.0,
        backoff_base=0.5,
        backoff_max=2.0,
        sleep=slept.append,
    )
    result = client.esearch("microneedling", usehistory=False)
    assert result.ids == [12091962]
    assert [r.full_url.split("?")[0] for r in transport.sent] == [
        "http://eutils.invalid/entrez/eutils/esearch.fcgi"
    ] * 2
    assert "email=tests%40example.org" in transport.sent[0].full_url
    assert client.retries == 1 and len(slept) == 1 and 0 <= slept[0] <= 2.0


def test_retry_after_is_honoured_up_to_the_backoff_cap() -> None:
    """A 429 with Retry-After: 30 waits 30 s (capped by backoff_max), not the short jitter."""
    transport = RecordingTransport(
        [Response(429, {"retry-after": "30"}, b""), Response(200, {}, ESEARCH_BODY)]
    )
    slept: list[float] = []
    client = EntrezClient(
        email="tests@example.org",
        transport=transport,
        limiter=RateLimiter(),
        requests_per_second=1000.0,
        backoff_base=0.01,
        backoff_max=45.0,
        sleep=slept.append,
    )
    client.esearch("x", usehistory=False)
    assert slept == [30.0]


def test_long_id_lists_are_posted() -> None:
    """200 or more PMIDs go in a POST body (NCBI's advice, by Bio.Entrez's request builder)."""
    transport = RecordingTransport([Response(200, {}, b"<PubmedArticleSet></PubmedArticleSet>")])
    client = EntrezClient(
        email="tests@example.org", transport=transport, limiter=RateLimiter(), sleep=time.sleep
    )
    client.efetch_ids(list(range(1, 251)))
    (request,) = transport.sent
    assert request.get_method() == "POST" and request.data and b"id=1%2C2%2C3" in request.data
