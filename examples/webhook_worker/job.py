"""The job of one ``activity.call.created`` event, with effects that happen once.

Effects: a note and an outcome written onto the call (``PUT``: idempotent, simply redone on a
redelivery) and one follow-up task for the lead (``POST /task/``: not idempotent). The rules:

- ``done:<event id>`` (set after the effects) makes a redelivered event a no-op;
- ``lock:<event id>`` (``SET NX`` with a lease, renewed while the job runs) keeps two
  copies of one event (Close delivers some twice) from running at once; the copy that loses
  is left un-acknowledged and comes back through reclaim, by then usually done;
- ``intent:<event id>`` is set before the task is created. Finding it on a later run means a
  create may have landed before the worker died, so the lead's tasks are searched for the
  event's marker (its id in the task text) first, and the task created only if absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import redis.asyncio as redis

from close_async import CloseClient

from .store import REDIS_DOWN

OUTCOME_ID = "outcome_enriched"
"""The call outcome the job sets."""

LOCK_LEASE_MS = 30_000
"""How long a worker owns an event by default; a dead worker's lock lapses after it, so it
must exceed the longest job (pacing waits included)."""


# Compare-and-act on the lock, so a worker never renews or frees another worker's lock.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)


async def _script(result: Awaitable[Any] | Any) -> Any:
    # redis-py types eval() as "awaitable or value" in some releases (sync and async clients
    # share the stubs); the asyncio client always returns an awaitable.
    return await result if inspect.isawaitable(result) else result


async def _keep_lock(store: redis.Redis, key: str, token: str, lease_ms: int) -> None:
    # A live worker keeps its event however long pacing makes the job; a dead one stops
    # renewing and the lease lapses. While Redis is down there is nothing to renew (the
    # lease's clock is Redis's): keep trying, and renew once it is back if still ours.
    while True:
        await asyncio.sleep(lease_ms / 3000)
        with contextlib.suppress(*REDIS_DOWN):
            await _script(store.eval(_RENEW, 1, key, token, str(lease_ms)))


def task_marker(event_id: str) -> str:
    """The text that ties a task to the event that made it."""
    return f"[event {event_id}]"


class Busy(Exception):
    """Another worker holds the event's lock: leave the entry pending, it will come back."""


async def _task_exists(close: CloseClient, lead_id: str, marker: str) -> bool:
    async for task in close.paginate("task/", params={"lead_id": lead_id}):
        if marker in (task.get("text") or ""):
            return True
    return False


async def apply_event(
    close: CloseClient,
    store: redis.Redis,
    event: dict[str, Any],
    *,
    lock_lease_ms: int = LOCK_LEASE_MS,
) -> bool:
    """Apply ``event``'s effects unless already done; True when this call applied them.

    Raises :class:`Busy` when another worker is on the same event right now.
    """
    event_id = event["id"]
    if await store.exists(f"done:{event_id}"):
        return False
    token = uuid.uuid4().hex
    lock = f"lock:{event_id}"
    if not await store.set(lock, token, nx=True, px=lock_lease_ms):
        raise Busy(event_id)
    keeper = asyncio.create_task(_keep_lock(store, lock, token, lock_lease_ms))
    try:
        call_id = event["object_id"]
        data = event.get("data") or {}
        lead_id = event.get("lead_id") or data.get("lead_id")
        marker = task_marker(event_id)
        await close.calls.update(
            call_id, {"note": f"Enriched by the worker {marker}", "outcome_id": OUTCOME_ID}
        )
        if lead_id:
            first_try = await store.set(f"intent:{event_id}", "1", nx=True)
            if first_try or not await _task_exists(close, lead_id, marker):
                await close.tasks.create(
                    {"lead_id": lead_id, "text": f"Follow up on call {call_id} {marker}"}
                )
        await store.set(f"done:{event_id}", repr(time.time()))
        return True
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        # Unreleased while Redis is down, the lock lapses with its lease: never worth failing
        # an event whose effects are done.
        with contextlib.suppress(*REDIS_DOWN):
            await _script(store.eval(_RELEASE, 1, lock, token))
