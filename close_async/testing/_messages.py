"""The fake Close's core speaks in these plain values, not in aiohttp's: a
:class:`FakeRequest` in, a :class:`FakeAnswer` out. The aiohttp server builds the one from
the wire and writes the other back; a test can build them by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import attrs
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

__all__ = ["FakeAnswer", "FakeRequest", "Fate"]

Fate = Literal["reset", "dropped"]
"""What happens to the connection instead of an answer: reset (TCP RST, nothing applied) or
dropped (closed after the operation was applied)."""


def _query(value: Mapping[str, str] | str) -> MultiDictProxy[str]:
    if isinstance(value, MultiDictProxy):
        return value  # aiohttp's own, read-only already: no copy on the hot path
    pairs = parse_qsl(value, keep_blank_values=True) if isinstance(value, str) else value.items()
    return MultiDictProxy(MultiDict(pairs))


def _headers(value: Mapping[str, str]) -> CIMultiDictProxy[str]:
    if isinstance(value, CIMultiDictProxy):
        return value
    return CIMultiDictProxy(CIMultiDict(value))


def _encoded(query: Mapping[str, str]) -> str:
    return urlencode(list(query.items()))


@attrs.frozen
class FakeRequest:
    """One API request: ``method``, ``path`` (``/api/v1/lead/``), ``query`` (a mapping, or
    the raw query string), ``headers``, ``body`` (decoded JSON, ``None`` when absent,
    :data:`._responses.BAD_JSON` when not JSON), the ``origin`` it was sent to
    (``http://127.0.0.1:8765``: download links are made from it) and ``arrived``
    (``time.monotonic()``; ``None``: when handled).
    """

    method: str
    path: str
    query: MultiDictProxy[str] = attrs.field(factory=lambda: _query({}), converter=_query)
    headers: CIMultiDictProxy[str] = attrs.field(factory=lambda: _headers({}), converter=_headers)
    body: Any = None
    origin: str = "http://fake-close"
    arrived: float | None = None
    query_string: str = attrs.field(
        default=attrs.Factory(lambda self: urlencode(list(self.query.items())), takes_self=True)
    )

    def served_as(self, method: str, query: Mapping[str, str]) -> FakeRequest:
        """This request as another method with another query (a method override)."""
        return attrs.evolve(
            self, method=method, query=query, query_string=urlencode(list(query.items()))
        )


@attrs.frozen
class FakeAnswer:
    """The core's answer: ``status``, ``body`` bytes, ``content_type`` and ``headers``, to be
    sent after waiting ``delay`` seconds (a slow answer); or, when ``fate`` is set, no
    answer at all (the connection is reset or dropped).
    """

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    fate: Fate | None = None
