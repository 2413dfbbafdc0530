"""A Flask app that records call notes and outcomes in Close with the blocking client.

One client for the whole process, shared by every request thread (one connection pool, one
rate limiter); each update has a deadline; Close's errors become HTTP answers in one place.
Run it against the fake Close:

    close-async fake-server --seed-calls 10 &      # prints the base URL
    CLOSE_API_KEY=test_key CLOSE_BASE_URL=http://127.0.0.1:8765/api/v1/ \\
        flask --app examples/flask_app.py run
    curl -X POST localhost:5000/calls/<call id> -H 'Content-Type: application/json' \\
        -d '{"note": "Called back", "outcome_id": "outc_1"}'
    curl 'localhost:5000/leads/<lead id>/calls?page_size=10'   # a page and its "next" link

Under gunicorn with ``--preload`` (the app built, then the workers forked) each worker
process builds its own event loop and pool on its first call: nothing to do here.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, jsonify, request, url_for

from close_async import (
    DEFAULT_BASE_URL,
    APITimeoutError,
    BlockingCloseClient,
    ClientValidationError,
    CloseError,
    NotFoundError,
    RateLimitError,
)
from close_async.models import Call, CallUpdate

_EXTENSION = "close_async"
# A view's budget for one Close call, retries and rate-limit waits included: a user waits.
DEFAULT_TIMEOUT = 5.0
MAX_PAGE_SIZE = 100


def close_client(app: Flask) -> BlockingCloseClient:
    """The app's one client (``app.extensions``), built by :func:`create_app`."""
    client: BlockingCloseClient = app.extensions[_EXTENSION]
    return client


def error_response(exc: CloseError) -> tuple[Response, int]:
    """The answer when a Close call fails: the caller's mistake, absent, slow, or upstream."""
    if isinstance(exc, ClientValidationError):  # refused before anything was sent
        return jsonify(error=str(exc), field=exc.field), 400
    if isinstance(exc, NotFoundError):
        return jsonify(error="not found"), 404
    if isinstance(exc, APITimeoutError):  # the deadline ran out (the call was cancelled)
        return jsonify(error="Close did not answer in time"), 504
    if isinstance(exc, RateLimitError):  # the budget is spent for longer than we wait
        answer = jsonify(error="rate limited, try again later")
        if exc.retry_after is not None:
            answer.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return answer, 503
    return jsonify(error=str(exc)), 502


def _call_json(call: Call) -> dict[str, Any]:
    return {"id": call.id, "note": call.note, "outcome_id": call.outcome_id}


def create_app(close: BlockingCloseClient | None = None) -> Flask:
    """The app: ``POST /calls/<call_id>`` with ``{"note": ..., "outcome_id": ...}``, and
    ``GET /leads/<lead_id>/calls?page_size=&skip=`` (one page, with a ``next`` link).

    ``close`` defaults to a client built from ``CLOSE_API_KEY`` and ``CLOSE_BASE_URL``.
    """
    app = Flask(__name__)
    app.config.setdefault("CLOSE_TIMEOUT", DEFAULT_TIMEOUT)
    if close is None:
        close = BlockingCloseClient(
            os.environ["CLOSE_API_KEY"],
            base_url=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL),
        )
    app.extensions[_EXTENSION] = close
    # Every view's CloseError ends here: the views hold only their happy path.
    app.register_error_handler(CloseError, error_response)

    @app.post("/calls/<call_id>")
    def update_call(call_id: str) -> dict[str, Any]:
        body = request.get_json(silent=True) or {}
        # Only the fields sent (None would clear one); CallUpdate checks each one's type
        # here, before anything is sent: a bad one is a 400 naming it.
        update = CallUpdate(**{k: body[k] for k in ("note", "outcome_id") if k in body})
        call = close.calls.update(call_id, update, timeout=app.config["CLOSE_TIMEOUT"])
        return _call_json(call)

    @app.get("/leads/<lead_id>/calls")
    def lead_calls(lead_id: str) -> dict[str, Any]:
        page_size = min(request.args.get("page_size", 20, type=int), MAX_PAGE_SIZE)
        skip = request.args.get("skip", 0, type=int)
        pager = close.calls.list(
            lead_id=lead_id, skip=skip, page_size=page_size, timeout=app.config["CLOSE_TIMEOUT"]
        )
        page = pager.first_page()  # one request: this page only
        following = None
        if page.next_params is not None:
            following = url_for(
                "lead_calls", lead_id=lead_id, page_size=page_size, skip=page.next_params["_skip"]
            )
        return {"calls": [_call_json(call) for call in page.data], "next": following}

    return app


if __name__ == "__main__":
    create_app().run(threaded=True)
