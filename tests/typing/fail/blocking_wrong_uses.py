"""Wrong uses of the blocking client that mypy must refuse: each line whose comment names
an error (E, then part of mypy's message) must fail with that message, and no other line
may (tests/test_typing_fail.py runs mypy on this folder and compares)."""

from __future__ import annotations

from close_async import BlockingCloseClient


async def awaited(close: BlockingCloseClient, lead_id: str) -> None:
    await close.leads.get(lead_id)  # E: Incompatible types in "await"
    async for lead in close.leads.list():  # E: "BlockingPager[Lead]" has no attribute "__aiter__"
        print(lead)


def wrong_uses(close: BlockingCloseClient, lead_id: str) -> None:
    close.with_raw_response.leads.update_many([(lead_id, {})])  # E: has no attribute "update_many"
    close.exports.wait("expo_1", sleep=None)  # E: Unexpected keyword argument "sleep"
