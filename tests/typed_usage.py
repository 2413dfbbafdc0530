"""A user's program, type-checked by ``mypy --strict`` in the test suite (not run)."""

from __future__ import annotations

from close_async import (
    UNSET,
    Call,
    CallUpdate,
    CloseClient,
    CloseError,
    LocalRateLimiter,
    RetryEvent,
    RetryPolicy,
    Timeout,
    UpdateResult,
)


def log_retry(event: RetryEvent) -> None:
    print(event.reason, event.attempt, event.wait)


async def handler(close: CloseClient, call_id: str, note: str | None) -> Call | None:
    update = CallUpdate(note_html=note if note is not None else UNSET, outcome_id=None)
    try:
        return await close.calls.update(call_id, update, deadline=2.0)
    except CloseError:
        return None


async def backfill(rows: list[tuple[str, str]]) -> int:
    failed = 0
    async with CloseClient(
        api_key="api_x",
        timeout=Timeout(connect=5, read=20, deadline=None),
        retry=RetryPolicy(attempts=6),
        rate_limiter=LocalRateLimiter(rate=15),
        on_retry=log_retry,
    ) as close:
        items = ((call_id, CallUpdate(note=note)) for call_id, note in rows)
        async with close.calls.update_many(items, concurrency=16, journal="run.journal") as run:
            async for result in run:
                checked: UpdateResult = result
                failed += not checked.ok
        print(run.progress.rate)
    return failed
