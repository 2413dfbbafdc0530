"""``update_many``, ``create_many`` and ``delete_many``: each resource's methods, in bulk.

The generator makes a resource inherit the mixin of each single-object operation it has
(``create``, ``update``, ``delete``), typed by the model Close answers with
(``BulkUpdate[Lead]``), and writes two hooks per verb: ``_update_request``, the request its
``update`` sends, built without sending it, and ``_update_answer``, its reader of Close's
answer. Each mixin hands them to the one bulk engine (:class:`~close_async.BulkRun`): a
bulk item is built exactly like a single call, checked once before anything is sent, sent
unparsed, and read only when its result's ``object`` is asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack

from .._bulk.run import BulkOptions, BulkRun, InDoubt, Prepared, Settle
from .._engine.config import Timeout
from .._engine.errors import ClientValidationError
from .._engine.http.request import JSONBody, Request, encode_body
from .._engine.http.response import no_content
from .._engine.options import call_options
from .._engine.requester import with_call_options

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = [
    "BulkCreate",
    "BulkDelete",
    "BulkUpdate",
    "create_many",
    "delete_many",
    "update_many",
]

M = TypeVar("M")

Parse = Callable[[Any], M]
"""A resource's reader of Close's answer (decoded JSON) into its model."""


def _item_requester(
    requester: Requester,
    timeout: float | Timeout | None,
    extra_headers: Mapping[str, str | None] | None,
    extra_query: Mapping[str, object] | None,
) -> Requester:
    # Worked out once per run (checked before anything is sent), then given to every item.
    options = call_options(requester.options, timeout, extra_headers, extra_query)
    return with_call_options(requester, options)


def _item_error(index: int, exc: ClientValidationError) -> ClientValidationError:
    # An item's id is checked once, where its request's builder puts it into the path (the
    # operation's rule, such as a call id's, or else the one-segment rule of every path's
    # id), before anything is sent: an id such as "../user" is the item's own problem. So a
    # request built is an id checked; a refusal names the item.
    return ClientValidationError(f"item {index}: {exc}", field=exc.field)


def update_many(
    requester: Requester,
    build: Callable[[str, JSONBody], Request],
    items: Iterable[Any] | AsyncIterable[Any],
    options: BulkOptions,
    *,
    parse: Parse[M],
) -> BulkRun[M]:
    """A :class:`BulkRun` sending ``build(id, body)`` for each ``(id, body)`` of ``items``."""

    def prepare(index: int, item: Any) -> Prepared:
        try:
            object_id, body = item
        except (TypeError, ValueError):
            raise ClientValidationError(
                f"item {index}: expected an (id, body) pair, got {type(item).__name__}",
                field="item",
            ) from None
        # Checked and encoded once: the run keeps its value, the request sends its bytes.
        sent = encode_body(body)
        try:
            request = build(object_id, sent)
        except ClientValidationError as exc:
            raise _item_error(index, exc) from None
        return Prepared(object_id, sent.value, request)

    return BulkRun(requester, items, prepare=prepare, kind="update", parse=parse, **options)


def create_many(
    requester: Requester,
    build: Callable[[JSONBody], Request],
    bodies: Iterable[Any] | AsyncIterable[Any],
    options: BulkOptions,
    *,
    parse: Parse[M],
    settle: Settle | None,
) -> BulkRun[M]:
    """A :class:`BulkRun` sending ``build(body)`` for each of ``bodies``."""

    def prepare(index: int, item: Any) -> Prepared:
        in_doubt = isinstance(item, InDoubt)
        sent = encode_body(item.body if in_doubt else item)
        return Prepared("", sent.value, build(sent), in_doubt=in_doubt)

    return BulkRun(
        requester, bodies, prepare=prepare, kind="create", parse=parse, settle=settle, **options
    )


def delete_many(
    requester: Requester,
    build: Callable[[str], Request],
    ids: Iterable[str] | AsyncIterable[str],
    options: BulkOptions,
) -> BulkRun[None]:
    """A :class:`BulkRun` sending ``build(id)`` for each of ``ids``."""

    def prepare(index: int, item: Any) -> Prepared:
        try:
            request = build(item)
        except ClientValidationError as exc:
            raise _item_error(index, exc) from None
        return Prepared(item, None, request)

    return BulkRun(requester, ids, prepare=prepare, kind="delete", parse=no_content, **options)


class BulkUpdate(Generic[M]):
    """``update_many`` for a resource with ``update(id, body)`` answering an ``M``."""

    _requester: Requester
    # Written by the generated resource: the request its update sends; its answer's reader.
    _update_request: Callable[[str, Any], Request]
    _update_answer: Callable[[Any], M]

    def update_many(
        self,
        items: Iterable[tuple[str, Any]] | AsyncIterable[tuple[str, Any]],
        *,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[M]:
        """Apply many updates concurrently: ``items`` yields ``(id, body)`` (a model or a
        mapping), pulled lazily; one :class:`~close_async.BulkResult` per item, its
        ``object`` read on first access. Updates of one id go in input order; ``journal``
        skips those that landed in an earlier run.
        ``timeout``, ``extra_headers``, ``extra_query``: the options of each item's
        request, as on a single call (``timeout`` bounds each item's call, not the run);
        ``options``: :class:`~close_async.BulkOptions`."""
        requester = _item_requester(self._requester, timeout, extra_headers, extra_query)
        return update_many(
            requester, self._update_request, items, options, parse=self._update_answer
        )


class BulkCreate(Generic[M]):
    """``create_many`` for a resource with ``create(body)`` answering an ``M``."""

    _requester: Requester
    # Written by the generated resource: the request its create sends; its answer's reader.
    _create_request: Callable[[Any], Request]
    _create_answer: Callable[[Any], M]

    def create_many(
        self,
        bodies: Iterable[Any] | AsyncIterable[Any],
        *,
        settle: Settle | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[M]:
        """Create many objects concurrently: ``bodies`` (models or mappings), pulled lazily;
        one :class:`~close_async.BulkResult` per body (``id``: the new object's).

        POST is not idempotent: an answer lost after sending (5xx, reset, timeout) gives
        ``state="unknown"`` with the ``body``, never a silent second send. ``settle``
        (an async callable: body -> the existing object or its id, or ``None``) is asked
        about each such create, here and on a resume; only what it reports absent is sent
        again. With ``journal``, each create is recorded before it is sent; a resume (the
        same input, in the same order) skips landed ones and reports, or settles, the rest.
        A body wrapped in :class:`~close_async.InDoubt` (an earlier run's unknown create)
        is settled before it is sent, never sent on a guess.
        ``timeout``, ``extra_headers``, ``extra_query``: the options of each item's
        request, as on a single call (``timeout`` bounds each item's call, not the run);
        ``options``: :class:`~close_async.BulkOptions`. See
        :func:`~close_async.settle_by_custom_field`.
        """
        return create_many(
            _item_requester(self._requester, timeout, extra_headers, extra_query),
            self._create_request,
            bodies,
            options,
            parse=self._create_answer,
            settle=settle,
        )


class BulkDelete:
    """``delete_many`` for a resource with ``delete(id)`` (Close answers nothing)."""

    _requester: Requester
    _delete_request: Callable[[str], Request]  # written by the generated resource

    def delete_many(
        self,
        ids: Iterable[str] | AsyncIterable[str],
        *,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[None]:
        """Delete many objects by id concurrently, ids pulled lazily; one
        :class:`~close_async.BulkResult` per id. ``timeout``, ``extra_headers``,
        ``extra_query``: the options of each item's request, as on a single call
        (``timeout`` bounds each item's call, not the run);
        ``options``: :class:`~close_async.BulkOptions`."""
        requester = _item_requester(self._requester, timeout, extra_headers, extra_query)
        return delete_many(requester, self._delete_request, ids, options)
