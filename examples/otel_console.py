"""Tracing and metrics of close-async, printed to the console by OpenTelemetry's SDK.

Needs the SDK besides the extra: ``pip install "close-async[otel]" opentelemetry-sdk``.
Runs against the fake Close it starts itself (no key needed); with ``CLOSE_API_KEY`` set it
reads ``me/`` from the real Close instead:

    python examples/otel_console.py

The client needs nothing but the global providers: set them up once at start-up, as a
service does for its exporter of choice (OTLP, Jaeger, ...); every ``CloseClient`` made
after (or before) then traces each call and counts its retries, 429s and limiter waits.
"""

from __future__ import annotations

import asyncio
import os

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from close_async import CloseClient
from close_async.models import CallUpdate
from close_async.testing import FakeClose, FakeFaults


def set_up_console_export() -> MeterProvider:
    """Spans printed as they end; metrics printed when the meter provider shuts down."""
    resource = Resource.create({"service.name": "close-async-example"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    # A long interval: the one export that matters is the final one, at shutdown.
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)
    return meter_provider


async def against_the_fake() -> None:
    async with FakeClose() as fake:
        call_ids = fake.seed_calls(3)
        # One answer in two is a 5xx for the first call: its span shows the retries.
        fake.faults = FakeFaults(error_rate=0.5, seed=1)
        async with CloseClient("test_key", base_url=fake.base_url) as close:
            await close.calls.update(call_ids[0], CallUpdate(note="Left a voicemail"))
            fake.faults = None
            items = [(call_id, CallUpdate(note="Backfilled")) for call_id in call_ids]
            async with close.calls.update_many(items, concurrency=2) as run:
                async for _result in run:
                    pass


async def against_close(api_key: str) -> None:
    async with CloseClient(api_key) as close:
        await close.get("me/")


def main() -> None:
    meter_provider = set_up_console_export()
    api_key = os.environ.get("CLOSE_API_KEY")
    asyncio.run(against_close(api_key) if api_key else against_the_fake())
    meter_provider.shutdown()  # prints the metrics


if __name__ == "__main__":
    main()
