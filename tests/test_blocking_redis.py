"""The Redis limiter from the blocking client: two processes, each a BlockingCloseClient on
8 threads with ``rate_limiter=lambda: RedisRateLimiter(...)``, share one budget against a
fake Close limited to 40 requests/s with whole-second resets, and are never refused.

The limit is not given to the limiter: it is learned from the fake's answers and shared
through Redis, as a deployment would run it. Each process reports its client's counters
as JSON; the fake (in this process) reports what it answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from close_async.testing import FakeRateLimit, fake_call_id, fake_close_in_thread
from tests.test_redis_limiter import RedisServer, needs_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # only a hang reaches it
PROCESSES = 2
EACH = 45  # with the warm-ups, 92 requests: more than two windows of 40

_WORKER = textwrap.dedent(
    """
    import json, sys
    from concurrent.futures import ThreadPoolExecutor

    from close_async import BlockingCloseClient, RedisRateLimiter
    from close_async.models import CallUpdate
    from close_async.testing import fake_call_id

    base_url, redis_url, name, first, count = sys.argv[1:6]
    first, count = int(first), int(count)


    def limiter():
        # op_timeout as the benchmarks use it: on a loaded machine, 0.25 s can pass while
        # the loop is busy, and the fallback (this process alone) would then pace instead.
        return RedisRateLimiter(redis_url, name=name, op_timeout=1.0)


    with BlockingCloseClient("test_key", base_url=base_url, rate_limiter=limiter) as close:
        # Connected to Redis and to the fake before the common start.
        close.calls.update(fake_call_id(first), CallUpdate(note="warm-up"))
        print("ready", flush=True)
        sys.stdin.readline()

        def update(i):
            return close.calls.update(fake_call_id(i), CallUpdate(note=f"note {i}")).id

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(update, range(first, first + count)))
        stats = close.stats
        print(json.dumps({
            "ids": ids,
            "requests": stats.requests,
            "rate_limited": stats.rate_limited,
            "limiter": type(close.rate_limiter).__name__,
        }), flush=True)
    """
)


@needs_redis
def test_two_processes_share_one_budget_through_redis_with_no_429() -> None:
    redis = RedisServer()
    redis.start()
    name = f"blocking-{time.monotonic_ns()}"
    limit = FakeRateLimit(40, window=1.0, reset_integer=True)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    try:
        with fake_close_in_thread(api_keys=("test_key",), strict=False, rate_limit=limit) as fake:
            workers = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        _WORKER,
                        fake.base_url,
                        redis.url,
                        name,
                        str(k * 1000),
                        str(EACH),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                for k in range(PROCESSES)
            ]
            try:
                for worker in workers:
                    assert worker.stdout is not None
                    assert worker.stdout.readline().strip() == "ready"
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write("go\n")
                    worker.stdin.flush()
                outputs = [worker.communicate(timeout=BOUND) for worker in workers]
            finally:
                for worker in workers:
                    worker.kill()
                    worker.wait()
            notes = {i: c["note"] for i, c in fake.calls.items()}
            fake_stats = fake.stats
    finally:
        redis.stop()
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]

    expected = {
        fake_call_id(i): f"note {i}"
        for k in range(PROCESSES)
        for i in range(k * 1000, k * 1000 + EACH)
    }
    assert notes == expected
    assert fake_stats.rate_limited == 0
    assert fake_stats.requests == PROCESSES * (EACH + 1)
    for k, report in enumerate(reports):
        assert report["limiter"] == "RedisRateLimiter"
        assert report["ids"] == [fake_call_id(i) for i in range(k * 1000, k * 1000 + EACH)]
        assert report["requests"] == EACH + 1
        assert report["rate_limited"] == 0
