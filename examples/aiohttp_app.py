"""A web app that records call outcomes in Close: one shared client, a deadline per update.

Run it against the fake Close:

    close-async fake-server --seed-calls 10 &      # prints the base URL
    CLOSE_API_KEY=test_key CLOSE_BASE_URL=http://127.0.0.1:8765/api/v1/ \\
        python examples/aiohttp_app.py
    curl -X POST localhost:8080/calls/<call id>/outcome -d '{"outcome_id": "outcome_1"}'
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

from aiohttp import web

from close_async import (
    DEFAULT_BASE_URL,
    CallUpdate,
    CloseClient,
    CloseError,
    InvalidRequestError,
    NotFoundError,
)

CLIENT = web.AppKey("close", CloseClient)


async def close_client(app: web.Application) -> AsyncIterator[None]:
    # One client for the whole app: one connection pool, one rate limiter.
    async with CloseClient(base_url=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL)) as close:
        app[CLIENT] = close
        yield


async def record_outcome(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        update = CallUpdate(outcome_id=body.get("outcome_id"), note=body.get("note"))
        # The handler's budget: retries and rate-limit waits included. If the client hangs
        # up, aiohttp cancels this task, and the update leaks nothing.
        call = await request.app[CLIENT].calls.update(
            request.match_info["call_id"], update, deadline=3.0
        )
    except InvalidRequestError as exc:
        return web.json_response({"error": str(exc), "field": exc.field}, status=400)
    except NotFoundError:
        return web.json_response({"error": "no such call"}, status=404)
    except CloseError as exc:
        return web.json_response({"error": str(exc)}, status=502)
    return web.json_response({"id": call.id, "outcome_id": call.outcome_id})


def make_app() -> web.Application:
    """The app: ``POST /calls/{call_id}/outcome`` with ``{"outcome_id": ..., "note": ...}``."""
    app = web.Application()
    app.cleanup_ctx.append(close_client)
    app.router.add_post("/calls/{call_id}/outcome", record_outcome)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), port=8080)
