"""Sync iteration over an async iterator that lives on the portal's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from .portal import Portal

__all__ = ["iterate"]

T = TypeVar("T")

_END: Any = object()


async def _next(source: AsyncIterator[T]) -> T:
    try:
        return await anext(source)
    except StopAsyncIteration:
        # A sentinel, not the exception: it would cross the thread boundary on every walk.
        return _END  # type: ignore[no-any-return]


def iterate(portal: Portal, source: AsyncIterator[T]) -> Iterator[T]:
    """The items of ``source``, each fetched on the loop when the caller asks for it.

    Breaking out early (or closing the iterator) closes ``source`` on the loop, so a
    download or a page walk left half-way holds no connection.
    """
    finished = False
    try:
        while True:
            item = portal.run(_next(source))
            if item is _END:
                finished = True
                return
            yield item
    finally:
        close = getattr(source, "aclose", None)
        if not finished and close is not None:
            portal.finish(close())
