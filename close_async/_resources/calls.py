"""``close.calls``: the call-activity endpoints (Close API ``/activity/call/``)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Unpack

from .._bulk.run import BulkOptions, BulkRun, Settle
from .._engine.errors import InvalidRequestError
from .._engine.http.request import JSONBody, encode_body
from .._engine.http.response import no_content
from .._types.calls import Call, CallCreate, CallUpdate
from .._types.conversion import call_from_json, create_to_json, update_to_json
from . import bulk_verbs
from . import call_requests as _requests
from .pager import Pager
from .slicer import SliceOptions, paginate_or_slice

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = ["CallsResource"]

_PAGE_LIMIT_MAX = 100  # Close answers 400 to a larger _limit


class CallsResource:
    """Call activities: ``get``, ``list``, ``create``, ``update``, ``delete``, and
    ``update_many``, ``create_many``, ``delete_many``.

    Every method validates its input before sending anything, and takes an optional
    ``deadline`` (seconds, retries included).
    """

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def update(
        self,
        call_id: str,
        update: CallUpdate | Mapping[str, Any],
        *,
        deadline: float | None = None,
    ) -> Call:
        """Update one call (``PUT /activity/call/{id}/``) and return it as Close has it now.

        Only the fields set on ``update`` are sent; a field set to ``None`` is cleared.
        A plain mapping is sent as it is (for keys the model lacks, such as
        ``custom.cf_...``). Retried on 429, 5xx and network faults (PUT is idempotent),
        paced by the limiter.
        """
        request = _requests.update_call(call_id, _body(update, CallUpdate, "update"))
        return await self._requester.request(request, parse=call_from_json, deadline=deadline)

    async def get(self, call_id: str, *, deadline: float | None = None) -> Call:
        """Fetch one call (``GET /activity/call/{id}/``)."""
        request = _requests.get_call(call_id)
        return await self._requester.request(request, parse=call_from_json, deadline=deadline)

    async def create(
        self, create: CallCreate | Mapping[str, Any], *, deadline: float | None = None
    ) -> Call:
        """Log an external call (``POST /activity/call/``); ``create`` may be a mapping.

        Not idempotent: retried only when no connection could be made, so a call is
        never logged twice by close-async.
        """
        request = _requests.create_call(_body(create, CallCreate, "create"))
        return await self._requester.request(request, parse=call_from_json, deadline=deadline)

    async def delete(self, call_id: str, *, deadline: float | None = None) -> None:
        """Delete one call (``DELETE /activity/call/{id}/``)."""
        # Returned, not dropped: under with_raw_response the engine hands back a Response.
        return await self._requester.request(
            _requests.delete_call(call_id), parse=no_content, deadline=deadline
        )

    def list(
        self,
        *,
        lead_id: str | Iterable[str] | None = None,
        contact_id: str | Iterable[str] | None = None,
        user_id: str | Iterable[str] | None = None,
        id__in: Iterable[str] | None = None,
        date_created__gte: datetime | None = None,
        date_created__lte: datetime | None = None,
        date_created__gt: datetime | None = None,
        date_created__lt: datetime | None = None,
        activity_at__gte: datetime | None = None,
        activity_at__lte: datetime | None = None,
        activity_at__gt: datetime | None = None,
        activity_at__lt: datetime | None = None,
        organization_id: str | None = None,
        type: str | Iterable[str] | None = None,
        page_size: int = _PAGE_LIMIT_MAX,
        limit: int | None = None,
        skip: int | None = None,
        sliced: bool | SliceOptions = False,
        deadline: float | None = None,
    ) -> Pager[Call]:
        """Iterate over calls matching the filters, page by page (``_skip``/``_limit``).

        ``limit`` (``_limit``) is the page size, another name for ``page_size``; ``skip``
        (``_skip``) starts the walk that many calls in. Pages are fetched lazily as you
        iterate; ``deadline`` bounds each page's request.
        ``sliced=True`` (or a :class:`SliceOptions`) walks past Close's ``_skip`` cap by
        ``date_created`` windows, as the other typed lists do (not with ``skip``).
        Bad filters raise :class:`InvalidRequestError` here, before anything is sent. A
        page without ``data`` ends the walk; an item that is not a call raises
        :class:`DecodingError` and ends it.
        """
        if limit is not None:
            page_size = limit
        if not isinstance(page_size, int) or not 1 <= page_size <= _PAGE_LIMIT_MAX:
            raise InvalidRequestError(
                f"page_size must be 1..{_PAGE_LIMIT_MAX}, got {page_size!r}", field="page_size"
            )
        filters: dict[str, Any] = {
            "lead_id": lead_id,
            "contact_id": contact_id,
            "user_id": user_id,
            "id__in": id__in,
            "date_created__gte": date_created__gte,
            "date_created__lte": date_created__lte,
            "date_created__gt": date_created__gt,
            "date_created__lt": date_created__lt,
            "activity_at__gte": activity_at__gte,
            "activity_at__lte": activity_at__lte,
            "activity_at__gt": activity_at__gt,
            "activity_at__lt": activity_at__lt,
            "organization_id": organization_id,
            "_type": type,
        }
        # Checked now (paginate checks the rest), so a bad filter is refused before the
        # caller starts iterating.
        if sliced is False:
            paging: dict[str, Any] = {"_skip": skip or 0, "_limit": page_size}
        else:
            # A sliced walk sets _skip itself (and refuses one given), and pages by the
            # slice's page size when it has one.
            own_size = isinstance(sliced, SliceOptions) and sliced.page_size is not None
            paging = {"_skip": skip, "_limit": None if own_size else page_size}
        checked = _requests.call_filters({**filters, **paging})
        return paginate_or_slice(
            self._requester,
            _requests.CALLS_PATH,
            checked,
            sliced,
            parse_item=call_from_json,
            deadline=deadline,
            template=_requests.CALLS_PATH,
            group=_requests.LIST_GROUP,
        )

    def update_many(
        self,
        items: Iterable[tuple[str, CallUpdate | Mapping[str, Any]]]
        | AsyncIterable[tuple[str, CallUpdate | Mapping[str, Any]]],
        **options: Unpack[BulkOptions],
    ) -> BulkRun[Call]:
        """Apply many updates concurrently; the run yields one ``BulkResult[Call]`` per item.

        Streams ``items`` (a sync or async iterable of ``(call_id, CallUpdate)``, or of a
        mapping as :meth:`update` takes), keeps ``concurrency`` updates in flight through
        this client's limiter and retries, and with ``journal`` skips updates that landed
        in an earlier run. ``options``: :class:`BulkOptions`; see :class:`BulkRun`.

        Example::

            async with close.calls.update_many(rows, journal="backfill.journal") as run:
                async for result in run:
                    if not result.ok:
                        print(result.id, result.error)
        """
        return bulk_verbs.update_many(
            self._requester,
            _requests.update_call,
            items,
            options,
            parse=call_from_json,
            to_body=functools.partial(_body, model=CallUpdate, field="update"),
        )

    def create_many(
        self,
        bodies: Iterable[CallCreate | Mapping[str, Any]]
        | AsyncIterable[CallCreate | Mapping[str, Any]],
        *,
        settle: Settle | None = None,
        **options: Unpack[BulkOptions],
    ) -> BulkRun[Call]:
        """Log many external calls concurrently, as :meth:`create` does one; the run
        yields one ``BulkResult[Call]`` per body (``id``: the new call's id).

        A create whose answer was lost after sending is ``state="unknown"`` (with its
        ``body``) unless ``settle`` finds it; see ``create_many`` of the other resources
        and :class:`BulkRun`. ``options``: :class:`BulkOptions`.
        """
        return bulk_verbs.create_many(
            self._requester,
            _requests.create_call,
            bodies,
            options,
            parse=call_from_json,
            settle=settle,
            to_body=functools.partial(_body, model=CallCreate, field="create"),
        )

    def delete_many(
        self, ids: Iterable[str] | AsyncIterable[str], **options: Unpack[BulkOptions]
    ) -> BulkRun[None]:
        """Delete many calls by id concurrently; one ``BulkResult`` per id.
        ``options``: :class:`BulkOptions`."""
        return bulk_verbs.delete_many(self._requester, _requests.delete_call, ids, options)


def _body(body: object, model: type[CallUpdate] | type[CallCreate], field: str) -> JSONBody:
    if isinstance(body, model):
        return encode_body(
            update_to_json(body) if isinstance(body, CallUpdate) else create_to_json(body)
        )
    if isinstance(body, Mapping):
        return encode_body(body, field=field)
    raise InvalidRequestError(
        f"{field} must be a {model.__name__} or a mapping, not {type(body).__name__}",
        field=field,
    )
