"""ensure_subscription against the fake Close on loopback, whose /webhook/ keeps state."""

from __future__ import annotations

from close_async import CloseClient
from close_async.models import Webhook
from close_async.testing import FakeClose, webhook_delivery
from close_async.webhooks import ensure_subscription, parse

URL = "https://example.com/hooks/close"
EVENTS = ["activity.call.created", "lead.updated"]


async def test_running_twice_creates_one_subscription(fake: FakeClose, close: CloseClient) -> None:
    first = await ensure_subscription(close, URL, EVENTS)
    second = await ensure_subscription(close, URL, ["activity.call.created"])
    assert isinstance(first, Webhook)
    assert second.id == first.id
    assert len(fake.webhook_subscriptions.items) == 1
    assert first.signature_key
    assert second.signature_key == first.signature_key
    pairs = {(e.object_type, e.action) for e in first.events or []}
    assert pairs == {("activity.call", "created"), ("lead", "updated")}
    # The typed key verifies a delivery signed with it.
    body, headers = webhook_delivery(
        {"id": "ev_1", "object_type": "lead", "action": "x"}, first.signature_key
    )
    assert parse(body, headers, first.signature_key).event.id == "ev_1"


async def test_another_url_or_more_events_get_their_own(
    fake: FakeClose, close: CloseClient
) -> None:
    first = await ensure_subscription(close, URL, EVENTS)
    other_url = await ensure_subscription(close, URL + "/b", EVENTS)
    more = await ensure_subscription(close, URL, [*EVENTS, "contact.created"])
    assert len({first.id, other_url.id, more.id}) == 3
    assert len(fake.webhook_subscriptions.items) == 3


async def test_a_paused_subscription_is_reactivated(fake: FakeClose, close: CloseClient) -> None:
    first = await ensure_subscription(close, URL, EVENTS)
    assert first.id is not None
    fake.webhook_subscriptions.pause(first.id)
    assert (await close.webhooks.get(first.id)).status == "paused"
    again = await ensure_subscription(close, URL, EVENTS)
    assert again.id == first.id
    assert again.status == "active"
    assert fake.webhook_subscriptions.items[first.id]["status"] == "active"
    assert len(fake.webhook_subscriptions.items) == 1


async def test_listing_pages_past_the_first_page(fake: FakeClose, close: CloseClient) -> None:
    for n in range(120):
        await close.webhooks.create(
            {"url": f"{URL}/{n}", "events": [{"object_type": "lead", "action": "created"}]}
        )
    last = await ensure_subscription(close, f"{URL}/119", ["lead.created"])
    assert last.url == f"{URL}/119"
    assert len(fake.webhook_subscriptions.items) == 120
    await close.webhooks.delete(last.id or "")
    assert len(fake.webhook_subscriptions.items) == 119
