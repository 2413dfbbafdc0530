"""OpenTelemetry tracing and metrics for the engine (needs ``opentelemetry-api``: the extra
``[otel]``). Imported only by :func:`~close_async._engine.telemetry.hooks.make_telemetry`.

Spans follow the stable HTTP client semantic conventions:

- one ``CLIENT`` span per logical call, named ``{method} /{template}``
  (``PUT /activity/call/{id}/``; the template is relative to the API base), with
  ``http.request.method``, ``url.template``, ``server.address``, ``server.port``,
  ``http.response.status_code`` (of the last answer), ``error.type`` (the status as text,
  or the exception's class) and ``http.request.resend_count`` when it was retried;
- under it one ``INTERNAL`` span per attempt, ``{name} attempt``, with ``close.attempt``
  (1, 2, ...), its status or ``error.type``, ``close.limiter.wait`` (seconds it waited for
  the client's limiter) and, for a retry, ``http.request.resend_count``, ``close.retry.reason``
  (``rate_limited``, ``server_error``, ``timeout``, ``disconnected``, ...) and
  ``close.retry.wait`` (seconds slept before it).

Never recorded: the credentials, request and response bodies, query strings, concrete
paths (ids), error messages (they quote Close's answer). Exceptions are not recorded on
spans for that reason: ``error.type`` names them.

Metrics: ``http.client.request.duration`` (s, per attempt on the wire),
``http.client.active_requests`` (attempts on the wire), ``close.client.retries`` and
``close.client.rate_limited`` (429 answers) by ``close.endpoint_group`` (Close's rate-limit
group, e.g. ``PUT activity/call``), ``close.client.limiter.wait`` (s, by group),
``close.bulk.items.done`` (by ``close.bulk.outcome``) and ``close.bulk.items.failed`` (by
``error.type``).

While the global tracer provider is the API's proxy (no SDK set up) no span is started at
all; while the global meter provider is too, nothing is measured. With neither set up a
call gets no hooks at all (:meth:`OtelTelemetry.start_call` gives ``None``), so an
installed but unused OpenTelemetry costs a call one clock read. Spans that do not record
(sampled out) get no attributes set and no attempt children.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yarl
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..errors import APIStatusError
from ..http.request import Request, path_template_of
from ..retry import RetryEvent

try:
    # The API's stand-in until an SDK's provider is set. Private to the API, hence the
    # guard: an API without it has metrics taken as set up (measured as before).
    from opentelemetry.metrics._internal import _ProxyMeterProvider as _UnsetMeterProvider
except ImportError:  # pragma: no cover - every API release since 1.12 has it
    _UnsetMeterProvider = ()  # type: ignore[assignment,misc]

__all__ = ["OtelTelemetry"]

_now = time.perf_counter

_SCOPE = "close_async"
# The semantic conventions' advice for http.client.request.duration.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_WAIT_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Templates made from concrete paths could be many; past this many, new ones share one.
_MAX_OPERATIONS = 256
_OTHER_TEMPLATE = "{path}"
_RECHECK_TRACING = 1.0

METHOD = "http.request.method"
URL_TEMPLATE = "url.template"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
STATUS_CODE = "http.response.status_code"
ERROR_TYPE = "error.type"
RESEND_COUNT = "http.request.resend_count"
GROUP = "close.endpoint_group"
ATTEMPT = "close.attempt"
LIMITER_WAIT = "close.limiter.wait"
RETRY_REASON = "close.retry.reason"
RETRY_WAIT = "close.retry.wait"
BULK_OUTCOME = "close.bulk.outcome"

_BULK_OUTCOMES = {
    outcome: {BULK_OUTCOME: outcome}
    for outcome in ("succeeded", "settled", "failed", "skipped", "not_attempted", "unknown")
}


def error_type(error: BaseException) -> str:
    """``error.type``: an answer's status as text, else the exception's class name."""
    if isinstance(error, APIStatusError) and error.status:
        return str(error.status)
    return type(error).__qualname__


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("close-async")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return ""


class _Operation:
    """One endpoint's names and attribute sets, built once and shared by its calls."""

    __slots__ = ("_outcomes", "active", "attempt_name", "attributes", "group_attributes", "name")

    def __init__(self, method: str, template: str, group: str, server: Mapping[str, Any]):
        url_template = "/" + template
        self.name = f"{method} {url_template}"
        self.attempt_name = f"{self.name} attempt"
        self.attributes: dict[str, Any] = {METHOD: method, URL_TEMPLATE: url_template, **server}
        self.group_attributes = {GROUP: group}
        self._outcomes: dict[tuple[int | None, str | None], dict[str, Any]] = {}
        # Attempts of this endpoint on the wire: a plain count, read only when metrics are
        # collected (an up-down counter's add would cost twice per attempt).
        self.active = 0

    def outcome_attributes(self, status: int | None, error: str | None) -> dict[str, Any]:
        """The attributes of an attempt's duration: the endpoint's, its status and error."""
        found = self._outcomes.get((status, error))
        if found is None:
            found = dict(self.attributes)
            if status is not None:
                found[STATUS_CODE] = status
            if error is not None:
                found[ERROR_TYPE] = error
            self._outcomes[status, error] = found
        return found


