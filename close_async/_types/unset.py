""":data:`UNSET`, the "not given" marker of every request model's fields."""

from __future__ import annotations

import enum
from typing import Final, Literal

__all__ = ["UNSET", "Unset"]


class Unset(enum.Enum):
    """Type of :data:`UNSET`, the "not given" marker of update and create fields.

    A one-member enum so that ``value is UNSET`` narrows types under mypy, and so that the
    marker survives copying and pickling as the same object.
    """

    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
"""The field was not given: it is left out of the request, so Close keeps its value."""
