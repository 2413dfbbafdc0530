"""The fake Close's outgoing webhooks: subscriptions, signed deliveries, retries, duplicates.

Every event the fake appends to its event log (``/event/``) is offered here, so a delivery
carries the very event the log serves (same ``id``): a receiver that catches up from the log
deduplicates against webhook deliveries by event id. Close guarantees neither order nor
exactly-once delivery; :class:`WebhookDeliveryConfig` makes the fake show both on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
import attrs

from .._webhook_signature import HASH_HEADER, TIMESTAMP_HEADER, signature

__all__ = ["WebhookDeliverer", "WebhookDeliveryConfig", "WebhookSubscription"]


def _sign(signature_key: str, timestamp: str, body: bytes) -> str:
    return signature(bytes.fromhex(signature_key), timestamp, body)


def _non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _probability(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within 0..1, got {value!r}")


@attrs.frozen
class WebhookDeliveryConfig:
    """How the fake delivers webhooks.

    A failed attempt (a non-2xx answer, a refused or broken connection, no answer within
    ``timeout``) is retried after ``retry_base * 2**n`` seconds (capped at ``retry_max``), up
    to ``max_attempts`` attempts in all; Close retries for days, a test wants milliseconds.
    With probability ``duplicate_rate`` an event is delivered twice (two independent
    deliveries). Each delivery first waits a random ``0..jitter`` seconds, so deliveries
    arrive out of order. ``seed`` makes the draws reproducible. At most ``concurrency``
    requests are in flight at once.
    """

    retry_base: float = attrs.field(default=0.5, validator=_non_negative)
    retry_max: float = attrs.field(default=1200.0, validator=_non_negative)
    max_attempts: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    duplicate_rate: float = attrs.field(default=0.0, validator=_probability)
    jitter: float = attrs.field(default=0.0, validator=_non_negative)
    timeout: float = attrs.field(default=10.0, validator=_non_negative)
    concurrency: int = attrs.field(default=32, validator=attrs.validators.ge(1))
    seed: int = 0


@attrs.frozen
class WebhookSubscription:
    """One subscription: where to post, which ``(object_type, action)`` pairs, its key."""

    id: str
    url: str
    events: frozenset[tuple[str, str]]
    signature_key: str = attrs.field(repr=False)

    def wants(self, event: Mapping[str, Any]) -> bool:
        """True when this subscription asked for ``event``'s type and action."""
        return (event.get("object_type"), event.get("action")) in self.events


@attrs.define
class WebhookStats:
    """Counters of outgoing webhooks.

    ``attempts`` counts every POST tried (duplicates and retries included); ``delivered``
    the 2xx answers; ``failed_attempts`` the others; ``duplicates`` the extra deliveries
    scheduled; ``abandoned`` deliveries given up after ``max_attempts``.
    """

    attempts: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    duplicates: int = 0
    abandoned: int = 0


class WebhookDeliverer:
    """Holds the subscriptions and posts matching events from a background task.

    :meth:`publish` is called synchronously for each event appended to the log; the
    deliveries run once :meth:`start` ran, in the server's event loop, and :meth:`stop`
    cancels those still pending.
    """

    def __init__(
        self,
        subscriptions: Callable[[], Iterable[WebhookSubscription]],
        config: WebhookDeliveryConfig | None = None,
    ) -> None:
        # The subscriptions live in one store (the fake's /webhook/ resource); reading them
        # at each event means a subscription made, paused or deleted through the API counts
        # from the next change on.
        self._subscriptions = subscriptions
        self.stats: WebhookStats = WebhookStats()
        self.config: WebhookDeliveryConfig = config or WebhookDeliveryConfig()
        self._rng = random.Random(self.config.seed)
        self._backlog: list[tuple[WebhookSubscription, dict[str, Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._gate: asyncio.Semaphore | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def publish(self, event: dict[str, Any]) -> None:
        """Offer one logged event to every subscription that wants it."""
        for subscription in self._subscriptions():
            if subscription.wants(event):
                copies = 2 if self._rng.random() < self.config.duplicate_rate else 1
                self.stats.duplicates += copies - 1
                for _ in range(copies):
                    self._schedule(subscription, event)

    def _schedule(self, subscription: WebhookSubscription, event: dict[str, Any]) -> None:
        self._idle.clear()
        if self._session is None:
            self._backlog.append((subscription, event))
            return
        delay = self._rng.uniform(0.0, self.config.jitter) if self.config.jitter else 0.0
        task = asyncio.get_running_loop().create_task(self._deliver(subscription, event, delay))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks and not self._backlog:
            self._idle.set()

    async def start(self) -> None:
        """Open the HTTP session and send what was published before the start."""
        if self._session is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout or None)
        )
        self._gate = asyncio.Semaphore(self.config.concurrency)
        backlog, self._backlog = self._backlog, []
        for subscription, event in backlog:
            self._schedule(subscription, event)
        if not self._tasks:
            self._idle.set()

    async def stop(self) -> None:
        """Cancel pending deliveries and close the session (idempotent)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until every delivery scheduled so far was delivered or abandoned."""
        await self._idle.wait()

    async def _deliver(
        self, subscription: WebhookSubscription, event: dict[str, Any], delay: float
    ) -> None:
        if delay:
            await asyncio.sleep(delay)
        body = json.dumps(
            {"subscription_id": subscription.id, "event": event}, separators=(",", ":")
        ).encode()
        config = self.config
        for attempt in range(config.max_attempts):
            if attempt:
                await asyncio.sleep(min(config.retry_base * 2 ** (attempt - 1), config.retry_max))
            if await self._attempt(subscription, body):
                self.stats.delivered += 1
                return
            self.stats.failed_attempts += 1
        self.stats.abandoned += 1

    async def _attempt(self, subscription: WebhookSubscription, body: bytes) -> bool:
        session, gate = self._session, self._gate
        assert session is not None
        assert gate is not None
        async with gate:
            self.stats.attempts += 1
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                HASH_HEADER: _sign(subscription.signature_key, timestamp, body),
                TIMESTAMP_HEADER: timestamp,
            }
            try:
                async with session.post(subscription.url, data=body, headers=headers) as answer:
                    await answer.read()
                    return 200 <= answer.status < 300
            except (TimeoutError, aiohttp.ClientError, OSError):
                return False
