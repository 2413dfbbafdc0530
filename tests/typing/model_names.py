"""What mypy sees of the models' names (issue 28): every model is imported from
``close_async.models`` under the one scheme (``<Thing>``, ``<Thing>Create``,
``<Thing>Update``; activities without an ``Activity`` suffix). Checked by
``mypy --strict`` in the test suite (tests/test_public_api.py), never run."""

from __future__ import annotations

from typing import assert_type

from close_async import CloseClient
from close_async.models import (
    Call,
    CallCreate,
    CallUpdate,
    ContactCreate,
    ContactUpdate,
    Email,
    Lead,
    LeadCreate,
    LeadMergeRequest,
    LeadUpdate,
    Meeting,
    Note,
    NoteCreate,
    NoteCreateAttachment,
    NoteUpdate,
    OpportunityCreate,
    OpportunityUpdate,
    Sequence,
    SMSCreate,
    TaskCreate,
    WebhookCreate,
    WebhookUpdate,
)


async def models(close: CloseClient) -> None:
    lead = await close.leads.create(LeadCreate(name="Acme"))
    assert_type(lead, Lead)
    assert_type(await close.leads.update("lead_1", LeadUpdate(name="Acme Inc")), Lead)
    await close.leads.merge(LeadMergeRequest(source="lead_1", destination="lead_2"))
    note = await close.activities.notes.create(
        NoteCreate(
            lead_id="lead_1",
            note="Hi",
            attachments=[NoteCreateAttachment(url="u", filename="a.pdf")],
        )
    )
    assert_type(note, Note)
    assert_type(await close.activities.notes.update("acti_1", NoteUpdate(note="Hi")), Note)
    assert_type(await close.activities.emails.get("acti_1"), Email)
    assert_type(await close.activities.meetings.get("acti_1"), Meeting)
    assert_type(await close.sequences.get("seq_1"), Sequence)
    assert_type(await close.calls.update("acti_1", CallUpdate(note="x")), Call)
    assert_type(await close.calls.create(CallCreate(lead_id="lead_1")), Call)
    for body in (
        ContactCreate(name="A"),
        ContactUpdate(name="A"),
        OpportunityCreate(note="x"),
        OpportunityUpdate(note="x"),
        SMSCreate(lead_id="lead_1", status="draft"),
        TaskCreate(lead_id="lead_1", text="Call back"),
        WebhookCreate(url="https://example.com", events=[]),
        WebhookUpdate(status="paused"),
    ):
        assert body.fields_set()
