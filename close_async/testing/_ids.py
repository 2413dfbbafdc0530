"""Deterministic Close-looking ids (``acti_`` + 43 base62 characters) for the fake server.

Ids come from a hash of a counter, so two processes that seed the same number of calls
agree on every id without talking to each other, while the ids still look as random as
Close's own (nothing may rely on them sorting in creation order).
"""

from __future__ import annotations

import hashlib

__all__ = ["BASE62_ALPHABET", "fake_call_id", "fake_id"]

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
"""The 62 characters Close ids are made of."""

_ID_LENGTH = 43
# Maps each byte to one base62 character, so an id costs one hash and one C-level translate
# (seeding 100,000 calls must stay quick). The slight bias of 256 % 62 is irrelevant here.
_BYTE_TO_BASE62 = bytes(ord(BASE62_ALPHABET[b % 62]) for b in range(256))


def fake_id(prefix: str, key: object) -> str:
    """A deterministic id ``<prefix>_`` + 43 base62 characters derived from ``key``."""
    digest = hashlib.sha512(f"close-async-fake:{prefix}:{key}".encode()).digest()
    return f"{prefix}_{digest[:_ID_LENGTH].translate(_BYTE_TO_BASE62).decode('ascii')}"


def fake_call_id(i: int) -> str:
    """The id of the ``i``-th call the fake server creates (``0`` is the first seeded call)."""
    return fake_id("acti", i)
