"""Several processes spending one API key: a budget shared through Redis against local limiters.

``python -m benchmarks.redis_workers [--quick]`` prints a markdown section; :func:`run` returns it
(the main runner embeds it). What it does:

1. starts a ``redis-server`` on a free loopback port (no persistence) and, per configuration, a
   fresh fake Close in its own process: one API key limited to 40 requests per 1 s window,
   style ``ratelimit`` (a ``ratelimit`` header on every answer, as Close does today);
2. runs 4 worker processes (``multiprocessing`` spawn) that share the key; each pushes its own
   disjoint share of call updates through ``calls.update_many(concurrency=8)``. A barrier
   starts them together once all are imported and built, so start-up time is not measured;
3. per configuration, reads the fake's counters and final state: updates landed (the note the
   worker wrote is there), requests the fake received, the share of them answered 429, updates
   failed or lost (reported ok but not on the fake), wall time.

Configurations: ``RedisRateLimiter(rate=38)`` in each worker (one shared budget); the default
``LocalRateLimiter()`` in each (learns from headers, blind to the other processes); and
``LocalRateLimiter(rate=10)`` in each (a budget split by hand, for comparison).

``run(configs=WHOLE_SECOND_CONFIGS)`` (the ``redis-whole-second-*`` scenarios) measures
against Close's own rounding instead: resets and ``Retry-After`` rounded up to whole
seconds, 20 ms latency, ``update_many(concurrency=16)``; ``RedisRateLimiter(rate=40)`` (the
true limit) and ``RedisRateLimiter()`` (no rate: the limit learned from the headers), with
``op_timeout=1.0`` (see ``_OP_TIMEOUT``). Every worker opens its Redis connections before
the start barrier.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs

from ._fake_process import FakeProcess

__all__ = ["CONFIGS", "KEY_LIMIT", "WHOLE_SECOND_CONFIGS", "WORKERS", "ConfigResult", "main", "run"]

KEY_LIMIT = 40
"""Requests per second the fake Close admits for the one API key."""

WORKERS = 4
"""Worker processes sharing the key."""

CONCURRENCY = 8
"""Updates in flight per worker."""

REDIS_RATE = 38.0
"""The shared pace of the Redis configuration: a little under the key's limit."""

STATIC_RATE = 10.0
"""The per-worker pace of the hand-split configuration (``KEY_LIMIT / WORKERS``)."""

CONFIGS = ("redis", "local-learned", "local-static")
"""The configurations, in report order."""

WHOLE_SECOND_CONFIGS = ("redis-true-rate", "redis-learned")
"""The configurations against whole-second resets (Close's rounding), 20 ms latency."""

WHOLE_SECOND_CONCURRENCY = 16
"""Updates in flight per worker in the whole-second configurations."""

_WHOLE_SECOND_FAKE = ("--reset-integer", "--latency", "0.02")

_DESCRIPTIONS = {
    "redis-true-rate": f"`RedisRateLimiter(rate={KEY_LIMIT})` per worker (the true limit)",
    "redis-learned": "`RedisRateLimiter()` per worker (no rate: learned from headers)",
    "redis": f"`RedisRateLimiter(rate={REDIS_RATE:g})` per worker (one shared budget)",
    "local-learned": "`LocalRateLimiter()` per worker (learns from headers)",
    "local-static": f"`LocalRateLimiter(rate={STATIC_RATE:g})` per worker (hand-split budget)",
}

_API_KEY = "bench_shared_key"  # a fake's key; still never printed
_BAR_RATE = 36.0
_BAR_429_SHARE = 0.02
# A worker run that takes longer than this is stopped: its unsent items show as failed.
_RUN_CAP = 90.0
_START_TIMEOUT = 120.0
_WARM_UP_GROUP = "bench warm-up"
# The whole-second configurations measure pacing, not outages: on a 2-core machine loaded
# by other work, the default 0.25 s per Redis call is sometimes exceeded by the event loop's
# own delays, and each such timeout sends a worker to local pacing for 5 s.
_OP_TIMEOUT = 1.0


@attrs.frozen
class _WorkerSpec:
    """What one worker process does (picklable: it crosses the spawn boundary)."""

    config: str
    base_url: str
    api_key: str = attrs.field(repr=False)
    redis_url: str
    redis_name: str
    first: int
    count: int
    tag: str
    concurrency: int = CONCURRENCY


