"""``stepping``: a sync walk over an async iterator takes every item at hand per loop round
trip (a page's items together), and keeps the async iterator's order, errors and end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import pytest

from close_async import BlockingCloseClient, BlockingPager
from close_async._blocking.portal import Portal
from close_async._blocking.stepping import BATCH, Stepper, iterate
from close_async._resources.pager import paginate
from tests.fake_requester import FakeRequester

T = TypeVar("T")


class CountingPortal:
    """A portal that counts its round trips to the loop."""

    def __init__(self, portal: Portal) -> None:
        self._portal = portal
        self.trips = 0

    def run(self, awaitable: Awaitable[T]) -> T:
        self.trips += 1
        return self._portal.run(awaitable)

    def finish(self, awaitable: Awaitable[object]) -> None:
        self._portal.finish(awaitable)


@pytest.fixture
def portal() -> Iterator[CountingPortal]:
    with BlockingCloseClient("test_key", base_url="http://127.0.0.1:9/api/v1/") as close:
        yield CountingPortal(close._portal)


class Boom(Exception):
    pass


async def numbers(n: int, fail_at: int | None = None) -> AsyncIterator[int]:
    for i in range(n):
        if i == fail_at:
            raise Boom(f"item {i}")
        yield i


def test_a_pagers_walk_takes_one_round_trip_per_page(portal: CountingPortal) -> None:
    pages = [{"data": list(range(p * 100, p * 100 + 100)), "has_more": p < 2} for p in range(3)]
    requester = FakeRequester(*pages)
    pager = BlockingPager(portal, paginate(requester, "lead/"))  # type: ignore[arg-type]
    assert list(pager) == list(range(300))
    # Three pages, and one more trip to learn that the walk is over (no request).
    assert portal.trips == 4
    assert len(requester.requests) == 3


def test_with_nothing_known_each_item_is_a_trip(portal: CountingPortal) -> None:
    assert list(iterate(portal, numbers(5))) == [0, 1, 2, 3, 4]  # type: ignore[arg-type]
    assert portal.trips == 6


def test_a_source_always_at_hand_is_taken_a_batch_at_a_time(portal: CountingPortal) -> None:
    n = 2 * BATCH + 10
    steps = iterate(portal, numbers(n), lambda: True)  # type: ignore[arg-type]
    assert list(steps) == list(range(n))
    assert portal.trips == 3


def test_the_items_before_an_error_come_first_then_the_error_then_the_end(
    portal: CountingPortal,
) -> None:
    steps: Stepper[int] = Stepper(portal, numbers(10, fail_at=4), lambda: True)  # type: ignore[arg-type]
    seen: list[Any] = []
    with pytest.raises(Boom, match="item 4"):
        seen.extend(steps)
    assert seen == [0, 1, 2, 3]
    assert list(steps) == []  # the generator is over, as it is for async iteration
    assert steps.over


def test_an_error_with_nothing_before_it_is_raised_at_once(portal: CountingPortal) -> None:
    steps = iterate(portal, numbers(3, fail_at=0), lambda: True)  # type: ignore[arg-type]
    with pytest.raises(Boom, match="item 0"):
        next(steps)


def test_leaving_early_closes_the_source_on_the_loop(portal: CountingPortal) -> None:
    closed: list[bool] = []

    async def source() -> AsyncIterator[int]:
        try:
            for i in range(1000):
                yield i
        finally:
            closed.append(True)

    steps = iterate(portal, source(), lambda: True)  # type: ignore[arg-type]
    assert next(steps) == 0
    steps.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_the_walk_benchmark_runs_and_walks_every_item() -> None:
    from benchmarks.blocking_walk import measure

    figures = measure(rounds=1, n=150)
    assert figures["items"] == 150
    assert all(
        figures[f"{walk}_{client}"] > 0
        for walk in ("list", "stream")
        for client in ("async", "blocking")
    )
