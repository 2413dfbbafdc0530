"""The aiohttp layer: moves bytes, and translates aiohttp's failures into ours.

Nothing here decides anything about Close: it sends a :class:`Request` and returns the
status, headers and body. aiohttp exceptions never leave this module, not even chained:
their ``request_info`` holds the request headers, ``Authorization`` included, and error
reporters (Sentry, logging's ``exc_info``) record every chained exception.

A server can quote the request's credentials back (an echo service, a debugging proxy):
they are replaced by ``<redacted>`` in every body and message that leaves this module, so
no error built from an answer can hold them.

Every answer is read under a size cap, counted in decoded bytes (aiohttp decompresses as
it streams), so neither a huge body nor a compression bomb can take more memory than the
cap per request in flight.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import functools
from collections.abc import Awaitable, Mapping
from urllib.parse import quote_plus

import aiohttp
import yarl
from aiohttp import hdrs, http_exceptions
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from ..config import DEFAULT_MAX_RESPONSE_SIZE, Timeout
from ..errors import (
    APIConnectionError,
    CloseError,
    ConnectError,
    ConnectTimeoutError,
    ProtocolError,
    ResponseTimeoutError,
    ResponseTooLargeError,
)
from ..phase import mark as phase_mark
from ..text import SHORT_LIMIT, clean
from .request import Request
from .transport import RawResponse

__all__ = ["AiohttpTransport"]

# Credentials are looked for in this much of a message only: aiohttp's messages are short,
# and a hostile server must not make redaction cost more than reading its answer.
_SCAN_LIMIT = 8192
_REDACTED = "<redacted>"


class _Default(enum.Enum):
    CAP = enum.auto()


class AiohttpTransport:
    """The :class:`~close_async._engine.http.transport.Transport` on aiohttp: one
    ``aiohttp.ClientSession`` (one connection pool) for the client's whole life.

    A session passed in by the caller is used as it is and left open on close.
    """

    def __init__(
        self,
        base_url: yarl.URL,
        *,
        timeout: Timeout,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._base = str(base_url)
        self._timeout_config = timeout
        self._timeout = _client_timeout(timeout)
        self._max_connections = max_connections
        self._max_response_size = max_response_size
        self._session = session
        self._owns_session = session is None
        self._closed = False
        # The last header set's credentials: (headers, needles, every form), see _redact.
        self._credentials: tuple[Mapping[str, str], tuple[bytes, ...], tuple[bytes, ...]] | None
        self._credentials = None

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this CloseClient is closed")
        if self._session is None:
            connector = _PhaseConnector(
                limit=self._max_connections,
                # Below the idle timeout of common load balancers (60 s), so a pooled
                # connection is rarely found dead.
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def send(
        self,
        request: Request,
        headers: Mapping[str, str],
        *,
        timeouts: Timeout | None = None,
        max_size: int | _Default | None = _Default.CAP,
    ) -> RawResponse:
        """Send one attempt of ``request`` and read the whole answer.

        ``timeouts`` override the client's for this request (``close.with_options``);
        ``max_size`` overrides the client's cap; ``None`` lifts it, for a caller that
        streams a big download to disk rather than holding it.
        """
        # One coroutine for the whole exchange: this runs once per attempt.
        session = self._session
        if session is None or self._closed:
            session = self._ensure_session()
        limit = self._max_response_size if max_size is _Default.CAP else max_size
        config = self._timeout_config if timeouts is None else timeouts
        url = yarl.URL(self._base + request.path, encoded=True)
        # Our own connector marks connecting and then waiting; a session the caller gave
        # has its own connector, so all that can be said is that the request may be sent.
        mark = phase_mark()
        if mark is not None and not self._owns_session:
            mark.phase = "waiting"
        read = config.read
        timeout = self._timeout if config is self._timeout_config else _client_timeout(config)
        try:
            async with session.request(
                request.method,
                url,
                params=request.params or None,
                data=request.body,  # encoded once, when the request was built
                headers=headers,
                timeout=timeout,
                # Redirects are never followed, so credentials never travel to another host.
                allow_redirects=False,
                # Statuses are ours to read, even through a caller's session that raises for
                # them: its ClientResponseError would pass for a parser refusal.
                raise_for_status=False,
            ) as response:
                if mark is not None:
                    mark.phase = "reading"
                if read is None:
                    body = await _read_body(response, limit, request)
                    return RawResponse(
                        response.status, response.headers, self._redact(body, headers)
                    )
                # aiohttp's sock_read restarts on every byte, so a server sending one byte a
                # second never trips it: the whole body gets one deadline as well.
                body_deadline = asyncio.timeout(read)
                try:
                    async with body_deadline:
                        body = await _read_body(response, limit, request)
                except TimeoutError:
                    if not body_deadline.expired():
                        raise
                else:
                    return RawResponse(
                        response.status, response.headers, self._redact(body, headers)
                    )
                response.close()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = self._translate(exc, headers, _where(request), config)
        else:
            error = ResponseTimeoutError(
                f"Close's answer was not read whole within Timeout.read ({_seconds(read)})",
                **_where(request),
            )
        # Raised outside the except block, so the aiohttp exception (and the request
        # headers in it) is neither the __cause__ nor the __context__ of ours.
        raise error

    def _redact(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        """``body`` with any credential in ``headers`` replaced; the same object when there
        is none (the check every answer pays)."""
        known = self._credentials
        if known is None or known[0] is not headers:
            # Worked out once per header set: the engine sends one mapping per view for
            # every attempt (a fresh one only with per-request headers or OAuth tokens).
            known = self._credentials = (headers, *_encoded(_secrets(headers)))
        for needle in known[1]:
            if needle in body:
                return _replace_all(body, known[2])
        return body

    async def post_form(
        self,
        url: yarl.URL,
        form: Mapping[str, str],
        *,
        secrets: tuple[str, ...],
        timeouts: Timeout,
    ) -> RawResponse:
        """POST ``form`` (form-encoded) to ``url``, outside the API: OAuth's token endpoint.

        ``secrets`` (the client secret, a refresh token) are replaced by ``<redacted>`` in
        the answer and in any error message, should a server quote them back. The answer is
        read under the client's size cap; ``timeouts`` bound the attempt.
        """
        session = self._ensure_session()
        where = {"method": "POST", "path": url.path}
        try:
            async with session.post(
                url,
                data=dict(form),
                headers={hdrs.ACCEPT: "application/json"},
                timeout=_client_timeout(timeouts),
                allow_redirects=False,
                raise_for_status=False,
            ) as response:
                body = await _read_body(response, self._max_response_size, where)
                return RawResponse(response.status, response.headers, _scrub(body, secrets))
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = self._translate(exc, {}, where, timeouts, secrets)
        raise error  # outside the except block, as in send()

    def _translate(
        self,
        exc: BaseException,
        headers: Mapping[str, str],
        where: dict[str, str],
        timeout: Timeout,
        extra_secrets: tuple[str, ...] = (),
    ) -> CloseError:
        """Our error for an aiohttp failure: its class name and a scrubbed message only."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return ConnectTimeoutError(
                f"timed out connecting to Close (Timeout.connect, {_seconds(timeout.connect)})",
                **where,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = _safe_text(str(exc.os_error), headers, extra_secrets)
            return ConnectError(f"could not connect to Close: {reason}", **where)
        if isinstance(exc, aiohttp.SocketTimeoutError):
            return ResponseTimeoutError(
                f"Close sent nothing for Timeout.read ({_seconds(timeout.read)})", **where
            )
        if isinstance(exc, TimeoutError):
            return ResponseTimeoutError(
                f"Close did not answer within Timeout.attempt ({_seconds(timeout.attempt)})",
                **where,
            )
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return APIConnectionError("Close closed the connection without answering", **where)
        if isinstance(exc, aiohttp.ClientResponseError):
            # Raised by aiohttp's parser only (raise_for_status is off): the status line
            # or the headers were refused.
            kind = _parser_complaint(exc)
            message = _safe_text(exc.message, headers, extra_secrets)
            return ProtocolError(
                f"Close's answer is not valid HTTP ({kind}): {message}", kind=kind, **where
            )
        if isinstance(exc, aiohttp.ClientPayloadError):
            kind = _parser_complaint(exc)
            if kind in _BROKEN_ENCODINGS:
                message = _safe_text(str(exc), headers, extra_secrets)
                return ProtocolError(
                    f"Close's answer body is not valid HTTP ({kind}): {message}",
                    kind=kind,
                    **where,
                )
            return APIConnectionError("the connection broke while reading Close's answer", **where)
        message = _safe_text(str(exc), headers, extra_secrets)
        return APIConnectionError(f"{type(exc).__name__}: {message}", **where)

    async def aclose(self) -> None:
        """Close the session if this transport made it."""
        self._closed = True
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None


