"""Small configuration values for the client (httpx style: value objects, not loose kwargs)."""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ConfigurationError

__all__ = ["DEFAULT_MAX_RESPONSE_SIZE", "Timeout"]

DEFAULT_MAX_RESPONSE_SIZE = 32 * 1024 * 1024
"""The biggest answer read, in bytes after decompression (32 MiB): Close's call pages are
a few hundred KB at most, so anything near this is a broken or hostile server."""


def _positive_or_none(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is not None and not (number and value > 0):  # NaN is not positive either
        raise ConfigurationError(
            f"Timeout.{attribute.name} must be positive seconds or None, got {value!r}"
        )


@attrs.frozen
class Timeout:
    """How long close-async waits, in seconds.

    - ``connect``: to open a connection (and get a pooled one).
    - ``attempt``: for one whole attempt, sending and reading the answer: the only bound on
      an answer that trickles in a byte at a time while ``read`` is off.
    - ``read``: for Close's answer: no gap between bytes longer than this, and the body read
      whole within this once the headers are in, so a trickle cannot stretch it. Off by
      default, since ``attempt`` already bounds a stalled answer and aiohttp's per-read
      timer costs about 10% of throughput at thousands of updates per second (measured
      against the fake Close). The status line and headers are bounded by the gap rule and
      by ``attempt`` only.
    - ``total``: for a whole call across all its retries and rate-limit waits; ``None``
      means bounded by the retry policy alone. A web handler should set it, per client or
      per call (``await close.calls.update(..., timeout=2.0)`` sets just this).

    Unlike aiohttp's default (300 s total) and the official client's (none at all), every
    attempt is bounded by default.
    """

    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=None, validator=_positive_or_none)
    attempt: float | None = attrs.field(default=30.0, validator=_positive_or_none)
    total: float | None = attrs.field(default=None, validator=_positive_or_none)
