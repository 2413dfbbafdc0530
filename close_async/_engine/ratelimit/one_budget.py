"""One budget for every endpoint group, for an API key whose limit covers them all.

Close limits per endpoint group, and the limiters pace each group apart (``PUT
activity/call`` does not hold back ``POST task``). Some limits are wider than a group: a key
whose limit counts every endpoint together, or a proxy in front of Close that counts every
request. Paced apart, a worker that updates calls and creates tasks then sends up to one
budget per group and meets a 429 every second or two.
:class:`OneBudgetLimiter` sends every group's requests through one group of the limiter it
wraps, so the pace, the pauses and (with :class:`~close_async.RedisRateLimiter`) the
sharing between processes cover all requests together.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from .limiter import RateFeedback, RateLimiter

__all__ = ["OneBudgetLimiter"]


class OneBudgetLimiter:
    """A :class:`RateLimiter` spending one budget, ``group``, for every endpoint group.

    ``limiter`` is any rate limiter (a :class:`~close_async.LocalRateLimiter`, a
    :class:`~close_async.RedisRateLimiter`); closing this one closes it::

        limiter = OneBudgetLimiter(RedisRateLimiter(url, rate=38, api_key=api_key))
        async with CloseClient(api_key, rate_limiter=limiter) as close:
            ...
    """

    def __init__(self, limiter: RateLimiter, *, group: str = "all") -> None:
        if not isinstance(group, str) or not group:
            raise ConfigurationError("group must be a non-empty string")
        self._limiter = limiter
        self._group = group

    @property
    def group(self) -> str:
        """The one group every request is paced in."""
        return self._group

    async def acquire(self, group: str) -> None:
        """Wait for the next slot of the one budget, whatever ``group`` the request is in."""
        await self._limiter.acquire(self._group)

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Report the answer to the one budget: a 429 on any group pauses them all."""
        await self._limiter.release(self._group, feedback)

    async def aclose(self) -> None:
        """Close the wrapped limiter."""
        await self._limiter.aclose()

    def __repr__(self) -> str:
        return f"OneBudgetLimiter({self._limiter!r}, group={self._group!r})"
