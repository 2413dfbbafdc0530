"""Bounded waits: a pause from Close longer than ``max_wait`` never freezes a caller.

The limiter tests run on a fake clock (no real sleeping); the loopback tests face a hostile
aiohttp server and bound themselves with a guard timeout only so that a regression fails
instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest
from aiohttp import web

from close_async import (
    APITimeoutError,
    CloseClient,
    ConfigurationError,
    LocalRateLimiter,
    RateFeedback,
    RateLimitError,
    RateLimitInfo,
    RetryPolicy,
)
from close_async._engine.phase import begin as begin_attempt
from tests.conftest import Handler, call_payload, serve_api
from tests.test_local_limiter import GROUP, FakeClock, ok, send

CALL_ID = "acti_3fKQ1nK8zqg7PbZ0"
# Longer than any test may take: a caller that waited it out would hang the test.
HUGE = 1e9


def make(clock: FakeClock, max_wait: float = 120.0) -> LocalRateLimiter:
    return LocalRateLimiter(clock=clock, sleep=clock.sleep, jitter=lambda: 0.0, max_wait=max_wait)


def throttled(retry_after: float | None, reset: float | None = None) -> RateFeedback:
    info = RateLimitInfo(limit=40, remaining=0, reset=reset) if reset is not None else None
    return RateFeedback(429, info, retry_after=retry_after)


async def test_a_429_asking_for_too_long_makes_every_later_acquire_raise_at_once() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, throttled(HUGE))
    for _ in range(3):
        with pytest.raises(RateLimitError) as caught:
            await limiter.acquire(GROUP)
        assert caught.value.retry_after == pytest.approx(HUGE)
        assert "max_wait" in str(caught.value)
    assert clock.slept == []
    assert limiter.snapshot(GROUP).inflight == 0  # a refused acquire holds nothing


async def test_a_200_with_nothing_left_for_a_day_raises_instead_of_sleeping() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(40, 0, 86400))
    with pytest.raises(RateLimitError) as caught:
        await limiter.acquire(GROUP)
    assert caught.value.retry_after == pytest.approx(86400)
    assert clock.slept == []


async def test_a_pause_within_max_wait_is_slept_out() -> None:
    clock = FakeClock()
    limiter = make(clock, max_wait=10)
    await send(limiter, ok(40, 39, 1))
    await send(limiter, throttled(5.0))
    start = clock.now
    await limiter.acquire(GROUP)
    assert clock.now - start == pytest.approx(5.0)


async def test_max_wait_is_the_limiters_own_setting() -> None:
    clock = FakeClock()
    limiter = make(clock, max_wait=10)
    await send(limiter, throttled(30.0))
    with pytest.raises(RateLimitError):
        await limiter.acquire(GROUP)
    with pytest.raises(ConfigurationError):
        LocalRateLimiter(max_wait=-1)


async def test_the_refusal_ends_with_the_pause() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, throttled(500.0))
    with pytest.raises(RateLimitError) as caught:
        await limiter.acquire(GROUP)
    assert caught.value.retry_after == pytest.approx(500.0)
    clock.now += 400  # 100 s left: within max_wait, so waited out
    await limiter.acquire(GROUP)
    assert sum(clock.slept) == pytest.approx(100.0)


async def test_a_later_normal_answer_lifts_the_long_pause() -> None:
    clock = FakeClock()
    limiter = make(clock)
    await send(limiter, ok(40, 39, 1))
    await limiter.acquire(GROUP)
    await limiter.acquire(GROUP)  # two in flight
    await limiter.release(GROUP, throttled(HUGE))
    with pytest.raises(RateLimitError):
        await limiter.acquire(GROUP)
    await limiter.release(GROUP, ok(40, 38, 1))  # Close answered the other one normally
    await limiter.acquire(GROUP)
    assert sum(clock.slept) < 1  # paced, not paused


async def test_a_long_pause_arriving_while_queued_raises_for_the_queue_too() -> None:
    clock = FakeClock()
    gate = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        if seconds >= 1:  # a pause, not a paced slot: held until the test lets it end
            clock.slept.append(seconds)
            await gate.wait()
        clock.now += seconds

    limiter = LocalRateLimiter(clock=clock, sleep=slow_sleep, jitter=lambda: 0.0)
    await send(limiter, ok(40, 39, 1))
    await limiter.acquire(GROUP)
    await limiter.acquire(GROUP)
    await limiter.release(GROUP, throttled(2.0))  # a short pause: the head sleeps it
    head = asyncio.create_task(limiter.acquire(GROUP))
    behind = asyncio.create_task(limiter.acquire(GROUP))
    await asyncio.sleep(0)
    assert clock.slept == [pytest.approx(2.0)]
    # Meanwhile the other request in flight meets a 429 asking for far longer.
    await limiter.release(GROUP, throttled(HUGE))
    gate.set()
    for task in (head, behind):
        with pytest.raises(RateLimitError):
            await task


async def test_a_cancelled_wait_on_a_pause_names_it() -> None:
    clock = FakeClock()
    never = asyncio.Event()

    async def stuck_sleep(seconds: float) -> None:
        await never.wait()

    limiter = LocalRateLimiter(clock=clock, sleep=stuck_sleep, jitter=lambda: 0.0)
    await send(limiter, throttled(60.0))

    async def waiter() -> RateLimitError | None:
        attempt = begin_attempt("rate_limiter")  # as the engine does before acquire
        try:
            await limiter.acquire(GROUP)
        except asyncio.CancelledError:
            return attempt.pause
        return None

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    task.cancel()
    named = await task
    assert isinstance(named, RateLimitError)
    assert named.retry_after == pytest.approx(60.0)
    assert GROUP in str(named)


# -- over loopback, against a hostile server ---------------------------------------------


@pytest.fixture
async def hostile_429() -> AsyncIterator[tuple[str, list[int]]]:
    hits: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(1)
        return web.json_response(
            {"error": "Too many requests"}, status=429, headers={"Retry-After": "1000000000"}
        )

    async with serve_api(handler) as url:
        yield url, hits


async def test_a_429_of_a_billion_seconds_raises_promptly_on_every_later_call(
    hostile_429: tuple[str, list[int]],
) -> None:
    url, hits = hostile_429
    async with CloseClient("api_key_x", base_url=url) as close, asyncio.timeout(30):
        for _ in range(3):
            with pytest.raises(RateLimitError) as caught:
                await close.calls.get(CALL_ID)
            assert caught.value.retry_after == pytest.approx(HUGE, rel=1e-3)
    assert len(hits) == 1  # the later calls never reached the server: nothing to ask


def _nothing_left(reset: int, hits: list[int]) -> Handler:
    """Answers every request with a call, saying no request is left for ``reset`` seconds."""

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(1)
        return web.json_response(
            call_payload(CALL_ID), headers={"ratelimit": f"limit=40, remaining=0, reset={reset}"}
        )

    return handler


async def test_a_200_with_nothing_left_for_a_day_makes_later_calls_raise() -> None:
    hits: list[int] = []
    async with (
        serve_api(_nothing_left(86400, hits)) as url,
        CloseClient("api_key_x", base_url=url) as close,
        asyncio.timeout(30),
    ):
        await close.calls.get(CALL_ID)
        with pytest.raises(RateLimitError) as caught:
            await close.calls.get(CALL_ID)
        assert 86000 < (caught.value.retry_after or 0) <= 86400
    assert len(hits) == 1


async def test_the_client_gives_its_default_limiter_the_policys_max_server_wait() -> None:
    policy = RetryPolicy(max_server_wait=10)
    async with (
        serve_api(_nothing_left(30, [])) as url,
        CloseClient("api_key_x", base_url=url, retry=policy) as close,
    ):
        await close.calls.get(CALL_ID)
        with pytest.raises(RateLimitError):  # 30 s > 10 s: not waited out
            await close.calls.get(CALL_ID)


async def test_a_deadline_ending_in_the_limiter_names_the_pause() -> None:
    async with (
        serve_api(_nothing_left(60, [])) as url,
        CloseClient("api_key_x", base_url=url) as close,
        asyncio.timeout(30),
    ):
        await close.calls.get(CALL_ID)
        with pytest.raises(APITimeoutError) as caught:
            await close.calls.get(CALL_ID, timeout=0.05)
    last = caught.value.last_error
    assert isinstance(last, RateLimitError)
    assert "paused" in str(last)
    assert 50 < (last.retry_after or 0) <= 60


class _HoldsLeads(LocalRateLimiter):
    """Close's pauses as usual; the lead group held by someone else, without any pause."""

    async def acquire(self, group: str) -> None:
        if group == "GET lead":
            await asyncio.Event().wait()
        await super().acquire(group)


