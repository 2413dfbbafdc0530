"""What the fake Close counts and records of the requests it serves."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["FakeStats", "RecordedRequest"]


@attrs.frozen
class RecordedRequest:
    """One request the fake server saw.

    ``query`` is the raw query string; ``body`` the decoded JSON body (``None`` when
    absent or not JSON); ``status`` the HTTP status answered, or ``"dropped"`` (applied,
    then the connection closed) or ``"reset"`` (connection reset, nothing applied);
    ``time`` is ``time.monotonic()`` on arrival; ``key`` the credential's fingerprint
    (:func:`key_fingerprint`), never the credential itself. ``method_override`` is the
    method a ``POST`` asked to be served as with ``x-http-method-override`` (``"GET"``);
    ``query`` is then the query string it was served with (its ``_params``).
    """

    method: str
    path: str
    query: str
    body: Any
    status: int | str
    time: float
    key: str | None
    method_override: str | None = None


@attrs.define
class FakeStats:
    """Counters of the fake server (all API requests, admin endpoints excluded).

    ``by_status`` counts answers by HTTP status, plus ``"dropped"`` and ``"reset"``.
    ``applied_updates`` counts PUTs that changed a call (also those answered by a drop).
    ``created`` counts calls created by a POST, or by a first PUT when not ``strict``.
    ``injected_errors``, ``rejected``, ``resets``, ``drops`` and ``slowed`` count the
    faults of :class:`FakeFaults` (5xx pages, 400s, resets, lost answers, slow answers).
    ``hangups`` counts clients that hung up before their body was read or their answer
    sent (any path; each of the first few is one line on the ``close_async.testing`` logger).
    """

    requests: int = 0
    by_status: dict[int | str, int] = attrs.Factory(dict)
    rate_limited: int = 0
    applied_updates: int = 0
    created: int = 0
    deleted: int = 0
    drops: int = 0
    resets: int = 0
    injected_errors: int = 0
    rejected: int = 0
    slowed: int = 0
    hangups: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready data (``by_status`` keys become strings)."""
        data = attrs.asdict(self)
        data["by_status"] = {str(k): v for k, v in self.by_status.items()}
        return data
