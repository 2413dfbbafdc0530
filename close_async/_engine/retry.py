"""The one retry policy: which failures are retried, how long to wait, when to give up.

Rules (Close API facts, "Errors" and "Rate limits"):

- 429 is retried for every method (Close refused it, so nothing was applied), after the
  wait Close asked for. A wait longer than ``max_server_wait`` is not slept through:
  the :class:`RateLimitError` is raised, carrying ``retry_after``.
- 500, 502, 503, 504, timeouts and dropped connections are retried for idempotent methods
  (GET, PUT, DELETE): sending the same PUT twice leaves the same state. A 503 with
  ``Retry-After`` waits that long, under the same ``max_server_wait`` cap (past it, the
  :class:`InternalServerError` is raised).
- POST (creating a call, a lead, ...) is retried only when no connection was made
  (:class:`ConnectError`), since a retried create can make the object twice; except a POST
  that only reads (``data/search/``, reports, a GET sent with a method override) or one the
  caller declared ``idempotent=True``: those are retried like a GET.
- An answer the HTTP parser refused (:class:`ProtocolError`) is retried once, for
  idempotent methods: a proxy's hiccup clears, a broken server does not.
- An answer past the size cap (:class:`ResponseTooLargeError`) is never retried: the same
  request would fetch the same answer.
- Everything else (400, 401, 403, 404, ...) is never retried; nor is anything not on this
  allow-list, cancellation above all.

Each retry sleeps exactly the wait reported for it in its :class:`RetryEvent`.
Backoff is exponential with full jitter and a cap; faults and 429s have separate budgets,
because waiting out a rate limit is expected work, not a sign that something is broken.
Tenacity does the looping; its types never leave this package.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import tenacity

from .errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    ConnectError,
    InternalServerError,
    ProtocolError,
    RateLimitError,
    ResponseTimeoutError,
    ResponseTooLargeError,
)
from .http.request import Request
from .phase import current as current_phase
from .phase import describe as describe_phase
from .phase import enter as enter_phase

__all__ = ["RetryEvent", "RetryPolicy", "retry_reason"]

_log = logging.getLogger("close_async.retry")

_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
_PROTOCOL_ERROR_RETRIES = 1


@attrs.frozen
class RetryEvent:
    """One retry about to happen: what failed, which attempt, and how long we wait.

    ``reason`` is a short tag: ``"rate_limited"``, ``"server_error"``, ``"connect_error"``,
    ``"timeout"``, ``"disconnected"`` or ``"protocol_error"``. ``attempt`` is the number of
    the attempt that failed.
    """

    method: str
    path: str
    attempt: int
    wait: float
    reason: str
    error: BaseException


def _at_least(bound: float) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """An attrs validator: a number ``>= bound``, else :class:`ConfigurationError`."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and value >= bound):  # NaN is not >= anything either
            raise ConfigurationError(
                f"RetryPolicy.{attribute.name} must be a number >= {bound}, got {value!r}"
            )

    return check


@attrs.frozen
class RetryPolicy:
    """How close-async retries (the defaults suit production).

    - ``attempts``: attempts in all for faults (5xx, timeouts, dropped connections),
      the first included. ``1`` turns retries of faults off.
    - ``rate_limit_attempts``: how many 429s one call may wait out before giving up.
    - ``wait_initial``, ``wait_max``, ``wait_exp_base``: capped exponential backoff; the
      actual wait is drawn uniformly below it (full jitter).
    - ``max_server_wait``: a 429 (or a 503 with ``Retry-After``) asking for a longer wait
      raises instead of blocking.

    ``RetryPolicy.no_wait()`` keeps the rules but never sleeps between faults (for tests).
    """

    attempts: int = attrs.field(default=5, validator=_at_least(1))
    rate_limit_attempts: int = attrs.field(default=20, validator=_at_least(0))
    wait_initial: float = attrs.field(default=0.5, validator=_at_least(0))
    wait_max: float = attrs.field(default=20.0, validator=_at_least(0))
    wait_exp_base: float = attrs.field(default=2.0, validator=_at_least(1))
    max_server_wait: float = attrs.field(default=120.0, validator=_at_least(0))

    def fault_wait(self, faults: int) -> float:
        """The backoff after the ``faults``-th fault in a row (1-based): full jitter below
        ``wait_initial * wait_exp_base ** (faults - 1)``, capped at ``wait_max``."""
        try:
            cap = min(self.wait_initial * self.wait_exp_base ** (faults - 1), self.wait_max)
        except OverflowError:  # a long run of faults: the exponent outgrew a float
            cap = self.wait_max
        return random.uniform(0.0, cap)

    @classmethod
    def no_wait(cls, attempts: int = 5, rate_limit_attempts: int = 20) -> RetryPolicy:
        """The same rules with zero backoff, so tests of retry paths run in milliseconds."""
        return cls(
            attempts=attempts,
            rate_limit_attempts=rate_limit_attempts,
            wait_initial=0.0,
            wait_max=0.0,
        )

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """Never retry anything."""
        return cls(attempts=1, rate_limit_attempts=0)


def retry_reason(request: Request, error: BaseException) -> str | None:
    """Why ``error`` may be retried for ``request``, or ``None`` if it may not.

    The allow-list of the module docstring, as one pure function; "idempotent" is the
    request's own word (:attr:`Request.idempotent`), which covers the POSTs that only read.
    """
    if isinstance(error, RateLimitError):
        return "rate_limited"
    if isinstance(error, ConnectError):
        return "connect_error"
    if not request.idempotent:
        return None
    if isinstance(error, InternalServerError) and error.status in _RETRYABLE_STATUSES:
        return "server_error"
    if isinstance(error, ResponseTooLargeError):
        return None
    if isinstance(error, ProtocolError):
        return "protocol_error"
    if isinstance(error, APIConnectionError):
        return "timeout" if isinstance(error, ResponseTimeoutError) else "disconnected"
    return None


