"""An RQ job that writes a call's note to Close: sync code, one shared Redis rate budget.

RQ's default worker forks a "work horse" for every job, as Celery's prefork pool forks its
children: so the client is one per process, built on first use, and its rate limiter is
given as a *factory*, which each process calls to build its own. Every process's limiter
names the same budget in Redis (a digest of the API key), so all workers on all machines
together stay under ``CLOSE_RATE`` requests/second.

Enqueue from anywhere (a web view, a webhook receiver, a script)::

    from redis import Redis
    from rq import Queue

    Queue("close", connection=Redis.from_url(REDIS_URL)).enqueue(
        "rq_worker.update_call_note", "acti_...", "Left a voicemail"
    )

Run workers (as many as you like, on any machine)::

    CLOSE_API_KEY=... REDIS_URL=redis://localhost:6379/0 \\
        rq worker --url redis://localhost:6379/0 --path examples close
"""

from __future__ import annotations

import os
import threading

from close_async import DEFAULT_BASE_URL, BlockingCloseClient, RedisRateLimiter
from close_async.models import CallUpdate

# A share of the key's budget for these workers together, e.g. 90% of Close's 20/s example.
RATE = float(os.environ.get("CLOSE_RATE", "18"))
# Each job's whole budget for its update: retries and rate-limit waits included.
CALL_TIMEOUT = 30.0

_client: BlockingCloseClient | None = None
_building = threading.Lock()


def close_client() -> BlockingCloseClient:
    """This process's client, built on first use from the environment.

    A forked child (RQ's work horse, a Celery prefork child) inherits the object; the
    client then builds its own event loop, connection pool and limiter in the child on
    first use, never touching the parent's. A limiter *object* could not follow it there
    (its state belongs to the parent's loop): hence the ``lambda``.
    """
    global _client
    with _building:
        if _client is None:
            api_key = os.environ["CLOSE_API_KEY"]
            redis_url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
            _client = BlockingCloseClient(
                api_key,
                base_url=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL),
                # Named by a digest of the key (never the key itself): every process using
                # this key shares one budget, and a 429's pause reaches all of them.
                rate_limiter=lambda: RedisRateLimiter(redis_url, rate=RATE, api_key=api_key),
            )
        return _client


def update_call_note(call_id: str, note: str) -> str:
    """The job: set ``note`` on call ``call_id``; returns the call's id.

    A failure raises (RQ then moves the job to its failed registry). The client has already
    retried what can be retried (timeouts, 5xx, 429s, whose waits the budget shares); a
    :class:`~close_async.ClientValidationError` or
    :class:`~close_async.NotFoundError` would fail again, so retrying the job is no use.
    """
    call = close_client().calls.update(call_id, CallUpdate(note=note), timeout=CALL_TIMEOUT)
    return call.id
