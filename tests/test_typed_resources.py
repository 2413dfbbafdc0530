"""The typed resources against the fake Close on loopback: patches, unknown keys, pagers,
checks before sending, raw responses, views, and what is loaded when."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from close_async import UNSET, ClientValidationError, CloseClient, Page, Response
from close_async._types.generated.leads import LeadAddress
from close_async.models import ContactUpdate, Event, Lead, LeadCreate, LeadUpdate, Task, TaskCreate
from close_async.testing import FakeClose


def last_body(fake: FakeClose, method: str) -> object:
    return next(r.body for r in reversed(fake.requests) if r.method == method)


async def test_update_sends_only_the_fields_given_and_none_clears(
    fake: FakeClose, close: CloseClient
) -> None:
    lead = await close.leads.create(
        LeadCreate(name="Acme", description="Anvils", url="https://acme.example")
    )
    assert isinstance(lead, Lead)
    assert lead.id is not None

    updated = await close.leads.update(lead.id, LeadUpdate(description=None))

    assert last_body(fake, "PUT") == {"description": None}
    assert updated.description is None
    assert updated.name == "Acme"
    assert updated.url == "https://acme.example"
    assert LeadUpdate().fields_set() == frozenset()
    assert LeadUpdate(name=UNSET).to_json() == {}


async def test_contact_patch_leaves_what_is_not_given(fake: FakeClose, close: CloseClient) -> None:
    contact = await close.contacts.create(
        {"name": "Ada", "title": "Engineer", "lead_id": fake.add_object("lead", name="L")["id"]}
    )
    assert contact.id is not None
    updated = await close.contacts.update(contact.id, ContactUpdate(title=None))
    assert last_body(fake, "PUT") == {"title": None}
    assert (updated.name, updated.title) == ("Ada", None)


async def test_a_model_read_changed_and_sent_back_keeps_the_keys_it_does_not_know(
    fake: FakeClose, close: CloseClient
) -> None:
    created = await close.leads.create(
        LeadCreate(name="Acme", extra={"custom.cf_tier": "Gold", "custom.cf_seats": 12})
    )
    assert created.id is not None
    lead = await close.leads.get(created.id)
    assert lead.extra["custom.cf_tier"] == "Gold"

    lead.name = "Acme Inc."
    await close.leads.update(lead.id or "", lead)

    sent = last_body(fake, "PUT")
    assert isinstance(sent, dict)
    assert sent["custom.cf_tier"] == "Gold"
    assert sent["custom.cf_seats"] == 12
    stored = fake.objects("lead")[created.id]
    assert stored["name"] == "Acme Inc."
    assert stored["custom.cf_tier"] == "Gold"


async def test_typed_pager_walks_every_page_to_the_end(fake: FakeClose, close: CloseClient) -> None:
    lead_id = fake.add_object("lead", name="L")["id"]
    ids = fake.seed_objects("task", 7, lead_id=lead_id, text="call back")

    tasks = [task async for task in close.tasks.list(page_size=3)]

    assert [t.id for t in tasks] == ids
    assert all(isinstance(t, Task) and t.text == "call back" for t in tasks)
    assert [r.query for r in fake.requests if r.method == "GET"] == [
        "_limit=3",
        "_limit=3&_skip=3",
        "_limit=3&_skip=6",
    ]
    first = await close.tasks.list(page_size=3).first_page()
    assert isinstance(first, Page)
    assert first.has_more is True
    assert len(first.data) == 3


async def test_event_log_pages_by_cursor_into_events(fake: FakeClose, close: CloseClient) -> None:
    for n in range(5):
        await close.leads.create({"name": f"L{n}"})
    events = [event async for event in close.events.list(page_size=2, object_type="lead")]
    assert len(events) == 5
    assert all(isinstance(e, Event) and e.object_type == "lead" for e in events)
    queries = [r.query for r in fake.requests if r.path.endswith("/event/")]
    assert "_skip" not in "".join(queries)
    assert any("_cursor=" in q for q in queries[1:])


async def test_bad_arguments_are_refused_before_anything_is_sent(
    fake: FakeClose, close: CloseClient
) -> None:
    with pytest.raises(ClientValidationError) as error:
        LeadUpdate(name=5)  # type: ignore[arg-type]
    assert error.value.field == "name"
    with pytest.raises(ClientValidationError) as error:
        LeadUpdate(addresses=["not an address"])  # type: ignore[list-item]
    assert error.value.field == "addresses"
    with pytest.raises(ClientValidationError) as error:
        TaskCreate(lead_id="lead_x", text="t", is_complete="yes")  # type: ignore[arg-type]
    assert error.value.field == "is_complete"
    with pytest.raises(TypeError, match="lead_id"):
        TaskCreate(text="t")  # type: ignore[call-arg]
    for hostile in ("../user/x", "lead_x?_fields=id", "lead%2F..", " ", ""):
        with pytest.raises(ClientValidationError) as error:
            await close.leads.get(hostile)
        assert error.value.field == "id"
    with pytest.raises(ClientValidationError) as error:
        await close.leads.update("lead_x", ["not", "a", "body"])  # type: ignore[arg-type]
    assert error.value.field == "body"
    with pytest.raises(ClientValidationError) as error:
        await close.leads.create({"name": object()})
    assert error.value.field == "body"
    # Call ids stay checked strictly: only acti_ ids reach the call endpoints.
    with pytest.raises(ClientValidationError) as error:
        await close.activities.calls.get("lead_x")
    assert error.value.field == "call_id"
    assert fake.requests == []


def test_reading_is_lenient_and_keeps_what_it_cannot_read() -> None:
    lead = Lead.from_json(
        {
            "id": "lead_x",
            "date_created": "not a date",
            "date_updated": "2026-01-02T03:04:05Z",
            "contacts": "not a list",
            "addresses": [{"city": "Paris", "tz_ids": []}, 7],
            "custom.cf_x": [1, 2],
        }
    )
    assert lead.date_created == "not a date"
    assert lead.date_updated == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert lead.contacts == "not a list"
    assert lead.addresses is not None
    assert isinstance(lead.addresses[0], LeadAddress)
    assert lead.addresses[0].city == "Paris"
    assert lead.addresses[1] == 7
    assert lead.extra == {"custom.cf_x": [1, 2]}
    assert lead.name is None
    assert Lead.from_json(lead.to_json()) == lead


def test_a_union_without_discriminator_takes_the_first_branch_that_fits() -> None:
    from close_async.models import (
        OpportunityAdjustCloseDateActionDetails,
        OpportunityFollowUpEmailActionDetails,
        OpportunityFollowUpSMSActionDetails,
        OpportunitySuggestedAction,
    )

    def details(value: dict[str, object]) -> object:
        return OpportunitySuggestedAction.from_json({"details": value}).details

    # An SMS follow-up's keys also fit... only the SMS branch (no subject_draft).
    sms = details({"contact_id": "cont_x", "message_draft": "Hi"})
    assert type(sms) is OpportunityFollowUpSMSActionDetails
    # An email follow-up fits both the email and the SMS branch: the first one listed wins.
    email = details({"contact_id": "cont_x", "message_draft": "Hi", "subject_draft": "Re"})
    assert type(email) is OpportunityFollowUpEmailActionDetails
    assert isinstance(
        details({"close_date": "2026-03-01"}), OpportunityAdjustCloseDateActionDetails
    )
    # Nothing fits: kept as it came.
    assert details({"zz": 1}) == {"zz": 1}


async def test_raw_responses_and_views_reach_the_typed_groups(
    fake: FakeClose, close: CloseClient
) -> None:
    lead_id = fake.add_object("lead", name="Acme")["id"]
    response = await close.with_raw_response.leads.get(lead_id)
    assert isinstance(response, Response)
    assert response.status_code == 200
    assert response.parse().name == "Acme"

    view = close.with_options(max_retries=0)
    assert close.leads is close.leads
    assert close.activities.calls is close.calls
    # A view's groups send through the view (its options), not through the client.
    assert view.leads is not close.leads
    assert view.leads._requester is view._requester is not close._requester
    assert (await view.leads.get(lead_id)).name == "Acme"


def test_a_client_that_only_updates_calls_loads_no_other_resource() -> None:
    code = (
        "import sys, close_async\n"
        "loaded = lambda: sorted(m for m in sys.modules if '.generated.' in m)\n"
        "assert loaded() == ['close_async._resources.generated._root'], loaded()\n"
        "client = close_async.CloseClient('k', base_url='http://127.0.0.1:9/api/v1/')\n"
        "client.calls.update  # the call path: close.activities.calls, and its group\n"
        "assert loaded() == [\n"
        "    'close_async._resources.generated._root',\n"
        "    'close_async._resources.generated.activities',\n"
        "    'close_async._resources.generated.activities_calls',\n"
        "    'close_async._types.generated.activities',\n"
        "    'close_async._types.generated.activities_calls',\n"
        # The call's Literal unions, written once for every group (not ``shared``).
        "    'close_async._types.generated.literals',\n"
        "], loaded()\n"
        "client.leads\n"
        "assert 'close_async._resources.generated.leads' in loaded(), loaded()\n"
        "assert 'close_async._resources.generated.tasks' not in loaded(), loaded()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
