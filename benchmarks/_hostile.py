"""A hostile or broken HTTP server on loopback, on raw asyncio sockets.

The first path segment picks the behaviour, so one server serves every case and a client
picks it by its base URL (``server.base_url("garbage")``):

- ``status-<code>``: that status with a small JSON error body (``429``: a wait of 1000 s)
- ``html-<code>-<bytes>``: that status with an HTML page of that size, streamed
- ``json-<bytes>``: 200 with a JSON object of exactly that size (at least 11)
- ``badcall``: 200 with JSON that is not a Call; ``notjson``: 200 with a body that is not JSON
- ``garbage``: a status line that is not HTTP; ``echo``: one that quotes the request's
  ``Authorization`` header back (a server hunting for leaks)
- ``longheader``: a header past aiohttp's 8190-byte line limit; ``manyheaders``: 500 headers
- ``hangup``: closes the connection without answering; ``silent``: never answers;
  ``truncated``: closes it after part of a declared body
- ``badchunk``: a chunked body with a chunk size that is not hex; ``badgzip``: a body
  declared gzip that is not
- ``big-<bytes>``: 200, a body of that size streamed chunked (no length given)
- ``declared-<bytes>``: 200 with ``Content-Length``, then the body streamed
- ``gzip-<bytes>``: 200, ``Content-Encoding: gzip``, a stream of zeros unpacking to that size
- ``trickle-<bytes>-<ms>``: 200 with ``Content-Length``, one byte every ``ms`` milliseconds

Bodies are generated as they are written, so a test asking for a gigabyte costs the
server a few kilobytes. ``dropped`` counts answers the client hung up on before their end;
``sent`` the body bytes written per behaviour; ``connections`` the connections accepted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import zlib
from collections.abc import AsyncIterator, Iterator

__all__ = ["HostileServer"]

_CHUNK = 64 * 1024
_ZEROS = bytes(_CHUNK)


class HostileServer:
    """Serve the behaviours above on ``127.0.0.1`` until the ``async with`` ends."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: collections.Counter[str] = collections.Counter()
        self.sent: collections.Counter[str] = collections.Counter()
        self.dropped: collections.Counter[str] = collections.Counter()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = asyncio.Event()
        self._answering = 0
        self._idle = asyncio.Condition()
        self.port = 0

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Handlers end by themselves once woken and their sockets are gone (a cancelled
        # handler task makes asyncio's stream callback log an error).
        self._closing.set()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def idle(self) -> None:
        """Wait until no answer is being written, so the counters are final."""
        async with self._idle:
            await self._idle.wait_for(lambda: self._answering == 0)

    def base_url(self, behaviour: str) -> str:
        """The base URL a client uses to meet ``behaviour``."""
        return f"http://127.0.0.1:{self.port}/{behaviour}/"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        await reader.readexactly(int(headers.get("content-length", "0")))
        path = request_line.split(" ")[1]
        behaviour = path.split("/")[1]
        self.requests[behaviour] += 1
        name, *args = behaviour.split("-")
        self._answering += 1
        try:
            return await self._answer(name, args, behaviour, headers, writer)
        except ConnectionError:
            self.dropped[behaviour] += 1
            return False
        finally:
            self._answering -= 1
            async with self._idle:
                self._idle.notify_all()

    async def _answer(
        self,
        name: str,
        args: list[str],
        behaviour: str,
        headers: dict[str, str],
        writer: asyncio.StreamWriter,
    ) -> bool:
        if name == "status":
            status = int(args[0])
            body = json.dumps({"error": f"hostile {status}"}).encode()
            extra = "Retry-After: 1000\r\n" if status == 429 else ""
            writer.write(_head(status, extra + f"Content-Length: {len(body)}\r\n") + body)
        elif name == "html":
            status, size = int(args[0]), int(args[1])
            page = b"<html><body><h1>Bad gateway</h1>" + b"x" * 1000 + b"</body></html>\n"
            await self._stream(writer, behaviour, _head(status, _CHUNKED), _repeat(page, size))
        elif name == "json":
            size = int(args[0])
            body = b'{"pad": "' + b"x" * (size - 11) + b'"}'
            writer.write(_head(200, f"Content-Length: {len(body)}\r\n") + body)
        elif name == "badcall":
            body = b'{"_type": "Call", "id": 5}'
            writer.write(_head(200, f"Content-Length: {len(body)}\r\n") + body)
        elif name == "notjson":
            body = b"<html>surprise</html>"
            writer.write(_head(200, f"Content-Length: {len(body)}\r\n") + body)
        elif name == "garbage":
            writer.write(b"HTTP/1.1 two hundred OK\r\nContent-Length: 0\r\n\r\n")
        elif name == "echo":
            auth = headers.get("authorization", "").encode("latin-1")
            writer.write(b"HTTP/1.1 2x0 " + auth + b"\r\nContent-Length: 0\r\n\r\n")
        elif name == "longheader":
            writer.write(_head(200, "X-Long: " + "a" * 20_000 + "\r\nContent-Length: 0\r\n"))
        elif name == "manyheaders":
            many = "".join(f"X-H{i}: {i}\r\n" for i in range(500))
            writer.write(_head(200, many + "Content-Length: 0\r\n"))
        elif name == "hangup":
            return False
        elif name == "truncated":
            writer.write(_head(200, "Content-Length: 1000\r\n") + b'{"partial": ')
            return False
        elif name == "badchunk":
            writer.write(_head(200, _CHUNKED) + b"zz\r\nnot a chunk\r\n0\r\n\r\n")
        elif name == "badgzip":
            body = b"this is not gzip at all"
            head = _head(200, f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n")
            writer.write(head + body)
        elif name == "silent":
            await self._closing.wait()
            return False
        elif name == "big":
            await self._stream(writer, behaviour, _head(200, _CHUNKED), _zeros(int(args[0])))
        elif name == "declared":
            size = int(args[0])
            head = _head(200, f"Content-Length: {size}\r\n")
            await self._stream(writer, behaviour, head, _zeros(size), chunked=False)
        elif name == "gzip":
            head = _head(200, "Content-Encoding: gzip\r\n" + _CHUNKED)
            await self._stream(writer, behaviour, head, _gzip_zeros(int(args[0])))
        elif name == "trickle":
            size, interval = int(args[0]), int(args[1]) / 1000
            writer.write(_head(200, f"Content-Length: {size}\r\n"))
            for _ in range(size):
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), interval)
                if self._closing.is_set():
                    return False
                writer.write(b" ")
                self.sent[behaviour] += 1
        else:
            writer.write(_head(404, "Content-Length: 0\r\n"))
        await writer.drain()
        return True

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        behaviour: str,
        head: bytes,
        chunks: Iterator[bytes],
        *,
        chunked: bool = True,
    ) -> None:
        writer.write(head)
        async for chunk in _paced(chunks):
            writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            # drain() raises once the client hung up, so a dropped answer stops here.
            await writer.drain()
            self.sent[behaviour] += len(chunk)
        if chunked:
            writer.write(b"0\r\n\r\n")


_CHUNKED = "Transfer-Encoding: chunked\r\n"


def _head(status: int, extra: str) -> bytes:
    return f"HTTP/1.1 {status} Hostile\r\nContent-Type: text/html\r\n{extra}\r\n".encode()


async def _paced(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        # The client has to notice the server is still going: yield to the loop.
        await asyncio.sleep(0)


def _zeros(size: int) -> Iterator[bytes]:
    while size > 0:
        yield _ZEROS[: min(size, _CHUNK)]
        size -= _CHUNK


def _repeat(block: bytes, size: int) -> Iterator[bytes]:
    piece = block * (_CHUNK // len(block) + 1)
    while size > 0:
        yield piece[: min(size, _CHUNK)]
        size -= _CHUNK


def _gzip_zeros(size: int) -> Iterator[bytes]:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    while size > 0:
        out = packer.compress(_ZEROS[: min(size, _CHUNK)])
        size -= _CHUNK
        if out:
            yield out
    yield packer.flush()
