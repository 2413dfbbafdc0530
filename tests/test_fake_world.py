"""The organization a fake Close starts with: ``me/``, the organization, users, statuses and
a pipeline, consistent across endpoints (the ids one answer names are found by the others),
through the typed client over loopback."""

from __future__ import annotations

from close_async import CloseClient
from close_async.testing import FakeClose, fake_id, key_fingerprint
from tests.conftest import FAKE_KEY


async def test_me_is_the_keys_user_of_the_seeded_organization(close: CloseClient) -> None:
    me = await close.users.get_me()
    assert me.id == fake_id("user", "key:" + key_fingerprint(FAKE_KEY))
    assert me.email is not None
    assert me.email.endswith("@example.com")
    assert me.organizations is not None
    [organization] = me.organizations
    assert organization["id"].startswith("orga_")
    users = [user.id async for user in close.users.list()]
    assert me.id in users
    assert len(users) == 6  # five seeded users and the key's own
    fetched = await close.users.get(me.id)
    assert (fetched.id, fetched.email) == (me.id, me.email)


async def test_the_organization_lists_what_the_lists_return(close: CloseClient) -> None:
    me = await close.users.get_me()
    assert me.organizations is not None
    org_id = me.organizations[0]["id"]
    organization = await close.organizations.get(org_id)
    assert organization.id == org_id
    assert organization.name
    lead_statuses = [s async for s in close.lead_statuses.list()]
    assert [s.label for s in lead_statuses] == ["Potential", "Bad Fit", "Qualified", "Customer"]
    assert organization.lead_statuses is not None
    assert [s.id for s in organization.lead_statuses] == [s.id for s in lead_statuses]
    opportunity_statuses = [s async for s in close.opportunity_statuses.list()]
    assert organization.opportunity_statuses is not None
    assert [s.id for s in organization.opportunity_statuses] == [s.id for s in opportunity_statuses]
    assert {s.status_type for s in opportunity_statuses} == {"active", "won", "lost"}
    assert organization.memberships is not None
    members = {m["user_id"] for m in organization.memberships}
    assert me.id in members
    assert members == {u.id async for u in close.users.list()}


async def test_the_pipeline_holds_the_opportunity_statuses(close: CloseClient) -> None:
    [pipeline] = [p async for p in close.pipelines.list()]
    assert pipeline.id is not None
    assert pipeline.id.startswith("pipe_")
    assert pipeline.name == "Sales"
    assert pipeline.statuses is not None
    statuses = [s async for s in close.opportunity_statuses.list()]
    assert [s.id for s in pipeline.statuses] == [s.id for s in statuses]
    assert {s.pipeline_id for s in statuses} == {pipeline.id}
    # A status created later belongs to the pipeline, and the organization lists it.
    added = await close.post("status/opportunity/", json={"label": "Stalled"})
    [again] = [p async for p in close.pipelines.list()]
    assert again.statuses is not None
    assert added["id"] in [s.id for s in again.statuses]
    assert added["pipeline_id"] == pipeline.id


async def test_new_leads_and_opportunities_get_the_default_statuses(
    close: CloseClient,
) -> None:
    lead = await close.post("lead/", json={"name": "Acme"})
    lead_statuses = [s async for s in close.lead_statuses.list()]
    first_lead_status = lead_statuses[0]
    assert (lead["status_id"], lead["status_label"]) == (
        first_lead_status.id,
        first_lead_status.label,
    )
    opportunity = await close.post("opportunity/", json={"lead_id": lead["id"]})
    statuses = [s async for s in close.opportunity_statuses.list()]
    active = next(s for s in statuses if s.status_type == "active")
    assert opportunity["status_id"] == active.id
    assert opportunity["pipeline_id"] == active.pipeline_id
    chosen = await close.post("lead/", json={"name": "B", "status_id": "stat_mine"})
    assert chosen["status_id"] == "stat_mine"


async def test_the_world_is_the_same_in_every_fake(fake: FakeClose) -> None:
    async with FakeClose() as other:
        assert other.objects("pipeline").keys() == fake.objects("pipeline").keys()
        assert other.objects("user").keys() == fake.objects("user").keys()
    assert fake.events == []  # the world is seeded, not served: no events
