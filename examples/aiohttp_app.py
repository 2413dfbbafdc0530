"""A web app that records call outcomes in Close: one shared client, a timeout per update.

Run it against the fake Close:

    close-async fake-server --seed-calls 10 &      # prints the base URL
    CLOSE_API_KEY=test_key CLOSE_BASE_URL=http://127.0.0.1:8765/api/v1/ \\
        python examples/aiohttp_app.py
    curl -X POST localhost:8080/calls/<call id>/outcome -d '{"outcome_id": "outcome_1"}'
    curl localhost:8080/leads/<lead id>        # the lead and its contacts, any endpoint
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from aiohttp import web

from close_async import (
    DEFAULT_BASE_URL,
    ClientValidationError,
    CloseClient,
    CloseError,
    NotFoundError,
)
from close_async.models import CallUpdate

CLIENT = web.AppKey("close", CloseClient)


async def close_client(app: web.Application) -> AsyncIterator[None]:
    # One client for the whole app: one connection pool, one rate limiter.
    async with CloseClient(base_url=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL)) as close:
        app[CLIENT] = close
        yield


def error_response(exc: CloseError, *, missing: str) -> web.Response:
    """The app's answer when a Close call fails: the caller's mistake, absent, or upstream."""
    if isinstance(exc, ClientValidationError):
        return web.json_response({"error": str(exc), "field": exc.field}, status=400)
    if isinstance(exc, NotFoundError):
        return web.json_response({"error": missing}, status=404)
    return web.json_response({"error": str(exc)}, status=502)


async def record_outcome(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        update = CallUpdate(outcome_id=body.get("outcome_id"), note=body.get("note"))
        # The handler's budget: retries and rate-limit waits included. If the client hangs
        # up, aiohttp cancels this task, and the update leaks nothing.
        call = await request.app[CLIENT].calls.update(
            request.match_info["call_id"], update, timeout=3.0
        )
    except CloseError as exc:
        return error_response(exc, missing="no such call")
    return web.json_response({"id": call.id, "outcome_id": call.outcome_id})


async def lead_with_contacts(request: web.Request) -> web.Response:
    # A view for reads a page waits on: short, one retry. Same pool, limiter and stats.
    fast = request.app[CLIENT].with_options(timeout=2.0, max_retries=1)
    lead_id = request.match_info["lead_id"]
    try:
        # path_params checks the id as one path segment: "../user" never reaches Close.
        lead = await fast.get(
            "lead/{id}/", path_params={"id": lead_id}, params={"_fields": "id,name"}
        )
        contacts = [
            contact
            async for contact in fast.paginate(
                "contact/", params={"lead_id": lead_id, "_fields": "id,name", "_limit": 100}
            )
        ]
    except CloseError as exc:
        return error_response(exc, missing="no such lead")
    return web.json_response({"lead": lead, "contacts": contacts})


def make_app() -> web.Application:
    """The app: ``POST /calls/{call_id}/outcome`` with ``{"outcome_id": ..., "note": ...}``,
    and ``GET /leads/{lead_id}`` (the lead and its contacts)."""
    app = web.Application()
    app.cleanup_ctx.append(close_client)
    app.router.add_post("/calls/{call_id}/outcome", record_outcome)
    app.router.add_get("/leads/{lead_id}", lead_with_contacts)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), port=8080)
