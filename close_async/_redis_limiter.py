"""A rate limiter whose budget is shared, through Redis, by every process on every machine.

Several workers spending one Close API key's budget cannot see each other's local limiters.
:class:`RedisRateLimiter` keeps the pacing state of each endpoint group in one Redis hash,
``close_async:rl:{name}:{group}``, updated only by atomic Lua scripts:

- ``tat``: the GCRA "theoretical arrival time" (microseconds of Redis ``TIME``). Each
  ``acquire`` reserves the next free slot in one round trip and sleeps until it: no polling,
  and the slots handed to concurrent callers are ``1/rate`` apart, whatever process asks.
- ``pause``: the Redis time before which no request may go, written by ``release`` after a
  429 (or a response saying ``remaining=0``); the reservation script pushes slots past it.

Only Redis' own clock is read, so the machines' clocks never have to agree: the scripts
answer durations ("wait 0.0263 s"), which each process sleeps on its own monotonic clock.

When Redis cannot be reached (refused, slower than ``op_timeout``, a script error) the
limiter paces on a local fallback (by default :class:`~close_async._local_limiter.LocalRateLimiter`
at the same rate), logs one warning per outage on ``close_async.ratelimit``, retries Redis
every ``retry_interval`` seconds and logs at INFO when it is back. During an outage each
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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._auth import fingerprint
from ._errors import ConfigurationError
from ._limiter import RateFeedback, RateLimiter

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter"]

_log = logging.getLogger("close_async.ratelimit")

_KEY_PREFIX = "close_async:rl"
_DEFAULT_NAME = "default"
# A 429 that says nothing about when to come back still pauses everyone this long.
_DEFAULT_THROTTLE_PAUSE = 1.0
# A bogus or hostile reset must not freeze every worker of the fleet for hours.
_MAX_PAUSE = 120.0
# Pace at this share of a limit Close states, so an even pace never fills a fixed window.
_LIMIT_SHARE = 0.97
# Keys outlive their last reservation by this much, so a key never expires mid-use.
_EXPIRY_MARGIN_MS = 1000

# Reserve the next slot. KEYS[1]: the group's hash. ARGV: interval and tolerance (us).
# Returns {wait_us, token}: how long until the slot, and the new tat (for a refund).
# A pause moves tat to pause + tolerance, so the first slot after it is at the pause and
# the following ones are spaced one interval apart: no burst fires the moment it ends.
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(v[1]) or now
local pause = tonumber(v[2]) or 0
if tat < now then tat = now end
if pause + tau > tat then tat = pause + tau end
local go = tat - tau
if go < now then go = now end
local new_tat = tat + interval
local token = string.format('%d', new_tat)
redis.call('HSET', KEYS[1], 'tat', token)
local horizon = new_tat
if pause > horizon then horizon = pause end
redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now) / 1000) + tonumber(ARGV[3]))
return {math.floor(go - now), token}
"""

# How long the group is still paused (us, 0 when not). KEYS[1]: the group's hash.
_PAUSE_LEFT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause')) or 0
if pause > now then return math.floor(pause - now) end
return 0
"""

# Pause the group for ARGV[1] us from now, keeping the later of this and any pause already
# set (a short reset must not cut a longer pause another process learned).
_PAUSE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'pause')
local tat = tonumber(v[1]) or 0
local pause = tonumber(v[2]) or 0
local wanted = now + tonumber(ARGV[1])
if wanted > pause then
  pause = wanted
  redis.call('HSET', KEYS[1], 'pause', string.format('%d', pause))
end
local horizon = pause
if tat > horizon then horizon = tat end
if horizon > now then
  redis.call('PEXPIRE', KEYS[1], math.floor((horizon - now) / 1000) + tonumber(ARGV[2]))
end
return math.floor(pause - now)
"""

# Give back a reserved slot whose acquire was cancelled, but only when no later reservation
# was stacked on it (otherwise its slot stays unused: a little slower, never faster).
_REFUND_LUA = """
local v = redis.call('HGET', KEYS[1], 'tat')
if v and v == ARGV[1] then
  redis.call('HSET', KEYS[1], 'tat', string.format('%d', tonumber(v) - tonumber(ARGV[2])))
  return 1
end
return 0
"""


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
    """How long every process must hold back after ``feedback``, or ``None``."""
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
    wait = min(wait, _MAX_PAUSE)
    return wait if wait > 0 else None


