"""``close.with_raw_response.<group>``: any resource group, answering with a ``Response``."""

from __future__ import annotations

import inspect
from typing import Any

from .._engine.response import raw_response

__all__ = ["RawNamespace"]


class RawNamespace:
    """A resource group whose coroutine methods return a :class:`~close_async.Response`.

    ``close.with_raw_response.leads.get(lead_id)`` sends what ``close.leads.get`` sends and
    returns the response (status, headers, rate-limit info, ``.parse()`` for the model).
    Nested groups are wrapped too; list methods (pagers) are returned as they are.
    """

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return raw_response(value)
        if callable(value) or isinstance(value, (str, int, float, tuple)):
            return value
        return RawNamespace(value)

    def __repr__(self) -> str:
        return f"RawNamespace({type(self._target).__name__})"
