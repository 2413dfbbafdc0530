"""``close.with_raw_response.<group>``: any resource group, answering with a ``Response``."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["RawNamespace"]


def _own_operation(group: object, name: str) -> bool:
    """Whether ``name`` is an operation of ``group``'s own class (one request each), not a
    helper mixed in (bulk verbs, ``exports.wait``, ...), which sends requests of its own."""
    return inspect.iscoroutinefunction(vars(type(group)).get(name))


class RawNamespace:
    """A resource group whose operations return a :class:`~close_async.Response`.

    ``raw`` is the group on a view whose options say ``raw``, ``plain`` the same group on
    the client. ``close.with_raw_response.leads.get(lead_id)`` sends what
    ``close.leads.get`` sends and returns the response (status, headers, rate-limit info,
    ``.parse()`` for the model). Nested groups are wrapped too. What is not one request,
    lists (pagers) and helpers that send several requests (``exports.wait``, the bulk
    verbs), comes from the plain group and answers as it does there.
    """

    def __init__(self, raw: object, plain: object) -> None:
        self._raw = raw
        self._plain = plain

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        plain = getattr(self._plain, name)
        if self._one_request(name):
            return getattr(self._raw, name)
        if callable(plain) or isinstance(plain, (str, int, float, tuple)):
            return plain
        return RawNamespace(getattr(self._raw, name), plain)

    def _one_request(self, name: str) -> bool:
        """Whether ``name`` sends one request, so answers raw (the group's own operations)."""
        return _own_operation(self._plain, name)

    def __repr__(self) -> str:
        return f"RawNamespace({type(self._plain).__name__})"
