"""The one rule for a Close webhook signature, shared by the verifier and the fake Close.

Close signs each delivery with the hex HMAC-SHA256, keyed with the bytes of the
subscription's hex ``signature_key``, of the timestamp string followed by the raw body. It
sends the hash in ``close-sig-hash`` and the timestamp (Unix seconds) in
``close-sig-timestamp``. Standard library only: ``close_async.testing`` imports it too.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["HASH_HEADER", "TIMESTAMP_HEADER", "signature", "signature_matches"]

HASH_HEADER = "close-sig-hash"
TIMESTAMP_HEADER = "close-sig-timestamp"


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    """The hex signature of ``body`` sent at ``timestamp``, with the key's raw bytes."""
    return hmac.new(key, timestamp.encode("ascii") + body, hashlib.sha256).hexdigest()


def signature_matches(key: bytes, timestamp: str, body: bytes, received: str) -> bool:
    """Whether ``received`` is the signature, compared in constant time."""
    return hmac.compare_digest(signature(key, timestamp, body), received.lower())
