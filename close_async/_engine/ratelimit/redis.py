"""A rate limiter whose budget is shared, through Redis, by every process on every machine.

Several workers spending one Close API key's budget cannot see each other's local limiters.
:class:`RedisRateLimiter` keeps the pacing state of each endpoint group in one Redis hash,
``close_async:rl:{name}:{group}``, updated only by atomic Lua scripts:

- ``tat``: the GCRA "theoretical arrival time" (microseconds of Redis ``TIME``). Each
  ``acquire`` reserves the next free slot in one round trip and sleeps until it: no polling,
  and the slots handed to concurrent callers are ``1/rate`` apart, whatever process asks.
- ``pause``: the Redis time before which no request may go, written by ``release`` after a
  429 (or a response saying ``remaining=0``); the reservation script pushes slots past it.
  A pause longer than ``max_wait`` is stored as Close asked, but every ``acquire`` of any
  process raises :class:`RateLimitError` at once instead of waiting (until it ends, or a
  normal answer from Close lifts it).
- ``ivl``: the spacing learned from the ``limit`` Close states, so a process given no
  ``rate`` paces by what another process learned.
- ``wbegin``: when the first answer of Close's current window came (the earliest any
  process saw Close's count go back up). Close rounds ``reset`` and ``Retry-After`` up to
  whole seconds; with this start every process agrees where the window really ends, and a
  pause for a spent budget lasts only until then, not a whole rounded-up second.

With ``organization`` (and ``organization_rate``), each reservation also takes a slot of a
second budget, ``close_async:rl-org:{organization}:{group}``, shared by the limiters of every
API key of that organization (Close limits an organization to about 3 times one key's
limit); one script reserves in both, so a request goes only when both budgets allow it.

Only Redis' own clock is read, so the machines' clocks never have to agree: the scripts
answer durations ("wait 0.0263 s"), which each process sleeps on its own monotonic clock.

When Redis cannot be reached (refused, slower than ``op_timeout``, a script error) the
limiter paces on a local fallback (by default a
:class:`~close_async._engine.ratelimit.local.LocalRateLimiter` at the same rate), logs one
warning per outage on ``close_async.ratelimit``, retries Redis every
``retry_interval`` seconds and logs at INFO when it is back. During an outage each
process paces on its own, so together they may exceed the budget; Close then answers 429,
which the client retries, so no update is lost, only time.

The ``redis`` package is optional (``pip install close-async[redis]``) and imported only
when a :class:`RedisRateLimiter` is built.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from ..errors import ConfigurationError
from ..redact import fingerprint
from .info import RateLimitInfo
from .limiter import (
    DEFAULT_MAX_WAIT,
    RateFeedback,
    RateLimiter,
    check_max_wait,
    new_window_began,
    pause_error,
    waiting_on_pause,
)

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter"]

_log = logging.getLogger("close_async.ratelimit")

_KEY_PREFIX = "close_async:rl"
_ORG_KEY_PREFIX = "close_async:rl-org"
_DEFAULT_NAME = "default"
# A 429 that says nothing about when to come back still pauses everyone this long.
_DEFAULT_THROTTLE_PAUSE = 1.0
# Longer pauses are stored as this (about 31 years): no different to a caller, and Redis'
# Lua numbers stay exact to the microsecond.
_LONGEST_PAUSE = 1e9
# Until some process has learned the limit (no ``rate`` given), requests are this far apart:
# the first answers arrive long before a second window could fill.
_UNKNOWN_INTERVAL = 0.1
# Without a window length from Close, assume Close's usual one-second window.
_DEFAULT_WINDOW = 1.0
# Pace at this share of a limit Close states, so an even pace never fills a fixed window.
_LIMIT_SHARE = 0.97
# Keys outlive their last reservation by this much, so a key never expires mid-use.
_EXPIRY_MARGIN_MS = 1000

# The Lua scripts that Redis runs atomically, one file each under lua/ (what each takes and
# returns is written at the top of its file).
_LUA = resources.files(__name__.rpartition(".")[0]).joinpath("lua")


def _lua(name: str) -> str:
    return _LUA.joinpath(f"{name}.lua").read_text(encoding="utf-8")


def _is_rate(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    except ValueError:
        return "<unparsable url>"


def _default_name(api_key: str | None) -> str:
    """The key namespace for one API key: a digest, so the key never reaches Redis."""
    if not api_key:
        return _DEFAULT_NAME
    return fingerprint(api_key)


def _pause_seconds(feedback: RateFeedback | None, interval: float) -> float | None:
    """How long every process must hold back after ``feedback``, as Close said, or ``None``.

    Never longer than :data:`_LONGEST_PAUSE`; a pause longer than ``max_wait`` is still
    stored in full (acquirers refuse to wait it out rather than wait less than Close said).
    """
    if feedback is None:
        return None
    info = feedback.info
    wait: float | None
    if feedback.throttled:
        wait = feedback.retry_after
        if wait is None and info is not None:
            wait = info.reset
        if wait is None or not math.isfinite(wait):
            wait = _DEFAULT_THROTTLE_PAUSE
        # A 429 saying "come back now" still costs at least one slot's spacing.
        wait = max(wait, interval)
    elif (
        info is not None
        and info.remaining is not None
        and info.remaining <= 0
        and info.reset is not None
        and math.isfinite(info.reset)
    ):
        wait = info.reset
    else:
        return None
    wait = min(wait, _LONGEST_PAUSE)
    return wait if wait > 0 else None


@attrs.define
class _Watch:
    """What this process saw of one group's answers (every process sees its own)."""

    inflight: int = 0
    last_remaining: float | None = None
    whole_seconds: bool = True  # every reset seen so far was a whole number
    longest_reset: float = 0.0
    window: float | None = None  # as Close stated it (429 bodies)
    limit_interval_us: int = 0  # from the limit Close states (at 97% of it)
    shared_interval_us: int = 0  # what this process last wrote to Redis
    long_pause: bool = False  # saw a pause longer than max_wait: a normal answer lifts it
    probe: asyncio.Event | None = None  # set when the request probing an unknown limit ends

    def window_length(self) -> float:
        return self.window or max(self.longest_reset, _DEFAULT_WINDOW)


