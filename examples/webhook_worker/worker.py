"""A worker: one consumer of the stream's consumer group, reclaiming dead consumers' entries."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as redis

from close_async import CloseClient, CloseError, OneBudgetLimiter, RateLimiter, RedisRateLimiter

from .job import LOCK_LEASE_MS, Busy, apply_event
from .receiver import STREAM

GROUP = "workers"
"""The consumer group every worker joins."""

log = logging.getLogger("webhook_worker")


async def ensure_group(store: redis.Redis, stream: str = STREAM) -> None:
    """Create the consumer group (and the stream) unless it exists."""
    try:
        await store.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def run_worker(
    *,
    consumer: str,
    api_key: str,
    redis_url: str,
    base_url: str,
    rate: float | None = None,
    one_budget: bool = False,
    concurrency: int = 8,
    reclaim_idle_ms: int = 5_000,
    lock_lease_ms: int = LOCK_LEASE_MS,
    stream: str = STREAM,
    stop: asyncio.Event | None = None,
) -> None:
    """Consume until ``stop`` is set: ``concurrency`` entries at a time, each acknowledged
    after its effects; entries idle past ``reclaim_idle_ms`` in any consumer are reclaimed.

    With ``one_budget`` every request (call updates, task lookups and creates) spends one
    shared budget, for an API key Close limits as a whole rather than per endpoint group."""
    stop = stop or asyncio.Event()
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    await ensure_group(store, stream)
    limiter: RateLimiter = RedisRateLimiter(redis_url, rate=rate, api_key=api_key)
    if one_budget:
        limiter = OneBudgetLimiter(limiter)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    async def handle(entry_id: str, fields: dict[str, Any]) -> None:
        try:
            event = json.loads(fields["event"])
            await apply_event(close, store, event, lock_lease_ms=lock_lease_ms)
        except Busy:
            return  # not acknowledged: reclaimed later, by then done (or its owner dead)
        except CloseError as exc:
            log.warning("event entry %s failed, left for redelivery: %s", entry_id, exc)
            return
        finally:
            slots.release()
        await store.xack(stream, GROUP, entry_id)

    def spawn(entry_id: str, fields: dict[str, Any]) -> None:
        task = asyncio.create_task(handle(entry_id, fields))
        running.add(task)
        task.add_done_callback(running.discard)

    async def take(entries: list[Any]) -> None:
        for entry_id, fields in entries:
            if fields is None:
                await store.xack(stream, GROUP, entry_id)  # deleted from the stream meanwhile
                slots.release()
                continue
            spawn(entry_id, fields)

    async with CloseClient(api_key, base_url=base_url, rate_limiter=limiter) as close:
        try:
            cursor = "0-0"
            while not stop.is_set():
                free = await _free_slots(slots, concurrency)
                claimed = await store.xautoclaim(
                    stream, GROUP, consumer, reclaim_idle_ms, start_id=cursor, count=free
                )
                cursor, entries = claimed[0], claimed[1]
                await take(entries)
                for _ in range(free - len(entries)):
                    slots.release()
                free = await _free_slots(slots, concurrency)
                answer: Any = await store.xreadgroup(
                    GROUP, consumer, {stream: ">"}, count=free, block=500
                )
                entries = answer[0][1] if answer else []
                await take(entries)
                for _ in range(free - len(entries)):
                    slots.release()
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await limiter.aclose()
            await store.aclose()


async def _free_slots(slots: asyncio.Semaphore, most: int) -> int:
    """Wait for at least one free slot, then take every free one; return how many."""
    await slots.acquire()
    taken = 1
    while taken < most and not slots.locked():
        await slots.acquire()
        taken += 1
    return taken