async def _cut(call: Awaitable[object]) -> APITimeoutError:
    with pytest.raises(APITimeoutError) as caught:
        await call
    # The whole call's timeout itself, not an attempt's (both are APITimeoutErrors).
    assert type(caught.value) is APITimeoutError
    return caught.value


async def test_a_pause_waited_on_is_named_by_the_call_that_waited_on_it_only() -> None:
    lead = "lead/lead_3fKQ1nK8zqg7PbZ0LeAd/"
    async with (
        serve_api(_nothing_left(60, [])) as url,
        CloseClient("api_key_x", base_url=url, rate_limiter=_HoldsLeads()) as close,
        asyncio.timeout(30),
    ):
        await close.calls.get(CALL_ID)  # Close: nothing left for 60 s
        # This task sleeps out the pause and is cut there: the pause is this call's word.
        first = await _cut(close.calls.get(CALL_ID, timeout=0.05))
        # Then two calls at once, each in a task started from this one: only the call that
        # waits on the pause names it; the other waits on a group held without a pause.
        paused, held = await asyncio.gather(
            _cut(close.calls.get(CALL_ID, timeout=0.05)),
            _cut(close.get(lead, timeout=0.05)),
        )
        # And a later call of this task, held without a pause, names none either.
        later = await _cut(close.get(lead, timeout=0.05))
    for named in (first, paused):
        assert isinstance(named.last_error, RateLimitError)
        assert "paused" in str(named.last_error)
    for call in (held, later):
        assert call.phase == "rate_limiter"
        assert call.last_error is None
        assert "(no attempt was sent)" in str(call)
