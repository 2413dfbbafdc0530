"""Advanced Filtering: ``POST data/search/`` (documented by Close, absent from its OpenAPI).

The query, fields and sort go in a JSON body; Close answers ``{"data": [...], "cursor": c}``
and the next page is the same body with ``"cursor": c`` (null at the end). The walk is the
shared one of :mod:`.pager`; this module only validates the body and reads the answer.
A search is a read, so its POST is safe to send again (the engine is told so elsewhere).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._engine.errors import InvalidRequestError
from .._engine.http.request import build_request, encode_body
from .pager import Page, Pager, read_cursor_page

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = ["PAGE_SIZE_MAX", "SEARCH_PATH", "fetch_search_page", "search"]

SEARCH_PATH = "data/search/"
_SEARCH_GROUP = "POST data/search"  # one endpoint, one group
PAGE_SIZE_MAX = 200
"""Close caps a search page's ``_limit`` at 200 and answers 400 above it."""


def _count(value: int | None, name: str, maximum: int | None = None) -> int | None:
    if value is None:
        return None
    # bool is an int to Python, but True is no page size.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequestError(f"{name} must be a positive whole number", field=name)
    if maximum is not None and value > maximum:
        raise InvalidRequestError(f"{name} must be at most {maximum}, got {value}", field=name)
    return value


def _query(query: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(query, Mapping):
        raise InvalidRequestError(
            f"query must be a mapping, not {type(query).__name__}", field="query"
        )
    # A deep copy: the caller changing its query mid-walk must not change later pages.
    return copy.deepcopy(dict(query))


def _fields(fields: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    if fields is None:
        return None
    if not isinstance(fields, Mapping):
        raise InvalidRequestError(
            "fields must map an object type to a list of field names", field="fields"
        )
    checked: dict[str, list[str]] = {}
    for object_type, names in fields.items():
        # A bare string ("id,name") is a sequence of letters: refused, not sent as such.
        if (
            not isinstance(object_type, str)
            or isinstance(names, str)
            or not isinstance(names, Sequence)
            or not all(isinstance(name, str) and name for name in names)
        ):
            raise InvalidRequestError(
                "fields must map an object type to a list of field names", field="fields"
            )
        checked[object_type] = list(names)
    return checked


def _sort(sort: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    if sort is None:
        return None
    if (
        isinstance(sort, (str, Mapping))
        or not isinstance(sort, Sequence)
        or not all(isinstance(item, Mapping) for item in sort)
    ):
        raise InvalidRequestError(
            'sort must be a list of sort objects ({"field": ..., "direction": ...})',
            field="sort",
        )
    return [copy.deepcopy(dict(item)) for item in sort]


async def fetch_search_page(
    requester: Requester, body: Mapping[str, Any], *, deadline: float | None = None
) -> Page[Any]:
    """POST one search page with ``body``, read as a :class:`Page`.

    For paging on demand, send ``page.next_params`` (the next body) back here while it is
    not ``None``. The requester's errors propagate unchanged.
    """
    encoded = encode_body(body)
    request = build_request("POST", SEARCH_PATH, body=encoded, group=_SEARCH_GROUP)
    raw = await requester.request(request, deadline=deadline)
    return read_cursor_page(raw, encoded.value, answer_key="cursor", param_key="cursor")


def search(
    requester: Requester,
    query: Mapping[str, Any],
    *,
    fields: Mapping[str, Sequence[str]] | None = None,
    sort: Sequence[Mapping[str, Any]] | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Pager[Any]:
    """A :class:`Pager` over the objects an Advanced Filtering ``query`` matches.

    ``fields`` maps an object type to the fields to return (``{"lead": ["id", "name"]}``);
    ``sort`` is a list of Close sort objects; ``limit`` stops after that many results in
    all (also sent as ``results_limit``, and enforced even if Close sends more);
    ``page_size`` is each page's ``_limit`` (1..200). ``deadline`` bounds each page's
    request. Arguments are checked here, before anything is sent
    (:class:`InvalidRequestError` naming the field).
    """
    body = {
        "query": _query(query),
        "_fields": _fields(fields),
        "sort": _sort(sort),
        "_limit": _count(page_size, "page_size", PAGE_SIZE_MAX),
        "results_limit": _count(limit, "limit"),
    }

    async def fetch(page_body: dict[str, Any]) -> Page[Any]:
        return await fetch_search_page(requester, page_body, deadline=deadline)

    return Pager(
        fetch, {key: value for key, value in body.items() if value is not None}, limit=limit
    )
