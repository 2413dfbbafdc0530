"""What mypy sees of ``close.with_raw_response``: checked by ``mypy --strict`` in the test
suite (tests/test_public_api.py), never run. Each operation keeps its parameters and
answers ``Response[<what the plain call returns>]``; a list answers its first page's."""

from __future__ import annotations

from typing import Any, assert_type

from close_async import CloseClient, Page, Response
from close_async.models import Call, Lead


async def raw_operations(close: CloseClient, lead_id: str) -> None:
    raw = close.with_raw_response
    got = await raw.leads.get(lead_id)
    assert_type(got, Response[Lead])
    assert_type(got.parse(), Lead)
    assert_type(got.status_code, int)
    updated = await raw.leads.update(lead_id, {"name": "Acme"})
    assert_type(updated, Response[Lead])
    assert_type(await raw.leads.delete(lead_id), Response[None])
    first = await raw.leads.list()
    assert_type(first, Response[Page[Lead]])
    assert_type(first.parse(), Page[Lead])
    assert_type(first.parse().data, list[Lead])
    assert_type(await raw.activities.calls.get("acti_1"), Response[Call])
    assert_type(await raw.calls.get("acti_1"), Response[Call])
    assert_type(await raw.get("me/"), Response[Any])
    assert_type(await raw.request("GET", "me/"), Response[Any])
    assert_type(
        await close.with_options(max_retries=0).with_raw_response.leads.get(lead_id), Response[Lead]
    )
