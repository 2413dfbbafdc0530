"""OneBudgetLimiter: every endpoint group spends the wrapped limiter's one budget."""

from __future__ import annotations

import pytest

from close_async import (
    ConfigurationError,
    LocalRateLimiter,
    OneBudgetLimiter,
    RateFeedback,
    RateLimiter,
)
from close_async._engine.ratelimit.info import RateLimitInfo


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, RateFeedback | None]] = []
        self.closed = False

    async def acquire(self, group: str) -> None:
        self.calls.append(("acquire", group, None))

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        self.calls.append(("release", group, feedback))

    async def aclose(self) -> None:
        self.closed = True


async def test_every_group_is_paced_in_the_one_group() -> None:
    inner = Recorder()
    limiter = OneBudgetLimiter(inner, group="key")
    assert isinstance(limiter, RateLimiter)
    throttled = RateFeedback(status=429, retry_after=1.0)
    await limiter.acquire("PUT activity/call")
    await limiter.release("PUT activity/call", throttled)
    await limiter.acquire("POST task")
    await limiter.release("POST task", None)
    assert inner.calls == [
        ("acquire", "key", None),
        ("release", "key", throttled),
        ("acquire", "key", None),
        ("release", "key", None),
    ]
    await limiter.aclose()
    assert inner.closed


async def test_a_429_on_one_endpoint_pauses_the_others() -> None:
    inner = LocalRateLimiter(rate=1000.0)
    limiter = OneBudgetLimiter(inner)
    await limiter.acquire("PUT activity/call")
    info = RateLimitInfo(limit=40, remaining=0, reset=30.0)
    await limiter.release("PUT activity/call", RateFeedback(status=429, info=info, retry_after=30))
    # The 429 paused the one group, where every endpoint's requests wait; the endpoint's
    # own group in the wrapped limiter was never used.
    assert inner.snapshot(limiter.group).paused_for > 1.0
    assert inner.snapshot("PUT activity/call").paused_for == 0.0
    await limiter.aclose()


def test_group_must_be_a_name() -> None:
    with pytest.raises(ConfigurationError, match="group"):
        OneBudgetLimiter(Recorder(), group="")
