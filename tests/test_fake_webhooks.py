"""The fake Close posts signed webhooks for the changes it serves: retried, duplicated on demand."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from close_async import CloseClient, webhooks
from close_async.testing import FakeClose, WebhookDeliveryConfig

CALL_CREATED = [{"object_type": "activity.call", "action": "created"}]


class Receiver:
    """An aiohttp receiver on loopback that records deliveries and fails the first few."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.seen: list[tuple[bytes, dict[str, str]]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((await request.read(), dict(request.headers)))
        if len(self.seen) <= self.fail_first:
            return web.Response(status=503)
        return web.Response(status=200)

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def _verified(body: bytes, headers: dict[str, str], key: str) -> dict[str, Any]:
    webhooks.parse(body, headers, key)  # raises unless signed with key, as Close signs
    payload: dict[str, Any] = json.loads(body)
    return payload


async def _create_calls(fake: FakeClose, n: int) -> list[str]:
    async with CloseClient(api_key="test_key", base_url=fake.base_url) as close:
        ids = []
        for i in range(n):
            call = await close.post("activity/call/", json={"note": f"call {i}"})
            ids.append(call["id"])
        return ids


async def test_deliveries_are_signed_and_carry_the_logged_event(receiver: Receiver) -> None:
    async with FakeClose() as fake:
        subscription_id, key = fake.subscribe_webhook(receiver.url, CALL_CREATED)
        ids = await _create_calls(fake, 3)
        await fake.webhook_deliverer.wait_idle()
        payloads = [_verified(body, headers, key) for body, headers in receiver.seen]
        assert {p["subscription_id"] for p in payloads} == {subscription_id}
        assert sorted(p["event"]["object_id"] for p in payloads) == sorted(ids)
        logged = {e["id"]: e for e in fake.events}
        for p in payloads:
            assert p["event"] == json.loads(json.dumps(logged[p["event"]["id"]]))
            assert (p["event"]["object_type"], p["event"]["action"]) == ("activity.call", "created")
        assert fake.webhook_deliverer.stats.attempts == 3
        assert key not in repr(fake.webhook_subscriptions.active())


async def test_only_subscribed_events_are_delivered(receiver: Receiver) -> None:
    async with FakeClose() as fake:
        fake.subscribe_webhook(receiver.url, [{"object_type": "lead", "action": "created"}])
        await _create_calls(fake, 2)
        async with CloseClient(api_key="test_key", base_url=fake.base_url) as close:
            await close.post("lead/", json={"name": "Acme"})
        await fake.webhook_deliverer.wait_idle()
        events = [json.loads(body)["event"] for body, _ in receiver.seen]
        assert [(e["object_type"], e["action"]) for e in events] == [("lead", "created")]


async def test_a_failing_receiver_gets_retries_until_it_answers_2xx(receiver: Receiver) -> None:
    receiver.fail_first = 2
    config = WebhookDeliveryConfig(retry_base=0.01)
    async with FakeClose(webhook_delivery=config) as fake:
        _, key = fake.subscribe_webhook(receiver.url, CALL_CREATED)
        await _create_calls(fake, 1)
        await fake.webhook_deliverer.wait_idle()
        assert len(receiver.seen) == 3
        ids = {_verified(body, headers, key)["event"]["id"] for body, headers in receiver.seen}
        assert len(ids) == 1
        stats = fake.webhook_deliverer.stats
        assert (stats.attempts, stats.failed_attempts, stats.delivered) == (3, 2, 1)


async def test_a_receiver_that_is_down_gets_the_event_once_it_is_up() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    late = Receiver()
    config = WebhookDeliveryConfig(retry_base=0.05, retry_max=0.1, max_attempts=100)
    async with FakeClose(webhook_delivery=config) as fake:
        fake.subscribe_webhook(f"http://127.0.0.1:{port}/hook", CALL_CREATED)
        await _create_calls(fake, 1)
        while fake.webhook_deliverer.stats.failed_attempts < 2:
            await _sleep()
        await late.start(port)
        try:
            await fake.webhook_deliverer.wait_idle()
        finally:
            await late.stop()
        assert len(late.seen) == 1
        assert fake.webhook_deliverer.stats.delivered == 1


async def test_abandoned_after_max_attempts(receiver: Receiver) -> None:
    receiver.fail_first = 100
    config = WebhookDeliveryConfig(retry_base=0.0, max_attempts=3)
    async with FakeClose(webhook_delivery=config) as fake:
        fake.subscribe_webhook(receiver.url, CALL_CREATED)
        await _create_calls(fake, 1)
        await fake.webhook_deliverer.wait_idle()
        assert len(receiver.seen) == 3
        assert fake.webhook_deliverer.stats.abandoned == 1


async def test_duplicates_when_configured(receiver: Receiver) -> None:
    config = WebhookDeliveryConfig(duplicate_rate=1.0, jitter=0.02)
    async with FakeClose(webhook_delivery=config) as fake:
        fake.subscribe_webhook(receiver.url, CALL_CREATED)
        await _create_calls(fake, 4)
        await fake.webhook_deliverer.wait_idle()
        ids = [json.loads(body)["event"]["id"] for body, _ in receiver.seen]
        assert len(ids) == 8
        assert all(ids.count(i) == 2 for i in ids)
        assert fake.webhook_deliverer.stats.duplicates == 4


async def test_stop_cancels_pending_deliveries(receiver: Receiver) -> None:
    receiver.fail_first = 100
    config = WebhookDeliveryConfig(retry_base=60.0)
    fake = FakeClose(webhook_delivery=config)
    await fake.start()
    fake.subscribe_webhook(receiver.url, CALL_CREATED)
    await _create_calls(fake, 1)
    while not receiver.seen:
        await _sleep()
    await fake.stop()
    await fake.webhook_deliverer.wait_idle()
    assert len(receiver.seen) == 1


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.01)


async def test_subscriptions_made_through_the_api_receive_deliveries_until_paused(
    receiver: Receiver,
) -> None:
    async with (
        FakeClose() as fake,
        CloseClient(api_key="test_key", base_url=fake.base_url) as close,
    ):
        made = await close.post("webhook/", json={"url": receiver.url, "events": CALL_CREATED})
        await close.post("activity/call/", json={"note": "heard"})
        await fake.webhook_deliverer.wait_idle()
        assert len(receiver.seen) == 1
        delivery = webhooks.parse(*receiver.seen[0], made["signature_key"])
        assert delivery.subscription_id == made["id"]
        await close.put(f"webhook/{made['id']}/", json={"status": "paused"})
        await close.post("activity/call/", json={"note": "not heard"})
        await fake.webhook_deliverer.wait_idle()
        assert len(receiver.seen) == 1
