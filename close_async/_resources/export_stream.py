"""Close's Export API end to end: start an export, wait for it, stream its file's rows.

``POST export/lead/`` (or ``opportunity/``) starts it; ``GET export/{id}/`` is polled with
exponential backoff until ``status`` is ``done`` (or ``failed``), bounded by a timeout; the
``download_url`` is a gzip file (JSON or CSV) read in chunks and decompressed as it comes,
so a file of any size streams in flat memory.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from .._engine.errors import CloseError, InvalidRequestError

__all__ = ["ExportError", "export_rows", "export_stream", "start_export", "wait_for_export"]

_CHUNK = 64 * 1024
_FORMATS = ("json", "csv")


class ExportError(CloseError):
    """An export that ended ``failed``, or was not done within its timeout."""

    def __init__(self, message: str, *, export_id: str, status: str | None) -> None:
        super().__init__(message)
        self.export_id = export_id
        self.status = status


class _Client(Protocol):
    async def get(self, path: str, *, deadline: float | None = ...) -> Any: ...

    async def post(self, path: str, *, json: Any = ..., deadline: float | None = ...) -> Any: ...


async def start_export(
    close: _Client,
    object_type: str,
    *,
    query: str | None = None,
    format: str = "json",
    fields: list[str] | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    """Start a ``"lead"`` or ``"opportunity"`` export; return Close's answer (with ``id``)."""
    if object_type not in ("lead", "opportunity"):
        raise InvalidRequestError(
            'object_type must be "lead" or "opportunity"', field="object_type"
        )
    if format not in _FORMATS:
        raise InvalidRequestError('format must be "json" or "csv"', field="format")
    body: dict[str, Any] = {"format": format}
    if object_type == "lead":
        body["type"] = "leads"  # one row a lead (Close also offers "contacts", "lead_opps")
    if query is not None:
        body["query"] = query
    if fields is not None:
        body["fields"] = list(fields)
    answer: dict[str, Any] = await close.post(
        f"export/{object_type}/", json=body, deadline=deadline
    )
    return answer


async def wait_for_export(
    close: _Client,
    export_id: str,
    *,
    timeout: float = 900.0,  # noqa: ASYNC109 (bounds polling, not one awaited call)
    first_wait: float = 1.0,
    max_wait: float = 30.0,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll ``GET export/{id}/`` until it is ``done``; return it (with ``download_url``).

    Waits ``first_wait`` seconds, doubling up to ``max_wait``, never past ``timeout``
    seconds in all. Raises :class:`ExportError` when it ends ``failed`` or the timeout
    passes first (with the last status seen).
    """
    ends = clock() + timeout
    wait = first_wait
    status: str | None = None
    while True:
        export: dict[str, Any] = await close.get(f"export/{export_id}/")
        status = export.get("status")
        if status == "done" and export.get("download_url"):
            return export
        if status in ("failed", "error", "canceled"):
            raise ExportError(
                f"export {export_id} ended {status}", export_id=export_id, status=status
            )
        left = ends - clock()
        if left <= 0:
            raise ExportError(
                f"export {export_id} was not done within {timeout}s (last status {status!r})",
                export_id=export_id,
                status=status,
            )
        await sleep(min(wait, left))
        wait = min(wait * 2, max_wait)


async def _chunks(url: str) -> AsyncIterator[bytes]:
    import aiohttp

    # A session of its own: the download URL is pre-signed elsewhere, and the API key must
    # never be sent to it.
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        gunzip = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # gzip or zlib header
        async for chunk in response.content.iter_chunked(_CHUNK):
            data = gunzip.decompress(chunk)
            if data:
                yield data
        tail = gunzip.flush()
        if tail:
            yield tail


async def _json_rows(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    # A JSON array (or JSON Lines) read value by value from a rolling buffer.
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    async for chunk in chunks:
        buffer += text.decode(chunk)
        while True:
            buffer = buffer.lstrip(" \t\r\n[,]")
            if not buffer:
                break
            try:
                value, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                break  # the value is not all here yet
            buffer = buffer[end:]
            yield value
    buffer = (buffer + text.decode(b"", final=True)).strip(" \t\r\n[,]")
    if buffer:
        raise ExportError("the export file ends mid-value", export_id="", status="done")


async def _csv_rows(chunks: AsyncIterator[bytes]) -> AsyncIterator[dict[str, str]]:
    text = codecs.getincrementaldecoder("utf-8-sig")()
    buffer = ""
    header: list[str] | None = None
    async for chunk in chunks:
        buffer += text.decode(chunk)
        cut = buffer.rfind("\n") + 1
        # A record is whole once the quotes before its newline pair up.
        while cut and buffer[:cut].count('"') % 2:
            cut = buffer.rfind("\n", 0, cut - 1) + 1
        if not cut:
            continue
        ready, buffer = buffer[:cut], buffer[cut:]
        for record in csv.reader(io.StringIO(ready)):
            if header is None:
                header = record
            elif record:
                yield dict(zip(header, record, strict=False))
    buffer += text.decode(b"", final=True)
    for record in csv.reader(io.StringIO(buffer)):
        if header is None:
            header = record
        elif record:
            yield dict(zip(header, record, strict=False))


def export_rows(download_url: str, format: str) -> AsyncIterator[Any]:
    """The rows of a done export's file: dicts (CSV rows by header), streamed.

    Use with ``contextlib.aclosing`` when breaking out early, so the download closes now.
    """
    if format not in _FORMATS:
        raise InvalidRequestError('format must be "json" or "csv"', field="format")
    chunks = _chunks(download_url)
    return _json_rows(chunks) if format == "json" else _csv_rows(chunks)


async def export_stream(
    close: _Client,
    object_type: str,
    *,
    query: str | None = None,
    format: str = "json",
    fields: list[str] | None = None,
    timeout: float = 900.0,  # noqa: ASYNC109 (bounds polling, not one awaited call)
    first_wait: float = 1.0,
    max_wait: float = 30.0,
) -> AsyncIterator[Any]:
    """Start an export, wait for it (see :func:`wait_for_export`) and yield its rows.

    ``close`` is the client. Example::

        async for lead in close_async.export_stream(close, "lead", query="status:Trial"):
            ...
    """
    started = await start_export(close, object_type, query=query, format=format, fields=fields)
    done = await wait_for_export(
        close, started["id"], timeout=timeout, first_wait=first_wait, max_wait=max_wait
    )
    async for row in export_rows(done["download_url"], format):
        yield row
