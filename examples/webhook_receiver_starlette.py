"""A webhook receiver on Starlette (FastAPI is the same): the framework-neutral function.

    pip install starlette uvicorn
    CLOSE_WEBHOOK_KEY=<signature_key> uvicorn examples.webhook_receiver_starlette:app

``handle_webhook`` verifies the raw body, awaits ``on_delivery`` and returns the status and
body to answer: 200 once ``on_delivery`` returned, 401 for a bad delivery, 500 if it raised.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from close_async import webhooks
from close_async.webhooks import WebhookDelivery

RECEIVED: list[str] = []


async def on_delivery(delivery: WebhookDelivery) -> None:
    # Store it durably here (a queue, a table): Close counts it as delivered on the 200.
    RECEIVED.append(delivery.event.id)


def make_app(signature_key: str) -> Starlette:
    async def receive(request: Request) -> Response:
        status, body = await webhooks.handle_webhook(
            await request.body(), request.headers, signature_key, on_delivery
        )
        return Response(body, status_code=status, media_type="text/plain")

    return Starlette(routes=[Route("/close/webhook", receive, methods=["POST"])])


if "CLOSE_WEBHOOK_KEY" in os.environ:
    app = make_app(os.environ["CLOSE_WEBHOOK_KEY"])
