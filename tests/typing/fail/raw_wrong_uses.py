"""Wrong uses of ``close.with_raw_response`` that mypy must refuse: each line whose comment
names an error (E, then part of mypy's message) must fail with that message, and no other
line may (tests/test_public_api.py runs mypy on this folder and compares)."""

from __future__ import annotations

from close_async import CloseClient
from close_async.models import Lead


def takes_a_lead(lead: Lead) -> None:
    print(lead.name)


async def wrong_uses(close: CloseClient, lead_id: str) -> None:
    raw = close.with_raw_response
    raw.leads.update_many([(lead_id, {"name": "Acme"})])  # E: has no attribute "update_many"
    raw.leads.create_many([{"name": "Acme"}])  # E: has no attribute "create_many"
    raw.leads.delete_many([lead_id])  # E: has no attribute "delete_many"
    raw.exports.wait("expo_1")  # E: has no attribute "wait"
    raw.exports.stream("expo_1")  # E: has no attribute "stream"
    raw.exports.rows("expo_1")  # E: has no attribute "rows"
    raw.paginate("lead/")  # E: has no attribute "paginate"
    takes_a_lead(await raw.leads.get(lead_id))  # E: has incompatible type "Response[Lead]"
    await raw.leads.get(lead_id, 42)  # E: Too many positional arguments
    await raw.leads.get(lead_id, no_such_option=1)  # E: Unexpected keyword argument
