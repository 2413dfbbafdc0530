"""The in-process limiter, driven by a fake clock: no real sleeping."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from close_async import LocalRateLimiter, RateFeedback, RateLimitInfo

GROUP = "PUT activity/call"


class FakeClock:
    """A clock whose sleep advances time instantly (and lets other tasks run)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def make(clock: FakeClock, rate: float | None = None, burst: int | None = None) -> LocalRateLimiter:
    return LocalRateLimiter(rate, burst=burst, clock=clock, sleep=clock.sleep, jitter=lambda: 0.0)


def ok(limit: float, remaining: float, reset: float) -> RateFeedback:
    return RateFeedback(200, RateLimitInfo(limit=limit, remaining=remaining, reset=reset))


async def send(limiter: LocalRateLimiter, feedback: RateFeedback | None) -> None:
    await limiter.acquire(GROUP)
    await limiter.release(GROUP, feedback)


async def test_fixed_rate_spaces_requests_evenly() -> None:
    clock = FakeClock()
    limiter = make(clock, rate=10)
    start = clock.now
    for _ in range(11):
        await send(limiter, RateFeedback(200))
    assert clock.now - start == pytest.approx(1.0)


async def test_burst_lets_that_many_go_back_to_back() -> None:
    clock = FakeClock()
    limiter = make(clock, rate=10, burst=5)
    for _ in range(5):
        await send(limiter, RateFeedback(200))
    assert clock.slept == []
    await send(limiter, RateFeedback(200))
    assert sum(clock.slept) > 0


async def test_spent_budget_holds_the_group_until_reset() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=0, reset=0.5))
    start = clock.now
    await limiter.acquire(GROUP)
    assert clock.now - start == pytest.approx(0.5)


async def test_remaining_budget_is_spread_over_the_time_left() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=10, reset=1.0))
    times = []
    for _ in range(5):
        await limiter.acquire(GROUP)
        times.append(clock.now)
        await limiter.release(GROUP, None)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 10 left over 1 s: about 0.1 s apart, never a burst of all ten at once.
    assert all(g == pytest.approx(0.1, rel=0.2) for g in gaps)


async def test_in_flight_requests_count_against_the_remaining_budget() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=40, reset=1.0))  # learn; probe done
    for _ in range(3):
        await limiter.acquire(GROUP)  # three in flight, not yet counted by Close
    await limiter.acquire(GROUP)
    # Close answers one of them: 3 left, but the other three in flight will use them.
    window_end = 101.0
    await limiter.release(GROUP, ok(limit=40, remaining=3, reset=window_end - clock.now))
    await limiter.acquire(GROUP)
    assert clock.now >= window_end - 1e-9


async def test_429_pauses_the_whole_group_once_for_the_server_wait() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, RateFeedback(200))
    await send(limiter, RateFeedback(429, None, retry_after=2.0))
    start = clock.now
    await limiter.acquire(GROUP)
    assert clock.now - start == pytest.approx(2.0)
    assert limiter.snapshot(GROUP).throttles == 1


async def test_pause_jitter_only_ever_waits_longer() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
    await send(limiter, RateFeedback(200))
    await send(limiter, RateFeedback(429, None, retry_after=2.0))
    start = clock.now
    await limiter.acquire(GROUP)
    assert 2.0 < clock.now - start <= 2.25


async def test_other_groups_are_not_paused_by_a_429() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, RateFeedback(429, None, retry_after=5.0))
    start = clock.now
    await limiter.acquire("GET activity/call")
    assert clock.now == start


async def test_only_one_probe_is_in_flight_until_the_first_answer() -> None:
    limiter = LocalRateLimiter()
    await limiter.acquire(GROUP)
    second = asyncio.create_task(limiter.acquire(GROUP))
    await asyncio.sleep(0.01)
    assert not second.done()
    await limiter.release(GROUP, ok(limit=100, remaining=99, reset=1.0))
    await asyncio.wait_for(second, 1)


async def test_cancelled_acquire_holds_no_slot() -> None:
    limiter = LocalRateLimiter()
    await send(limiter, RateFeedback(429, None, retry_after=30.0))
    waiting = asyncio.create_task(limiter.acquire(GROUP))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    snap = limiter.snapshot(GROUP)
    assert snap.inflight == 0
    # The lock is free again: another group member can queue (and is paused, not stuck).
    assert not limiter._groups[GROUP].lock.locked()


