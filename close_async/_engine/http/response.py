"""Raw responses: ``close.with_raw_response.<verb or method>(...)`` returns one.

A view whose options say ``raw`` (:class:`~close_async._engine.options.RequestOptions`)
gets a :class:`Response` from the engine for each request (status, headers, rate-limit
facts, and the method's usual result through :meth:`Response.parse`) instead of the
parsed result. The switch travels with the view's requests, so no other call, concurrent
or nested, ever sees it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from ..ratelimit.info import RateLimitInfo
from .request import Request

__all__ = ["Response", "no_content", "parsed_with"]

T = TypeVar("T")
U = TypeVar("U")


class Response(Generic[T]):
    """One answer from Close, as it came, with the parsed result one call away.

    ``close.with_raw_response.leads.get(lead_id)`` gives a ``Response[Lead]``; a list
    (``close.with_raw_response.leads.list()``) its first page's, a ``Response[Page[Lead]]``.
    ``status_code``; ``headers`` (a case-insensitive mapping); ``rate_limit``, what Close
    said about the budget (:class:`RateLimitInfo`, or ``None`` when it said nothing);
    ``content`` (the body's bytes) and ``text``; ``method`` and ``path`` of the request.
    :meth:`parse` returns what the plain call returns (a ``Call``, the decoded JSON, a
    ``Page``, ...), typed ``T``.
    """

    __slots__ = (
        "_decoded",
        "_parse",
        "content",
        "headers",
        "method",
        "path",
        "rate_limit",
        "status_code",
    )

    def __init__(
        self,
        *,
        request: Request,
        status_code: int,
        headers: Mapping[str, str],
        rate_limit: RateLimitInfo | None,
        content: bytes,
        decoded: Any,
        parse: Callable[[Any], T],
    ) -> None:
        self.method: str = request.method
        self.path: str = request.path
        self.status_code: int = status_code
        self.headers: Mapping[str, str] = headers
        self.rate_limit: RateLimitInfo | None = rate_limit
        self.content: bytes = content
        self._decoded = decoded
        self._parse = parse

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The decoded JSON body (``{}`` for an empty one), as the engine read it."""
        return self._decoded

    def parse(self) -> T:
        """What the plain call would have returned; the body is already read."""
        return self._parse(self._decoded)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}] {self.method} {self.path}>"


def no_content(value: Any) -> None:
    """The parse of an operation that returns nothing (204, or ``{}`` for a delete)."""
    return None


def parsed_with(response: Response[T], then: Callable[[T], U]) -> Response[U]:
    """``response`` whose :meth:`~Response.parse` goes on with ``then`` (still on demand):
    a list's first page read into a typed :class:`~close_async.Page`."""
    first = response._parse
    shaped: Response[Any] = copy.copy(response)
    shaped._parse = lambda decoded: then(first(decoded))
    return shaped
