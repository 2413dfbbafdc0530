"""Tracing and metrics: the engine's hooks (``hooks``) and their one implementation, on
OpenTelemetry (``otel``), imported only when enabled and installed."""