class OtelTelemetry:
    """The engine's :class:`~close_async._engine.telemetry.hooks.Telemetry` on OpenTelemetry.

    By default through the global providers (``trace.get_tracer_provider()``,
    ``metrics.get_meter_provider()``), read lazily by the API's proxies, so providers set up
    after the client was made are used too. Tests pass their own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        url = yarl.URL(base_url)
        self._server = {SERVER_ADDRESS: url.host or "", SERVER_PORT: url.port or 0}
        self.tracer = trace.get_tracer(_SCOPE, _version(), tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, _version(), meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (each attempt on the wire).",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        meter.create_observable_up_down_counter(
            "http.client.active_requests",
            callbacks=[self._observe_active],
            unit="{request}",
            description="Requests to Close on the wire now.",
        )
        self.retries = meter.create_counter(
            "close.client.retries",
            unit="{retry}",
            description="Retries, by endpoint group and reason.",
        )
        self.rate_limited = meter.create_counter(
            "close.client.rate_limited",
            unit="{response}",
            description="Answers 429 (rate limited), by endpoint group.",
        )
        self.limiter_wait = meter.create_histogram(
            "close.client.limiter.wait",
            unit="s",
            description="Time attempts waited for the client's rate limiter, by endpoint group.",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )
        # Counted here, observed when collected: this runs once per bulk item.
        self._bulk_done = dict.fromkeys(_BULK_OUTCOMES, 0)
        meter.create_observable_counter(
            "close.bulk.items.done",
            callbacks=[self._observe_bulk_done],
            unit="{item}",
            description="Items of bulk runs with a final result, by outcome.",
        )
        self.bulk_failed = meter.create_counter(
            "close.bulk.items.failed",
            unit="{item}",
            description="Items of bulk runs that failed, by error type.",
        )
        self._operations: dict[tuple[str, str], _Operation] = {}
        # A provider passed in is used as it is; the global ones are checked
        # (_check_providers).
        self._tracer_given = tracer_provider is not None
        self._meter_given = meter_provider is not None
        self._tracing = self._tracer_given
        self._metering = self._meter_given
        self._recheck_at = math.inf if self._tracing and self._metering else -math.inf

    def __repr__(self) -> str:
        return f"OtelTelemetry(server={self._server[SERVER_ADDRESS]!r})"

    def _operation(self, request: Request) -> _Operation:
        template = request.template or path_template_of(request)
        key = (request.method, template)
        found = self._operations.get(key)
        if found is None:
            if len(self._operations) >= _MAX_OPERATIONS:
                # Paths that no id rule tames would make a metric series each: one for all.
                key = (request.method, _OTHER_TEMPLATE)
                template = _OTHER_TEMPLATE
                found = self._operations.get(key)
            if found is None:
                found = _Operation(request.method, template, request.group, self._server)
                self._operations[key] = found
        return found

    def _observe_active(self, options: metrics.CallbackOptions) -> Iterator[metrics.Observation]:
        for op in list(self._operations.values()):  # a copy: calls may add one meanwhile
            yield metrics.Observation(op.active, op.attributes)

    def _observe_bulk_done(self, options: metrics.CallbackOptions) -> Iterator[metrics.Observation]:
        for outcome, count in list(self._bulk_done.items()):
            if count:
                yield metrics.Observation(count, _BULK_OUTCOMES[outcome])

    def start_call(self, request: Request) -> _CallTrace | None:
        """Open the call's span (see the module docstring); ``None`` while neither tracing
        nor metrics are set up: the call has nothing to report to."""
        now = _now()
        if now >= self._recheck_at:
            self._check_providers(now)
        if not self._metering and not self._tracing:
            return None
        op = self._operation(request)
        if self._tracing:
            span = self.tracer.start_span(op.name, kind=SpanKind.CLIENT, attributes=op.attributes)
            if span.is_recording():
                return _RecordedCallTrace(self, op, now, span)
            return _CallTrace(self, op, now, span)
        return _CallTrace(self, op, now, None)

    def _check_providers(self, now: float) -> None:
        # Until an SDK is set up the global providers are the API's proxies, whose spans are
        # no-ops and whose instruments drop what they are given, yet cost a tenth of a
        # call's work; asking the API which provider is set costs as much, so it is asked
        # at most once a second, and never again once both are real (the API sets each
        # global provider once).
        if not self._tracer_given:
            provider = trace.get_tracer_provider()
            self._tracing = not isinstance(provider, trace.ProxyTracerProvider)
        if not self._meter_given:
            meters = metrics.get_meter_provider()
            self._metering = not isinstance(meters, _UnsetMeterProvider)
        both = self._tracing and self._metering
        self._recheck_at = math.inf if both else now + _RECHECK_TRACING

    def bulk_item(self, outcome: str, error: BaseException | None) -> None:
        """Count one bulk item's result."""
        self._bulk_done[outcome] += 1
        if error is not None:
            self.bulk_failed.add(1, {ERROR_TYPE: error_type(error)})


