"""Sign webhook payloads as Close does, for users' unit tests of their receivers."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .._webhook_signature import HASH_HEADER, TIMESTAMP_HEADER, signature

__all__ = ["sign_webhook", "webhook_delivery"]


def sign_webhook(body: bytes | str, key: str, *, timestamp: float | None = None) -> dict[str, str]:
    """The two signature headers Close would send with ``body``, signed with hex ``key``.

    ``timestamp`` is Unix seconds (the current time when ``None``), truncated to whole
    seconds as Close sends it.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    stamp = str(int(time.time() if timestamp is None else timestamp))
    return {
        HASH_HEADER: signature(bytes.fromhex(key), stamp, raw),
        TIMESTAMP_HEADER: stamp,
    }


def webhook_delivery(
    event: Mapping[str, Any],
    key: str,
    *,
    subscription_id: str = "whsub_test",
    timestamp: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery of ``event``: ``(body, headers)``, ready for ``webhooks.parse``."""
    body = json.dumps({"subscription_id": subscription_id, "event": dict(event)}).encode()
    return body, sign_webhook(body, key, timestamp=timestamp)
