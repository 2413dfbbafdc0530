"""``close.with_raw_response`` on the blocking client: the typed wrappers of its groups.

As :mod:`close_async._resources.raw` for the async client: the groups are built on a view
whose requests are answered raw, so nothing is wrapped at run time but a list's first page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from .._engine.http.response import Response
    from .._resources.pager import Page
    from .pager import BlockingPager

__all__ = ["blocking_raw_first_page", "blocking_raw_operation"]

P = ParamSpec("P")
T = TypeVar("T")


def blocking_raw_operation(operation: Callable[P, T]) -> Callable[P, Response[T]]:
    """``operation`` (of a group on a raw view) as the type checker should see it there."""
    return cast("Callable[P, Response[T]]", operation)


def blocking_raw_first_page(
    operation: Callable[P, BlockingPager[T]],
) -> Callable[P, Response[Page[T]]]:
    """A list ``operation`` (of a group on a raw view) that sends its first page's request
    and returns that :class:`~close_async.Response`."""

    def first_page(*args: P.args, **kwargs: P.kwargs) -> Response[Page[T]]:
        return operation(*args, **kwargs)._first_page_response()

    first_page.__name__ = first_page.__qualname__ = getattr(operation, "__name__", "list")
    first_page.__doc__ = operation.__doc__
    return first_page
