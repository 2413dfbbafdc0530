"""An event-driven worker: one of many processes sharing one API key's budget via Redis.

Each process runs this loop; all of them together stay under ``rate`` requests/second
because the budget (and any pause after a 429) lives in Redis. Events here come from an
``asyncio.Queue``; in production, from your broker (SQS, Kafka, Redis streams, ...).

    CLOSE_API_KEY=... REDIS_URL=redis://localhost:6379/0 python examples/redis_worker.py
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator

from close_async import DEFAULT_BASE_URL, CloseClient, CloseError, RedisRateLimiter
from close_async.models import CallUpdate

log = logging.getLogger("worker")


async def run_worker(
    events: asyncio.Queue[tuple[str, str] | None],
    *,
    api_key: str,
    redis_url: str,
    base_url: str = DEFAULT_BASE_URL,
    rate: float = 18,  # a share of the key's budget, e.g. 90% of Close's 20/s example
    concurrency: int = 8,
) -> int:
    """Apply ``(call_id, note)`` events until a ``None`` arrives; return how many landed."""
    limiter = RedisRateLimiter(redis_url, rate=rate, api_key=api_key)
    landed = 0
    async with CloseClient(api_key, base_url=base_url, rate_limiter=limiter) as close:

        async def items() -> AsyncIterator[tuple[str, CallUpdate]]:
            while (event := await events.get()) is not None:
                call_id, note = event
                yield call_id, CallUpdate(note=note)

        async with close.calls.update_many(items(), concurrency=concurrency) as run:
            async for result in run:
                if result.ok:
                    landed += 1
                else:
                    # A real worker would send it to a dead-letter queue.
                    error: CloseError | None = result.error
                    log.warning("update of %s failed: %s", result.id, error)
    return landed


async def main() -> None:
    events: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
    for call_id in os.environ.get("CALL_IDS", "").split():
        events.put_nowait((call_id, "Processed by the worker"))
    events.put_nowait(None)
    landed = await run_worker(
        events,
        api_key=os.environ["CLOSE_API_KEY"],
        redis_url=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
        base_url=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL),
    )
    print(f"{landed} updates landed")


if __name__ == "__main__":
    asyncio.run(main())