class RedisRateLimiter:
    """Paces requests per endpoint group at ``rate``/s in total across all processes.

    Every limiter built with the same Redis, ``name`` and group shares one budget. ``burst``
    (default 1) is how many requests may go back to back after an idle spell; keep it small,
    since with many processes a large burst lets several fire together past Close's limit.
    ``name`` defaults to a digest of ``api_key`` (never the key itself), or ``"default"``.
    ``client`` is an existing ``redis.asyncio.Redis`` to use (then ``url`` is ignored and the
    client is not closed by :meth:`aclose`). ``fallback`` paces when Redis is unreachable.
    ``op_timeout`` bounds each Redis round trip; ``retry_interval`` is how often Redis is
    tried again during an outage. Implements :class:`~close_async._limiter.RateLimiter`.

    A cancelled ``acquire`` holds nothing: the slot it had reserved is handed back when no
    later reservation was stacked on it, and otherwise just goes unused.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        rate: float,
        burst: int | None = None,
        name: str | None = None,
        api_key: str | None = None,
        client: redis.asyncio.Redis | None = None,
        fallback: RateLimiter | None = None,
        op_timeout: float = 0.25,
        retry_interval: float = 5.0,
    ) -> None:
        if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
            raise ConfigurationError("rate must be a positive number of requests per second")
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

        self._rate = float(rate)
        self._burst = burst
        self._name = name if name else _default_name(api_key)
        self._url_shown = _redact_url(url) if client is None else "<given client>"
        self._interval_us = max(1, round(1_000_000 / self._rate))
        self._tau_us = (burst - 1) * self._interval_us
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
        self._reserve = self._client.register_script(_RESERVE_LUA)
        self._pause_left = self._client.register_script(_PAUSE_LEFT_LUA)
        self._pause = self._client.register_script(_PAUSE_LUA)
        self._refund = self._client.register_script(_REFUND_LUA)

        self._fallback: RateLimiter | None = fallback
        self._owns_fallback = fallback is None
        # How many acquires per group went through the fallback and await their release, so
        # each release reaches the limiter that granted its acquire.
        self._fallback_held: collections.Counter[str] = collections.Counter()
        # What Close's answers say about each group: pace no faster than its stated limit,
        # even when ``rate`` was set above it (every process reads the same headers, so
        # they agree without a round trip).
        self._limit_interval_us: dict[str, int] = {}
        self._longest_reset: dict[str, float] = {}
        self._outage = False
        self._next_probe = 0.0
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(url={self._url_shown!r}, rate={self._rate!r}, "
            f"burst={self._burst!r}, name={self._name!r}"
            f"{', outage' if self._outage else ''})"
        )

    @property
    def name(self) -> str:
        """The namespace of this limiter's keys (a digest of the API key by default)."""
        return self._name

    def key(self, group: str) -> str:
        """The Redis key holding ``group``'s pacing state."""
        return f"{_KEY_PREFIX}:{self._name}:{group}"

    async def acquire(self, group: str) -> None:
        """Wait for ``group``'s next slot in the shared budget (locally when Redis is down)."""
        key = self.key(group)
        while self._redis_due():
            try:
                wait_us, token = await self._run(
                    self._reserve, key, self._interval_for(group), self._tau_us, _EXPIRY_MARGIN_MS
                )
            except Exception as exc:  # Redis trouble must never reach the caller
                self._redis_failed(exc)
                break
            self._redis_ok()
            if int(wait_us) <= 0:
                return
            try:
                await asyncio.sleep(int(wait_us) / 1_000_000)
            except asyncio.CancelledError:
                self._spawn(self._give_back(key, token, self._interval_for(group)))
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
            await asyncio.sleep(left_us / 1_000_000)
        await self._fallback_acquire(group)

    def _interval_for(self, group: str) -> int:
        return max(self._interval_us, self._limit_interval_us.get(group, 0))

    def _learn_limit(self, group: str, feedback: RateFeedback | None) -> None:
        info = feedback.info if feedback is not None else None
        if info is None or not info.limit:
            return
        if info.reset is not None and math.isfinite(info.reset):
            self._longest_reset[group] = max(self._longest_reset.get(group, 0.0), info.reset)
        # The window: as stated (429 bodies), else at least the longest reset seen.
        window = info.window or max(self._longest_reset.get(group, 0.0), 1.0)
        interval = window / (_LIMIT_SHARE * info.limit)
        if math.isfinite(interval):
            self._limit_interval_us[group] = max(1, round(interval * 1_000_000))

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        """Share what the response said: a 429 or an exhausted limit pauses every process.

        A limit Close states also caps this process's pace for the group (at 97% of it).
        """
        self._learn_limit(group, feedback)
        if self._fallback_held[group] > 0:
            self._fallback_held[group] -= 1
            if self._fallback_held[group] == 0:
                del self._fallback_held[group]
            if self._fallback is not None:
                try:
                    await self._fallback.release(group, feedback)
                except Exception:  # release must never raise
                    _log.debug("fallback limiter failed in release", exc_info=True)
        pause = _pause_seconds(feedback, self._interval_us / 1_000_000)
        if pause is None or not self._redis_due():
            return
        # No jitter on top: after the pause, the reservation script hands waiting processes
        # slots one interval apart, so they do not all wake at the same instant anyway.
        try:
            await self._run(
                self._pause, self.key(group), round(pause * 1_000_000), _EXPIRY_MARGIN_MS
            )
        except Exception as exc:
            self._redis_failed(exc)
        else:
            self._redis_ok()

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
        return await asyncio.wait_for(script(keys=[key], args=list(args)), self._op_timeout)

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
            from ._local_limiter import LocalRateLimiter

            self._fallback = LocalRateLimiter(rate=self._rate, burst=self._burst)
        await self._fallback.acquire(group)
        self._fallback_held[group] += 1

    async def _give_back(self, key: str, token: Any, interval_us: int) -> None:
        try:
            await self._run(self._refund, key, token, interval_us)
        except Exception:  # a lost refund only wastes one slot
            _log.debug("refunding a cancelled reservation failed", exc_info=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
