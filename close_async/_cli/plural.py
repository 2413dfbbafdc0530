"""Counts in words: ``1 row``, ``2 rows``, ``1,234 calls`` (the one place that decides).

Every message of the command line and of ``close-async fake-server`` that puts a number
before a noun says it through :func:`counted`, so one is never "1 rows".
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and the noun agreeing with it, the number with thousands separators:
    ``counted(1, "row") == "1 row"``, ``counted(1234, "call") == "1,234 calls"``.

    ``plural`` is for a noun that does not just take an ``s`` (``"entries"``).
    """
    noun = singular if count == 1 else (plural if plural is not None else singular + "s")
    return f"{count:,} {noun}"