class _CallRetries:
    """One call's retry bookkeeping, read by the hooks of its tenacity loop.

    A fresh one per call, because tenacity's retrying objects keep per-call state and
    must never be shared between concurrent tasks. Tenacity (9.0 on) asks about each failed
    attempt in one order, once each: ``retry``, then ``wait``, then ``stop`` (which sees the
    wait as ``upcoming_sleep``), then ``before_sleep``. ``retry`` counts the attempt; the
    others read the counts, so each attempt is counted once and its jitter drawn once.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        request: Request,
        deadline_at: float | None,
        on_retry: Callable[[RetryEvent], None] | None,
        clock: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.request = request
        self.deadline_at = deadline_at
        self.on_retry = on_retry
        self.clock = clock
        self.faults = 0
        self.throttles = 0
        self.protocol_errors = 0
        self.deadline_hit = False
        self.last_error: BaseException | None = None

    def retry(self, state: tenacity.RetryCallState) -> bool:
        """Whether the failed attempt is worth another (the allow-list); counts it."""
        error = _failure(state)
        if not isinstance(error, Exception):
            # It succeeded, or it was cancelled (a deadline, the caller): the cut attempt did
            # not fail, so the last one that did stays the call's last error.
            return False
        self.last_error = error
        reason = retry_reason(self.request, error)
        if reason is None:
            return False
        if reason == "protocol_error":
            self.protocol_errors += 1
            if self.protocol_errors > _PROTOCOL_ERROR_RETRIES:
                return False
        if isinstance(error, RateLimitError):
            self.throttles += 1
        else:
            self.faults += 1
        return True

    def wait(self, state: tenacity.RetryCallState) -> float:
        """How long to wait before the next attempt."""
        error = _failure(state)
        asked = _server_wait(error)
        if asked is not None:
            # Close's wait, not jitter: a retry before it has passed is refused again. The
            # limiter holds the group as well, but a limiter that ignores pauses must not
            # make the retry go early.
            wait = asked
        elif isinstance(error, RateLimitError):
            wait = 0.0  # no wait given: the limiter's pause after a 429 is the wait
        else:
            wait = self.policy.fault_wait(self.faults)
        # Either way the call is now between attempts (what a deadline would cut).
        enter_phase("retry_wait")
        return wait

    def stop(self, state: tenacity.RetryCallState) -> bool:
        """Whether to give up: a budget spent, a server wait past the cap, or a wait that
        would reach the deadline."""
        error = _failure(state)
        if isinstance(error, RateLimitError):
            if self.throttles > self.policy.rate_limit_attempts:
                return True
        elif self.faults >= self.policy.attempts:
            return True
        asked = _server_wait(error)
        if asked is not None and asked > self.policy.max_server_wait:
            # The caller gets the error, which carries the wait, rather than a silent block.
            return True
        if self.deadline_at is not None and self.clock() + state.upcoming_sleep >= self.deadline_at:
            self.deadline_hit = True
            return True
        return False

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        """Report the retry about to happen: one event, one debug line."""
        error = _failure(state)
        assert error is not None  # only failed attempts are retried,
        reason = retry_reason(self.request, error)
        assert reason is not None  # and only those the allow-list names
        event = RetryEvent(
            method=self.request.method,
            path=self.request.path,
            attempt=state.attempt_number,
            wait=state.upcoming_sleep,
            reason=reason,
            error=error,
        )
        _log.debug(
            "retrying %s %s after %s (attempt %d failed), waiting %.3f s",
            event.method,
            event.path,
            event.reason,
            event.attempt,
            event.wait,
        )
        if self.on_retry is not None:
            self.on_retry(event)


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    """What the attempt raised, ``None`` if it succeeded. Tenacity calls the hooks only once
    an attempt has ended, so there is always an outcome; a future that holds a result
    answers ``exception()`` with ``None``."""
    outcome = state.outcome
    assert outcome is not None
    return outcome.exception()


def _server_wait(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, RateLimitError | InternalServerError) else None


def deadline_exceeded(
    request: Request, last: BaseException | None, *, seconds: float | None = None
) -> APITimeoutError:
    """The error for a call whose whole-call ``timeout`` (``seconds``) ran out; ``last`` is
    what its last attempt met, and the phase the call marked last is what the time cut."""
    phase = current_phase()
    return APITimeoutError(
        describe_phase(phase, seconds=seconds, earlier_error=last is not None),
        method=request.method,
        path=request.path,
        last_error=last,
        phase=phase,
    )


def make_retrying(
    policy: RetryPolicy,
    request: Request,
    *,
    deadline_at: float | None,
    on_retry: Callable[[RetryEvent], None] | None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[tenacity.AsyncRetrying, _CallRetries]:
    """A fresh tenacity loop for one call, and the bookkeeping it consults."""
    calls = _CallRetries(policy, request, deadline_at, on_retry, clock)
    retrying = tenacity.AsyncRetrying(
        retry=calls.retry,
        stop=calls.stop,
        wait=calls.wait,
        before_sleep=calls.before_sleep,
        reraise=True,
        sleep=sleep,
    )
    return retrying, calls
