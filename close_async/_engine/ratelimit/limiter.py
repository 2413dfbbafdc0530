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

Waits are bounded: a pause Close asked for that is longer than the limiter's ``max_wait``
(default :data:`DEFAULT_MAX_WAIT`, the :class:`RetryPolicy` default of ``max_server_wait``)
is never waited out silently: ``acquire`` raises :class:`RateLimitError` at once, with
``retry_after`` the time left, until the pause ends or a later answer from Close lifts it.
While ``acquire`` sleeps out a shorter pause, :func:`waiting_on_pause` records it on the
attempt's :class:`~close_async._engine.phase.PhaseMark`, so a call whose timeout ends
there can say why.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import attrs

from ..errors import ConfigurationError, RateLimitError
from ..phase import mark as attempt_mark
from .info import RateLimitInfo

__all__ = [
    "DEFAULT_MAX_WAIT",
    "RateFeedback",
    "RateLimiter",
    "check_max_wait",
    "new_window_began",
    "pause_error",
    "sharper_reset",
    "waiting_on_pause",
]

DEFAULT_MAX_WAIT = 120.0
"""The longest pause a limiter sleeps through (``RetryPolicy().max_server_wait``)."""


def check_max_wait(max_wait: float) -> float:
    """``max_wait`` as a float, or :class:`ConfigurationError` when it is not ``>= 0``."""
    if isinstance(max_wait, bool) or not isinstance(max_wait, (int, float)) or not max_wait >= 0:
        raise ConfigurationError("max_wait must be a number of seconds >= 0")
    return float(max_wait)


def new_window_began(
    last_remaining: float | None, remaining: float, inflight: int, limit: float | None
) -> bool:
    """Whether this answer is the first seen of a new window of Close's, which began just
    before it.

    Close's count went back up by more than answers overtaking each other explain (they
    differ by at most what was in flight together); or, for the first answer seen, it is one
    of the first of its window. Either way only an answer counting little of the window yet
    (``remaining`` near ``limit``) is taken to say when the window began: one seen late in
    a window (another process sent the first requests) would date its start too late.
    """
    if limit is not None and remaining < limit - 1 - inflight:
        return False
    if last_remaining is None:
        return limit is not None
    return remaining > last_remaining + inflight + 1


def sharper_reset(reset: float, since_window_began: float | None, window: float) -> float:
    """A whole-second ``reset`` sharpened by when the window was seen to begin.

    Close rounds resets (and ``Retry-After``) up, by up to a second: the start of the
    window, plus its length, is the sharper end. ``since_window_began`` is how long ago the
    first answer of the current window came (``None``: unknown, the reset stands).
    """
    if since_window_began is None:
        return reset
    return min(reset, max(0.0, window - since_window_began))


def pause_error(group: str, left: float, max_wait: float | None = None) -> RateLimitError:
    """The error of a call that meets ``group`` paused by Close for ``left`` more seconds.

    With ``max_wait``, the message says the pause is too long to wait out.
    """
    shown = f"{left:.1f} s" if math.isfinite(left) else "an unbounded time"
    message = f"endpoint group {group!r} is paused by Close's rate limit for {shown} more"
    if max_wait is not None:
        message += f", longer than max_wait ({max_wait:g} s): not waiting"
    return RateLimitError(message, status=429, retry_after=left)


def waiting_on_pause(group: str, left: float) -> None:
    """Record on the current attempt's mark that it now sleeps ``left`` seconds on
    ``group``'s pause (or, with ``left <= 0``, that it no longer does).

    Set before the sleep and cleared after it, but deliberately not when the sleep is
    cancelled: a timeout cancels it, and the engine reads the attempt's mark afterwards to
    say what the call was waiting for. Outside an attempt (a limiter used on its own) there
    is no mark and nothing to record.
    """
    mark = attempt_mark()
    if mark is not None:
        mark.pause = pause_error(group, left) if left > 0 else None


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
        """Wait until one request to ``group`` may be sent.

        Raises :class:`RateLimitError` at once when Close paused ``group`` for longer than
        the limiter's ``max_wait``.
        """
        ...

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Report how the request allowed by the matching ``acquire`` ended."""
        ...

    async def aclose(self) -> None:
        """Free resources (connections to a shared store, timers)."""
        ...
