"""Receivers: a framework-neutral coroutine and an aiohttp handler built on it.

Both answer 2xx only after ``on_delivery`` returned, so an app that queues the event durably
there never acknowledges an event it could lose; Close redelivers anything not acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._engine.errors import WebhookVerificationError
from ._delivery import DEFAULT_TOLERANCE, WebhookDelivery, parse

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["OnDelivery", "aiohttp_handler", "handle_webhook"]

OnDelivery = Callable[[WebhookDelivery], Awaitable[Any]]

_log = logging.getLogger("close_async.webhooks")

# Fixed bodies: the reason stays in the log, the sender learns nothing about the key.
_OK = b"ok"
_REFUSED = b"webhook delivery refused"
_FAILED = b"webhook delivery not processed"


async def handle_webhook(
    body: bytes | str,
    headers: Mapping[Any, Any],
    key: str | Sequence[str],
    on_delivery: OnDelivery,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> tuple[int, bytes]:
    """Verify one delivery, await ``on_delivery(delivery)``, and say what to answer.

    Returns ``(status, body)``: ``200`` once ``on_delivery`` returned, ``401`` when the
    delivery failed verification (``on_delivery`` is not called), ``500`` when
    ``on_delivery`` raised (Close retries later). For Starlette, FastAPI or any framework::

        status, text = await handle_webhook(await request.body(), request.headers, key, enqueue)
        return Response(text, status_code=status)
    """
    try:
        delivery = parse(body, headers, key, tolerance=tolerance, now=now)
    except WebhookVerificationError as error:
        _log.warning("webhook delivery refused: %s", error.reason)
        return 401, _REFUSED
    try:
        await on_delivery(delivery)
    except Exception:
        _log.exception("webhook delivery %s not processed", delivery.event.id)
        return 500, _FAILED
    return 200, _OK


def aiohttp_handler(
    key: str | Sequence[str],
    on_delivery: OnDelivery,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for webhook deliveries: ``app.router.add_post("/hook", handler)``.

    It reads the raw body, verifies it, awaits ``on_delivery(delivery)`` and answers as
    :func:`handle_webhook` says (200 after ``on_delivery`` returned, 401, or 500).
    """
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        status, text = await handle_webhook(
            body, request.headers, key, on_delivery, tolerance=tolerance
        )
        return web.Response(status=status, body=text, content_type="text/plain")

    return handler
