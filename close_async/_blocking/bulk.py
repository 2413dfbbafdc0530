"""Bulk verbs on the blocking client: ``update_many``, ``create_many``, ``delete_many``.

Each returns a :class:`BlockingBulkRun`, a context manager over the async
:class:`~close_async.BulkRun` running on the portal's loop: the same engine, journal,
retries and results; only the waiting is done by the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, Unpack

from .._bulk.run import BulkOptions, BulkProgress, BulkResult, BulkRun, Settle
from .stepping import iterate

if TYPE_CHECKING:
    from .._engine.config import Timeout
    from .._resources.bulk_verbs import BulkCreate, BulkDelete, BulkUpdate
    from .portal import Portal

__all__ = ["BlockingBulkCreate", "BlockingBulkDelete", "BlockingBulkRun", "BlockingBulkUpdate"]

M = TypeVar("M")


class BlockingBulkRun(Generic[M]):
    """A running ``update_many``, ``create_many`` or ``delete_many`` of the blocking client:
    an iterator of :class:`~close_async.BulkResult` ``[M]``, one per item.

    Use it in ``with`` (or call :meth:`close`) so an early exit stops the workers::

        with close.calls.update_many(items, journal="run.journal") as run:
            for result in run:
                ...

    The items are sent by the async :class:`~close_async.BulkRun` on the client's loop
    thread; ``on_progress`` is called there too.
    """

    def __init__(self, portal: Portal, run: BulkRun[M]) -> None:
        self._portal = portal
        self._run = run
        # A generator: nothing runs (nothing is sent) until the first result is asked for.
        self._results = iterate(portal, run)

    def __iter__(self) -> Iterator[BulkResult[M]]:
        return self

    def __next__(self) -> BulkResult[M]:
        return next(self._results)

    @property
    def progress(self) -> BulkProgress:
        """A snapshot of the counters."""
        return self._run.progress

    def stop(self) -> None:
        """Stop gracefully: pull no more input; in-flight items get ``stop_timeout``
        seconds to finish, then are cancelled and reported as interrupted."""
        self._portal.run(_on_loop(self._run.stop))

    def close(self) -> None:
        """Stop (gracefully, as :meth:`stop`) and wait for the workers; results not read
        are dropped (the items that landed are in the journal). Safe to call twice."""
        self._portal.run(self._run.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BlockingBulkRun({self._run!r})"


async def _on_loop(function: Callable[[], None]) -> None:
    function()


class BlockingBulkUpdate(Generic[M]):
    """``update_many`` for a blocking group whose async group has it."""

    _portal: Portal
    _resource: Callable[[], BulkUpdate[M]]

    def update_many(
        self,
        items: Iterable[tuple[str, Any]],
        *,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BlockingBulkRun[M]:
        """Apply many updates concurrently: ``items`` yields ``(id, body)`` (a model or a
        mapping), pulled lazily (on the client's loop thread); one
        :class:`~close_async.BulkResult` per item. Updates of one id go in input order;
        ``journal`` skips those that landed in an earlier run.
        ``timeout``, ``extra_headers``, ``extra_query``: the options of each item's
        request, as on a single call (``timeout`` bounds each item's call, not the run);
        ``options``: :class:`~close_async.BulkOptions`."""
        run = self._resource().update_many(
            items,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            **options,
        )
        return BlockingBulkRun(self._portal, run)


class BlockingBulkCreate(Generic[M]):
    """``create_many`` for a blocking group whose async group has it."""

    _portal: Portal
    _resource: Callable[[], BulkCreate[M]]

    def create_many(
        self,
        bodies: Iterable[Any],
        *,
        settle: Settle | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BlockingBulkRun[M]:
        """Create many objects concurrently: ``bodies`` (models or mappings), pulled lazily
        (on the client's loop thread); one :class:`~close_async.BulkResult` per body.

        As the async ``create_many``: an answer lost after sending gives
        ``state="unknown"`` with the ``body``, never a silent second send; ``settle`` (an
        async callable, run on the loop thread) is asked about each such create; with
        ``journal``, a resume skips landed creates. ``options``:
        :class:`~close_async.BulkOptions`."""
        run = self._resource().create_many(
            bodies,
            settle=settle,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            **options,
        )
        return BlockingBulkRun(self._portal, run)


class BlockingBulkDelete:
    """``delete_many`` for a blocking group whose async group has it."""

    _portal: Portal
    _resource: Callable[[], BulkDelete]

    def delete_many(
        self,
        ids: Iterable[str],
        *,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BlockingBulkRun[None]:
        """Delete many objects by id concurrently, ids pulled lazily (on the client's loop
        thread); one :class:`~close_async.BulkResult` per id. ``options``:
        :class:`~close_async.BulkOptions`."""
        run = self._resource().delete_many(
            ids,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            **options,
        )
        return BlockingBulkRun(self._portal, run)