class _PhaseConnector(aiohttp.TCPConnector):
    """The client's connector: marks the attempt ``connecting`` while it waits for a pooled
    connection or opens one, and ``waiting`` once it has one (the request is handed to it
    next). Overriding ``connect`` costs one frame per request; aiohttp's tracing, which
    could tell sending from waiting, cost 11% more instructions per update."""

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,
    ) -> Connection:
        mark = phase_mark()
        if mark is not None:
            mark.phase = "connecting"
        connection = await super().connect(req, traces, timeout)
        if mark is not None:
            mark.phase = "waiting"
        return connection


@functools.lru_cache(maxsize=32)
def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    # Cached: a view made by with_options sends every request with its own Timeout.
    return aiohttp.ClientTimeout(
        total=timeout.attempt,
        sock_connect=timeout.connect,
        sock_read=timeout.read,
    )


_BROKEN_ENCODINGS = frozenset(
    {"ContentEncodingError", "TransferEncodingError", "BadHttpMessage", "LineTooLong"}
)


def _where(request: Request) -> dict[str, str]:
    """The method and path an error names (built only when one is)."""
    return {"method": request.method, "path": request.path}


def _read_body(
    response: aiohttp.ClientResponse, limit: int | None, source: Request | dict[str, str]
) -> Awaitable[bytes]:
    """What reads the answer under the cap. A plain function, so that the common case
    awaits aiohttp's read with no coroutine of ours around it."""
    declared = response.content_length
    if limit is not None and declared is not None and declared > limit:
        response.close()
        raise _too_large(declared, limit, response.status, source, declared=True)
    if declared is not None and hdrs.CONTENT_ENCODING not in response.headers:
        # The parser stops at Content-Length, and nothing is unpacked: already bounded,
        # and aiohttp's own read is the cheaper path for the small answers Close sends.
        return response.read()
    return _read_streamed(response, limit, source)


