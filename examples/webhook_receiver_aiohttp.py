"""A webhook receiver on aiohttp: verify, hand the event on, and only then answer 200.

    CLOSE_WEBHOOK_KEY=<the subscription's signature_key> python examples/webhook_receiver_aiohttp.py

Close posts each event to ``/close/webhook``. The handler answers 200 only once
``on_delivery`` returned, so put the event somewhere durable there (a Redis stream, a
database row); here it goes on an in-memory queue that a worker task drains. A bad signature
gets a 401 and never reaches the queue; if ``on_delivery`` raises, Close gets a 500 and
delivers again later.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from aiohttp import web

from close_async import webhooks
from close_async.webhooks import WebhookDelivery

EVENTS = web.AppKey("events", asyncio.Queue)
HANDLED = web.AppKey("handled", list)


def make_app(signature_key: str) -> web.Application:
    app = web.Application()
    events: asyncio.Queue[WebhookDelivery] = asyncio.Queue()
    app[EVENTS] = events
    app[HANDLED] = []

    async def on_delivery(delivery: WebhookDelivery) -> None:
        await events.put(delivery)

    async def worker(app: web.Application) -> AsyncIterator[None]:
        async def drain() -> None:
            seen: set[str] = set()  # a real app keeps this with its data, not in memory
            while True:
                delivery = await events.get()
                # Close guarantees neither order nor exactly-once: deduplicate by event id.
                fresh = delivery.event.id not in seen
                seen.add(delivery.event.id)
                if fresh and delivery.event.name == "activity.call.created":
                    call = delivery.event.data_as_model()
                    app[HANDLED].append(call.id)
                events.task_done()

        task = asyncio.create_task(drain())
        yield
        task.cancel()

    app.router.add_post("/close/webhook", webhooks.aiohttp_handler(signature_key, on_delivery))
    app.cleanup_ctx.append(worker)
    return app


if __name__ == "__main__":
    web.run_app(make_app(os.environ["CLOSE_WEBHOOK_KEY"]), port=8080)
