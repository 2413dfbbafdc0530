"""The aiohttp layer: moves bytes, and translates aiohttp's failures into ours.

Nothing here decides anything about Close: it sends a :class:`Request` and returns the
status, headers and body. aiohttp exceptions never leave this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
import attrs
import yarl

from ._config import Timeout
from ._errors import ConnectError, TransportError
from ._errors import TimeoutError as CloseTimeoutError
from ._protocol import Request

__all__ = ["AiohttpTransport", "RawResponse"]


@attrs.frozen
class RawResponse:
    """What came back for one attempt, undecoded."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class AiohttpTransport:
    """One ``aiohttp.ClientSession`` (one connection pool) for the client's whole life.

    A session passed in by the caller is used as it is and left open on close.
    """

    def __init__(
        self,
        base_url: yarl.URL,
        *,
        timeout: Timeout,
        max_connections: int,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base = str(base_url)
        self._timeout = aiohttp.ClientTimeout(
            total=timeout.attempt,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        )
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._closed = False

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this CloseClient is closed")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                # Below the idle timeout of common load balancers (60 s), so a pooled
                # connection is rarely found dead.
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def send(self, request: Request, headers: Mapping[str, str]) -> RawResponse:
        """Send one attempt of ``request`` and read the whole answer."""
        session = self._ensure_session()
        url = yarl.URL(self._base + request.path, encoded=True)
        data = None
        if request.json is not None:
            data = json.dumps(request.json, separators=(",", ":")).encode()
        where = {"method": request.method, "path": request.path}
        try:
            async with session.request(
                request.method,
                url,
                params=request.params or None,
                data=data,
                headers=headers,
                timeout=self._timeout,
                # Redirects are never followed, so credentials never travel to another host.
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return RawResponse(response.status, response.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectError(f"timed out connecting to Close: {exc}", **where) from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"could not connect to Close: {exc.os_error}", **where) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise CloseTimeoutError("Close did not answer in time", **where) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise TransportError("Close closed the connection without answering", **where) from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}", **where) from exc

    async def aclose(self) -> None:
        """Close the session if this transport made it."""
        self._closed = True
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None
