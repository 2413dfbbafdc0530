"""The webhook worker recipe end to end: ``python -m benchmarks --scenario webhook-worker``.

The fake Close runs in a process of its own (40 requests/s for the workers' API key,
whole-second resets) and sends signed ``activity.call.created`` webhooks, some duplicated
and all jittered (reordered), to the subscription made with ``POST /webhook/``: the
recipe's receiver (``examples/webhook_worker``), which enqueues them on a Redis stream; 4
worker processes share the key through one ``RedisRateLimiter``. One worker is SIGKILLed
mid-run and a fresh one started. The calls are created with other API keys, so the workers'
key spends its budget on the job alone. Effects are read from the fake's state afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
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
from close_async.testing import key_fingerprint

from ._fake_process import FakeProcess
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
CALL_CREATED = [{"object_type": "activity.call", "action": "created"}]
_CALL_PARAMS = {"object_type": "activity.call", "action": "created"}


def _spawn(consumer: str, redis_url: str, base_url: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "examples.webhook_worker", "worker"]
    command += ["--consumer", consumer, "--redis-url", redis_url, "--base-url", base_url]
    # The fake limits the key as a whole, so the workers pace every endpoint in one budget.
    command += ["--rate", str(WORKER_RATE), "--one-budget", "--concurrency", "8"]
    command += ["--reclaim-idle-ms", "3000", "--lock-lease-ms", "5000"]
    # WARNING: reconnects, takeovers and failures only, not a line per event.
    env = {**os.environ, "CLOSE_API_KEY": WORKER_KEY, "LOG_LEVEL": "WARNING"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


async def _emit(base_url: str, n: int, leads: list[str]) -> None:
    async def one_key(key: str, indexes: range) -> None:
        async with CloseClient(api_key=key, base_url=base_url) as close:
            gate = asyncio.Semaphore(8)

            async def create(i: int) -> None:
                async with gate:
                    await close.post("activity/call/", json={"lead_id": leads[i % len(leads)]})

            await asyncio.gather(*(create(i) for i in indexes))

    share = len(EMIT_KEYS)
    await asyncio.gather(*(one_key(k, range(i, n, share)) for i, k in enumerate(EMIT_KEYS)))


def _fake_args() -> list[str]:
    args = ["--rate", str(KEY_LIMIT), "--reset-integer", "--strict"]
    for key in (WORKER_KEY, *EMIT_KEYS):
        args += ["--api-key", key]
    args += ["--webhook-duplicate-rate", "0.1", "--webhook-jitter", "0.5"]
    args += ["--webhook-retry-base", "0.2", "--webhook-retry-max", "5.0"]
    args += ["--webhook-max-attempts", "50", "--webhook-seed", "1"]
    return args


async def _receiver(close: CloseClient, store: redis.Redis, make_app: Any) -> web.AppRunner:
    """Subscribe through the API, then serve the receiver with the key the POST returned."""
    # The port is bound first: the subscription needs the URL, the receiver needs the key.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"
    subscription = await close.post("webhook/", json={"url": url, "events": CALL_CREATED})
    runner = web.AppRunner(make_app(store, subscription["signature_key"]))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


async def _deliveries_idle(fake: FakeProcess, events: int) -> dict[str, Any]:
    """Wait until every scheduled delivery (duplicates too) succeeded or was abandoned."""
    while True:
        stats: dict[str, Any] = (await asyncio.to_thread(fake.admin, "stats"))["webhooks"]
        if stats["delivered"] + stats["abandoned"] >= events + stats["duplicates"]:
            return stats
        await asyncio.sleep(0.2)


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
    workers: list[subprocess.Popen[bytes]] = []
    killed = 0
    runner: web.AppRunner | None = None
    with FakeProcess(_fake_args()) as fake:
        # The emitters' keys do the set-up, so the workers' key spends its budget on the job.
        admin_key = EMIT_KEYS[0]
        try:
            async with CloseClient(api_key=admin_key, base_url=fake.base_url) as close:
                seeded = await asyncio.to_thread(fake.admin, "seed?kind=lead&n=50", method="POST")
                leads = seeded["ids"]
                runner = await _receiver(close, store, make_app)
            workers = [_spawn(f"worker-{i}", redis_url, fake.base_url) for i in range(WORKERS)]
            began = time.monotonic()
            await _emit(fake.base_url, n, leads)
            async with CloseClient(api_key=admin_key, base_url=fake.base_url) as close:
                events = [e async for e in close.paginate("event/", params=_CALL_PARAMS)]
            created = {e["id"]: e for e in events}
            event_ids = list(created)
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
            webhook_stats = await _deliveries_idle(fake, len(event_ids))
            async with CloseClient(api_key=WORKER_KEY, base_url=fake.base_url) as close:
                caught_up = (await catch_up(close, store)).fed
            done_at = await store.mget([f"done:{e}" for e in event_ids])
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
            for worker in workers:
                worker.wait()
            if runner is not None:
                await runner.cleanup()
            await store.aclose()
        # Effects are read from the fake's own state, never from the workers' counters.
        async with CloseClient(api_key=admin_key, base_url=fake.base_url) as close:
            texts = [t.get("text") or "" async for t in close.paginate("task/")]
        # Every call on the fake is one the emitters created (an id__in list would be too long).
        calls = (await asyncio.to_thread(fake.admin, "calls"))["calls"]
        recorded = (await asyncio.to_thread(fake.admin, "requests?last=100000000"))["requests"]
    tasks = {e: sum(task_marker(e) in text for text in texts) for e in event_ids}
    updated = {
        e: task_marker(e) in (calls.get(created[e]["object_id"], {}).get("note") or "")
        for e in event_ids
    }
    latencies = [
        float(at) - datetime.fromisoformat(created[e]["date_created"]).timestamp()
        for e, at in zip(event_ids, done_at, strict=True)
        if at is not None
    ]
    worker_key = key_fingerprint(WORKER_KEY)
    mine = [r for r in recorded if r["key"] == worker_key]
    admitted = [r["time"] for r in mine if r["status"] != 429]
    first = min(admitted)
    in_backlog = [t for t in admitted if t <= backlog_end]
    overall = [t for t in admitted if t <= finished]
    return {
        "events_sent": len(event_ids),
        "deliveries": webhook_stats["attempts"],
        "duplicate_deliveries": webhook_stats["duplicates"],
        "calls_updated": sum(updated.values()),
        "tasks_created": sum(tasks.values()),
        "lost": sum(1 for e in event_ids if not updated[e] or tasks[e] == 0),
        "duplicate_effects": sum(max(0, c - 1) for c in tasks.values()),
        "workers_killed": killed,
        "caught_up": caught_up,
        "requests_per_s": round(len(in_backlog) / (backlog_end - first), 2),
        "requests_per_s_whole_run": round(len(overall) / (finished - first), 2),
        "rate_limited": sum(1 for r in mine if r["status"] == 429),
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
