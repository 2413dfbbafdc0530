"""The generic verbs of the blocking client and its views: each the async verb, waited for."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .pager import BlockingPager

if TYPE_CHECKING:
    from .._engine.config import Timeout
    from .._resources.generic import GenericVerbs
    from .._resources.pager import Page
    from .._resources.slicer import SliceOptions
    from .portal import Portal

__all__ = ["BlockingGenericVerbs"]


class BlockingGenericVerbs:
    """``request``, ``get``, ``post``, ``put``, ``delete``, ``paginate``, ``get_page`` and
    ``search``: those of :class:`~close_async.CloseClient`, blocking until Close answers.

    The verbs return the decoded JSON of Close's answer, ``paginate`` and ``search`` a
    :class:`~close_async.BlockingPager`, ``get_page`` a :class:`~close_async.Page`; each
    raises the same :class:`~close_async.CloseError` s and takes the same per-call options
    (``timeout``, ``extra_headers``, ``extra_query``).
    """

    _portal: Portal
    _surface: Callable[[], GenericVerbs]

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        path_params: Mapping[str, object] | None = None,
        idempotent: bool | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Any:
        """Send any request (``method`` and ``path`` relative to the base URL), retried as
        ``method`` allows (``idempotent=True`` lets a POST be retried too)."""
        return self._portal.run(
            self._surface().request(
                method,
                path,
                params=params,
                json=json,
                path_params=path_params,
                idempotent=idempotent,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Any:
        """``GET path``: ``close.get("lead/{id}/", path_params={"id": lead_id})``."""
        return self._portal.run(
            self._surface().get(
                path,
                params=params,
                path_params=path_params,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        idempotent: bool | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Any:
        """``POST path`` with ``json``; not retried once sent unless ``idempotent=True``."""
        return self._portal.run(
            self._surface().post(
                path,
                json=json,
                params=params,
                path_params=path_params,
                idempotent=idempotent,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def put(
        self,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Any:
        """``PUT path`` with ``json``."""
        return self._portal.run(
            self._surface().put(
                path,
                json=json,
                params=params,
                path_params=path_params,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def delete(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Any:
        """``DELETE path``."""
        return self._portal.run(
            self._surface().delete(
                path,
                params=params,
                path_params=path_params,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        sliced: bool | SliceOptions = False,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> BlockingPager[Any]:
        """Every item of any list endpoint, page by page as you iterate
        (``for event in close.paginate("event/")``); the words of ``CloseClient.paginate``."""
        pager = self._surface().paginate(
            path,
            params=params,
            path_params=path_params,
            limit=limit,
            page_size=page_size,
            sliced=sliced,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return BlockingPager(self._portal, pager)

    def get_page(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        path_params: Mapping[str, object] | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Page[Any]:
        """One page of any list endpoint, exactly as ``params`` ask for it."""
        return self._portal.run(
            self._surface().get_page(
                path,
                params=params,
                path_params=path_params,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def search(
        self,
        query: Mapping[str, Any],
        *,
        fields: Mapping[str, Sequence[str]] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> BlockingPager[Any]:
        """Advanced Filtering (``POST data/search/``): every match, page by page as you
        iterate; the words of ``CloseClient.search``."""
        pager = self._surface().search(
            query,
            fields=fields,
            sort=sort,
            limit=limit,
            page_size=page_size,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return BlockingPager(self._portal, pager)
