"""The webhook receiver: verify, enqueue durably, then answer 2xx (503 while Redis is down)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import attrs
import redis.asyncio as redis
from aiohttp import web

from close_async import WebhookVerificationError, webhooks

from .store import REDIS_DOWN

STREAM = "close:events"
"""The Redis stream that receiver and catch-up feed and workers consume."""

TOLERANCE = 300.0
"""Seconds a signature's timestamp may be off from now (replay protection)."""

WANTED = ("activity.call", "created")

PATH = "/webhook"
"""Where the receiver takes Close's POSTs (the subscription's URL ends with it)."""

RETRY_AFTER_S = 1
"""The ``Retry-After`` of a 503; Close retries on its own schedule anyway."""

log = logging.getLogger("webhook_worker.receiver")


def verify_and_parse(body: bytes, headers: Mapping[str, str], key: str) -> dict[str, Any]:
    """The delivery's event as a dict once its signature checks out.

    Raises :class:`close_async.WebhookVerificationError` for anything Close did not sign.
    """
    delivery = webhooks.parse(body, headers, key, tolerance=TOLERANCE)
    return attrs.asdict(delivery.event)


async def enqueue(client: redis.Redis, event: Mapping[str, Any], stream: str = STREAM) -> str:
    """Append one event to the stream (the receiver and the catch-up share this); return
    the entry's id."""
    # A client made with decode_responses=True (as store.connect makes it) answers a str.
    return str(await client.xadd(stream, {"event": json.dumps(event)}))


def make_app(client: redis.Redis, signature_key: str, stream: str = STREAM) -> web.Application:
    """The receiver: ``POST /webhook`` verifies, enqueues ``activity.call.created`` events,
    and answers 200 only once Redis holds the event. While Redis is down it answers 503 with
    ``Retry-After``, so Close delivers the event again later: nothing is lost, nothing dies.

    Give it a client from :func:`examples.webhook_worker.store.connect` (``RECEIVER_RETRIES``)
    so a blip is absorbed and an outage answered quickly. Logs one line per delivery."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = verify_and_parse(body, request.headers, signature_key)
        except WebhookVerificationError as exc:
            log.warning("refused a delivery (401): %s", exc.reason)
            return web.json_response({"error": exc.reason}, status=401)
        event_id = event.get("id")
        kind = (event.get("object_type"), event.get("action"))
        if kind != WANTED:
            log.info("event %s: %s.%s not wanted, answered 200", event_id, *kind)
            return web.json_response({"ok": True})
        try:
            entry_id = await enqueue(client, event, stream)
        except REDIS_DOWN as exc:
            log.warning("event %s: Redis unreachable (%s), answered 503 for a retry", event_id, exc)
            return web.json_response(
                {"error": "the queue is unavailable, retry later"},
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        log.info("event %s: queued as entry %s", event_id, entry_id)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post(PATH, receive)
    return app
