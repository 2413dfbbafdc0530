"""The one retry policy: which failures are retried, how long to wait, when to give up.

Rules (Close API facts, "Errors" and "Rate limits"):

- 429 is retried for every method (Close refused it, so nothing was applied), after the
  wait Close asked for. A wait longer than ``max_server_wait`` is not slept through:
  the :class:`RateLimitError` is raised, carrying ``retry_after``.
- 500, 502, 503, 504, timeouts and dropped connections are retried for idempotent methods
  (GET, PUT, DELETE): sending the same PUT twice leaves the same state.
- POST (creating a call) is retried only when no connection was made (:class:`ConnectError`),
  since a retried create can log a call twice.
- An answer the HTTP parser refused (:class:`ProtocolError`) is retried once, for
  idempotent methods: a proxy's hiccup clears, a broken server does not.
- An answer past the size cap (:class:`ResponseTooLargeError`) is never retried: the same
  request would fetch the same answer.
- Everything else (400, 401, 403, 404, ...) is never retried; nor is anything not on this
  allow-list, cancellation above all.

Backoff is exponential with full jitter and a cap; faults and 429s have separate budgets,
because waiting out a rate limit is expected work, not a sign that something is broken.
Tenacity does the looping; its types never leave this package.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast

import attrs
import tenacity

from ._errors import (
    ConnectError,
    DeadlineExceededError,
    ProtocolError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from ._errors import TimeoutError as CloseTimeoutError
from ._protocol import IDEMPOTENT_METHODS, Request

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


@attrs.frozen
class RetryPolicy:
    """How close-async retries (the defaults suit production).

    - ``attempts``: attempts in all for faults (5xx, timeouts, dropped connections),
      the first included. ``1`` turns retries of faults off.
    - ``rate_limit_attempts``: how many 429s one call may wait out before giving up.
    - ``wait_initial``, ``wait_max``, ``wait_exp_base``: capped exponential backoff; the
      actual wait is drawn uniformly below it (full jitter).
    - ``max_server_wait``: a 429 asking for a longer wait raises instead of blocking.

    ``RetryPolicy.no_wait()`` keeps the rules but never sleeps between faults (for tests).
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    rate_limit_attempts: int = attrs.field(default=20, validator=attrs.validators.ge(0))
    wait_initial: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    wait_max: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))
    wait_exp_base: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    max_server_wait: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))

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


def retry_reason(method: str, error: BaseException) -> str | None:
    """Why ``error`` may be retried for a request with ``method``, or ``None`` if it may not.

    The allow-list of the module docstring, as one pure function.
    """
    if isinstance(error, RateLimitError):
        return "rate_limited"
    if isinstance(error, ConnectError):
        return "connect_error"
    if method.upper() not in IDEMPOTENT_METHODS:
        return None
    if isinstance(error, ServerError) and error.status in _RETRYABLE_STATUSES:
        return "server_error"
    if isinstance(error, ResponseTooLargeError):
        return None
    if isinstance(error, ProtocolError):
        return "protocol_error"
    if isinstance(error, TransportError):
        return "timeout" if isinstance(error, CloseTimeoutError) else "disconnected"
    return None


class _CallRetries:
    """The retry bookkeeping of one call: tenacity's stop, wait and hooks read it.

    A fresh one per call, because tenacity's retrying objects keep per-call state and
    must never be shared between concurrent tasks.
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
        self.reason: str | None = None
        self.next_wait = 0.0
        self.deadline_hit = False
        self.last_error: BaseException | None = None
        self.protocol_errors = 0
        self._backoff = tenacity.wait_random_exponential(
            multiplier=policy.wait_initial, max=policy.wait_max, exp_base=policy.wait_exp_base
        )

    def should_retry(self, error: BaseException) -> bool:
        self.reason = retry_reason(self.request.method, error)
        if self.reason == "protocol_error":
            self.protocol_errors += 1
            if self.protocol_errors > _PROTOCOL_ERROR_RETRIES:
                return False
        return self.reason is not None

    def stop(self, state: tenacity.RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        self.last_error = error
        if isinstance(error, RateLimitError):
            self.throttles += 1
            if self.throttles > self.policy.rate_limit_attempts:
                return True
            wait = error.retry_after or 0.0
            if wait > self.policy.max_server_wait:
                return True
            # The limiter holds the whole group for Close's wait; sleeping it here as well
            # keeps a retry from going early even under a limiter that ignores pauses.
            self.next_wait = wait
        else:
            self.faults += 1
            if self.faults >= self.policy.attempts:
                return True
            self.next_wait = self._backoff(cast(tenacity.RetryCallState, _FaultState(self.faults)))
        if self.deadline_at is not None and self.clock() + self.next_wait >= self.deadline_at:
            self.deadline_hit = True
            return True
        return False

    def wait(self, state: tenacity.RetryCallState) -> float:
        return self.next_wait

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert error is not None  # only failed attempts are retried
        event = RetryEvent(
            method=self.request.method,
            path=self.request.path,
            attempt=state.attempt_number,
            wait=self.next_wait,
            reason=self.reason or "unknown",
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


@attrs.frozen
class _FaultState:
    """Just enough of a retry state for tenacity's backoff, numbered by faults only."""

    attempt_number: int


def deadline_exceeded(request: Request, last: BaseException | None) -> DeadlineExceededError:
    """The error for a call whose deadline ran out; ``last`` is what its last attempt met."""
    return DeadlineExceededError(
        "the call's deadline ran out before it could succeed",
        method=request.method,
        path=request.path,
        last_error=last,
    )


def make_retrying(
    policy: RetryPolicy,
    request: Request,
    *,
    deadline_at: float | None,
    on_retry: Callable[[RetryEvent], None] | None,
    sleep: Callable[[float], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[tenacity.AsyncRetrying, _CallRetries]:
    """A fresh tenacity loop for one call, and the bookkeeping it consults."""
    calls = _CallRetries(policy, request, deadline_at, on_retry, clock)
    kwargs: dict[str, object] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(calls.should_retry),
        stop=calls.stop,
        wait=calls.wait,
        before_sleep=calls.before_sleep,
        reraise=True,
        **kwargs,  # type: ignore[arg-type]
    )
    return retrying, calls