async def _read_streamed(
    response: aiohttp.ClientResponse, limit: int | None, source: Request | dict[str, str]
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # response.content yields decoded bytes, so this counts what a gzip or brotli bomb
    # unpacks to, not what crossed the wire.
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if limit is not None and size > limit:
            # Closing (not releasing) drops the connection: the rest of the answer is
            # never read, and the socket never goes back to the pool half-read.
            response.close()
            # The error's traceback keeps this frame, and so these chunks, alive.
            chunks.clear()
            raise _too_large(size, limit, response.status, source, declared=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(
    size: int, limit: int, status: int, source: Request | dict[str, str], *, declared: bool
) -> ResponseTooLargeError:
    where = _where(source) if isinstance(source, Request) else source
    said = f"declared {size:,} bytes" if declared else f"passed {limit:,} bytes after decoding"
    return ResponseTooLargeError(
        f"Close's answer (HTTP {status}) is too large: it {said}, over the cap of "
        f"{limit:,} bytes (max_response_size); the connection was dropped",
        size=size,
        limit=limit,
        status=status,
        **where,
    )


def _seconds(value: float | None) -> str:
    return "off" if value is None else f"{value:g} s"


def _parser_complaint(exc: BaseException) -> str:
    """The most specific aiohttp parser exception class in ``exc``'s chain, by name."""
    kind = type(exc).__name__
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, http_exceptions.HttpProcessingError) and (
            type(cause) is not http_exceptions.HttpProcessingError
        ):
            kind = type(cause).__name__
        cause = cause.__cause__ or cause.__context__
    return kind


def _secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """Every form of the credentials a message could carry, longest first."""
    found: list[str] = []
    for name, value in headers.items():
        if name.lower() == "authorization" and value:
            found += _forms(value)
    return tuple(sorted(found, key=len, reverse=True))


@functools.lru_cache(maxsize=16)
def _forms(value: str) -> tuple[str, ...]:
    # Cached: every answer's body is checked, and a client sends the same header each time.
    found = [value]
    scheme, _, token = value.partition(" ")
    if token:
        found.append(token)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return tuple(found)
        found.append(decoded)
        user = decoded.partition(":")[0]
        if user:
            found.append(user)
    # JSON encoders that escape "/" (PHP's, for one) write base64 that way.
    found += [form.replace("/", "\\/") for form in found if "/" in form]
    return tuple(found)


def _replace_all(body: bytes, secrets: tuple[bytes, ...]) -> bytes:
    for secret in secrets:
        body = body.replace(secret, _REDACTED.encode())
    return body


@functools.lru_cache(maxsize=16)
def _encoded(secrets: tuple[str, ...]) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    # Any form holding a shorter one is found through it, so only the shortest are looked for.
    needles = [s for s in secrets if not any(o != s and o in s for o in secrets)]
    return tuple(n.encode() for n in needles), tuple(s.encode() for s in secrets)


def _forms_of(secrets: tuple[str, ...]) -> list[str]:
    """``secrets`` as sent in a form (percent-encoded) and as they are, longest first."""
    found = {form for secret in secrets if secret for form in (secret, quote_plus(secret))}
    return sorted(found, key=len, reverse=True)


def _scrub(body: bytes, secrets: tuple[str, ...]) -> bytes:
    for secret in _forms_of(secrets):
        body = body.replace(secret.encode(), _REDACTED.encode())
    return body


def _safe_text(text: str, headers: Mapping[str, str], extra: tuple[str, ...] = ()) -> str:
    """A short, printable message, with any credential a server echoed back removed."""
    text = text[:_SCAN_LIMIT]
    # Redacted before cleaning: cleaning could split a secret so replace() misses it.
    for secret in (*_secrets(headers), *_forms_of(extra)):
        text = text.replace(secret, _REDACTED)
    return clean(text, SHORT_LIMIT)
