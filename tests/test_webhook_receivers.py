"""Receivers: the aiohttp handler on a loopback server and the framework-neutral function."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from close_async import webhooks
from close_async.testing import webhook_delivery
from close_async.webhooks import WebhookDelivery

KEY = "c0ffee" * 10 + "abcd"
EVENT = {"id": "ev_9", "object_type": "activity.call", "action": "created", "data": {"id": "a"}}


async def test_handle_webhook_answers_200_after_on_delivery_returned() -> None:
    seen: list[WebhookDelivery] = []

    async def on_delivery(delivery: WebhookDelivery) -> None:
        seen.append(delivery)

    body, headers = webhook_delivery(EVENT, KEY)
    assert await webhooks.handle_webhook(body, headers, KEY, on_delivery) == (200, b"ok")
    assert [d.event.id for d in seen] == ["ev_9"]


async def test_handle_webhook_refuses_without_calling_on_delivery() -> None:
    seen: list[WebhookDelivery] = []

    async def on_delivery(delivery: WebhookDelivery) -> None:
        seen.append(delivery)

    body, headers = webhook_delivery(EVENT, "11" * 32)
    status, text = await webhooks.handle_webhook(body, headers, KEY, on_delivery)
    assert status == 401
    assert KEY not in text.decode()
    assert seen == []


async def test_handle_webhook_answers_500_when_on_delivery_fails() -> None:
    async def on_delivery(delivery: WebhookDelivery) -> None:
        raise RuntimeError("queue down")

    body, headers = webhook_delivery(EVENT, KEY)
    status, text = await webhooks.handle_webhook(body, headers, KEY, on_delivery)
    assert status == 500
    assert b"queue down" not in text


async def test_aiohttp_handler_on_loopback() -> None:
    seen: list[str] = []
    fail = False

    async def on_delivery(delivery: WebhookDelivery) -> None:
        if fail:
            raise RuntimeError("nope")
        seen.append(delivery.event.name)

    app = web.Application()
    app.router.add_post("/hook", webhooks.aiohttp_handler(KEY, on_delivery))
    async with TestServer(app, host="127.0.0.1") as server:
        url = str(server.make_url("/hook"))
        body, headers = webhook_delivery(EVENT, KEY)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200
            async with session.post(url, data=body + b" ", headers=headers) as response:
                assert response.status == 401
                assert KEY not in await response.text()
            async with session.post(url, data=body) as response:
                assert response.status == 401
            fail = True
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 500
    assert seen == ["activity.call.created"]


def test_importing_webhooks_does_not_import_aiohttp() -> None:
    code = "import sys, close_async.webhooks; assert 'aiohttp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
