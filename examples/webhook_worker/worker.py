"""A worker: one consumer of the stream's consumer group, taking over dead consumers' entries.

It rides out a Redis restart or failover (:mod:`.store`): every step of its loop is retried
while Redis is down, the entries it was given but had not acknowledged stay in the group's
pending list (the append-only file keeps it) and are claimed again once idle, and the job's
``done:`` record makes a re-run a no-op. Acknowledging an entry deletes it from the stream
(``XACK`` and ``XDEL`` in one ``MULTI``), so the stream holds exactly the entries not yet
acknowledged: a consumer group recreated on a server that lost it (``NOGROUP``) starts from
the stream's beginning and re-reads only those.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as redis

from close_async import CloseClient, CloseError, OneBudgetLimiter, RateLimiter, RedisRateLimiter

from .job import LOCK_LEASE_MS, Busy, apply_event
from .receiver import STREAM
from .store import REDIS_DOWN, WORKER_RETRIES, connect, ride_out

GROUP = "workers"
"""The consumer group every worker joins."""

READ_BLOCK_MS = 500
"""How long one ``XREADGROUP`` waits for new entries (the loop then checks ``stop``)."""

log = logging.getLogger("webhook_worker")

Entry = tuple[str, dict[str, Any] | None]
"""A stream entry as redis-py returns it: its id, and its fields (None once deleted)."""


async def ensure_group(store: redis.Redis, stream: str = STREAM) -> bool:
    """Create the consumer group (and the stream) unless it exists; True when created.

    It starts at the stream's beginning: acknowledged entries are deleted from the stream,
    so what a new group reads there is what no worker acknowledged."""
    try:
        await store.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
        return False
    return True


async def acknowledge(store: redis.Redis, entry_id: str, stream: str = STREAM) -> None:
    """Acknowledge ``entry_id`` and delete it from the stream, both or neither."""
    async with store.pipeline(transaction=True) as pipe:
        pipe.xack(stream, GROUP, entry_id)
        pipe.xdel(stream, entry_id)
        await pipe.execute()


async def claim_idle(
    store: redis.Redis, consumer: str, idle_ms: int, count: int, stream: str = STREAM
) -> list[Entry]:
    """Claim up to ``count`` entries pending longer than ``idle_ms`` in any consumer of the
    group: a dead worker's, or this worker's own left unacknowledged (a ``Busy`` event, an
    outage mid-event). A takeover of another consumer's entry is logged at WARNING."""
    pending: Any = await store.xpending_range(
        stream, GROUP, min="-", max="+", count=count, idle=idle_ms
    )
    if not pending:
        return []
    # XCLAIM checks the idle time again, atomically: of two workers racing for an entry,
    # one gets it.
    claimed: Any = await store.xclaim(
        stream, GROUP, consumer, idle_ms, [p["message_id"] for p in pending]
    )
    got = {entry_id for entry_id, _ in claimed}
    for p in pending:
        if p["message_id"] in got and p["consumer"] != consumer:
            log.warning(
                "took over entry %s from consumer %s (idle %d ms, delivered %d times)",
                p["message_id"],
                p["consumer"],
                p["time_since_delivered"],
                p["times_delivered"],
            )
    return list(claimed)


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
    after its effects; entries idle past ``reclaim_idle_ms`` in any consumer are claimed.

    Redis going away (restart, failover) pauses the loop until it answers again; it never
    ends it. With ``one_budget`` every request (call updates, task lookups and creates)
    spends one shared budget, for an API key Close limits as a whole rather than per
    endpoint group."""
    stop = stop or asyncio.Event()
    store = connect(redis_url, retries=WORKER_RETRIES)
    limiter: RateLimiter = RedisRateLimiter(redis_url, rate=rate, api_key=api_key)
    if one_budget:
        limiter = OneBudgetLimiter(limiter)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Task[None]] = set()

    async def handle(entry_id: str, fields: dict[str, Any] | None) -> None:
        try:
            await _handle(close, store, entry_id, fields, lock_lease_ms, stream)
        finally:
            slots.release()

    async def poll() -> None:
        free = await _free_slots(slots, concurrency)
        try:
            entries = await _next_entries(store, consumer, reclaim_idle_ms, free, stream)
        except BaseException:
            # Entries claimed before the failure stay pending: claimed again once idle.
            for _ in range(free):
                slots.release()
            raise
        for _ in range(free - len(entries)):
            slots.release()
        for entry_id, entry_fields in entries:
            task = asyncio.create_task(handle(entry_id, entry_fields))
            running.add(task)
            task.add_done_callback(running.discard)

    async with CloseClient(api_key, base_url=base_url, rate_limiter=limiter) as close:
        try:
            await ride_out(lambda: ensure_group(store, stream), "creating the group", stop)
            while not stop.is_set():
                await ride_out(poll, "reading the stream", stop)
        except REDIS_DOWN:
            if not stop.is_set():
                raise  # ride_out only gives up once told to stop
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await limiter.aclose()
            await store.aclose()


async def _next_entries(
    store: redis.Redis, consumer: str, reclaim_idle_ms: int, count: int, stream: str
) -> list[Entry]:
    """Up to ``count`` entries: idle ones claimed first, then new ones (waiting for new ones
    only when there was nothing to claim). Recreates the group when the server lost it."""
    try:
        entries = await claim_idle(store, consumer, reclaim_idle_ms, count, stream)
        if len(entries) < count:
            block = None if entries else READ_BLOCK_MS
            answer: Any = await store.xreadgroup(
                GROUP, consumer, {stream: ">"}, count=count - len(entries), block=block
            )
            entries += answer[0][1] if answer else []
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        if await ensure_group(store, stream):
            log.warning("consumer group %r was missing (server lost its data?): recreated", GROUP)
        return []
    return entries


async def _handle(
    close: CloseClient,
    store: redis.Redis,
    entry_id: str,
    fields: dict[str, Any] | None,
    lock_lease_ms: int,
    stream: str,
) -> None:
    """Apply one entry's event and acknowledge it; log one line with the outcome.

    Anything short of acknowledged leaves the entry pending, to be claimed again once idle
    (and then found done, when only the acknowledgement was missing)."""
    event_id = "?"
    try:
        if fields is None:
            outcome = "entry gone from the stream"
        else:
            event = json.loads(fields["event"])
            event_id = event["id"]
            applied = await apply_event(close, store, event, lock_lease_ms=lock_lease_ms)
            outcome = "applied" if applied else "already done, not applied again"
    except Busy:
        log.info("event %s (entry %s): another worker holds it, left pending", event_id, entry_id)
        return
    except CloseError as exc:
        log.warning("event %s (entry %s): failed, left for redelivery: %s", event_id, entry_id, exc)
        return
    except REDIS_DOWN as exc:
        log.warning(
            "event %s (entry %s): Redis unreachable mid-event, left for redelivery (%s)",
            event_id,
            entry_id,
            exc,
        )
        return
    try:
        await acknowledge(store, entry_id, stream)
    except REDIS_DOWN as exc:
        log.warning(
            "event %s (entry %s): %s, not acknowledged (Redis unreachable: %s); "
            "its redelivery will find it done",
            event_id,
            entry_id,
            outcome,
            exc,
        )
        return
    log.info("event %s (entry %s): %s, acknowledged", event_id, entry_id, outcome)


async def _free_slots(slots: asyncio.Semaphore, most: int) -> int:
    """Wait for at least one free slot, then take every free one; return how many."""
    await slots.acquire()
    taken = 1
    while taken < most and not slots.locked():
        await slots.acquire()
        taken += 1
    return taken
