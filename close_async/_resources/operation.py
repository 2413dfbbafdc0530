"""What every generated method shares: reading its body argument and its answer.

Kept out of the generated files so that each method reads as three plain lines (build the
request, send it, parse the answer) and the rules live once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._engine.errors import InvalidRequestError
from .._types.model import Model, RequestModel
from .generic import checked_json

__all__ = ["body_json", "no_content"]


def body_json(body: object, *, field: str = "body") -> Any:
    """The JSON body for a model or a plain mapping; anything else raises, naming ``field``.

    A model gives exactly its fields (a request model: those given; a response model sent
    back: those not ``None``) and the keys in its ``extra``; a mapping is sent as it is
    (checked as JSON by the request builder).
    """
    if isinstance(body, (RequestModel, Model)):
        return body.to_json()
    if isinstance(body, Mapping):
        return checked_json(body, field=field)
    raise InvalidRequestError(
        f"{field} must be a model or a mapping of JSON keys to values, not {type(body).__name__}",
        field=field,
    )


def no_content(value: Any) -> None:
    """The answer of an operation that returns nothing (204, or ``{}`` for a delete)."""
    return None
