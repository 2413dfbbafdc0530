"""Each retry sleeps the wait its RetryEvent reports, measured on a recording clock.

The limiter here never holds anything back, so only the retry loop's own sleep can
separate two requests: a sleep of the wrong length (or none) shows up as a gap that
differs from the reported wait.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from close_async import CloseClient, InternalServerError, RateLimitError, RetryEvent, RetryPolicy
from close_async._engine.ratelimit.limiter import RateFeedback
from close_async.models import CallUpdate
from tests.conftest import API_KEY, CALL_ID, call_payload

CALL_URL = f"https://api.close.com/api/v1/activity/call/{CALL_ID}/"

# Backoff large enough that a jittered wait of exactly 0 never turns up by chance.
POLICY = RetryPolicy(attempts=6, wait_initial=1.0, wait_max=8.0, max_server_wait=60.0)


class NoPause:
    """A limiter whose acquire never waits, so it cannot hide a retry that goes early."""

    async def acquire(self, group: str) -> None:
        return None

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        return None

    async def aclose(self) -> None:
        return None


class RecordingClock:
    """A fake clock that only the retry loop's sleep moves forward."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def run_update(
    mocked: aioresponses,
    answers: list[dict[str, Any]],
    policy: RetryPolicy = POLICY,
) -> tuple[list[float], list[RetryEvent], RecordingClock]:
    """Answer the PUTs with ``answers`` then a success; the fake time of each request."""
    clock = RecordingClock()
    sent_at: list[float] = []

    def record(url: object, **kwargs: object) -> None:
        sent_at.append(clock.now)

    for answer in [*answers, {"payload": call_payload()}]:
        mocked.put(CALL_URL, callback=record, **answer)
    events: list[RetryEvent] = []
    async with CloseClient(
        API_KEY, retry=policy, rate_limiter=NoPause(), on_retry=events.append
    ) as close:
        close._engine._retry_sleep = clock.sleep
        await close.calls.update(CALL_ID, CallUpdate(note="x"))
    return sent_at, events, clock


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def throttled(retry_after: str) -> dict[str, Any]:
    return {"status": 429, "headers": {"Retry-After": retry_after}, "body": ""}


def unavailable(retry_after: str | None = None) -> dict[str, Any]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return {"status": 503, "headers": headers, "body": "down"}


def server_error() -> dict[str, Any]:
    return {"status": 500, "body": "<html>oops</html>", "content_type": "text/html"}


async def test_429_retry_waits_what_close_asked(mocked: aioresponses) -> None:
    sent_at, events, _ = await run_update(mocked, [throttled("7"), throttled("2.5")])
    assert [e.wait for e in events] == [7.0, 2.5]
    assert gaps(sent_at) == [7.0, 2.5]


async def test_503_retry_after_is_waited_instead_of_backoff(mocked: aioresponses) -> None:
    sent_at, events, _ = await run_update(mocked, [unavailable("3"), unavailable("11")])
    assert [e.wait for e in events] == [3.0, 11.0]
    assert gaps(sent_at) == [3.0, 11.0]
    assert [e.reason for e in events] == ["server_error", "server_error"]


async def test_backoff_sleeps_the_wait_it_reports(mocked: aioresponses) -> None:
    sent_at, events, clock = await run_update(mocked, [server_error()] * 4)
    waits = [e.wait for e in events]
    assert clock.slept == waits
    assert gaps(sent_at) == pytest.approx(waits)  # only float rounding apart
    # Full jitter below the cap of each attempt: 1, 2, 4, 8 seconds.
    for wait, cap in zip(waits, [1.0, 2.0, 4.0, 8.0], strict=True):
        assert 0 < wait <= cap


async def test_a_mix_of_waits_each_sleeps_its_own(mocked: aioresponses) -> None:
    answers = [unavailable("4"), server_error(), throttled("9"), unavailable(), throttled("0.5")]
    sent_at, events, _ = await run_update(mocked, answers)
    waits = [e.wait for e in events]
    assert gaps(sent_at) == pytest.approx(waits)
    assert [e.attempt for e in events] == [1, 2, 3, 4, 5]
    assert (waits[0], waits[2], waits[4]) == (4.0, 9.0, 0.5)
    assert 0 < waits[1] <= 2.0  # the second fault's backoff
    assert 0 < waits[3] <= 4.0  # a 503 without Retry-After backs off, the third fault


@pytest.mark.parametrize(
    ("answer", "error"),
    [(throttled("61"), RateLimitError), (unavailable("61"), InternalServerError)],
)
async def test_a_server_wait_past_the_cap_raises_without_sleeping(
    mocked: aioresponses, answer: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        await run_update(mocked, [answer])
    assert info.value.retry_after == 61.0  # type: ignore[attr-defined]
    assert len(mocked.requests[("PUT", URL(CALL_URL))]) == 1


async def test_a_server_wait_at_the_cap_is_slept(mocked: aioresponses) -> None:
    sent_at, events, _ = await run_update(mocked, [unavailable("60"), throttled("60")])
    assert gaps(sent_at) == [60.0, 60.0]
    assert [e.wait for e in events] == [60.0, 60.0]
