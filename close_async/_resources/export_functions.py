"""The top-level export functions: thin wrappers over ``close.exports``' methods.

``start_export``, ``wait_for_export`` and ``export_stream`` came first and stay for code
that uses them; each is one call to :class:`~close_async._resources.export_verbs.ExportVerbs`
on ``close.exports``, answering JSON (dicts) where those methods answer models.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from .export_verbs import ExportKind, ExportVerbs

__all__ = ["export_stream", "start_export", "wait_for_export"]


class _Client(Protocol):
    # CloseClient or a view: the functions below are thin wrappers over close.exports.
    @property
    def exports(self) -> ExportVerbs: ...


async def start_export(
    close: _Client,
    object_type: str,
    *,
    query: str | None = None,
    format: str = "json",
    fields: list[str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Start a ``"lead"`` or ``"opportunity"`` export; return Close's answer (with ``id``)
    as JSON (null keys left out). ``close.exports.start`` gives it as a model."""
    started = await close.exports.start(
        cast("ExportKind", object_type),  # checked by start, naming the field
        query=query,
        format=format,
        fields=fields,
        timeout=timeout,
    )
    return started.to_json()


async def wait_for_export(
    close: _Client,
    export_id: str,
    *,
    timeout: float = 900.0,
    first_wait: float = 1.0,
    max_wait: float = 30.0,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``GET export/{id}/`` until it is ``done``; return it (with ``download_url``).

    ``close.exports.wait`` with the same ``timeout``, the answer as JSON: waits
    ``first_wait`` seconds, doubling up to ``max_wait``, never past ``timeout`` seconds in
    all. Raises :class:`ExportError` when it ends ``failed`` or the timeout passes first
    (with the last status seen).
    """
    done = await close.exports.wait(
        export_id,
        timeout=timeout,
        first_wait=first_wait,
        max_wait=max_wait,
        sleep=sleep,
        clock=clock,
    )
    return done.to_json()


async def export_stream(
    close: _Client,
    object_type: str,
    *,
    query: str | None = None,
    format: str = "json",
    fields: list[str] | None = None,
    timeout: float = 900.0,
    first_wait: float = 1.0,
    max_wait: float = 30.0,
) -> AsyncIterator[Any]:
    """Start an export, wait for it and yield its rows: ``close.exports.stream`` with
    the same ``timeout``.

    ``close`` is the client. Example::

        async for lead in close_async.export_stream(close, "lead", query="status:Trial"):
            ...
    """
    rows = close.exports.stream(
        cast("ExportKind", object_type),  # checked by start, naming the field
        query=query,
        format=format,
        fields=fields,
        timeout=timeout,
        first_wait=first_wait,
        max_wait=max_wait,
    )
    async for row in rows:
        yield row
