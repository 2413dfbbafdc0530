"""How a secret is shown in a ``repr`` or ``str``: the one rule for every object holding one.

Generated models mark their secret fields with ``attrs.field(repr=redacted)`` (which fields
hold secrets is decided once, by the generator: ``tools/codegen/spec.py``, ``holds_secret``);
hand-written holders (OAuth tokens) use it too. The value itself is untouched: the attribute
and the model's JSON keep it.

- ``None`` and markers (enum members, ``UNSET`` among them) are shown as themselves:
  whether a secret is there is no secret;
- a string of at least :data:`SHOWN_FROM` characters is shown by its last four (``'…1f0c'``),
  enough to tell two keys apart (a rotation) and too little to use;
- anything else (a short string, a value of an unexpected type) is shown as ``'<redacted>'``.

Where a secret must be named (a log line, a shared rate budget's key in Redis), its
:func:`fingerprint` stands for it.
"""

from __future__ import annotations

import enum
import hashlib

__all__ = ["REDACTED", "SHOWN_FROM", "fingerprint", "redacted"]

REDACTED = "<redacted>"
"""What stands in for a secret that is not shown at all."""

SHOWN_FROM = 20
"""The shortest secret whose last four characters are shown: 4 of 20 leaves 16 unknown."""


def redacted(value: object) -> str:
    """The ``repr`` of a secret ``value``: see the module docstring."""
    if value is None or isinstance(value, enum.Enum):
        return repr(value)
    if isinstance(value, str) and len(value) >= SHOWN_FROM:
        return repr("…" + value[-4:])
    return repr(REDACTED)


def fingerprint(secret: str) -> str:
    """A short digest of an API key or token: safe to log, and to name a shared rate budget,
    since it cannot be turned back into the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
