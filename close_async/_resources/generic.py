"""Generic verbs: any endpoint of Close's API through the engine, untyped.

``close.get("lead/lead_x/")``, ``close.post("lead/", json={...})``, ``close.put(...)``,
``close.delete(...)``, ``close.request(method, path, ...)``: the same limiter, retries,
errors, timeouts and stats as ``close.calls``. Paths are checked
(:func:`~close_async._engine.http.paths.check_path`); ids go in through ``path_params``
(``close.get("lead/{lead_id}/", path_params={"lead_id": lead_id})``), each checked as one
path segment, so no caller's value can reach another endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._engine.http.paths import check_path, path_template, render_path
from .._engine.http.request import build_request
from .pager import Page, Pager, fetch_page, paginate
from .search import search

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = ["GenericVerbs"]


def _checked_path(path: str, path_params: Mapping[str, object] | None) -> tuple[str, str | None]:
    """The concrete path, and its template when ``path_params`` filled one in (the page
    requests' group comes from it, as :func:`build_request`'s does)."""
    if path_params:
        return render_path(path, path_params), path_template(path)
    return check_path(path), None


class GenericVerbs:
    """The generic verbs, on the client and on every view of it (``with_options``).

    Each returns the decoded JSON of Close's answer (``{}`` for an empty body) and raises a
    :class:`~close_async.CloseError` as the typed methods do.
    """

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        path_params: Mapping[str, object] | None = None,
        idempotent: bool | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Send ``method path`` through the engine; return the decoded JSON.

        ``path`` is relative to the base URL, with or without the leading slash
        (``"/lead/lead_x/"`` or ``"lead/lead_x/"``; the trailing one is added). ``params``:
        the query (``None`` values left out, lists comma-joined, dates in ISO 8601).
        ``json``: the body. ``path_params`` fill ``{name}`` placeholders in ``path``, each
        checked as one path segment. ``idempotent``: whether sending it twice is harmless,
        which decides retries on 5xx and dropped connections; by default true for GET, PUT
        and DELETE and the POSTs that only read (``data/search/``, reports), false for other
        POSTs, which are then retried only when they cannot have reached Close.
        ``deadline`` bounds the whole call, retries included.
        """
        built = build_request(
            method,
            path,
            path_params=path_params,
            params=params,
            body=json,
            body_field="json",
            objects_only=False,
            idempotent=idempotent,
        )
        return await self._requester.request(built, deadline=deadline)

    async def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """``GET path``; return the decoded JSON. A URL past 2,000 characters (a long
        ``id__in``) is sent as a ``POST`` with ``X-HTTP-Method-Override: GET``, by itself.

        Example: ``lead = await close.get("lead/{id}/", path_params={"id": lead_id})``.
        """
        return await self.request(
            "GET", path, params=params, path_params=path_params, deadline=deadline
        )

    async def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        idempotent: bool | None = None,
        deadline: float | None = None,
    ) -> Any:
        """``POST path`` with ``json``; return the decoded JSON.

        A POST that may have reached Close is not retried (it could create twice), unless
        it only reads (``data/search/``, reports) or you pass ``idempotent=True``.
        """
        return await self.request(
            "POST",
            path,
            params=params,
            json=json,
            path_params=path_params,
            idempotent=idempotent,
            deadline=deadline,
        )

    async def put(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """``PUT path`` with ``json`` (Close reads a PUT as a patch); return the decoded JSON."""
        return await self.request(
            "PUT", path, params=params, json=json, path_params=path_params, deadline=deadline
        )

    async def delete(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """``DELETE path``; return the decoded JSON (Close answers ``{}``)."""
        return await self.request(
            "DELETE", path, params=params, path_params=path_params, deadline=deadline
        )

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        deadline: float | None = None,
    ) -> Pager[Any]:
        """Every item of the list at ``path``, page by page: ``async for item in ...``.

        The paging style is read from the first answer: ``_skip``/``_limit`` with
        ``has_more`` (most lists), or the event log's ``_cursor`` with ``cursor_next``.
        The first request sends exactly ``params``; pages are fetched lazily, so breaking
        out leaves nothing in flight. A page without ``data`` ends the walk quietly.
        ``deadline`` bounds each page's request.

        Example::

            async for event in close.paginate("event/", params={"object_type": "lead"}):
                ...
        """
        checked, template = _checked_path(path, path_params)
        return paginate(self._requester, checked, params, deadline=deadline, template=template)

    async def get_page(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        deadline: float | None = None,
    ) -> Page[Any]:
        """One page of the list at ``path``, for paging on demand.

        The :class:`Page` has ``data``, ``has_more``, ``cursor`` and ``next_params``: pass
        ``next_params`` as ``params`` to get the next page (``None`` at the end).
        """
        checked, template = _checked_path(path, path_params)
        return await fetch_page(
            self._requester, checked, params or {}, deadline=deadline, template=template
        )

    def search(
        self,
        query: Mapping[str, Any],
        *,
        fields: Mapping[str, Sequence[str]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        deadline: float | None = None,
    ) -> Pager[Any]:
        """Every object an Advanced Filtering ``query`` matches (``POST data/search/``).

        Follows the ``cursor`` in each answer until it is null. ``fields`` maps an object
        type to the fields wanted (``{"lead": ["id", "display_name"]}``); ``sort`` is a
        list of Close sort objects; ``limit`` stops after that many results (sent as
        ``results_limit``); ``page_size`` is each page's ``_limit`` (at most 200). A read:
        retried like a GET. Arguments are checked before anything is sent.
        """
        return search(
            self._requester,
            query,
            fields=fields,
            sort=sort,
            limit=limit,
            page_size=page_size,
            deadline=deadline,
        )
