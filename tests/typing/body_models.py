"""What mypy sees of the less common groups' request and answer models (issue 28, point 7):
checked by ``mypy --strict`` in the test suite (tests/test_public_api.py), never run."""

from __future__ import annotations

from typing import assert_type

from close_async import CloseClient
from close_async.models import (
    CustomField,
    CustomFieldCreate,
    Pipeline,
    PipelineCreate,
    SchedulingLink,
    SendAs,
    SMSTemplate,
)


async def bodies(close: CloseClient) -> None:
    assert_type(await close.pipelines.create(PipelineCreate(name="Renewals")), Pipeline)
    # A plain mapping is still taken.
    assert_type(await close.pipelines.create({"name": "Renewals"}), Pipeline)
    field = await close.custom_fields.lead.create(CustomFieldCreate(name="Tier", type="text"))
    assert_type(field, CustomField)


async def answers(close: CloseClient) -> None:
    assert_type(await close.sms_templates.get("smstmpl_1"), SMSTemplate)
    assert_type(await close.send_as.get("sdas_1"), SendAs)
    async for link in close.scheduling_links.list():
        assert_type(link, SchedulingLink)
