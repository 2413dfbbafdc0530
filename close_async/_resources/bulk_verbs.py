"""``update_many``, ``create_many`` and ``delete_many``: each resource's methods, in bulk.

The generator makes a resource inherit the mixin of each single-object operation it has
(``create``, ``update``, ``delete``), ``close.calls`` among them. Each hands the resource's
own method to the one bulk engine (:class:`~close_async.BulkRun`), so a bulk item is sent,
parsed and retried exactly like a single call, and checked once, before anything is sent.

A group whose ``_bulk_result`` reads Close's answer only when asked (``close.calls``:
:class:`~close_async.UpdateResult`) sends through the same request builder as its method
(``_update_request``, ``_create_request``) but leaves the answer unparsed, so a backfill
that never looks at the answers pays nothing to decode them.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack

from .._bulk.run import BulkOptions, BulkResult, BulkRun, InDoubt, Prepared, Settle, UpdateResult
from .._engine.errors import InvalidRequestError
from .._engine.http.paths import path_segment
from .._engine.http.request import JSONBody, encode_body

if TYPE_CHECKING:
    from .._engine.http.request import Request
    from .._engine.requester import Requester

__all__ = [
    "BulkCreate",
    "BulkDelete",
    "BulkUpdate",
    "create_many",
    "delete_many",
    "update_many",
]

_R = TypeVar("_R", bound=BulkResult)

ToBody = Callable[[Any], JSONBody]
"""Checks one item's body (the resource's model or a mapping) and encodes it, once: the
run keeps its ``value``, the request sends its bytes."""


def _checked_id(index: int, object_id: object) -> str:
    # Checked here, before anything is sent, by the rule every path's id meets (a string,
    # not empty, one segment): an id such as "../user" is the item's own problem, never sent.
    try:
        return path_segment(object_id, field="id")
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"item {index}: {exc}", field="id") from None


def update_many(
    requester: Requester,
    update: Callable[[str, Any], Awaitable[Any]],
    items: Iterable[Any] | AsyncIterable[Any],
    options: BulkOptions,
    *,
    result_type: type[_R],
    to_body: ToBody = encode_body,
) -> BulkRun[_R]:
    """A :class:`BulkRun` sending ``update(id, body)`` for each ``(id, body)`` of ``items``."""

    def prepare(index: int, item: Any) -> Prepared:
        try:
            object_id, body = item
        except (TypeError, ValueError):
            raise InvalidRequestError(
                f"item {index}: expected an (id, body) pair, got {type(item).__name__}",
                field="item",
            ) from None
        checked_id = _checked_id(index, object_id)
        sent = to_body(body)
        return Prepared(checked_id, sent.value, functools.partial(update, checked_id, sent))

    return BulkRun(
        requester, items, prepare=prepare, kind="update", result_type=result_type, **options
    )


def create_many(
    requester: Requester,
    create: Callable[[Any], Awaitable[Any]],
    bodies: Iterable[Any] | AsyncIterable[Any],
    options: BulkOptions,
    *,
    settle: Settle | None,
    result_type: type[_R],
    to_body: ToBody = encode_body,
) -> BulkRun[_R]:
    """A :class:`BulkRun` sending ``create(body)`` for each of ``bodies``."""

    def prepare(index: int, item: Any) -> Prepared:
        in_doubt = isinstance(item, InDoubt)
        sent = to_body(item.body if in_doubt else item)
        return Prepared("", sent.value, functools.partial(create, sent), in_doubt=in_doubt)

    return BulkRun(
        requester,
        bodies,
        prepare=prepare,
        kind="create",
        settle=settle,
        result_type=result_type,
        **options,
    )


def delete_many(
    requester: Requester,
    delete: Callable[[str], Awaitable[Any]],
    ids: Iterable[str] | AsyncIterable[str],
    options: BulkOptions,
    *,
    result_type: type[_R],
) -> BulkRun[_R]:
    """A :class:`BulkRun` sending ``delete(id)`` for each of ``ids``."""

    def prepare(index: int, item: Any) -> Prepared:
        checked_id = _checked_id(index, item)
        return Prepared(checked_id, None, functools.partial(delete, checked_id))

    return BulkRun(
        requester, ids, prepare=prepare, kind="delete", result_type=result_type, **options
    )


class BulkUpdate(Generic[_R]):
    """``update_many`` for a resource with ``update(id, body)``."""

    _requester: Requester
    _bulk_result: type[_R]
    update: Callable[..., Awaitable[Any]]
    _update_request: Callable[..., Request]

    async def _update_unparsed(self, object_id: str, body: Any) -> Any:
        return await self._requester.request(self._update_request(object_id, body))

    def update_many(
        self,
        items: Iterable[tuple[str, Any]] | AsyncIterable[tuple[str, Any]],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[_R]:
        """Apply many updates concurrently: ``items`` yields ``(id, body)`` (a model or a
        mapping), pulled lazily; one :class:`~close_async.BulkResult` per item. Updates of
        one id go in input order; ``journal`` skips those that landed in an earlier run.
        ``options``: :class:`~close_async.BulkOptions`."""
        send = self._update_unparsed if self._bulk_result is UpdateResult else self.update
        return update_many(self._requester, send, items, options, result_type=self._bulk_result)


class BulkCreate(Generic[_R]):
    """``create_many`` for a resource with ``create(body)``."""

    _requester: Requester
    _bulk_result: type[_R]
    create: Callable[..., Awaitable[Any]]
    _create_request: Callable[..., Request]

    async def _create_unparsed(self, body: Any) -> Any:
        return await self._requester.request(self._create_request(body))

    def create_many(
        self,
        bodies: Iterable[Any] | AsyncIterable[Any],
        *,
        settle: Settle | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[_R]:
        """Create many objects concurrently: ``bodies`` (models or mappings), pulled lazily.

        POST is not idempotent: an answer lost after sending (5xx, reset, timeout) gives
        ``state="unknown"`` with the ``body``, never a silent second send. ``settle``
        (an async callable: body -> the existing object or its id, or ``None``) is asked
        about each such create, here and on a resume; only what it reports absent is sent
        again. With ``journal``, each create is recorded before it is sent; a resume (the
        same input, in the same order) skips landed ones and reports, or settles, the rest.
        A body wrapped in :class:`~close_async.InDoubt` (an earlier run's unknown create)
        is settled before it is sent, never sent on a guess.
        ``options``: :class:`~close_async.BulkOptions`. See
        :func:`~close_async.settle_by_custom_field`.
        """
        send = self._create_unparsed if self._bulk_result is UpdateResult else self.create
        return create_many(
            self._requester, send, bodies, options, settle=settle, result_type=self._bulk_result
        )


class BulkDelete(Generic[_R]):
    """``delete_many`` for a resource with ``delete(id)``."""

    _requester: Requester
    _bulk_result: type[_R]
    delete: Callable[..., Awaitable[Any]]

    def delete_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[_R]:
        """Delete many objects by id concurrently, ids pulled lazily; one
        :class:`~close_async.BulkResult` per id. ``options``: :class:`~close_async.BulkOptions`."""
        return delete_many(
            self._requester, self.delete, ids, options, result_type=self._bulk_result
        )
