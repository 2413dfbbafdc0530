"""The engine's view of tracing and metrics: a tiny interface, and the switch that picks one.

The engine asks :class:`Telemetry` for one :class:`CallTelemetry` per logical call
(``Engine.request``, retries included) and tells it, in order::

    attempt_starting()              before the limiter (its wait is measured from here)
    attempt_sending()               the limiter let the attempt go
    attempt_answered(status)        Close answered, or
    attempt_failed(error)           no answer (a transport error)
    retrying(event)                 the retry policy will try again after event.wait
    ... (the next attempt) ...
    end(error_or_None)              once, however the call ends

The bulk engine reports each finished item to :meth:`Telemetry.bulk_item`.

The one implementation is OpenTelemetry's (:mod:`close_async._engine.telemetry.otel`), made by
:func:`make_telemetry` only when ``opentelemetry-api`` is installed: without it nothing of
OpenTelemetry is imported, and the engine holds ``None`` and pays one ``is None`` test per
hook; with it installed but no SDK set up, each call gets ``None`` for its hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..http.request import Request
from ..retry import RetryEvent

__all__ = ["CallTelemetry", "Telemetry", "make_telemetry"]


class CallTelemetry(Protocol):
    """What one logical call reports as it goes (see the module docstring for the order)."""

    def attempt_starting(self) -> None:
        """An attempt begins: it now waits for the limiter."""

    def attempt_sending(self) -> None:
        """The limiter let the attempt go: it is on the wire."""

    def attempt_answered(self, status: int) -> None:
        """Close answered the attempt with ``status``."""

    def attempt_failed(self, error: BaseException) -> None:
        """The attempt got no answer (``error`` is the transport error)."""

    def observe_retries(self, then: Callable[[RetryEvent], None]) -> Callable[[RetryEvent], None]:
        """A retry hook that records each retry, then calls ``then``."""
        ...

    def end(self, error: BaseException | None) -> None:
        """The call is over: it succeeded (``None``) or raised ``error``."""


class Telemetry(Protocol):
    """Makes one :class:`CallTelemetry` per call; counts bulk items."""

    def start_call(self, request: Request) -> CallTelemetry | None:
        """A call of ``request`` begins (before any method override rewrites it); ``None``
        when there is nothing to report it to (no tracing or metrics set up right now)."""
        ...

    def bulk_item(self, outcome: str, error: BaseException | None) -> None:
        """One item of a bulk run has its result: ``outcome`` is ``"succeeded"``,
        ``"settled"``, ``"failed"`` (with ``error``), ``"skipped"``, ``"not_attempted"`` or
        ``"unknown"``."""


def make_telemetry(base_url: str, *, enabled: bool) -> Telemetry | None:
    """OpenTelemetry through the global providers when ``enabled`` and ``opentelemetry-api``
    is installed; else ``None`` (nothing to call, nothing imported)."""
    if not enabled:
        return None
    try:
        from .otel import OtelTelemetry
    except ImportError as exc:
        # Only a missing OpenTelemetry means "not installed"; a broken module of ours must
        # not pass silently for it.
        if (exc.name or "").partition(".")[0] != "opentelemetry":
            raise
        return None
    return OtelTelemetry(base_url)
