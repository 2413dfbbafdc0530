"""Catch-up: feed the stream from the event log what webhooks may have missed.

A worker fleet that was down, or a subscription Close paused, misses deliveries; the event
log (``/event/``) keeps 30 days. This walks it newest first back to the last event the
previous catch-up fed (``catchup:last``), skips events already done, and appends the rest,
oldest first, to the stream the receiver feeds; an event both delivered and caught up is
applied once, by the job's dedup on the event id.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as redis

from close_async import CloseClient

from .receiver import STREAM, WANTED, enqueue

CHECKPOINT = "catchup:last"
"""The newest event id a catch-up fed."""


async def catch_up(close: CloseClient, store: redis.Redis, stream: str = STREAM) -> int:
    """Append the events missed since the last catch-up; return how many were appended."""
    last = await store.get(CHECKPOINT)
    object_type, action = WANTED
    missed: list[dict[str, Any]] = []
    newest: str | None = None
    params = {"object_type": object_type, "action": action}
    async for event in close.paginate("event/", params=params):
        if newest is None:
            newest = event["id"]
        if event["id"] == last:
            break
        if not await store.exists(f"done:{event['id']}"):
            missed.append(event)
    for event in reversed(missed):
        await enqueue(store, event, stream)
    if newest is not None:
        await store.set(CHECKPOINT, newest)
    return len(missed)
