"""Close webhooks: verify and read deliveries, receive them, keep a subscription in place.

    from close_async import webhooks

    delivery = webhooks.parse(raw_body, request_headers, signature_key)
    if delivery.event.name == "activity.call.created":
        call = delivery.event.data_as_model()  # a close_async.models.Call

:func:`parse` refuses every bad delivery with :class:`~close_async.WebhookVerificationError`.
:func:`aiohttp_handler` and :func:`handle_webhook` make a receiver a few lines;
:func:`ensure_subscription` creates (or reactivates) the subscription idempotently.
aiohttp is imported only when a handler is built.
"""

from __future__ import annotations

from .._engine.errors import WebhookVerificationError
from ._delivery import WebhookDelivery, WebhookEvent, parse
from ._receivers import OnDelivery, aiohttp_handler, handle_webhook
from ._subscriptions import ensure_subscription

__all__ = [
    "OnDelivery",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookVerificationError",
    "aiohttp_handler",
    "ensure_subscription",
    "handle_webhook",
    "parse",
]