@attrs.frozen
class ConfigResult:
    """The measured outcome of one configuration.

    ``requests`` and ``throttled`` are the fake's counts (all workers); ``landed`` updates
    whose note is on the fake; ``failed`` items a worker reported as failed; ``lost`` items a
    worker reported ok that are not on the fake; ``wall`` seconds from the start barrier until
    the last worker finished; ``errors`` failure kinds; ``worker_errors`` crashed workers.
    """

    config: str
    updates: int
    landed: int
    failed: int
    lost: int
    requests: int
    throttled: int
    applied_puts: int
    wall: float
    client_requests: int
    client_429s: int
    errors: dict[str, int]
    worker_errors: list[str]

    @property
    def rate(self) -> float:
        """Updates landed per second of wall time."""
        return self.landed / self.wall if self.wall > 0 else 0.0

    @property
    def throttled_share(self) -> float:
        """The share of the fake's answers that were 429."""
        return self.throttled / self.requests if self.requests else 0.0

    @property
    def extra_requests(self) -> int:
        """Requests beyond one per landed update (429s, retries)."""
        return self.requests - self.landed


def _note(tag: str, index: int) -> str:
    return f"redis-workers {tag} #{index}"


# -- the worker process ----------------------------------------------------------------------


def _worker(
    spec: _WorkerSpec,
    barrier: multiprocessing.synchronize.Barrier,
    results: multiprocessing.queues.Queue[dict[str, Any]],
) -> None:
    """A worker process's entry point: build, wait for the others, run, report one dict."""
    try:
        report = asyncio.run(_work(spec, barrier))
    except BaseException as exc:  # the parent must hear of any crash, not wait for it
        report = {"crash": f"{type(exc).__name__}: {exc}"}
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.abort()
    results.put(report)


async def _work(spec: _WorkerSpec, barrier: multiprocessing.synchronize.Barrier) -> dict[str, Any]:
    from close_async import CloseClient, LocalRateLimiter, RateLimiter
    from close_async.models import CallUpdate
    from close_async.testing import fake_call_id

    limiter: RateLimiter
    if spec.config == "redis":
        from close_async import RedisRateLimiter

        limiter = RedisRateLimiter(spec.redis_url, rate=REDIS_RATE, name=spec.redis_name)
    elif spec.config == "redis-true-rate":
        from close_async import RedisRateLimiter

        limiter = RedisRateLimiter(
            spec.redis_url, rate=KEY_LIMIT, name=spec.redis_name, op_timeout=_OP_TIMEOUT
        )
    elif spec.config == "redis-learned":
        from close_async import RedisRateLimiter

        limiter = RedisRateLimiter(spec.redis_url, name=spec.redis_name, op_timeout=_OP_TIMEOUT)
    elif spec.config == "local-learned":
        limiter = LocalRateLimiter()
    else:
        limiter = LocalRateLimiter(rate=STATIC_RATE)

    def items() -> Iterator[tuple[str, CallUpdate]]:
        for i in range(spec.first, spec.first + spec.count):
            yield fake_call_id(i), CallUpdate(note=_note(spec.tag, i))

    ok: list[int] = []
    errors: dict[str, int] = {}
    async with CloseClient(spec.api_key, base_url=spec.base_url, rate_limiter=limiter) as client:
        # Open the Redis connections (one per task in flight) and load the scripts before
        # the start: on a loaded machine, 16 handshakes at once can outlast the limiter's
        # op_timeout, and then that worker paces on its own for retry_interval seconds.
        await _warm_up(limiter, spec.concurrency)
        # Blocking on purpose: nothing else runs in this loop yet.
        barrier.wait(_START_TIMEOUT)
        started = time.monotonic()
        run = client.calls.update_many(items(), concurrency=spec.concurrency)
        stopper = asyncio.get_running_loop().call_later(_RUN_CAP, run.stop)
        async with run:
            async for result in run:
                if result.ok:
                    ok.append(spec.first + result.index)
                else:
                    kind = type(result.error).__name__
                    errors[kind] = errors.get(kind, 0) + 1
        stopper.cancel()
        elapsed = time.monotonic() - started
        return {
            "ok": ok,
            "errors": errors,
            "elapsed": elapsed,
            "client_requests": client.stats.requests,
            "client_429s": client.stats.rate_limited,
        }


async def _warm_up(limiter: Any, tasks: int) -> None:
    """Reserve ``tasks`` slots at once in a group of its own (none of the measured one)."""

    async def one() -> None:
        await limiter.acquire(_WARM_UP_GROUP)
        await limiter.release(_WARM_UP_GROUP, None)

    await asyncio.gather(*(one() for _ in range(tasks)))


