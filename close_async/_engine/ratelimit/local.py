"""The in-process rate limiter: paces requests per endpoint group from what Close reports.

How it decides when a request may go, per group (Close limits per endpoint group):

- **Spread the budget** (prawcore's way): Close says ``remaining`` requests are left until
  ``reset``; requests are spaced evenly over that time, counting the ones still in flight
  (Close has not counted them yet when it answered), instead of firing the budget at once.
- **Spent means wait, once**: when the budget is spent (``remaining`` reaches 0 or a 429
  comes back) the whole group waits until the reset. Waiters queue in FIFO order and leave
  one at a time at the paced spacing, so the end of a pause is not a stampede.
- **Probe first**: until the first answer of a group has told us its limit, only one request
  of that group is in flight; the rest wait one round trip instead of bursting blindly.
- **A limit known only from a 429 body** (no counts on other answers): an even pace at 97%
  of it, which never fills a fixed window whatever its phase.
- **No numbers from Close**: when 429s arrive but no limit is ever reported, the rate is cut
  to 97% of what Close admitted in the last window and probed upward slowly (decrease on a
  throttle, slow growth after, as botocore's adaptive mode does).
- An optional fixed ``rate`` (requests/second, with ``burst``) caps all of it.
- **Bounded waits**: a pause from Close (a 429, or ``remaining=0``) longer than
  ``max_wait`` is not slept through: ``acquire`` raises :class:`RateLimitError` at once
  until it ends, or until another answer from Close shows the group is answered again.

A cancelled ``acquire`` holds nothing: the FIFO lock is released and no budget is taken.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Awaitable, Callable

import attrs

from ..errors import ConfigurationError
from .info import RateLimitInfo
from .limiter import (
    DEFAULT_MAX_WAIT,
    RateFeedback,
    check_max_wait,
    new_window_began,
    pause_error,
    sharper_reset,
    waiting_on_pause,
)

__all__ = ["LocalRateLimiter"]

_log = logging.getLogger("close_async.ratelimit")

# A 429 that names no wait: pause this long (Close's windows are about a second).
_DEFAULT_PAUSE = 1.0
# Without a window length from Close, assume Close's usual one-second window.
_DEFAULT_WINDOW = 1.0
# Below a limit known only from a 429 body, pace evenly at this share of it: an even pace
# under the limit never fills a fixed window, whatever its phase.
_KNOWN_LIMIT_SHARE = 0.97
# For limits Close never states: after a 429, pace at this share of what Close admitted in
# the last window, then probe upward slowly (about +3% per 1,000 answers), since each 429
# costs the whole group a pause.
_BACKOFF_FACTOR = 0.97
_GROWTH_PER_SUCCESS = 1.00003


@attrs.define
class _Group:
    """What the limiter knows about one endpoint group."""

    next_slot: float = 0.0
    paused_until: float = 0.0
    inflight: int = 0
    limit: float | None = None
    window: float | None = None  # stated by Close (429 body)
    longest_reset: float = 0.0  # a lower bound on the window, seen in headers
    available: float | None = None  # requests left in the current window, net of in-flight
    window_end: float = 0.0
    adaptive_rate: float | None = None  # learned from 429s when Close reports no limit
    live_counts: bool = False  # answers carry remaining/reset: budget can be tracked
    whole_second_resets: bool = True  # every reset seen so far was a whole number
    last_remaining: float | None = None
    window_began: float | None = None  # when Close's count last went back up
    probe_outstanding: bool = False
    learned: bool = False
    throttles: int = 0
    lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    probe_done: asyncio.Event = attrs.field(factory=asyncio.Event)
    admitted: collections.deque[float] = attrs.field(factory=lambda: collections.deque(maxlen=4096))

    def window_length(self) -> float:
        if self.window:
            return self.window
        return max(self.longest_reset, _DEFAULT_WINDOW)


@attrs.frozen
class GroupSnapshot:
    """A read-only view of one group's limiter state (for progress displays and tests)."""

    inflight: int
    limit: float | None
    available: float | None
    paused_for: float
    throttles: int


