"""The webhook receiver: verify, enqueue durably, then answer 2xx."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as redis
from aiohttp import web

STREAM = "close:events"
"""The Redis stream that receiver and catch-up feed and workers consume."""

TOLERANCE = 300.0
"""Seconds a signature's timestamp may be off from now (replay protection)."""

WANTED = ("activity.call", "created")


class WebhookRejected(Exception):
    """A delivery that is not Close's (bad or missing signature, stale, not JSON)."""


def verify_and_parse(body: bytes, headers: Mapping[str, str], key: str) -> dict[str, Any]:
    """The delivery's JSON once its signature checks out; raises :class:`WebhookRejected`.

    The one place that knows the signing scheme (close_async.webhooks.parse replaces it):
    hex HMAC-SHA256, keyed with the hex signature key's bytes, over the timestamp string and
    the raw body, compared in constant time; timestamps off by more than TOLERANCE refused.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("close-sig-hash")
    timestamp = lowered.get("close-sig-timestamp")
    if not signature or not timestamp:
        raise WebhookRejected("missing signature headers")
    try:
        stamped = float(timestamp)
    except ValueError:
        raise WebhookRejected("malformed timestamp") from None
    if abs(time.time() - stamped) > TOLERANCE:
        raise WebhookRejected("stale or future timestamp")
    expected = hmac.new(bytes.fromhex(key), timestamp.encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise WebhookRejected("signature mismatch")
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise WebhookRejected("no event in the delivery")
    return payload


async def enqueue(client: redis.Redis, event: Mapping[str, Any], stream: str = STREAM) -> None:
    """Append one event to the stream (the receiver and the catch-up share this)."""
    await client.xadd(stream, {"event": json.dumps(event)})


def make_app(client: redis.Redis, signature_key: str, stream: str = STREAM) -> web.Application:
    """The receiver: ``POST /webhook`` verifies, enqueues ``activity.call.created`` events,
    and answers 200 only once Redis holds the event (an error answer makes Close retry)."""

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = verify_and_parse(body, request.headers, signature_key)
        except WebhookRejected as exc:
            return web.json_response({"error": str(exc)}, status=401)
        event = payload["event"]
        if (event.get("object_type"), event.get("action")) == WANTED:
            await enqueue(client, event, stream)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhook", receive)
    return app
