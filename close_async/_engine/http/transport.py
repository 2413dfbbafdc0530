"""The seam between the engine and the network: the :class:`Transport` protocol.

The engine, and OAuth's token renewal, are typed against this protocol only: they hand a
transport a :class:`~close_async._engine.http.request.Request` (or a form, for OAuth's
token endpoint) and get a :class:`RawResponse` back, or one of our
:class:`~close_async._engine.errors.APIConnectionError` family when no answer came. How the
bytes move is the transport's business. The one implementation shipped is aiohttp's
(:class:`~close_async._engine.http.aiohttp_transport.AiohttpTransport`), which the client
imports when it is built; this module imports no HTTP library, so the engine does not
either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ..config import Timeout
from .request import Request

if TYPE_CHECKING:
    import yarl

__all__ = ["RawResponse", "Transport"]


class RawResponse(NamedTuple):
    """What came back for one attempt, undecoded. A tuple: one is made per attempt, and
    the engine takes it apart at once."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """Moves one request's bytes and brings the answer back whole; decides nothing.

    A transport raises only errors of our own tree (never its library's: theirs can hold
    the request's headers, credentials included), and replaces a credential that a server
    quotes back by ``<redacted>`` in every body and message it returns.
    """

    async def send(
        self, request: Request, headers: Mapping[str, str], *, timeouts: Timeout | None = None
    ) -> RawResponse:
        """Send one attempt of ``request`` with ``headers`` and read the whole answer;
        ``timeouts`` override the transport's own for this attempt."""
        ...

    async def post_form(
        self,
        url: yarl.URL,
        form: Mapping[str, str],
        *,
        secrets: tuple[str, ...],
        timeouts: Timeout,
    ) -> RawResponse:
        """POST ``form`` (form-encoded) to ``url`` outside the API (OAuth's token endpoint);
        ``secrets`` are redacted from the answer and any error."""
        ...

    async def aclose(self) -> None:
        """Release the connections; safe to call twice."""
        ...