class LocalRateLimiter:
    """Paces this process's requests to Close, per endpoint group.

    ``rate`` (requests/second) is an optional fixed cap on top of what Close reports;
    ``burst`` is how many requests may go back to back under that cap (default 1).
    With no arguments the limiter learns everything from Close's rate-limit headers.
    ``max_wait`` (seconds, default 120) is the longest pause from Close that ``acquire``
    sleeps out; a longer one makes it raise :class:`RateLimitError` at once (``CloseClient``
    gives its default limiter the retry policy's ``max_server_wait``).

    Example::

        limiter = LocalRateLimiter(rate=15)  # stay well under a 20/s key limit
        async with CloseClient(rate_limiter=limiter) as close: ...
    """

    def __init__(
        self,
        rate: float | None = None,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        max_wait: float = DEFAULT_MAX_WAIT,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ConfigurationError("rate must be positive (requests per second) or None")
        if burst is not None and burst < 1:
            raise ConfigurationError("burst must be at least 1")
        self._interval = 1.0 / rate if rate else 0.0
        self._burst = burst or 1
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._max_wait = check_max_wait(max_wait)
        self._groups: dict[str, _Group] = {}

    def __repr__(self) -> str:
        rate = f"{1 / self._interval:g}/s" if self._interval else "learned"
        return f"LocalRateLimiter(rate={rate}, groups={sorted(self._groups)})"

    def _group(self, name: str) -> _Group:
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group()
        return group

    def snapshot(self, group: str) -> GroupSnapshot:
        """The current state of ``group`` (zeros for a group never used)."""
        g = self._group(group)
        return GroupSnapshot(
            inflight=g.inflight,
            limit=g.limit,
            available=g.available,
            paused_for=max(0.0, g.paused_until - self._clock()),
            throttles=g.throttles,
        )

    async def acquire(self, group: str) -> None:
        """Wait until one request to ``group`` may be sent."""
        g = self._group(group)
        if not g.lock.locked() and not g.probe_outstanding:
            # Nobody is queued: when the slot is free now, take it without the lock (the
            # common case of an unthrottled client, on every request).
            now = self._clock()
            if self._ready_at(g, now) <= now:
                self._take(g, now)
                return
        # Checked before queueing too: a caller behind the lock must not wait for a pause
        # it would refuse to wait out at the head.
        paused = self._check_pause(group, g, self._clock())
        # One waiter at the head at a time, in arrival order: it sleeps until its slot
        # while the others queue behind the lock (FIFO), so a pause ends in a paced line.
        async with g.lock:
            while g.probe_outstanding:
                await g.probe_done.wait()
            while True:
                now = self._clock()
                ready_at = self._ready_at(g, now)
                if ready_at <= now:
                    break
                paused = self._check_pause(group, g, now) or paused
                await self._sleep(ready_at - now)
            self._take(g, now)
        if paused:
            waiting_on_pause(group, 0.0)

    def _held_by_close(self, g: _Group, now: float) -> float:
        """How much longer Close's own word (a pause, a spent window) holds the group."""
        until = g.paused_until
        if g.available is not None and g.available < 1:
            until = max(until, g.window_end)
        return until - now

    def _check_pause(self, group: str, g: _Group, now: float) -> bool:
        """Raise when Close holds ``group`` longer than ``max_wait``; True when it holds it
        at all (the wait is then recorded for a timeout's error)."""
        held = self._held_by_close(g, now)
        if held > self._max_wait:
            raise pause_error(group, held, self._max_wait)
        if held > 0:
            waiting_on_pause(group, held)
            return True
        return False

    def _ready_at(self, g: _Group, now: float) -> float:
        ready = max(g.paused_until, g.next_slot)
        if g.available is not None and g.available < 1:
            if now < g.window_end:
                ready = max(ready, g.window_end)
            else:
                # The window Close told us about is over: a fresh budget begins (tracked
                # only while Close's answers keep telling us what is left).
                g.available = g.limit if g.live_counts else None
                g.window_end = now + g.window_length()
        return ready

    def _take(self, g: _Group, now: float) -> None:
        spacing = self._interval
        if g.available is not None and g.available > 0 and g.window_end > now:
            spacing = max(spacing, (g.window_end - now) / g.available)
        if g.adaptive_rate:
            spacing = max(spacing, 1.0 / g.adaptive_rate)
        elif g.limit and not g.live_counts:
            spacing = max(spacing, g.window_length() / (_KNOWN_LIMIT_SHARE * g.limit))
        # GCRA for the fixed cap: up to `burst` requests may go back to back.
        earliest = now - (self._burst - 1) * self._interval
        g.next_slot = max(g.next_slot, earliest) + spacing
        if g.available is not None:
            g.available -= 1
        g.inflight += 1
        if not g.learned:
            g.probe_outstanding = True
            g.probe_done.clear()

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Learn from how a request ended; ``None`` when no response came."""
        g = self._group(group)
        g.inflight = max(0, g.inflight - 1)
        if g.probe_outstanding:
            g.probe_outstanding = False
            g.learned = True
            g.probe_done.set()
        if feedback is None:
            return
        now = self._clock()
        if feedback.status < 400 and self._held_by_close(g, now) > self._max_wait:
            # Close answered normally after all: the pause too long to wait out is over.
            g.paused_until = now
            g.available = None
            g.window_end = now
        if feedback.info is not None:
            self._learn(g, feedback.info, now)
            if not feedback.throttled and feedback.info.remaining is not None:
                g.live_counts = True
        if feedback.throttled:
            self._pause(g, feedback, now)
            return
        if g.limit is None:  # only a limit Close never states is learned from this record
            g.admitted.append(now)
        if g.adaptive_rate is not None:
            g.adaptive_rate *= _GROWTH_PER_SUCCESS

    def _learn(self, g: _Group, info: RateLimitInfo, now: float) -> None:
        if info.limit is not None:
            g.limit = info.limit
            g.adaptive_rate = None
        if info.window:
            g.window = info.window
        if info.reset is None or info.remaining is None:
            return
        g.longest_reset = max(g.longest_reset, info.reset)
        if info.reset != int(info.reset):
            g.whole_second_resets = False
        end = now + info.reset
        same_window_slack = 0.1 * g.window_length()
        # Close's count went back up, and the window it speaks of is not one already over:
        # a new window began before this answer.
        new_window = (
            new_window_began(g.last_remaining, info.remaining, g.inflight, info.limit)
            and end >= g.window_end - same_window_slack
        )
        if new_window:
            g.window_began = now
        g.last_remaining = info.remaining
        if g.whole_second_resets and g.window_began is not None:
            end = now + sharper_reset(info.reset, now - g.window_began, g.window_length())
        # Close counted this request but not the ones still in flight.
        estimate = info.remaining - g.inflight
        if g.available is None or new_window or end > g.window_end + same_window_slack:
            g.window_end = end
            g.available = estimate
        elif end >= g.window_end - same_window_slack:
            # Answers can arrive out of order: the lowest count in a window is the truest.
            g.available = min(g.available, estimate)
        # else: an answer from a window already over; it says nothing about this one.

    def _pause(self, g: _Group, feedback: RateFeedback, now: float) -> None:
        g.throttles += 1
        # 429s for requests sent before the pause began are one event, not several.
        first_of_pause = now >= g.paused_until
        wait = feedback.retry_after
        if wait is None and feedback.info is not None:
            wait = feedback.info.reset
        if wait is None:
            wait = _DEFAULT_PAUSE
        window = g.window_length()
        if g.whole_second_resets and g.window_began is not None and wait <= window:
            since = now - g.window_began
            if since < 2 * window:
                # A wait within one window is the window's end rounded up: it ends no
                # later than the window seen began plus its length (a longer wait is some
                # other limit's, and stands). A refusal still costs one slot's spacing.
                floor = window / g.limit if g.limit else 0.0
                wait = max(floor, sharper_reset(wait, since, window))
        # Upward jitter only: never earlier than Close asked, and processes sharing a key
        # do not all come back at the same instant.
        until = now + wait + min(0.1 * wait, 0.25) * self._jitter()
        g.paused_until = max(g.paused_until, until)
        g.available = 0
        g.window_end = max(g.window_end, until)
        if g.limit is None and first_of_pause:
            admitted = sum(1 for t in g.admitted if t > now - window)
            g.adaptive_rate = max(1.0, _BACKOFF_FACTOR * admitted / window)
        _log.debug("rate limit reached; group paused for %.3f s", until - now)

    async def aclose(self) -> None:
        """Nothing to free for an in-process limiter; present for the protocol."""
