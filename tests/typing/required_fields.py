"""What mypy sees of an answer's required fields (issue 28, point 6): checked by
``mypy --strict`` in the test suite (tests/test_public_api.py), never run.

A field Close always sends is typed without ``None``: no ``assert lead.id`` is needed
before using it. A field that may be null keeps ``| None``.
"""

from __future__ import annotations

import datetime as _dt
from typing import assert_type

from close_async import CloseClient
from close_async.models import Call, Contact, Lead, Task


def lead_id_upper(lead: Lead) -> str:
    return lead.id.upper()  # no assert needed


async def required_fields(close: CloseClient) -> None:
    lead = await close.leads.get("lead_1")
    assert_type(lead.id, str)
    assert_type(lead.organization_id, str)
    assert_type(lead.date_created, _dt.datetime)
    assert_type(lead.contact_ids, list[str])
    assert_type(lead.name, str | None)  # required, but Close may send null
    assert_type(lead.display_name, str | None)  # not required
    assert_type(lead.missing_fields(), frozenset[str])
    async for contact in close.contacts.list():
        assert_type(contact, Contact)
        assert_type(contact.id, str)
    task = await close.tasks.get("task_1")
    assert_type(task, Task)
    assert_type(task.id, str)  # the overlay's `required`
    call = await close.calls.get("acti_1")
    assert_type(call, Call)
    assert_type(call.id, str)
