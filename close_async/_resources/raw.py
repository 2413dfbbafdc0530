"""``close.with_raw_response``: the typed wrappers its generated classes are made of.

Each resource module holds, beside its group (``LeadsResource``), a raw class
(``LeadsResourceWithRawResponse``) whose attributes are the group's own operations passed
through one of these wrappers, and whose nested groups are their raw classes; the root's
(``ResourcesWithRawResponse``) holds the top-level groups. The group they wrap is built on a
view of the client whose options say ``raw``, so the engine answers each of its requests
with a :class:`~close_async.Response`: the wrappers change what the type checker sees (each
keeps the method's parameters, through ``ParamSpec``) and, for a list, turn its pager into
its first page's response. What is not one of the group's operations (the bulk verbs,
``exports.wait``, ``stream``, ``rows``, ``start``) is not on the raw class at all, so using it
is an error for the type checker and an ``AttributeError`` when run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from .._engine.http.response import Response
    from .pager import Page, Pager

__all__ = ["raw_first_page", "raw_operation"]

P = ParamSpec("P")
T = TypeVar("T")


def raw_operation(operation: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[Response[T]]]:
    """``operation`` (of a group on a raw view) as the type checker should see it there.

    Nothing is wrapped at run time: the group's requester already answers with the
    :class:`~close_async.Response`, so the call costs what the plain one does, and
    ``help()`` shows the operation's own signature and docstring.
    """
    return cast("Callable[P, Awaitable[Response[T]]]", operation)


def raw_first_page(
    operation: Callable[P, Pager[T]],
) -> Callable[P, Awaitable[Response[Page[T]]]]:
    """A list ``operation`` (of a group on a raw view) that sends its first page's request
    and returns that :class:`~close_async.Response`; ``.parse()`` gives the typed
    :class:`~close_async.Page` that ``first_page()`` gives on the plain group."""

    async def first_page(*args: P.args, **kwargs: P.kwargs) -> Response[Page[T]]:
        return await operation(*args, **kwargs)._first_page_response()

    first_page.__name__ = first_page.__qualname__ = getattr(operation, "__name__", "list")
    first_page.__doc__ = operation.__doc__
    return first_page
