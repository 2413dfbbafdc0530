"""OpenTelemetry: spans and metrics of calls, read from the SDK's in-memory exporters.

Each test gets its own providers, handed to the client through the engine's ``telemetry``
(OpenTelemetry's global providers can be set once per process): the global path is tested
in subprocesses, where it can be set up fresh, as is the absence of OpenTelemetry.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from close_async import (
    APIConnectionError,
    APITimeoutError,
    CloseClient,
    InternalServerError,
    NotFoundError,
    RetryPolicy,
    Timeout,
)
from close_async._engine.http.paths import path_template
from close_async._engine.http.request import Request, build_request, path_template_of
from close_async._engine.telemetry.otel import OtelTelemetry
from close_async.models import CallUpdate
from close_async.testing import FakeClose, FakeFaults
from tests import call_requests
from tests.conftest import FAKE_KEY, serve_api

CALL_TEMPLATE = "/activity/call/{id}/"
CALL_SPAN = "PUT /activity/call/{id}/"


@attrs.define
class Otel:
    """Providers that keep what they record, and readers of it."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def calls(self) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.kind is SpanKind.CLIENT]

    def attempts(self, call: ReadableSpan) -> list[ReadableSpan]:
        found = [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == call.context.span_id
        ]
        return sorted(found, key=lambda s: s.attributes["close.attempt"])  # type: ignore[index]

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Each metric's points as (attributes, value or count)."""
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = [
                        (dict(p.attributes or {}), p.count if hasattr(p, "count") else p.value)
                        for p in metric.data.data_points
                    ]
        return found

    def everything_exported(self) -> str:
        """All spans and metrics as the exporters would send them."""
        data = self.reader.get_metrics_data()
        metrics = data.to_json() if data else ""
        return "\n".join([*(s.to_json() for s in self.spans()), metrics])


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def traced(client: CloseClient, otel: Otel) -> CloseClient:
    """``client`` reporting to ``otel``'s providers instead of the global ones."""
    client._engine.telemetry = OtelTelemetry(
        client.base_url,
        tracer_provider=otel.tracer_provider,
        meter_provider=otel.meter_provider,
    )
    return client


@pytest.fixture
async def close(fake: FakeClose, otel: Otel) -> AsyncIterator[CloseClient]:
    async with CloseClient(
        FAKE_KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=3)
    ) as client:
        yield traced(client, otel)


# --- templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "template"),
    [
        (call_requests.update_call("acti_3fKQ1nK8zqg7PbZ0", {}), "activity/call/{id}/"),
        (call_requests.get_call("acti_3fKQ1nK8zqg7PbZ0"), "activity/call/{id}/"),
        (call_requests.delete_call("acti_3fKQ1nK8zqg7PbZ0"), "activity/call/{id}/"),
        (call_requests.create_call({}), "activity/call/"),
        (build_request("GET", "/lead/{lead_id}", path_params={"lead_id": "x"}), "lead/{lead_id}/"),
        # No template given: id-looking segments stand for themselves as {id}.
        (build_request("GET", "lead/lead_Ab3/"), "lead/{id}/"),
        (Request("GET", "custom_field/lead/cf_abc/"), "custom_field/lead/{id}/"),
        (Request("GET", "sms_template/"), "sms_template/"),
    ],
)
def test_the_template_names_the_endpoint_not_the_object(request_: Request, template: str) -> None:
    assert path_template_of(request_) == template


def test_path_template_is_shaped_like_a_checked_path() -> None:
    assert path_template("/lead/{id}") == "lead/{id}/"
    assert path_template("lead/{id}/") == "lead/{id}/"


# --- spans ------------------------------------------------------------------------------