# -- redis-server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _redis_server() -> Iterator[str]:
    """A throwaway redis-server on loopback; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    import redis

    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        port = _free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", workdir]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            probe = redis.Redis.from_url(url, socket_timeout=1.0)
            deadline = time.monotonic() + 10
            while True:
                try:
                    probe.ping()
                    break
                except redis.RedisError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            probe.close()
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- one configuration ------------------------------------------------------------------------


def _run_config(config: str, per_worker: int, redis_url: str) -> ConfigResult:
    total = WORKERS * per_worker
    fake_args = [
        "--rate", str(KEY_LIMIT),
        "--window", "1",
        "--style", "ratelimit",
        "--seed-calls", str(total),
        "--api-key", _API_KEY,
        "--no-record",
    ]  # fmt: skip
    whole_second = config in WHOLE_SECOND_CONFIGS
    if whole_second:
        fake_args += _WHOLE_SECOND_FAKE
    tag = config
    ctx = multiprocessing.get_context("spawn")
    with FakeProcess(fake_args) as fake:
        barrier = ctx.Barrier(WORKERS + 1)
        results: multiprocessing.queues.Queue[dict[str, Any]] = ctx.Queue()
        redis_name = f"bench-{config}-{uuid.uuid4().hex[:8]}"
        processes = [
            ctx.Process(
                target=_worker,
                args=(
                    _WorkerSpec(
                        config=config,
                        base_url=fake.base_url,
                        api_key=_API_KEY,
                        redis_url=redis_url,
                        redis_name=redis_name,
                        first=w * per_worker,
                        count=per_worker,
                        tag=tag,
                        concurrency=WHOLE_SECOND_CONCURRENCY if whole_second else CONCURRENCY,
                    ),
                    barrier,
                    results,
                ),
                name=f"bench-worker-{config}-{w}",
            )
            for w in range(WORKERS)
        ]
        for process in processes:
            process.start()
        reports: list[dict[str, Any]] = []
        try:
            # A worker that crashed while starting breaks the barrier; its report says why.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(_START_TIMEOUT)
            started = time.monotonic()
            for _ in processes:
                reports.append(results.get(timeout=_RUN_CAP + 60))
            wall = time.monotonic() - started
        except queue.Empty:
            wall = time.monotonic() - started
        finally:
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.terminate()
                    process.join()
        stats = fake.admin("stats")
        calls = fake.admin("calls")["calls"]

    from close_async.testing import fake_call_id

    reported_ok = {i for r in reports for i in r.get("ok", ())}
    landed = lost = 0
    for i in range(total):
        call = calls.get(fake_call_id(i), {})
        if call.get("note") == _note(tag, i):
            landed += 1
        elif i in reported_ok:
            lost += 1
    errors: dict[str, int] = {}
    for r in reports:
        for kind, n in r.get("errors", {}).items():
            errors[kind] = errors.get(kind, 0) + n
    worker_errors = [r["crash"] for r in reports if "crash" in r]
    missing = WORKERS - len(reports)
    if missing:
        worker_errors.append(f"{missing} worker(s) never reported")
    return ConfigResult(
        config=config,
        updates=total,
        landed=landed,
        failed=total - len(reported_ok),
        lost=lost,
        requests=int(stats["requests"]),
        throttled=int(stats["rate_limited"]),
        applied_puts=int(stats["applied_updates"]),
        wall=wall,
        client_requests=sum(int(r.get("client_requests", 0)) for r in reports),
        client_429s=sum(int(r.get("client_429s", 0)) for r in reports),
        errors=errors,
        worker_errors=worker_errors,
    )


# -- the report -------------------------------------------------------------------------------


def _table(results: list[ConfigResult]) -> list[str]:
    lines = [
        "| configuration | landed | wall (s) | updates/s | requests sent | 429s | 429 share "
        "| extra requests | failed | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {_DESCRIPTIONS[r.config]} | {r.landed}/{r.updates} | {r.wall:.1f} "
            f"| {r.rate:.1f} | {r.requests} | {r.throttled} | {r.throttled_share:.1%} "
            f"| {r.extra_requests} | {r.failed} | {r.lost} |"
        )
    return lines


def _verdicts(results: list[ConfigResult]) -> list[str]:
    by_config = {r.config: r for r in results}
    lines: list[str] = []
    for config in WHOLE_SECOND_CONFIGS:
        r = by_config.get(config)
        if r is None:
            continue
        passed = (
            r.rate >= _BAR_RATE
            and r.throttled_share <= _BAR_429_SHARE
            and r.landed == r.updates
            and r.lost == 0
        )
        lines.append(
            f"- **{config} bar ({'PASS' if passed else 'FAIL'})**: {r.rate:.1f} updates/s "
            f"together (bar ≥ {_BAR_RATE:g}), 429 share {r.throttled_share:.1%} "
            f"(bar ≤ {_BAR_429_SHARE:.0%}), {r.landed}/{r.updates} landed, {r.lost} lost."
        )
    redis_result = by_config.get("redis")
    if redis_result is not None:
        rate_ok = redis_result.rate >= _BAR_RATE
        share_ok = redis_result.throttled_share < _BAR_429_SHARE
        complete = redis_result.landed == redis_result.updates
        verdict = "PASS" if rate_ok and share_ok and complete else "FAIL"
        lines.append(
            f"- **Redis bar ({verdict})**: aggregate {redis_result.rate:.1f} updates/s "
            f"(bar ≥ {_BAR_RATE:g}), 429 share {redis_result.throttled_share:.1%} "
            f"(bar < {_BAR_429_SHARE:.0%}), {redis_result.landed}/{redis_result.updates} landed."
        )
    for config in ("local-learned", "local-static"):
        r = by_config.get(config)
        if r is None or redis_result is None:
            continue
        lines.append(
            f"- {_DESCRIPTIONS[config]}: {r.throttled_share:.1%} of answers were 429, "
            f"{r.extra_requests} requests beyond one per update "
            f"({r.requests / max(1, redis_result.requests):.2f}× the Redis run's requests), "
            f"{r.rate:.1f} updates/s."
        )
    for r in results:
        if (r.client_requests, r.client_429s) != (r.requests, r.throttled):
            # The workers' own counters should agree with the fake's; say so when they do not.
            lines.append(
                f"- {r.config}: the workers counted {r.client_requests} requests and "
                f"{r.client_429s} 429s, the fake {r.requests} and {r.throttled}."
            )
        if r.worker_errors:
            lines.append(f"- {r.config}: worker trouble: {'; '.join(r.worker_errors)}")
        if r.errors:
            kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(r.errors.items()))
            lines.append(f"- {r.config}: failed updates by kind: {kinds}")
    return lines


def run(quick: bool = False, configs: tuple[str, ...] = CONFIGS) -> str:
    """Run ``configs`` (default: the three of the main comparison) and return the markdown
    section reporting them."""
    per_worker = 40 if quick else 150
    if all(c in WHOLE_SECOND_CONFIGS for c in configs):
        header = [
            "## Several processes, one API key, whole-second resets (as Close sends)",
            "",
            f"{WORKERS} worker processes share one API key limited to {KEY_LIMIT} requests/s "
            "(fake Close, fixed 1 s windows, `ratelimit` header with `reset` and `Retry-After` "
            "rounded up to whole seconds, 20 ms latency); each pushes "
            f"{per_worker} updates with `update_many(concurrency={WHOLE_SECOND_CONCURRENCY})` "
            f"({WORKERS * per_worker} in all). Requests and 429s are the fake's counts.",
            "",
        ]
    else:
        header = [
            "## Several processes, one API key: shared Redis budget vs local limiters",
            "",
            f"{WORKERS} worker processes share one API key limited to {KEY_LIMIT} requests/s "
            f"(fake Close, fixed 1 s windows, `ratelimit` header on every answer); each pushes "
            f"{per_worker} updates of its own with `update_many(concurrency={CONCURRENCY})` "
            f"({WORKERS * per_worker} in all). Updates/s counts updates whose note is on the fake "
            "at the end, over the wall time from the common start to the last worker's end; "
            "requests and 429s are the fake's counts.",
            "",
        ]
    if shutil.which("redis-server") is None:
        return "\n".join([*header, "_Skipped: `redis-server` is not installed._", ""])
    results: list[ConfigResult] = []
    with _redis_server() as redis_url:
        for config in configs:
            results.append(_run_config(config, per_worker, redis_url))
    return "\n".join([*header, *_table(results), "", *_verdicts(results), ""])


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.redis_workers [--quick]``: print the section."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_workers")
    parser.add_argument("--quick", action="store_true", help="4 x 40 updates instead of 4 x 150")
    parser.add_argument(
        "--config",
        action="append",
        choices=CONFIGS + WHOLE_SECOND_CONFIGS,
        help="run only this configuration (repeatable)",
    )
    args = parser.parse_args(argv)
    print(run(quick=args.quick, configs=tuple(args.config) if args.config else CONFIGS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
