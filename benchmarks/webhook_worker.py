"""The webhook worker recipe end to end: ``python -m benchmarks --scenario webhook-worker``.

An in-process fake Close (40 requests/s for the workers' API key, whole-second resets) sends
``activity.call.created`` webhooks, some duplicated and all jittered (reordered), to the
recipe's receiver (``examples/webhook_worker``), which enqueues them on a Redis stream; 4
worker processes share the key through one ``RedisRateLimiter``. One worker is SIGKILLed
mid-run and a fresh one started. The calls are created with other API keys, so the workers'
key spends its budget on the job alone. Effects are counted on the fake's state afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis.asyncio as redis
from aiohttp import web

from close_async import CloseClient
from close_async.testing import FakeClose, FakeRateLimit, WebhookDeliveryConfig, key_fingerprint

from .redis_workers import _redis_server

__all__ = ["EVENTS", "main", "run"]

EVENTS = 500
"""Events emitted by default."""

WORKERS = 4
KEY_LIMIT = 40
WORKER_RATE = 40.0
WORKER_KEY = "bench_webhook_worker"
EMIT_KEYS = tuple(f"bench_webhook_emit_{n}" for n in range(5))
ROOT = Path(__file__).resolve().parent.parent
SIGNATURE_KEY = "5e" * 32
CALL_CREATED = [{"object_type": "activity.call", "action": "created"}]


def _spawn(consumer: str, redis_url: str, base_url: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "examples.webhook_worker", "worker"]
    command += ["--consumer", consumer, "--redis-url", redis_url, "--base-url", base_url]
    command += ["--rate", str(WORKER_RATE), "--concurrency", "8"]
    command += ["--reclaim-idle-ms", "3000", "--lock-lease-ms", "5000"]
    env = {**os.environ, "CLOSE_API_KEY": WORKER_KEY}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


async def _emit(fake: FakeClose, n: int, leads: list[str]) -> None:
    async def one_key(key: str, indexes: range) -> None:
        async with CloseClient(api_key=key, base_url=fake.base_url) as close:
            gate = asyncio.Semaphore(8)

            async def create(i: int) -> None:
                async with gate:
                    await close.post("activity/call/", json={"lead_id": leads[i % len(leads)]})

            await asyncio.gather(*(create(i) for i in indexes))

    share = len(EMIT_KEYS)
    await asyncio.gather(*(one_key(k, range(i, n, share)) for i, k in enumerate(EMIT_KEYS)))


async def _lag(store: redis.Redis) -> int:
    """Entries in the stream no worker has read yet: the backlog."""
    groups: Any = await store.xinfo_groups("close:events")
    lag = groups[0].get("lag") if groups else None
    return int(lag) if lag is not None else -1


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(n: int, redis_url: str) -> dict[str, Any]:
    from examples.webhook_worker.catchup import catch_up
    from examples.webhook_worker.job import task_marker
    from examples.webhook_worker.receiver import make_app

    store = redis.Redis.from_url(redis_url, decode_responses=True)
    config = WebhookDeliveryConfig(
        duplicate_rate=0.1, jitter=0.5, retry_base=0.2, retry_max=5.0, max_attempts=50, seed=1
    )
    fake = FakeClose(
        api_keys=(WORKER_KEY, *EMIT_KEYS),
        rate_limit=FakeRateLimit(KEY_LIMIT, reset_integer=True),
        webhook_delivery=config,
    )
    runner = web.AppRunner(make_app(store, SIGNATURE_KEY))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    workers: list[subprocess.Popen[bytes]] = []
    killed = 0
    try:
        await fake.start()
        fake.subscribe_webhook(url, CALL_CREATED, signature_key=SIGNATURE_KEY)
        leads = fake.seed_objects("lead", 50)
        workers = [_spawn(f"worker-{i}", redis_url, fake.base_url) for i in range(WORKERS)]
        began = time.monotonic()
        await _emit(fake, n, leads)
        event_ids = [
            e["id"]
            for e in fake.events
            if (e["object_type"], e["action"]) == ("activity.call", "created")
        ]
        deadline = time.monotonic() + 600
        backlog_end: float | None = None
        while True:
            if backlog_end is None and await _lag(store) == 0:
                backlog_end = time.monotonic()
            done = await store.exists(*(f"done:{e}" for e in event_ids))
            if done == len(event_ids) or time.monotonic() > deadline:
                break
            if not killed and done >= 0.4 * len(event_ids):
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                killed += 1
                await asyncio.sleep(1.0)
                workers.append(_spawn("worker-0-restarted", redis_url, fake.base_url))
            await asyncio.sleep(0.1)
        finished = time.monotonic()
        backlog_end = backlog_end or finished
        await fake.webhook_deliverer.wait_idle()
        async with CloseClient(api_key=WORKER_KEY, base_url=fake.base_url) as close:
            caught_up = await catch_up(close, store)
        done_at = await store.mget([f"done:{e}" for e in event_ids])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            worker.wait()
        await fake.stop()
        await runner.cleanup()
        await store.aclose()

    created = {e["id"]: e for e in fake.events if e["id"] in set(event_ids)}
    texts = [t.get("text") or "" for t in fake.objects("task").values()]
    tasks = {e: sum(task_marker(e) in text for text in texts) for e in event_ids}
    updated = {
        e: task_marker(e) in (fake.calls.get(created[e]["object_id"], {}).get("note") or "")
        for e in event_ids
    }
    latencies = [
        float(at) - datetime.fromisoformat(created[e]["date_created"]).timestamp()
        for e, at in zip(event_ids, done_at, strict=True)
        if at is not None
    ]
    worker_key = key_fingerprint(WORKER_KEY)
    admitted = [r.time for r in fake.requests if r.key == worker_key and r.status != 429]
    first = min(admitted)
    in_backlog = [t for t in admitted if t <= backlog_end]
    overall = [t for t in admitted if t <= finished]
    return {
        "events_sent": len(event_ids),
        "deliveries": fake.webhook_deliverer.stats.attempts,
        "duplicate_deliveries": fake.webhook_deliverer.stats.duplicates,
        "calls_updated": sum(updated.values()),
        "tasks_created": sum(tasks.values()),
        "lost": sum(1 for e in event_ids if not updated[e] or tasks[e] == 0),
        "duplicate_effects": sum(max(0, c - 1) for c in tasks.values()),
        "workers_killed": killed,
        "caught_up": caught_up,
        "requests_per_s": round(len(in_backlog) / (backlog_end - first), 2),
        "requests_per_s_whole_run": round(len(overall) / (finished - first), 2),
        "rate_limited": sum(1 for r in fake.requests if r.key == worker_key and r.status == 429),
        "events_per_s": round(len(event_ids) / (finished - began), 2),
        "p50_latency_s": round(statistics.median(latencies), 3) if latencies else 0.0,
        "p95_latency_s": round(_percentile(latencies, 0.95), 3),
        "wall_s": round(finished - began, 2),
    }


def run(n: int = EVENTS) -> dict[str, Any]:
    """Run the scenario once; return the figures (also printed as one JSON line)."""
    with _redis_server() as redis_url:
        figures = asyncio.run(_run(n, redis_url))
    sys.stdout.write(json.dumps(figures) + "\n")
    sys.stdout.flush()
    return figures


def markdown(figures: dict[str, Any]) -> str:
    """A RESULTS.md section for ``figures``."""
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in figures.items())
    return "\n".join(
        [
            "## webhook-worker",
            "",
            "Fake Close (40/s for the workers' key, whole-second resets) -> signed webhooks "
            "(10% duplicated, up to 0.5 s jitter) -> receiver -> Redis stream -> 4 worker "
            "processes (one SIGKILLed and replaced mid-run). Effects counted on the fake.",
            "",
            "| figure | value |",
            "|---|---|",
            rows,
            "",
        ]
    )


def main() -> None:
    """``python -m benchmarks.webhook_worker [N]``."""
    run(int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS)


if __name__ == "__main__":
    main()
