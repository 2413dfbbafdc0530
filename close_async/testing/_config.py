"""Configuration values of the fake Close server: rate limit styles and injected faults."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

__all__ = [
    "HEADER_STYLES",
    "RATE_LIMIT_PRESETS",
    "RATE_LIMIT_STYLES",
    "STYLES_429",
    "FakeFaults",
    "FakeRateLimit",
    "HeaderStyle",
    "Style429",
]

HeaderStyle = Literal["ratelimit", "ratelimit-semicolon", "legacy", "none"]
"""How the rate limit is told on every response (see :class:`FakeRateLimit`)."""

Style429 = Literal["body", "body-legacy", "retry-after", "bare"]
"""What a 429 looks like (see :class:`FakeRateLimit`)."""

HEADER_STYLES: tuple[HeaderStyle, ...] = ("ratelimit", "ratelimit-semicolon", "legacy", "none")
"""Every header style, in a stable order."""

STYLES_429: tuple[Style429, ...] = ("body", "body-legacy", "retry-after", "bare")
"""Every 429 style, in a stable order."""

RATE_LIMIT_PRESETS: Mapping[str, tuple[HeaderStyle, Style429]] = MappingProxyType(
    {
        # Today's Close: a `ratelimit` header everywhere, the (deprecated) wrapped body on 429.
        "ratelimit": ("ratelimit", "body"),
        "ratelimit-semicolon": ("ratelimit-semicolon", "body"),
        "legacy": ("legacy", "body-legacy"),
        # The presets below give a client nothing to pace itself by until it is refused.
        "retry-after": ("none", "retry-after"),
        "body": ("none", "body"),
        "body-legacy": ("none", "body-legacy"),
        "bare": ("none", "bare"),
    }
)
"""Named (header style, 429 style) pairs; benchmarks iterate over :data:`RATE_LIMIT_STYLES`."""

RATE_LIMIT_STYLES: tuple[str, ...] = tuple(RATE_LIMIT_PRESETS)
"""The preset names of :data:`RATE_LIMIT_PRESETS`, in a stable order."""


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value!r}")


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _probability(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be within 0..1, got {value!r}")


def _upper_tuple(methods: Iterable[str]) -> tuple[str, ...]:
    return tuple(m.upper() for m in methods)


@attrs.frozen
class FakeRateLimit:
    """A fixed-window rate limit per credential: ``rate`` requests per ``window`` seconds.

    Every request that passed authentication and was not itself refused with 429 counts,
    whatever it was answered (errors and dropped connections included).

    ``style`` names a preset of :data:`RATE_LIMIT_PRESETS`; ``header_style`` and
    ``style_429`` override its halves:

    - header styles: ``"ratelimit"`` (``ratelimit: limit=40, remaining=12, reset=0.53``),
      ``"ratelimit-semicolon"`` (``limit=40; remaining=12; reset=0.53``), ``"legacy"``
      (``X-Rate-Limit-Limit``/``-Remaining``/``-Reset``) or ``"none"``; sent on every
      response except a ``"bare"`` 429;
    - 429 styles: ``"body"`` (``{"error": {"rate_reset": 0.87, ...}}``), ``"body-legacy"``
      (unwrapped, ``rate_reset`` a string), ``"retry-after"`` (``Retry-After`` in whole
      seconds, rounded up, and ``{"error": "Too many requests"}``) or ``"bare"`` (an HTML
      page from a load balancer, no JSON and no rate-limit headers).

    ``reset_integer`` is Close's own rounding: the header's ``reset`` is rounded up to whole
    seconds, and every 429 but a ``"bare"`` one carries ``Retry-After``, the reset rounded
    up too (a client then knows the window's end only to within a second).
    """

    rate: int = attrs.field(validator=_positive)
    window: float = attrs.field(default=1.0, validator=_positive)
    style: str = attrs.field(default="ratelimit", validator=attrs.validators.in_(RATE_LIMIT_STYLES))
    header_style: HeaderStyle | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(HEADER_STYLES))
    )
    style_429: Style429 | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(STYLES_429))
    )
    reset_integer: bool = False

    @property
    def effective_header_style(self) -> HeaderStyle:
        """The header style in force: the override, else the preset's."""
        return self.header_style or RATE_LIMIT_PRESETS[self.style][0]

    @property
    def effective_style_429(self) -> Style429:
        """The 429 style in force: the override, else the preset's."""
        return self.style_429 or RATE_LIMIT_PRESETS[self.style][1]


@attrs.frozen
class FakeFaults:
    """Faults injected on the call endpoints, drawn from a random generator seeded by ``seed``.

    For each request one draw picks at most one of: ``error_rate`` (answer one of
    ``error_statuses`` with an HTML page, nothing applied), ``reject_rate`` (answer a
    request that writes 400 with Close's JSON error body, nothing applied: the 4xx that
    proves a create did not land; a search's POST is never refused), ``reset_rate`` (reset the
    connection before applying anything) and ``drop_after_apply_rate`` (apply, then close
    the connection without answering); so their sum must not exceed 1. A second draw
    decides ``slow_rate``: wait ``slow_seconds`` after applying, before answering.
    ``latency`` is added to every API response. ``methods`` limits the draws to those HTTP
    methods (empty: all). The same seed and the same request order give the same faults.
    """

    error_rate: float = attrs.field(default=0.0, validator=_probability)
    reject_rate: float = attrs.field(default=0.0, validator=_probability)
    reset_rate: float = attrs.field(default=0.0, validator=_probability)
    drop_after_apply_rate: float = attrs.field(default=0.0, validator=_probability)
    slow_rate: float = attrs.field(default=0.0, validator=_probability)
    slow_seconds: float = attrs.field(default=1.0, validator=_non_negative)
    latency: float = attrs.field(default=0.0, validator=_non_negative)
    seed: int = 0
    error_statuses: tuple[int, ...] = attrs.field(default=(500, 502, 503, 504), converter=tuple)
    methods: tuple[str, ...] = attrs.field(default=(), converter=_upper_tuple)

    def __attrs_post_init__(self) -> None:
        if self.hard_rate > 1.0 + 1e-9:
            raise ValueError(
                "error_rate + reject_rate + reset_rate + drop_after_apply_rate must not exceed 1"
            )
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses must be a non-empty list of 5xx statuses")

    @property
    def hard_rate(self) -> float:
        """The chance that a request meets a fault that replaces its answer."""
        return self.error_rate + self.reject_rate + self.reset_rate + self.drop_after_apply_rate

    @property
    def any_fault(self) -> bool:
        """True when any per-request fault can happen (latency aside)."""
        return self.hard_rate + self.slow_rate > 0
