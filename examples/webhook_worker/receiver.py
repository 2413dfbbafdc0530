"""The webhook receiver: verify, enqueue durably, then answer 2xx."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import redis.asyncio as redis
from aiohttp import web

from close_async import WebhookVerificationError, webhooks

STREAM = "close:events"
"""The Redis stream that receiver and catch-up feed and workers consume."""

TOLERANCE = 300.0
"""Seconds a signature's timestamp may be off from now (replay protection)."""

WANTED = ("activity.call", "created")


def verify_and_parse(body: bytes, headers: Mapping[str, str], key: str) -> dict[str, Any]:
    """The delivery's event as a dict once its signature checks out.

    Raises :class:`close_async.WebhookVerificationError` for anything Close did not sign.
    """
    delivery = webhooks.parse(body, headers, key, tolerance=TOLERANCE)
    return attrs.asdict(delivery.event)


async def enqueue(client: redis.Redis, event: Mapping[str, Any], stream: str = STREAM) -> None:
    """Append one event to the stream (the receiver and the catch-up share this)."""
    await client.xadd(stream, {"event": json.dumps(event)})


def make_app(client: redis.Redis, signature_key: str, stream: str = STREAM) -> web.Application:
    """The receiver: ``POST /webhook`` verifies, enqueues ``activity.call.created`` events,
    and answers 200 only once Redis holds the event (an error answer makes Close retry)."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = verify_and_parse(body, request.headers, signature_key)
        except WebhookVerificationError as exc:
            return web.json_response({"error": exc.reason}, status=401)
        if (event.get("object_type"), event.get("action")) == WANTED:
            await enqueue(client, event, stream)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhook", receive)
    return app