async def test_a_call_is_one_client_span_named_by_its_template(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    (call_id,) = fake.seed_calls(1)
    await close.calls.update(call_id, CallUpdate(note="hello"))
    (call,) = otel.calls()
    assert call.name == CALL_SPAN
    assert dict(call.attributes or {}) == {
        "http.request.method": "PUT",
        "url.template": CALL_TEMPLATE,
        "server.address": "127.0.0.1",
        "server.port": fake.port,
        "http.response.status_code": 200,
    }
    assert call.status.status_code is StatusCode.UNSET
    (attempt,) = otel.attempts(call)
    assert attempt.kind is SpanKind.INTERNAL
    assert attempt.attributes is not None
    assert attempt.attributes["close.attempt"] == 1
    assert attempt.attributes["http.response.status_code"] == 200
    assert attempt.attributes["close.limiter.wait"] >= 0
    assert "http.request.resend_count" not in attempt.attributes


async def test_generic_verbs_name_the_path_template(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    lead = fake.add_object("lead", name="Acme")
    await close.get("lead/{lead_id}/", path_params={"lead_id": lead["id"]})
    await close.get(f"lead/{lead['id']}/")
    assert [s.name for s in otel.calls()] == ["GET /lead/{lead_id}/", "GET /lead/{id}/"]
    assert otel.calls()[1].attributes["url.template"] == "/lead/{id}/"  # type: ignore[index]


async def test_a_long_get_sent_as_a_post_is_traced_as_the_get(
    close: CloseClient, otel: Otel
) -> None:
    ids = [f"acti_{n:020d}A" for n in range(150)]
    await close.get("activity/call/", params={"id__in": ids})
    (call,) = otel.calls()
    assert call.name == "GET /activity/call/"
    assert call.attributes["http.request.method"] == "GET"  # type: ignore[index]


async def test_retries_are_attempt_spans_and_a_resend_count(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    (call_id,) = fake.seed_calls(1)
    fake.faults = FakeFaults(error_rate=1.0, error_statuses=(503,))
    with pytest.raises(InternalServerError):
        await close.calls.update(call_id, CallUpdate(note="x"))
    (call,) = otel.calls()
    assert call.attributes is not None
    assert call.attributes["http.request.resend_count"] == 2
    assert call.attributes["http.response.status_code"] == 503
    assert call.attributes["error.type"] == "503"
    assert call.status.status_code is StatusCode.ERROR
    attempts = otel.attempts(call)
    assert [a.attributes["close.attempt"] for a in attempts] == [1, 2, 3]  # type: ignore[index]
    assert [a.attributes.get("http.request.resend_count") for a in attempts] == [None, 1, 2]  # type: ignore[union-attr]
    assert [a.attributes.get("close.retry.reason") for a in attempts] == [  # type: ignore[union-attr]
        None,
        "server_error",
        "server_error",
    ]
    assert all(a.attributes["close.retry.wait"] == 0.0 for a in attempts[1:])  # type: ignore[index]
    assert all(a.attributes["error.type"] == "503" for a in attempts)  # type: ignore[index]
    metrics = otel.metrics()
    group = {"close.endpoint_group": "PUT activity/call"}
    assert metrics["close.client.retries"] == [({**group, "close.retry.reason": "server_error"}, 2)]
    failed = [v for a, v in metrics["http.client.request.duration"] if a.get("error.type") == "503"]
    assert failed == [3]


async def test_a_429_is_counted_and_the_retry_says_why() -> None:
    answers = [
        web.json_response({"error": {"rate_reset": 0.0, "rate_limit": 10}}, status=429),
        web.json_response({"ok": True}),
    ]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    otel = Otel(exporter, reader, tracer_provider, MeterProvider(metric_readers=[reader]))
    async with (
        serve_api(handler) as base_url,
        CloseClient(FAKE_KEY, base_url=base_url, retry=RetryPolicy.no_wait()) as client,
    ):
        assert await traced(client, otel).get("me/") == {"ok": True}
    (call,) = otel.calls()
    assert call.attributes is not None
    assert call.attributes["http.request.resend_count"] == 1
    assert call.attributes["http.response.status_code"] == 200
    assert "error.type" not in call.attributes
    first, second = otel.attempts(call)
    assert first.attributes["http.response.status_code"] == 429  # type: ignore[index]
    assert second.attributes["close.retry.reason"] == "rate_limited"  # type: ignore[index]
    group = {"close.endpoint_group": "GET me"}
    assert otel.metrics()["close.client.rate_limited"] == [(group, 1)]


async def test_a_dropped_connection_is_named_by_its_error_class(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    (call_id,) = fake.seed_calls(1)
    fake.faults = FakeFaults(reset_rate=1.0)
    with pytest.raises(APIConnectionError):
        await close.calls.update(call_id, CallUpdate(note="x"))
    (call,) = otel.calls()
    assert call.attributes is not None
    assert call.attributes["error.type"] == "APIConnectionError"
    assert "http.response.status_code" not in call.attributes
    attempts = otel.attempts(call)
    assert [a.attributes.get("close.retry.reason") for a in attempts] == [  # type: ignore[union-attr]
        None,
        "disconnected",
        "disconnected",
    ]


async def test_an_error_not_retried_is_one_attempt(close: CloseClient, otel: Otel) -> None:
    with pytest.raises(NotFoundError):
        await close.calls.get("acti_3fKQ1nK8zqg7PbZ0")
    (call,) = otel.calls()
    assert call.name == "GET /activity/call/{id}/"
    assert call.attributes["error.type"] == "404"  # type: ignore[index]
    assert "http.request.resend_count" not in call.attributes  # type: ignore[operator]
    assert len(otel.attempts(call)) == 1


async def test_a_deadline_ends_the_span_with_its_error(fake: FakeClose, otel: Otel) -> None:
    (call_id,) = fake.seed_calls(1)
    fake.faults = FakeFaults(latency=5.0)
    async with CloseClient(FAKE_KEY, base_url=fake.base_url, timeout=Timeout(total=0.05)) as client:
        with pytest.raises(APITimeoutError):
            await traced(client, otel).calls.update(call_id, CallUpdate(note="x"))
    (call,) = otel.calls()
    assert call.attributes["error.type"] == "APITimeoutError"  # type: ignore[index]
    (attempt,) = otel.attempts(call)
    assert attempt.end_time is not None
    # The attempt cut short left the wire: nothing stays counted in flight.
    assert [v for _, v in otel.metrics()["http.client.active_requests"]] == [0]


async def test_the_key_bodies_ids_and_queries_are_never_exported(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    call_ids = fake.seed_calls(2)
    await close.calls.update(call_ids[0], CallUpdate(note="secret note text"))
    await close.get("activity/call/", params={"lead_id": "lead_QueryValue42"})
    fake.faults = FakeFaults(error_rate=1.0, error_statuses=(500,))
    with pytest.raises(InternalServerError):
        await close.calls.update(call_ids[1], CallUpdate(note="other secret"))
    exported = otel.everything_exported()
    assert otel.spans()
    basic = base64.b64encode(f"{FAKE_KEY}:".encode()).decode()
    for secret in (FAKE_KEY, basic, "secret note text", "other secret", "QueryValue42", *call_ids):
        assert secret not in exported


async def test_limiter_waits_and_durations_are_measured(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    call_ids = fake.seed_calls(3)
    for call_id in call_ids:
        await close.calls.update(call_id, CallUpdate(note="x"))
    metrics = otel.metrics()
    assert metrics["close.client.limiter.wait"] == [
        ({"close.endpoint_group": "PUT activity/call"}, 3)
    ]
    ((attributes, count),) = metrics["http.client.request.duration"]
    assert count == 3
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.template"] == CALL_TEMPLATE
    assert [v for _, v in metrics["http.client.active_requests"]] == [0]


async def test_bulk_items_are_counted_by_outcome(
    fake: FakeClose, close: CloseClient, otel: Otel
) -> None:
    call_ids = fake.seed_calls(3)
    missing = "acti_3fKQ1nK8zqg7PbZ9"
    items = [(call_id, CallUpdate(note="x")) for call_id in [*call_ids, missing]]
    async with close.calls.update_many(items, concurrency=2) as run:
        results = [result async for result in run]
    assert sum(r.ok for r in results) == 3
    metrics = otel.metrics()
    done = {a["close.bulk.outcome"]: v for a, v in metrics["close.bulk.items.done"]}
    assert done == {"succeeded": 3, "failed": 1}
    assert metrics["close.bulk.items.failed"] == [({"error.type": "404"}, 1)]


# --- the global providers, and no OpenTelemetry at all ---------------------------------


def run_python(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; return the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


CALL_TWICE = """
    import asyncio, json, sys
    from close_async import CloseClient
    from close_async.models import CallUpdate
    from close_async.testing import FakeClose

    async def calls(telemetry):
        async with FakeClose(api_keys=("k",)) as fake:
            (call_id,) = fake.seed_calls(1)
            async with CloseClient("k", base_url=fake.base_url, telemetry=telemetry) as close:
                await close.calls.update(call_id, CallUpdate(note="x"))
                return close._engine.telemetry is not None
"""


def test_the_global_providers_are_used_and_telemetry_false_emits_nothing() -> None:
    result = run_python(
        CALL_TWICE
        + """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def recorded():
        data = reader.get_metrics_data()
        points = 0
        for r in data.resource_metrics if data else ():
            for s in r.scope_metrics:
                for m in s.metrics:
                    points += sum(getattr(p, "count", 0) or 0 for p in m.data.data_points)
        spans = len(exporter.get_finished_spans())
        exporter.clear()
        return spans, points

    exporter = InMemorySpanExporter()
    reader = InMemoryMetricReader()
    # With no SDK set up, the API's no-op answers and nothing is recorded anywhere.
    on = asyncio.run(calls(True))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    asyncio.run(calls(True))
    with_telemetry = recorded()
    off = asyncio.run(calls(False))
    without = recorded()
    print(json.dumps({"on": on, "off": off, "with": with_telemetry, "without": without}))
    """
    )
    assert result["on"] is True
    assert result["off"] is False
    assert result["with"][0] == 2  # the call's span and its attempt's
    assert result["with"][1] > 0
    # Cumulative counts: a client without telemetry adds nothing to them.
    assert result["without"] == [0, result["with"][1]]


def test_without_opentelemetry_nothing_of_it_is_imported() -> None:
    result = run_python(
        """
    import importlib.abc, sys

    class NoOpenTelemetry(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "opentelemetry":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoOpenTelemetry())
    """
        + CALL_TWICE
        + """
    on = asyncio.run(calls(True))
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    print(json.dumps({"on": on, "loaded": loaded}))
    """
    )
    assert result == {"on": False, "loaded": []}


def test_importing_the_package_does_not_import_opentelemetry() -> None:
    # Installed or not, OpenTelemetry is imported when a client is made, not with the package.
    result = run_python(
        """
        import json, sys
        import close_async
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        print(json.dumps({"loaded": loaded}))
        """
    )
    assert result == {"loaded": []}


def test_the_console_example_prints_spans_and_metrics() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "otel_console.py"
    env = {k: v for k, v in os.environ.items() if k != "CLOSE_API_KEY"}
    done = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"name": "PUT /activity/call/{id}/"' in done.stdout
    assert '"http.request.resend_count"' in done.stdout  # the 5xx were retried
    assert '"name": "close.bulk.items.done"' in done.stdout
    assert "test_key" not in done.stdout


def test_a_client_made_before_the_sdk_traces_once_it_is_set_up() -> None:
    result = run_python(
        """
    import asyncio, json
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from close_async import CloseClient
    from close_async.models import CallUpdate
    from close_async._engine.telemetry import otel
    from close_async.testing import FakeClose

    otel._RECHECK_TRACING = 0.0  # look at the global provider on every call, not each second

    async def main():
        exporter = InMemorySpanExporter()
        async with FakeClose(api_keys=("k",)) as fake:
            (call_id,) = fake.seed_calls(1)
            async with CloseClient("k", base_url=fake.base_url) as close:
                await close.calls.update(call_id, CallUpdate(note="before"))
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)
                await close.calls.update(call_id, CallUpdate(note="after"))
        return [s.name for s in exporter.get_finished_spans()]

    print(json.dumps({"spans": asyncio.run(main())}))
    """
    )
    assert result == {"spans": ["PUT /activity/call/{id}/ attempt", "PUT /activity/call/{id}/"]}


def test_with_no_sdk_set_up_a_call_gets_no_hooks_at_all() -> None:
    # OpenTelemetry installed but unused (the API's proxies for both providers): each call
    # would only feed no-op spans and instruments, so it gets nothing to call.
    result = run_python(
        """
    import json
    from close_async._engine.http.request import Request
    from close_async._engine.telemetry.otel import OtelTelemetry

    telemetry = OtelTelemetry("https://api.close.com/api/v1/")
    hooks = telemetry.start_call(Request("GET", "lead/"))
    print(json.dumps({"hooks": repr(hooks)}))
    """
    )
    assert result == {"hooks": "None"}


def test_a_client_made_before_the_sdk_measures_once_metrics_are_set_up() -> None:
    result = run_python(
        """
    import asyncio, json
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from close_async import CloseClient
    from close_async.models import CallUpdate
    from close_async._engine.telemetry import otel
    from close_async.testing import FakeClose

    otel._RECHECK_TRACING = 0.0  # look at the global providers on every call

    def durations(reader):
        data = reader.get_metrics_data()
        return sum(
            point.count
            for resource in (data.resource_metrics if data else ())
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "http.client.request.duration"
            for point in metric.data.data_points
        )

    async def main():
        reader = InMemoryMetricReader()
        async with FakeClose(api_keys=("k",)) as fake:
            (call_id,) = fake.seed_calls(1)
            async with CloseClient("k", base_url=fake.base_url) as close:
                await close.calls.update(call_id, CallUpdate(note="before"))
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                await close.calls.update(call_id, CallUpdate(note="after"))
                await close.calls.update(call_id, CallUpdate(note="again"))
        return durations(reader)

    print(json.dumps({"durations": asyncio.run(main())}))
    """
    )
    assert result == {"durations": 2}  # the two calls made after the provider was set