async def test_without_numbers_from_close_a_429_cuts_the_rate() -> None:
    clock = FakeClock()
    limiter = make(clock)
    for _ in range(50):  # 50 requests in the same instant, no headers
        await send(limiter, RateFeedback(200))
    await send(limiter, RateFeedback(429, None, retry_after=0.5))
    clock.now += 5  # well past the pause
    t0 = clock.now
    for _ in range(11):
        await send(limiter, RateFeedback(200))
    # Close admitted 50 in the last second: the rate is cut to 97% of that.
    assert clock.now - t0 == pytest.approx(10 / (0.97 * 50), rel=0.02)


async def test_an_answer_from_an_older_window_does_not_refill_the_budget() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=0, reset=1.0))
    # A late answer from a window that ended long ago says there was room.
    await limiter.release(GROUP, ok(limit=40, remaining=30, reset=0.0))
    start = clock.now
    await limiter.acquire(GROUP)
    assert clock.now - start == pytest.approx(1.0)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        LocalRateLimiter(0)


async def test_whole_second_resets_are_sharpened_by_the_window_start_seen() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=39, reset=1))
    clock.now = 100.5
    await send(limiter, ok(limit=40, remaining=10, reset=1))
    clock.now = 101.05  # Close's count is back up: a window began just before this answer
    await send(limiter, ok(limit=40, remaining=39, reset=1))
    clock.now = 101.5  # spent; "reset=1" is rounded up from about 0.55
    await send(limiter, ok(limit=40, remaining=0, reset=1))
    await limiter.acquire(GROUP)
    assert clock.now == pytest.approx(102.05)  # not 102.5


async def test_answers_overtaking_each_other_are_not_a_new_window() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(limit=40, remaining=40, reset=1.0))
    for _ in range(3):
        await limiter.acquire(GROUP)
    # Three in flight; the last sent is answered first, then the first one.
    await limiter.release(GROUP, ok(limit=40, remaining=0, reset=1.0 - 0.01))
    await limiter.release(GROUP, ok(limit=40, remaining=2, reset=1.0 - 0.01))
    await limiter.acquire(GROUP)
    assert clock.now >= 101.0 - 1e-9  # still spent until the window's end


@pytest.mark.parametrize(
    ("last", "remaining", "inflight", "limit", "began"),
    [
        (None, 39, 0, 40, True),  # the first answer seen, the first of its window
        (None, 20, 0, 40, False),  # the first seen, but half the window is spent already
        (None, 39, 0, None, False),  # no limit: nothing says how full the window is
        (3, 39, 0, 40, True),  # the count went back up
        (3, 38, 1, 40, True),
        (38, 39, 0, 40, False),  # overtaking answers of one window
        (3, 20, 0, 40, False),  # went up, but too late in its window to date it
        (3, 30, 0, None, True),  # no limit: the jump alone
    ],
)
def test_when_an_answer_dates_a_new_window(
    last: float | None, remaining: float, inflight: int, limit: float | None, began: bool
) -> None:
    from close_async._engine.ratelimit.limiter import new_window_began

    assert new_window_began(last, remaining, inflight, limit) is began


@pytest.mark.parametrize(
    ("reset", "since", "window", "expected"),
    [
        (1.0, None, 1.0, 1.0),  # no window start known: the reset stands
        (1.0, 0.7, 1.0, pytest.approx(0.3)),
        (1.0, 1.4, 1.0, 0.0),  # the window seen is over
        (0.2, 0.1, 1.0, 0.2),  # never later than Close said
    ],
)
def test_a_whole_second_reset_is_an_upper_bound(
    reset: float, since: float | None, window: float, expected: object
) -> None:
    from close_async._engine.ratelimit.limiter import sharper_reset

    assert sharper_reset(reset, since, window) == expected


async def test_a_whole_second_retry_after_ends_with_the_window_seen() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(40, 39, 1))  # the first answer of a window: it began now
    clock.now += 0.7
    await send(limiter, RateFeedback(429, retry_after=1.0))  # rounded up from about 0.3
    assert limiter.snapshot(GROUP).paused_for == pytest.approx(0.3)


async def test_a_whole_second_retry_after_stands_without_a_window_seen() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(40, 20, 1))  # mid-window: says nothing of when it began
    clock.now += 0.7
    await send(limiter, RateFeedback(429, retry_after=1.0))
    assert limiter.snapshot(GROUP).paused_for == pytest.approx(1.0)


async def test_a_whole_second_retry_after_past_the_window_seen_costs_one_slot() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(40, 39, 1))
    clock.now += 1.2  # that window is over; the refusal spoke of the one after
    await send(limiter, RateFeedback(429, retry_after=1.0))
    assert limiter.snapshot(GROUP).paused_for == pytest.approx(1 / 40)