class _CallTrace:
    """One logical call whose span does not record: metrics only.

    The engine calls these hooks on every call, so they do as little as they can: with no
    SDK set up the span is the API's no-op and the instruments are its proxies.
    """

    __slots__ = ("_attempts", "_op", "_sent_at", "_span", "_started_at", "_status", "_telemetry")

    def __init__(
        self, telemetry: OtelTelemetry, op: _Operation, now: float, span: trace.Span | None
    ) -> None:
        self._telemetry = telemetry
        self._op = op
        self._span = span
        self._attempts = 0
        self._status: int | None = None
        self._started_at = now  # when the attempt now open began (0: none open)
        self._sent_at = 0.0  # when it left the limiter (0: not on the wire)

    def attempt_starting(self) -> None:
        # The first attempt begins as the call does (a few microseconds apart): the call's
        # start time serves, which saves reading the clock on every call.
        if self._attempts:
            self._finish_attempt(None, None)
            self._started_at = _now()
        self._attempts += 1

    def attempt_sending(self) -> None:
        now = self._sent_at = _now()
        op = self._op
        op.active += 1
        self._telemetry.limiter_wait.record(now - self._started_at, op.group_attributes)

    def attempt_answered(self, status: int) -> None:
        self._status = status
        if status == 429:
            self._telemetry.rate_limited.add(1, self._op.group_attributes)
        self._finish_attempt(status, str(status) if status >= 400 else None)

    def attempt_failed(self, error: BaseException) -> None:
        self._finish_attempt(None, error_type(error))

    def observe_retries(self, then: Callable[[RetryEvent], None]) -> Callable[[RetryEvent], None]:
        def on_retry(event: RetryEvent) -> None:
            self._retried(event)
            then(event)

        return on_retry

    def _retried(self, event: RetryEvent) -> None:
        # An attempt the limiter refused (a pause too long) never reached a hook: close it.
        self._finish_attempt(None, error_type(event.error))
        attributes = {GROUP: self._op.group_attributes[GROUP], RETRY_REASON: event.reason}
        self._telemetry.retries.add(1, attributes)

    def _finish_attempt(self, status: int | None, error: str | None) -> None:
        if not self._started_at:
            return
        self._started_at = 0.0
        if self._sent_at:
            duration = _now() - self._sent_at
            self._sent_at = 0.0
            op = self._op
            op.active -= 1
            self._telemetry.duration.record(duration, op.outcome_attributes(status, error))

    def end(self, error: BaseException | None) -> None:
        self._finish_attempt(None, None if error is None else error_type(error))
        if self._span is not None:
            self._span.end()


class _RecordedCallTrace(_CallTrace):
    """A call whose span records: attributes, and a child span per attempt."""

    __slots__ = ("_attempt_span", "_call_span", "_retry", "_token")

    def __init__(
        self, telemetry: OtelTelemetry, op: _Operation, now: float, span: trace.Span
    ) -> None:
        super().__init__(telemetry, op, now, span)
        self._call_span = span
        # Current while the call runs, so spans made under it (an instrumented aiohttp's)
        # nest in it.
        self._token: object | None = otel_context.attach(trace.set_span_in_context(span))
        self._attempt_span: trace.Span | None = None
        self._retry: RetryEvent | None = None

    def attempt_starting(self) -> None:
        super().attempt_starting()
        attributes: dict[str, Any] = {ATTEMPT: self._attempts}
        retry = self._retry
        if retry is not None:
            attributes[RESEND_COUNT] = self._attempts - 1
            attributes[RETRY_REASON] = retry.reason
            attributes[RETRY_WAIT] = retry.wait
        self._attempt_span = self._telemetry.tracer.start_span(
            self._op.attempt_name,
            context=trace.set_span_in_context(self._call_span),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )

    def attempt_sending(self) -> None:
        super().attempt_sending()
        if self._attempt_span is not None:
            self._attempt_span.set_attribute(LIMITER_WAIT, self._sent_at - self._started_at)

    def _retried(self, event: RetryEvent) -> None:
        super()._retried(event)
        self._retry = event

    def _finish_attempt(self, status: int | None, error: str | None) -> None:
        super()._finish_attempt(status, error)
        span = self._attempt_span
        if span is not None:
            self._attempt_span = None
            _set_outcome(span, status, error)
            span.end()

    def end(self, error: BaseException | None) -> None:
        kind = None if error is None else error_type(error)
        self._finish_attempt(None, kind)
        span = self._call_span
        if self._attempts > 1:
            span.set_attribute(RESEND_COUNT, self._attempts - 1)
        _set_outcome(span, self._status, kind)
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        span.end()


def _set_outcome(span: trace.Span, status: int | None, error: str | None) -> None:
    if status is not None:
        span.set_attribute(STATUS_CODE, status)
    if error is not None:
        span.set_attribute(ERROR_TYPE, error)
        span.set_status(Status(StatusCode.ERROR))