class RedisRateLimiter:
    """Paces requests per endpoint group at ``rate``/s in total across all processes.

    Every limiter built with the same Redis, ``name`` and group shares one budget. Without
    ``rate`` the pace is learned from the ``limit`` (and window) Close states, and shared
    through Redis: until this process has learned it, one request at a time asks Close
    (0.1 s apart when another process asks too). ``burst``
    (default 1) is how many requests may go back to back after an idle spell; keep it small,
    since with many processes a large burst lets several fire together past Close's limit.
    ``name`` defaults to a digest of ``api_key`` (never the key itself), or ``"default"``.
    ``client`` is an existing ``redis.asyncio.Redis`` to use (then ``url`` is ignored and the
    client is not closed by :meth:`aclose`). ``fallback`` paces when Redis is unreachable.
    ``op_timeout`` bounds each Redis round trip; ``retry_interval`` is how often Redis is
    tried again during an outage. Implements
    :class:`~close_async._engine.ratelimit.limiter.RateLimiter`.

    ``max_wait`` (seconds, default 120, as ``RetryPolicy.max_server_wait``) is the longest
    shared pause an ``acquire`` waits out; a longer one makes it raise
    :class:`~close_async.RateLimitError` at once. ``organization`` and
    ``organization_rate`` (requests/second) add a second budget shared by the limiters of
    every API key of one organization; give both or neither.

    A cancelled ``acquire`` holds nothing: the slot it had reserved is handed back when no
    later reservation was stacked on it, and otherwise just goes unused.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        rate: float | None = None,
        burst: int | None = None,
        name: str | None = None,
        organization: str | None = None,
        organization_rate: float | None = None,
        max_wait: float = DEFAULT_MAX_WAIT,
        api_key: str | None = None,
        client: redis.asyncio.Redis | None = None,
        fallback: RateLimiter | None = None,
        op_timeout: float = 0.25,
        retry_interval: float = 5.0,
    ) -> None:
        if rate is not None and not _is_rate(rate):
            raise ConfigurationError("rate must be a positive number of requests per second")
        if (organization is None) != (organization_rate is None):
            raise ConfigurationError("give organization and organization_rate together")
        if organization_rate is not None and not _is_rate(organization_rate):
            raise ConfigurationError("organization_rate must be a positive number per second")
        if organization is not None and not (isinstance(organization, str) and organization):
            raise ConfigurationError("organization must be a non-empty name")
        max_wait = check_max_wait(max_wait)
        if burst is None:
            burst = 1
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError("burst must be an integer of at least 1")
        if not (math.isfinite(op_timeout) and op_timeout > 0):
            raise ConfigurationError("op_timeout must be a positive number of seconds")
        if not (math.isfinite(retry_interval) and retry_interval >= 0):
            raise ConfigurationError("retry_interval must be a non-negative number of seconds")
        try:
            import redis.asyncio as redis_asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError:
            raise ConfigurationError(
                "RedisRateLimiter needs the redis package: install close-async[redis]"
            ) from None

        self._rate = float(rate) if rate is not None else None
        self._burst = burst
        self._name = name if name else _default_name(api_key)
        self._organization = organization
        self._org_interval_us = (
            max(1, round(1_000_000 / organization_rate)) if organization_rate else 0
        )
        self._max_wait = max_wait
        self._max_wait_us = round(min(max_wait, _LONGEST_PAUSE) * 1_000_000)
        self._url_shown = _redact_url(url) if client is None else "<given client>"
        self._interval_us = max(1, round(1_000_000 / self._rate)) if self._rate else 0
        self._op_timeout = float(op_timeout)
        self._retry_interval = float(retry_interval)

        self._owns_client = client is None
        if client is None:
            try:
                # Our own deadline (op_timeout) decides when Redis counts as down: redis-py's
                # own retries would only stretch every failing call past it.
                client = redis_asyncio.Redis.from_url(
                    url,
                    socket_timeout=op_timeout,
                    socket_connect_timeout=op_timeout,
                    retry=Retry(NoBackoff(), 0),
                )
            except ValueError:
                # The message of redis-py's error may quote the URL and its password.
                raise ConfigurationError(f"not a usable Redis URL: {self._url_shown}") from None
        self._client: Any = client
        self._reserve = self._client.register_script(_lua("reserve"))
        self._pause_left = self._client.register_script(_lua("pause_left"))
        self._pause = self._client.register_script(_lua("pause"))
        self._refund = self._client.register_script(_lua("refund"))
        self._learn = self._client.register_script(_lua("learn"))

        self._fallback: RateLimiter | None = fallback
        self._owns_fallback = fallback is None
        # How many acquires per group went through the fallback and await their release, so
        # each release reaches the limiter that granted its acquire.
        self._fallback_held: collections.Counter[str] = collections.Counter()
        # What Close's answers say about each group: pace no faster than its stated limit,
        # even when ``rate`` was set above it.
        self._watches: dict[str, _Watch] = {}
        self._outage = False
        self._next_probe = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __repr__(self) -> str:
        rate = repr(self._rate) if self._rate else "'learned'"
        org = f", organization={self._organization!r}" if self._organization else ""
        return (
            f"RedisRateLimiter(url={self._url_shown!r}, rate={rate}, "
            f"burst={self._burst!r}, name={self._name!r}{org}"
            f"{', outage' if self._outage else ''})"
        )

    @property
    def name(self) -> str:
        """The namespace of this limiter's keys (a digest of the API key by default)."""
        return self._name

    def key(self, group: str) -> str:
        """The Redis key holding ``group``'s pacing state."""
        return f"{_KEY_PREFIX}:{self._name}:{group}"

    def organization_key(self, group: str) -> str | None:
        """The Redis key of the organization's budget for ``group`` (``None`` without one)."""
        if self._organization is None:
            return None
        return f"{_ORG_KEY_PREFIX}:{self._organization}:{group}"

    def _watch(self, group: str) -> _Watch:
        watch = self._watches.get(group)
        if watch is None:
            watch = self._watches[group] = _Watch()
        return watch

    async def acquire(self, group: str) -> None:
        """Wait for ``group``'s next slot in the shared budget (locally when Redis is down).

        Raises :class:`~close_async.RateLimitError` at once when the group is paused for
        longer than ``max_wait``.
        """
        watch = self._watch(group)
        # With no rate and no limit learned yet, one request at a time asks Close: slots
        # reserved meanwhile would be handed out at the slow unknown-limit spacing, and a
        # reserved slot is not moved when the limit becomes known.
        while not self._interval_for(group) and watch.probe is not None:
            await watch.probe.wait()
        probing = not self._interval_for(group)
        if probing:
            watch.probe = asyncio.Event()
        try:
            await self._acquire(group)
        except BaseException:
            if probing:
                self._probe_done(watch)
            raise
        watch.inflight += 1

    def _probe_done(self, watch: _Watch) -> None:
        if watch.probe is not None:
            watch.probe.set()
            watch.probe = None

    async def _acquire(self, group: str) -> None:
        key = self.key(group)
        org_key = self.organization_key(group)
        keys = [key] if org_key is None else [key, org_key]
        while self._redis_due():
            try:
                reply = await self._run_keys(
                    self._reserve,
                    keys,
                    self._interval_for(group),
                    self._burst,
                    _EXPIRY_MARGIN_MS,
                    self._max_wait_us,
                    self._org_interval_us,
                    self._burst,
                    round(_UNKNOWN_INTERVAL * 1_000_000),
                )
            except Exception as exc:  # Redis trouble must never reach the caller
                self._redis_failed(exc)
                break
            self._redis_ok()
            wait_us = int(reply[0])
            if wait_us >= 0 and int(reply[4]) > 0 and not self._interval_for(group):
                # Another process has learned the limit already: pace by it from now on.
                watch = self._watch(group)
                watch.limit_interval_us = watch.shared_interval_us = int(reply[4])
            if wait_us < 0:
                self._refuse(group, int(reply[1]))
            if wait_us == 0:
                return
            paused = int(reply[5]) > 0
            if paused:
                waiting_on_pause(group, wait_us / 1_000_000)
            try:
                await asyncio.sleep(wait_us / 1_000_000)
                if paused:
                    waiting_on_pause(group, 0.0)
            except asyncio.CancelledError:
                self._spawn(self._give_back(key, reply[1], int(reply[3]), org_key, reply[2]))
                raise
            # A pause written while we slept (a 429 elsewhere) outranks our reservation; an
            # immediate slot needs no such check: the reservation already saw every pause.
            try:
                left_us = int(await self._run(self._pause_left, key))
            except Exception as exc:
                self._redis_failed(exc)
                return  # our slot was granted; the outage only matters from the next one
            if left_us <= 0:
                return
            if left_us > self._max_wait_us:
                self._refuse(group, left_us)
            waiting_on_pause(group, left_us / 1_000_000)
            await asyncio.sleep(left_us / 1_000_000)
            waiting_on_pause(group, 0.0)
        await self._fallback_acquire(group)

    def _refuse(self, group: str, left_us: int) -> None:
        self._watch(group).long_pause = True
        raise pause_error(group, left_us / 1_000_000, self._max_wait)

    def _interval_for(self, group: str) -> int:
        watch = self._watches.get(group)
        return max(self._interval_us, watch.limit_interval_us if watch else 0)

    def _learn_limit(self, watch: _Watch, info: RateLimitInfo) -> None:
        if info.reset is not None and math.isfinite(info.reset):
            watch.longest_reset = max(watch.longest_reset, info.reset)
            if info.reset != int(info.reset):
                watch.whole_seconds = False
        if info.window:
            watch.window = info.window
        if not info.limit:
            return
        # The window: as stated (429 bodies), else at least the longest reset seen.
        interval = watch.window_length() / (_LIMIT_SHARE * info.limit)
        if math.isfinite(interval):
            watch.limit_interval_us = max(1, round(interval * 1_000_000))

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Share what the response said: a 429 or an exhausted limit pauses every process.

        A limit Close states also sets the shared pace for the group (at 97% of it; never
        faster than ``rate``), and the first answer of each of Close's windows tells every
        process where that window began.
        """
        watch = self._watch(group)
        watch.inflight = max(0, watch.inflight - 1)
        if feedback is not None and feedback.info is not None:
            self._learn_limit(watch, feedback.info)
        self._probe_done(watch)
        if self._fallback_held[group] > 0:
            self._fallback_held[group] -= 1
            if self._fallback_held[group] == 0:
                del self._fallback_held[group]
            if self._fallback is not None:
                try:
                    await self._fallback.release(group, feedback)
                except Exception:  # release must never raise
                    _log.debug("fallback limiter failed in release", exc_info=True)
        if feedback is None:
            return
        learned = self._lessons(watch, feedback)
        # A 429 saying "come back now" costs a slot's spacing, the probes' while none is known.
        interval_us = self._interval_for(group) or round(_UNKNOWN_INTERVAL * 1_000_000)
        pause = _pause_seconds(feedback, interval_us / 1_000_000)
        if (pause is None and learned is None) or not self._redis_due():
            return
        key = self.key(group)
        window_us = round(watch.window_length() * 1_000_000)
        try:
            if learned is not None:
                await self._run(self._learn, key, *learned, _EXPIRY_MARGIN_MS)
            if pause is not None:
                # No jitter on top: after the pause, the reservation script hands waiting
                # processes slots one interval apart, so they do not all wake at once.
                left_us = await self._run(
                    self._pause,
                    key,
                    round(pause * 1_000_000),
                    _EXPIRY_MARGIN_MS,
                    window_us if watch.whole_seconds else 0,
                    interval_us if feedback.throttled else 0,
                )
                _log.debug(
                    "group %s paused for %.3f s (Close said %.3f s)",
                    group,
                    int(left_us) / 1_000_000,
                    pause,
                )
        except Exception as exc:
            self._redis_failed(exc)
        else:
            self._redis_ok()

    def _lessons(self, watch: _Watch, feedback: RateFeedback) -> tuple[int, int, int] | None:
        """What to share of ``feedback`` (the arguments of the learn script), or ``None``."""
        info = feedback.info
        new_interval = began = lift = 0
        if info is not None:
            if watch.limit_interval_us != watch.shared_interval_us:
                new_interval = watch.shared_interval_us = watch.limit_interval_us
            if not feedback.throttled and info.remaining is not None:
                if new_window_began(
                    watch.last_remaining, info.remaining, watch.inflight, info.limit
                ):
                    began = round(watch.window_length() * 1_000_000)
                watch.last_remaining = info.remaining
        if watch.long_pause and feedback.status < 400:
            # Close answered normally after all: the pause too long to wait out is over.
            watch.long_pause = False
            lift = self._max_wait_us
        if new_interval or began or lift:
            return new_interval, began, lift
        return None

    async def aclose(self) -> None:
        """Close the Redis client (when this limiter made it) and the default fallback."""
        if self._closed:
            return
        self._closed = True
        if self._background:
            await asyncio.wait(set(self._background), timeout=self._op_timeout * 2)
            for task in self._background:
                task.cancel()
        if self._owns_client:
            closer = getattr(self._client, "aclose", None) or self._client.close
            try:
                await closer()
            except Exception:  # closing a dead connection is not news
                _log.debug("closing the Redis client failed", exc_info=True)
        if self._owns_fallback and self._fallback is not None:
            await self._fallback.aclose()

    async def _run(self, script: Any, key: str, *args: int | bytes | str) -> Any:
        return await self._run_keys(script, [key], *args)

    async def _run_keys(self, script: Any, keys: list[str], *args: int | bytes | str) -> Any:
        return await asyncio.wait_for(script(keys=keys, args=list(args)), self._op_timeout)

    def _redis_due(self) -> bool:
        """Whether to use Redis now: always, except during an outage between probes."""
        if not self._outage:
            return True
        now = time.monotonic()
        if now < self._next_probe:
            return False
        # Only the first caller after the back-off probes; the others stay local meanwhile.
        self._next_probe = now + self._retry_interval
        return True

    def _redis_failed(self, exc: BaseException) -> None:
        self._next_probe = time.monotonic() + self._retry_interval
        if self._outage:
            return
        self._outage = True
        # The class name only: messages of connection errors may carry addresses or worse.
        _log.warning(
            "Redis rate limiter store %s unreachable (%s); pacing locally, "
            "retrying Redis every %.1f s",
            self._url_shown,
            type(exc).__name__,
            self._retry_interval,
        )

    def _redis_ok(self) -> None:
        if self._outage:
            self._outage = False
            _log.info("Redis rate limiter store %s is back; shared pacing resumed", self._url_shown)

    async def _fallback_acquire(self, group: str) -> None:
        if self._fallback is None:
            # Imported here: the local limiter is only needed once Redis fails.
            from .local import LocalRateLimiter

            self._fallback = LocalRateLimiter(
                rate=self._rate, burst=self._burst, max_wait=self._max_wait
            )
        await self._fallback.acquire(group)
        self._fallback_held[group] += 1

    async def _give_back(
        self, key: str, token: Any, interval_us: int, org_key: str | None, org_token: Any
    ) -> None:
        try:
            await self._run(self._refund, key, token, interval_us)
            if org_key is not None:
                await self._run(self._refund, org_key, org_token, self._org_interval_us)
        except Exception:  # a lost refund only wastes one slot
            _log.debug("refunding a cancelled reservation failed", exc_info=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
