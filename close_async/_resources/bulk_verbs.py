"""``update_many``, ``create_many`` and ``delete_many`` for the generated resources.

The generator makes a resource inherit the mixin of each single-object operation it has
(``create``, ``update``, ``delete``); each mixin hands the resource's own method to the one
bulk engine (:class:`~close_async.BulkRun`), so a bulk item is sent, parsed and retried
exactly like a single call.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from os import PathLike
from typing import TYPE_CHECKING, Any

from .._bulk.run import BulkProgress, BulkResult, BulkRun, Prepared, Settle
from .._engine.errors import InvalidRequestError
from .operation import body_json

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = ["BulkCreate", "BulkDelete", "BulkUpdate"]


class _Bulk:
    _requester: Requester

    def _run(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        prepare: Callable[[int, Any], Prepared],
        options: dict[str, Any],
        **extra: Any,
    ) -> BulkRun[BulkResult]:
        return BulkRun(self._requester, items, prepare=prepare, **options, **extra)


class BulkUpdate(_Bulk):
    """``update_many`` for a resource with ``update(id, body)``."""

    update: Callable[..., Awaitable[Any]]

    def update_many(
        self,
        items: Iterable[tuple[str, Any]] | AsyncIterable[tuple[str, Any]],
        *,
        concurrency: int = 32,
        journal: str | PathLike[str] | None = None,
        ordered: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
        stop_timeout: float = 30.0,
    ) -> BulkRun[BulkResult]:
        """Apply many updates concurrently: ``items`` yields ``(id, body)`` (a model or a
        mapping), pulled lazily; one :class:`~close_async.BulkResult` per item. Updates of
        one id go in input order; ``journal`` skips those that landed in an earlier run.
        See :class:`~close_async.BulkRun` for the options."""
        update = self.update

        def prepare(index: int, item: Any) -> Prepared:
            try:
                object_id, body = item
            except (TypeError, ValueError):
                raise InvalidRequestError(
                    f"item {index}: expected an (id, body) pair, got {type(item).__name__}",
                    field="item",
                ) from None
            if not isinstance(object_id, str) or not object_id:
                raise InvalidRequestError(f"item {index}: the id must be a string", field="id")
            sent = body_json(body, field="body")
            return Prepared(object_id, sent, functools.partial(update, object_id, sent))

        options = _options(concurrency, journal, ordered, on_progress, stop_timeout)
        return self._run(items, prepare, options, kind="update")


class BulkCreate(_Bulk):
    """``create_many`` for a resource with ``create(body)``."""

    create: Callable[..., Awaitable[Any]]

    def create_many(
        self,
        bodies: Iterable[Any] | AsyncIterable[Any],
        *,
        settle: Settle | None = None,
        concurrency: int = 32,
        journal: str | PathLike[str] | None = None,
        ordered: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
        stop_timeout: float = 30.0,
    ) -> BulkRun[BulkResult]:
        """Create many objects concurrently: ``bodies`` (models or mappings), pulled lazily.

        POST is not idempotent: an answer lost after sending (5xx, reset, timeout) gives
        ``state="unknown"`` with the ``body``, never a silent second send. ``settle``
        (an async callable: body -> the existing object or its id, or ``None``) is asked
        about each such create, here and on a resume; only what it reports absent is sent
        again. With ``journal``, each create is recorded before it is sent; a resume (the
        same input, in the same order) skips landed ones and reports, or settles, the rest.
        See :func:`~close_async.settle_by_custom_field` and :class:`~close_async.BulkRun`.
        """
        create = self.create

        def prepare(index: int, item: Any) -> Prepared:
            sent = body_json(item, field="body")
            return Prepared("", sent, functools.partial(create, sent))

        options = _options(concurrency, journal, ordered, on_progress, stop_timeout)
        return self._run(bodies, prepare, options, kind="create", settle=settle)


class BulkDelete(_Bulk):
    """``delete_many`` for a resource with ``delete(id)``."""

    delete: Callable[..., Awaitable[Any]]

    def delete_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        concurrency: int = 32,
        journal: str | PathLike[str] | None = None,
        ordered: bool = False,
        on_progress: Callable[[BulkProgress], None] | None = None,
        stop_timeout: float = 30.0,
    ) -> BulkRun[BulkResult]:
        """Delete many objects by id concurrently, ids pulled lazily; one
        :class:`~close_async.BulkResult` per id. See :class:`~close_async.BulkRun`."""
        delete = self.delete

        def prepare(index: int, item: Any) -> Prepared:
            if not isinstance(item, str) or not item:
                raise InvalidRequestError(f"item {index}: the id must be a string", field="id")
            return Prepared(item, None, functools.partial(delete, item))

        options = _options(concurrency, journal, ordered, on_progress, stop_timeout)
        return self._run(ids, prepare, options, kind="delete")


def _options(
    concurrency: int,
    journal: str | PathLike[str] | None,
    ordered: bool,
    on_progress: Callable[[BulkProgress], None] | None,
    stop_timeout: float,
) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "journal": journal,
        "ordered": ordered,
        "on_progress": on_progress,
        "stop_timeout": stop_timeout,
    }
