"""Keep one webhook subscription in place for a URL: :func:`ensure_subscription`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._client import CloseClient, CloseClientView
    from ..models import Webhook

__all__ = ["ensure_subscription"]


def _pairs(events: Iterable[Any]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    object_type: Any
    action: Any
    for event in events:
        if isinstance(event, str):
            object_type, _, action = event.rpartition(".")
        elif isinstance(event, Mapping):
            object_type, action = event.get("object_type"), event.get("action")
        else:
            object_type, action = event.object_type, event.action
        pairs.add((str(object_type), str(action)))
    return pairs


async def ensure_subscription(
    close: CloseClient | CloseClientView,
    url: str,
    events: Iterable[str | Mapping[str, Any]],
    *,
    verify_ssl: bool | None = None,
) -> Webhook:
    """The subscription that sends ``events`` to ``url``: found, reactivated or created.

    ``events`` are names (``"activity.call.created"``) or ``{"object_type", "action"}``
    objects. An existing subscription for ``url`` whose events cover the wanted ones is
    returned (and set ``active`` again if Close paused it); otherwise one is created.
    Idempotent: running it again finds the same subscription. The result's
    ``signature_key`` verifies the deliveries (:func:`close_async.webhooks.parse`).

    Two processes running it at the same moment may both create one; run it once, at
    deployment.
    """
    wanted = _pairs(events)
    async for subscription in close.webhooks.list():
        if subscription.url != url or subscription.events is None:
            continue
        if not wanted <= _pairs(subscription.events):
            continue
        if subscription.status == "paused" and subscription.id is not None:
            return await close.webhooks.update(subscription.id, {"status": "active"})
        return subscription
    body: dict[str, Any] = {
        "url": url,
        "events": [{"object_type": o, "action": a} for o, a in sorted(wanted)],
    }
    if verify_ssl is not None:
        body["verify_ssl"] = verify_ssl
    return await close.webhooks.create(body)
