"""What mypy sees of the bulk verbs' results: checked by ``mypy --strict`` in the test
suite (tests/test_public_api.py), never run. Each ``assert_type`` fails the check when
the type a user's editor shows changes."""

from __future__ import annotations

from typing import assert_type

from close_async import BulkResult, BulkRun, CloseClient
from close_async.models import Call, CallUpdate, Lead, LeadCreate


async def leads(close: CloseClient) -> None:
    updates = close.leads.update_many([("lead_1", {"name": "Acme"})])
    assert_type(updates, BulkRun[Lead])
    async for result in updates:
        assert_type(result, BulkResult[Lead])
        assert_type(result.object, Lead | None)
        assert_type(result.id, str)
    creates = close.leads.create_many([LeadCreate(name="Acme")])
    assert_type(creates, BulkRun[Lead])
    async for created in creates:
        assert_type(created.object, Lead | None)
    deletes = close.leads.delete_many(["lead_1"])
    assert_type(deletes, BulkRun[None])


async def calls(close: CloseClient) -> None:
    updates = close.calls.update_many([("acti_1", CallUpdate(note="Left a voicemail"))])
    assert_type(updates, BulkRun[Call])
    async for result in updates:
        assert_type(result, BulkResult[Call])
        assert_type(result.object, Call | None)
        assert_type(result.id, str)
    async for created in close.calls.create_many([{"lead_id": "lead_1"}]):
        assert_type(created, BulkResult[Call])
