"""The one retry policy: which failures are retried, how long to wait, when to give up.

Rules (Close API facts, "Errors" and "Rate limits"):

- 429 is retried for every method (Close refused it, so nothing was applied), after the
  wait Close asked for. A wait longer than ``max_server_wait`` is not slept through:
  the :class:`RateLimitError` is raised, carrying ``retry_after``.
- 500, 502, 503, 504, timeouts and dropped connections are retried for idempotent methods
  (GET, PUT, DELETE): sending the same PUT twice leaves the same state. A 503 with
  ``Retry-After`` waits that long, under the same ``max_server_wait`` cap (past it, the
  :class:`ServerError` is raised).
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
import time
from collections.abc import Awaitable, Callable
from typing import cast

import attrs
import tenacity

from .errors import (
    ConnectError,
    DeadlineExceededError,
    ProtocolError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    TransportError,
)
from .errors import TimeoutError as CloseTimeoutError
from .phase import current as current_phase
from .phase import describe as describe_phase
from .phase import enter as enter_phase
from .protocol import Request

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
    - ``max_server_wait``: a 429 (or a 503 with ``Retry-After``) asking for a longer wait
      raises instead of blocking.

    ``RetryPolicy.no_wait()`` keeps the rules but never sleeps between faults (for tests).
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    rate_limit_attempts: int = attrs.field(default=20, validator=attrs.validators.ge(0))
    wait_initial: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    wait_max: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))
    wait_exp_base: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    max_server_wait: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))

    def fault_wait(self, faults: int) -> float:
        """The backoff after the ``faults``-th fault in a row (1-based): full jitter below
        ``wait_initial * wait_exp_base ** (faults - 1)``, capped at ``wait_max``."""
        backoff = tenacity.wait_random_exponential(
            multiplier=self.wait_initial, max=self.wait_max, exp_base=self.wait_exp_base
        )
        return backoff(cast(tenacity.RetryCallState, _FaultState(faults)))

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
    if isinstance(error, ServerError) and error.status in _RETRYABLE_STATUSES:
        return "server_error"
    if isinstance(error, ResponseTooLargeError):
        return None
    if isinstance(error, ProtocolError):
        return "protocol_error"
    if isinstance(error, TransportError):
        return "timeout" if isinstance(error, CloseTimeoutError) else "disconnected"
    return None


@attrs.frozen
class _Verdict:
    """What the policy decided about one failed attempt: give up, or wait this long."""

    give_up: bool
    wait: float = 0.0


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
        self.deadline_hit = False
        self.last_error: BaseException | None = None
        self.protocol_errors = 0
        self._verdicts: dict[int, _Verdict] = {}

    def should_retry(self, error: BaseException) -> bool:
        self.reason = retry_reason(self.request, error)
        if self.reason == "protocol_error":
            self.protocol_errors += 1
            if self.protocol_errors > _PROTOCOL_ERROR_RETRIES:
                return False
        return self.reason is not None

    def verdict(self, state: tenacity.RetryCallState) -> _Verdict:
        """The one decision about the attempt that just failed, made the first time asked.

        Tenacity asks ``wait`` before ``stop`` (9.x; 8.x asked the other way round), and
        both, with ``before_sleep``, must see the same decision: counting the attempt or
        drawing a jittered wait twice would sleep one value and report another.
        """
        verdict = self._verdicts.get(state.attempt_number)
        if verdict is None:
            error = state.outcome.exception() if state.outcome else None
            verdict = self._decide(error)
            self._verdicts[state.attempt_number] = verdict
        return verdict

    def _decide(self, error: BaseException | None) -> _Verdict:
        self.last_error = error
        throttled = isinstance(error, RateLimitError)
        if throttled:
            self.throttles += 1
            out_of_attempts = self.throttles > self.policy.rate_limit_attempts
        else:
            self.faults += 1
            out_of_attempts = self.faults >= self.policy.attempts
        if out_of_attempts:
            return _Verdict(give_up=True)
        asked = error.retry_after if isinstance(error, RateLimitError | ServerError) else None
        if asked is not None and asked > self.policy.max_server_wait:
            # The caller gets the error, which carries the wait, rather than a silent block.
            return _Verdict(give_up=True)
        if asked is not None:
            # Close's wait, not jitter: a retry before it has passed is refused again. The
            # limiter holds the group as well, but a limiter that ignores pauses must not
            # make the retry go early.
            wait = asked
        elif throttled:
            wait = 0.0  # no wait given: the limiter's pause after a 429 is the wait
        else:
            wait = self.policy.fault_wait(self.faults)
        # Either way the call is now between attempts (what a deadline would cut).
        enter_phase("retry_wait")
        if self.deadline_at is not None and self.clock() + wait >= self.deadline_at:
            self.deadline_hit = True
            return _Verdict(give_up=True)
        return _Verdict(give_up=False, wait=wait)

    def stop(self, state: tenacity.RetryCallState) -> bool:
        return self.verdict(state).give_up

    def wait(self, state: tenacity.RetryCallState) -> float:
        return self.verdict(state).wait

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        assert error is not None  # only failed attempts are retried
        event = RetryEvent(
            method=self.request.method,
            path=self.request.path,
            attempt=state.attempt_number,
            wait=self.verdict(state).wait,
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


def deadline_exceeded(
    request: Request, last: BaseException | None, *, deadline: float | None = None
) -> DeadlineExceededError:
    """The error for a call whose ``deadline`` (seconds) ran out; ``last`` is what its last
    attempt met, and the phase the call marked last is what the deadline cut."""
    phase = current_phase()
    return DeadlineExceededError(
        describe_phase(phase, deadline=deadline, earlier_error=last is not None),
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
        retry=tenacity.retry_if_exception(calls.should_retry),
        stop=calls.stop,
        wait=calls.wait,
        before_sleep=calls.before_sleep,
        reraise=True,
        sleep=sleep,
    )
    return retrying, calls
