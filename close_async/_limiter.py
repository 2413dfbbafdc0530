"""Client-side rate limiting: the interface every limiter implements.

The client calls, for every HTTP attempt::

    await limiter.acquire(group)          # waits until a request to ``group`` may go
    try:
        ... send, get a response ...
    finally:
        await limiter.release(group, feedback_or_None)

``group`` names Close's endpoint group; without a group name from Close it is the method
and the resource, e.g. ``"PUT activity/call"``. ``release`` is called exactly once per
``acquire`` that returned, with the response's :class:`RateFeedback`, or ``None`` when no
response came (transport error, cancellation).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from ._rate_limit_info import RateLimitInfo

__all__ = ["RateFeedback", "RateLimiter"]


@attrs.frozen
class RateFeedback:
    """What one response taught about the rate limit of its group.

    ``status`` is the HTTP status; ``info`` the parsed limit snapshot (headers, or a 429
    body); ``retry_after`` the wait Close asked for on a 429 (``None`` when it gave none).
    """

    status: int
    info: RateLimitInfo | None = None
    retry_after: float | None = None

    @property
    def throttled(self) -> bool:
        """True when Close refused the request for its rate limit (HTTP 429)."""
        return self.status == 429


@runtime_checkable
class RateLimiter(Protocol):
    """Paces requests per endpoint group. Implementations must be safe for many tasks.

    ``acquire`` must hold nothing when cancelled. ``release`` must be quick and never raise.
    """

    async def acquire(self, group: str) -> None:
        """Wait until one request to ``group`` may be sent."""
        ...

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Report how the request allowed by the matching ``acquire`` ended."""
        ...

    async def aclose(self) -> None:
        """Free resources (connections to a shared store, timers)."""
        ...
