"""Close's Export API: a done export's file, streamed row by row.

Starting and waiting are methods of ``close.exports`` (``export_verbs.ExportVerbs``). The
``download_url`` of a done export is a gzip file (JSON or CSV) read in chunks and
decompressed as it comes, so a file of any size streams in flat memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import zlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._engine.errors import ClientValidationError, ExportError

__all__ = ["FORMATS", "export_rows"]

_CHUNK = 64 * 1024
FORMATS = ("json", "csv")


async def _chunks(url: str) -> AsyncGenerator[bytes, None]:
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


async def _json_rows(chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[Any]:
    # A JSON array (or JSON Lines) read value by value from a rolling buffer.
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    # Closed with the rows: a walk left early closes its download now, not when collected.
    async with contextlib.aclosing(chunks):
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


async def _csv_records(chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[list[str], None]:
    # CSV records read from a rolling buffer, each once it is whole.
    text = codecs.getincrementaldecoder("utf-8-sig")()
    buffer = ""
    async with contextlib.aclosing(chunks):
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
                yield record
    for record in csv.reader(io.StringIO(buffer + text.decode(b"", final=True))):
        yield record


async def _csv_rows(chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[dict[str, str]]:
    header: list[str] | None = None
    async with contextlib.aclosing(_csv_records(chunks)) as records:
        async for record in records:
            if header is None:
                header = record
            elif record:
                yield dict(zip(header, record, strict=False))


def export_rows(download_url: str, format: str) -> AsyncIterator[Any]:
    """The rows of a done export's file: dicts (CSV rows by header), streamed.

    Use with ``contextlib.aclosing`` when breaking out early: closing the rows closes the
    download now.
    """
    if format not in FORMATS:
        raise ClientValidationError('format must be "json" or "csv"', field="format")
    chunks = _chunks(download_url)
    return _json_rows(chunks) if format == "json" else _csv_rows(chunks)
