"""Small configuration values for the client (httpx style: value objects, not loose kwargs)."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["Timeout"]


def _positive_or_none(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is not None and value <= 0:
        raise ValueError(
            f"Timeout.{attribute.name} must be positive seconds or None, got {value!r}"
        )


@attrs.frozen
class Timeout:
    """How long close-async waits, in seconds.

    - ``connect``: to open a connection (and get a pooled one).
    - ``read``: for Close's answer to one attempt, between bytes.
    - ``attempt``: for one whole attempt, sending and reading.
    - ``deadline``: for a whole call across all its retries and rate-limit waits; ``None``
      means bounded by the retry policy alone. A web handler should set it, per client or
      per call (``await close.calls.update(..., deadline=2.0)``).

    Unlike aiohttp's default (300 s total) and the official client's (none at all), every
    attempt is bounded by default.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    attempt: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    deadline: float | None = attrs.field(default=None, validator=_positive_or_none)
