"""The fake checks the bodies Close's document leaves as "any type" (lead and contact create
and update, task create, opportunity update) against the codegen overlay's schemas
(``LeadCreate``, ...): a body Close would refuse gets its 400 ``field-errors`` and changes
nothing; a body it takes (unknown keys and ``custom.cf_...`` keys included) is stored.
Each case runs over raw HTTP and through the typed client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from close_async import BadRequestError, CloseClient
from close_async.models import (
    ContactCreate,
    ContactEmail,
    ContactPhone,
    ContactUpdate,
    LeadAddress,
    LeadCreate,
    LeadUpdate,
    OpportunityUpdate,
    TaskCreate,
)
from close_async.testing import FakeClose
from tests.conftest import send

Ids = dict[str, str]


@dataclass(frozen=True)
class Case:
    """One operation: how to reach it raw and typed, a body Close refuses (with the
    ``field-errors`` it answers) and one it takes (with the fields that must come back).
    """

    kind: str  # the fake's kind of the object created or changed
    method: str
    path: Callable[[Ids], str]
    refused: Callable[[Ids], dict[str, Any]]
    errors: dict[str, Any]
    accepted: Callable[[Ids], dict[str, Any]]
    typed_accepted: Callable[[CloseClient, Ids], Awaitable[Any]]
    typed_refused: Callable[[CloseClient, Ids, dict[str, Any]], Awaitable[Any]]
    stored: dict[str, Any]


def _lead_body(ids: Ids) -> dict[str, Any]:
    return {
        "name": "Acme",
        "status_id": ids["status"],
        "addresses": [{"city": "Paris"}],  # Close takes a partial address
        "contacts": [{"name": "Bo", "emails": [{"email": "bo@acme.test", "type": "office"}]}],
        "custom.cf_size": "large",  # custom fields: keys the schema cannot name
        "not_a_close_field": 1,  # unknown keys: Close ignores them
    }


CASES = {
    "lead create, name not a string": Case(
        kind="lead",
        method="POST",
        path=lambda ids: "lead/",
        refused=lambda ids: {"name": 5},
        errors={"name": "Not a valid string."},
        accepted=_lead_body,
        typed_accepted=lambda close, ids: close.leads.create(
            LeadCreate(
                name="Acme",
                status_id=ids["status"],
                addresses=[LeadAddress(city="Paris")],
                contacts=[
                    ContactCreate(
                        name="Bo", emails=[ContactEmail(email="bo@acme.test", type="office")]
                    )
                ],
                extra={"custom.cf_size": "large"},
            )
        ),
        typed_refused=lambda close, ids, body: close.leads.create(body),
        stored={"name": "Acme", "custom.cf_size": "large"},
    ),
    "lead create, status as an object": Case(
        kind="lead",
        method="POST",
        path=lambda ids: "lead/",
        refused=lambda ids: {"name": "Acme", "status": {"label": "Potential"}},
        errors={"status": "Not a valid string."},
        accepted=lambda ids: {"name": "Acme", "status": "Potential"},
        typed_accepted=lambda close, ids: close.leads.create(
            LeadCreate(name="Acme", status="Potential")
        ),
        typed_refused=lambda close, ids, body: close.leads.create(body),
        stored={"name": "Acme"},
    ),
    "lead create, contact emails not a list": Case(
        kind="lead",
        method="POST",
        path=lambda ids: "lead/",
        refused=lambda ids: {"name": "Acme", "contacts": [{"emails": "bo@acme.test"}]},
        errors={"contacts": {"0": {"emails": "Not a valid list."}}},
        accepted=_lead_body,
        typed_accepted=lambda close, ids: close.leads.create(
            LeadCreate(name="Acme", contacts=[ContactCreate(name="Bo")])
        ),
        typed_refused=lambda close, ids, body: close.leads.create(body),
        stored={"name": "Acme"},
    ),
    "lead update": Case(
        kind="lead",
        method="PUT",
        path=lambda ids: f"lead/{ids['lead']}/",
        refused=lambda ids: {"description": ["a", "list"], "addresses": {"city": "Paris"}},
        errors={"description": "Not a valid string.", "addresses": "Not a valid list."},
        accepted=lambda ids: {"description": "big", "custom.cf_size": "small", "other": 2},
        typed_accepted=lambda close, ids: close.leads.update(
            ids["lead"], LeadUpdate(description="big", extra={"custom.cf_size": "small"})
        ),
        typed_refused=lambda close, ids, body: close.leads.update(ids["lead"], body),
        stored={"description": "big", "custom.cf_size": "small"},
    ),
    "contact create": Case(
        kind="contact",
        method="POST",
        path=lambda ids: "contact/",
        refused=lambda ids: {"lead_id": ids["lead"], "name": "Bo", "emails": "bo@acme.test"},
        errors={"emails": "Not a valid list."},
        accepted=lambda ids: {
            "lead_id": ids["lead"],
            "name": "Bo",
            "emails": [{"email": "bo@acme.test", "type": "office"}],
            "custom.cf_role": "buyer",
        },
        typed_accepted=lambda close, ids: close.contacts.create(
            ContactCreate(
                lead_id=ids["lead"],
                name="Bo",
                emails=[ContactEmail(email="bo@acme.test", type="office")],
                extra={"custom.cf_role": "buyer"},
            )
        ),
        typed_refused=lambda close, ids, body: close.contacts.create(body),
        stored={"name": "Bo", "emails": [{"email": "bo@acme.test", "type": "office"}]},
    ),
    "contact update": Case(
        kind="contact",
        method="PUT",
        path=lambda ids: f"contact/{ids['contact']}/",
        refused=lambda ids: {"phones": [{"phone": 5550100, "type": "office"}]},
        errors={"phones": {"0": {"phone": "Not a valid string."}}},
        accepted=lambda ids: {"title": "CEO", "phones": [{"phone": "+15550100", "type": "m"}]},
        typed_accepted=lambda close, ids: close.contacts.update(
            ids["contact"],
            ContactUpdate(title="CEO", phones=[ContactPhone(phone="+15550100", type="m")]),
        ),
        typed_refused=lambda close, ids, body: close.contacts.update(ids["contact"], body),
        stored={"title": "CEO", "phones": [{"phone": "+15550100", "type": "m"}]},
    ),
    "task create": Case(
        kind="task",
        method="POST",
        path=lambda ids: "task/",
        refused=lambda ids: {"lead_id": ids["lead"], "is_complete": "yes"},
        errors={"text": "Missing data for required field.", "is_complete": "Not a valid boolean."},
        accepted=lambda ids: {"lead_id": ids["lead"], "text": "Call back", "extra_key": True},
        typed_accepted=lambda close, ids: close.tasks.create(
            TaskCreate(lead_id=ids["lead"], text="Call back")
        ),
        typed_refused=lambda close, ids, body: close.tasks.create(body),
        stored={"text": "Call back"},
    ),
    "opportunity update": Case(
        kind="opportunity",
        method="PUT",
        path=lambda ids: f"opportunity/{ids['opportunity']}/",
        refused=lambda ids: {"value": "lots", "value_period": "weekly"},
        errors={"value": "Not a valid integer.", "value_period": "Invalid value."},
        accepted=lambda ids: {"value": 500, "value_period": "monthly", "custom.cf_x": 1},
        typed_accepted=lambda close, ids: close.opportunities.update(
            ids["opportunity"],
            OpportunityUpdate(value=500, value_period="monthly", extra={"custom.cf_x": 1}),
        ),
        typed_refused=lambda close, ids, body: close.opportunities.update(ids["opportunity"], body),
        stored={"value": 500, "value_period": "monthly", "custom.cf_x": 1},
    ),
}


def _ids(fake: FakeClose) -> Ids:
    [lead] = fake.seed_objects("lead", 1)
    [contact] = fake.seed_objects("contact", 1, lead_id=lead)
    [opportunity] = fake.seed_objects("opportunity", 1, lead_id=lead)
    status = next(iter(fake.objects("status.lead")))
    return {"lead": lead, "contact": contact, "opportunity": opportunity, "status": status}


def _url(fake: FakeClose, path: str) -> str:
    return fake.base_url + path


def _contains(stored: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if isinstance(value, list):
            # Close adds its own keys to list items (is_unsubscribed, phone_formatted, ...).
            assert len(stored[key]) == len(value), key
            for got, want in zip(stored[key], value, strict=True):
                assert {k: got[k] for k in want} == want, key
        else:
            assert stored[key] == value, key


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_a_refused_body_gets_field_errors_and_changes_nothing(
    fake: FakeClose, session: aiohttp.ClientSession, case: Case
) -> None:
    ids = _ids(fake)
    before = fake.objects(case.kind)
    events = len(fake.events)
    code, body, _ = await send(
        session, case.method, _url(fake, case.path(ids)), json=case.refused(ids)
    )
    assert code == 400
    assert body == {"errors": [], "field-errors": case.errors}
    assert fake.objects(case.kind) == before
    assert len(fake.events) == events


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_an_accepted_body_is_stored(
    fake: FakeClose, session: aiohttp.ClientSession, case: Case
) -> None:
    ids = _ids(fake)
    code, body, _ = await send(
        session, case.method, _url(fake, case.path(ids)), json=case.accepted(ids)
    )
    assert code in (200, 201), body
    _contains(body, case.stored)
    stored = fake.objects(case.kind)[body["id"]]
    _contains(stored, case.stored)


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_the_typed_client_sees_the_refusal_as_a_validation_error(
    fake: FakeClose, close: CloseClient, case: Case
) -> None:
    ids = _ids(fake)
    before = fake.objects(case.kind)
    with pytest.raises(BadRequestError) as caught:
        await case.typed_refused(close, ids, case.refused(ids))
    assert caught.value.status == 400
    assert caught.value.field_errors == case.errors
    assert fake.objects(case.kind) == before


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
async def test_the_typed_client_models_make_accepted_bodies(
    fake: FakeClose, close: CloseClient, case: Case
) -> None:
    ids = _ids(fake)
    answer = await case.typed_accepted(close, ids)
    assert answer.id is not None
    stored = fake.objects(case.kind)[answer.id]
    _contains(stored, case.stored)


async def test_a_lead_read_from_close_may_be_sent_back_as_the_update(
    fake: FakeClose, close: CloseClient
) -> None:
    # The typed update takes a Lead (its unknown keys go out again): every field Close
    # answered, contacts and server fields included, must pass the LeadUpdate check.
    ids = _ids(fake)
    await close.contacts.create(
        ContactCreate(lead_id=ids["lead"], emails=[ContactEmail(email="a@b.test", type="office")])
    )
    lead = await close.leads.get(ids["lead"])
    lead.description = "sent back"
    updated = await close.leads.update(ids["lead"], lead)
    assert updated.description == "sent back"
    assert fake.objects("lead")[ids["lead"]]["description"] == "sent back"
