"""Fixtures for the PubMed library tests: the fake E-utilities server and fast clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pubmed import EntrezClient, RateLimiter
from tests.fake_eutils import FakeEutils, recorded_corpus

DATA = Path(__file__).parent.parent / "data"
ENTREZ = DATA / "entrez"
MEDLINE = DATA / "medline"

ClientFactory = Callable[..., EntrezClient]


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    """A fake E-utilities server serving the recorded records (10 articles)."""
    with FakeEutils(recorded_corpus(), fault_delay=1.0) as server:
        yield server


def fast_client(server: FakeEutils, **overrides: Any) -> EntrezClient:
    """Build a client for the fake server with short timeouts and backoff (tests stay fast)."""
    settings: dict[str, Any] = {
        "email": "tests@example.org",
        "base_url": server.base_url,
        "api_key": "test-key",
        "timeout": 0.4,
        "max_attempts": 4,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "requests_per_second": 1000.0,
        "limiter": RateLimiter(),
    }
    settings.update(overrides)
    return EntrezClient(**settings)


@pytest.fixture
def client(fake: FakeEutils) -> EntrezClient:
    """A fast client pointed at the fake server."""
    return fast_client(fake)
