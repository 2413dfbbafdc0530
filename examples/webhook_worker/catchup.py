"""Catch-up: feed the stream from the event log what webhooks may have missed.

A worker fleet that was down, or a subscription Close paused, misses deliveries; the event
log (``/event/``) keeps 30 days. This walks it newest first back to the last event the
previous catch-up fed (``catchup:last``), skips events already done, and appends the rest,
oldest first, to the stream the receiver feeds; an event both delivered and caught up is
applied once, by the job's dedup on the event id. The first run has no checkpoint and
walks the whole log.
"""

from __future__ import annotations

from typing import Any

import attrs
import redis.asyncio as redis

from close_async import CloseClient

from .receiver import STREAM, WANTED, enqueue

CHECKPOINT = "catchup:last"
"""The newest event id a catch-up fed."""


@attrs.frozen
class CatchUp:
    """What one catch-up did; ``str()`` says it in a sentence, and why when it fed none."""

    fed: int
    """Events appended to the stream."""
    walked: int
    """Events read from the log, newer than the checkpoint."""
    already_done: int
    """Of those, events the workers had already applied (not fed)."""
    since: str | None
    """The checkpoint it walked back to; None on a first run (the whole log)."""
    newest: str | None
    """The checkpoint it leaves for the next run."""

    def __str__(self) -> str:
        kind = "{}.{}".format(*WANTED)
        scope = (
            f"since the last catch-up (event {self.since})"
            if self.since is not None
            else "in the whole event log (first run: no checkpoint yet, Close keeps 30 days)"
        )
        if self.walked == 0:
            why = f"no {kind} event {scope}"
        elif self.fed == 0:
            why = f"all {self.walked} {kind} events {scope} were already done by the workers"
        else:
            why = (
                f"{self.walked} {kind} events {scope}, "
                f"{self.already_done} of them already done by the workers"
            )
        head = f"fed {self.fed} event{'' if self.fed == 1 else 's'} to the stream"
        tail = f"; next run starts after event {self.newest}" if self.newest else ""
        return f"{head}: {why}{tail}"


async def catch_up(close: CloseClient, store: redis.Redis, stream: str = STREAM) -> CatchUp:
    """Append the events missed since the last catch-up; return what was done."""
    stored = await store.get(CHECKPOINT)
    last = None if stored is None else str(stored)
    object_type, action = WANTED
    missed: list[dict[str, Any]] = []
    newest: str | None = None
    walked = 0
    params = {"object_type": object_type, "action": action}
    async for event in close.paginate("event/", params=params):
        if newest is None:
            newest = event["id"]
        if event["id"] == last:
            break
        walked += 1
        if not await store.exists(f"done:{event['id']}"):
            missed.append(event)
    for event in reversed(missed):
        await enqueue(store, event, stream)
    if newest is not None:
        await store.set(CHECKPOINT, newest)
    return CatchUp(
        fed=len(missed),
        walked=walked,
        already_done=walked - len(missed),
        since=last,
        newest=newest or last,
    )
