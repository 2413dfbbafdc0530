"""Sync iteration over an async iterator that lives on the portal's loop.

A loop round trip (hand a coroutine to the loop thread, wait for its answer) costs far more
than handing out one item, so each trip takes every item that is already at hand: all
those the source can give without waiting for anything (``ready``), and always at least
one. Which items those are is the source's business; the items themselves still come from
the source's own ``__anext__``, one at a time and in order, so its rules (a limit, an item
that cannot be parsed, the end of the walk) hold unchanged, and no item is asked for that
would send a request the caller may never need.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

from .portal import Portal

__all__ = ["Stepper", "iterate"]

T = TypeVar("T")

# The most items one round trip takes, so a source always at hand (a download being read)
# hands its first items over without waiting for the rest of the file.
BATCH = 256


def one_at_a_time() -> bool:
    """A source of which nothing is known: every item is a round trip of its own."""
    return False


class _Batch(Generic[T]):
    """What one round trip brought back: items, then perhaps the error that came after them,
    or the end of the source."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self.error: Exception | None = None
        self.over = False


async def _take(source: AsyncIterator[T], ready: Callable[[], bool]) -> _Batch[T]:
    # Runs on the loop thread, as the source's own methods and ``ready`` must.
    batch: _Batch[T] = _Batch()
    try:
        batch.items.append(await anext(source))
        while len(batch.items) < BATCH and ready():
            batch.items.append(await anext(source))
    except StopAsyncIteration:
        batch.over = True
    except Exception as exc:
        if not batch.items:
            raise
        # The items before it are handed out first, as the async source gives them.
        batch.error = exc
    return batch


class Stepper(Generic[T]):
    """The items of ``source``, fetched on the loop as the caller asks for them, every
    item at hand in one round trip (``ready``: whether the source's next item is, without
    waiting for a request; called on the loop thread).

    Iterating it again continues where it stopped, as an async iterator does.
    """

    def __init__(
        self,
        portal: Portal,
        source: AsyncIterator[T],
        ready: Callable[[], bool] = one_at_a_time,
    ) -> None:
        self._portal = portal
        self._source = source
        self._ready = ready
        self._items: deque[T] = deque()
        self._error: Exception | None = None
        self._over = False

    @property
    def source(self) -> AsyncIterator[T]:
        """The async iterator stepped through."""
        return self._source

    @property
    def over(self) -> bool:
        """Whether the source has given its last item."""
        return self._over

    def __iter__(self) -> Stepper[T]:
        return self

    def __next__(self) -> T:
        if not self._items:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._over:
                raise StopIteration
            batch = self._portal.run(_take(self._source, self._ready))
            self._items.extend(batch.items)
            # The batch's frame lives on in an error's traceback: let go of its items there.
            batch.items.clear()
            self._error, self._over = batch.error, batch.over
            if not self._items:
                raise StopIteration
        return self._items.popleft()


def iterate(
    portal: Portal, source: AsyncIterator[T], ready: Callable[[], bool] = one_at_a_time
) -> Iterator[T]:
    """The items of ``source`` (see :class:`Stepper`), as a generator.

    Breaking out early (or closing the generator) closes ``source`` on the loop, so a
    download or a page walk left half-way holds no connection.
    """
    steps = Stepper(portal, source, ready)
    try:
        yield from steps
    finally:
        close = getattr(source, "aclose", None)
        if not steps.over and close is not None:
            portal.finish(close())
