"""Searches above the 10,000-id cap, resumable plans and expiring history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from pubmed import ESEARCH_CAP, PubmedRecord, SearchPlan, iter_batches, plan_search
from tests.fake_eutils import FakeEutils, synthetic_corpus

from .conftest import fast_client

BIG = 10_200


@pytest.fixture(scope="module")
def big_fake() -> Iterator[FakeEutils]:
    """A fake server holding more records than one esearch can list (built once)."""
    # The four smallest recorded articles keep this module fast; the shape is the same.
    corpus = synthetic_corpus(BIG, files=("pubmed1.xml", "pubmed2.xml"))
    with FakeEutils(corpus) as server:
        yield server


def collect(client: object, plan: SearchPlan, batch_size: int) -> list[int]:
    """Fetch a plan to the end, advancing it after each batch as a job would."""
    got: list[int] = []
    for batch in iter_batches(client, plan, batch_size=batch_size):  # type: ignore[arg-type]
        got.extend(r.pmid for r in batch.items if isinstance(r, PubmedRecord))
        plan.advance(batch)
    return got


def test_count_above_cap_is_split_by_date_and_fully_fetched(big_fake: FakeEutils) -> None:
    """An esearch count above 10,000 is split by date; the union is every record, once."""
    total = len(big_fake.state.corpus)
    assert total > ESEARCH_CAP
    client = fast_client(big_fake)
    plan = plan_search(client, "lasers")
    assert plan.total == total and plan.expected == total and plan.unreachable == 0
    assert len(plan.slices) >= 2 and all(s.count < ESEARCH_CAP for s in plan.slices)
    big_fake.inject("500", "efetch")
    big_fake.inject("truncate", "efetch")
    got = collect(client, plan, batch_size=2_000)
    assert len(got) == total and len(set(got)) == total
    assert plan.done == plan.expected


def test_plan_resumes_from_saved_state_after_history_expired(big_fake: FakeEutils) -> None:
    """A job stopped mid-way resumes from its saved plan, even once the WebEnv expired."""
    client = fast_client(big_fake)
    plan = plan_search(client, "resume me")
    first: list[int] = []
    for batch in iter_batches(client, plan, batch_size=1_500):
        first.extend(r.pmid for r in batch.items if isinstance(r, PubmedRecord))
        plan.advance(batch)
        if len(first) >= 4_500:
            break  # the worker is killed here
    saved = plan.to_dict()
    big_fake.expire_history()
    resumed = SearchPlan.from_dict(saved)
    rest = collect(fast_client(big_fake), resumed, batch_size=1_500)
    assert len(first) + len(rest) == plan.total
    assert not set(first) & set(rest)


def test_max_records_limits_the_fetch(fake: FakeEutils) -> None:
    """--max N fetches exactly N records."""
    client = fast_client(fake)
    plan = plan_search(client, "anything", max_records=3)
    assert plan.expected == 3
    assert len(collect(client, plan, batch_size=2)) == 3


def test_a_single_day_above_the_cap_is_reported_not_hidden() -> None:
    """When one day alone exceeds the cap, the plan says how many records it cannot reach."""
    corpus = synthetic_corpus(60)
    for record in corpus:
        record.pub_date = corpus[0].pub_date
    with FakeEutils(corpus) as server:
        day = corpus[0].pub_date
        plan = plan_search(
            fast_client(server),
            "one day",
            cap=50,
            earliest=day - timedelta(days=8),
            latest=day + timedelta(days=7),
        )
    assert plan.total == 60 and plan.unreachable == 10
