"""The fake server's fixed-window limiter and how it tells clients about it."""

from __future__ import annotations

import json
import math

from ._config import FakeRateLimit

__all__ = ["RATE_LIMIT_MESSAGE", "WindowLimiter", "format_seconds"]

RATE_LIMIT_MESSAGE = "API call count exceeded for this period"

_BARE_429 = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n</body>\r\n</html>\r\n"
)
_RETRY_AFTER_BODY = json.dumps({"error": "Too many requests"}).encode()


def format_seconds(seconds: float) -> str:
    """Seconds as a short decimal: ``0.53``, ``1``, ``0.001`` (millisecond precision)."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


class WindowLimiter:
    """Counts requests per credential in fixed windows that open on a key's first request.

    Not thread-safe; the server calls it from its one event loop only.
    """

    def __init__(self, config: FakeRateLimit) -> None:
        self.config = config
        self._header_style = config.effective_header_style
        self._style_429 = config.effective_style_429
        self._limit = str(config.rate)
        window = config.window
        self._window_json: float | int = int(window) if window == int(window) else window
        # key -> [window end (monotonic seconds), requests counted in the window]
        self._windows: dict[str, list[float]] = {}

    def admit(self, key: str, now: float) -> tuple[bool, float, int]:
        """Count one request of ``key`` at ``now`` if the window has room.

        Returns ``(admitted, seconds until the window ends, requests remaining)``.
        """
        state = self._windows.get(key)
        if state is None or now >= state[0]:
            state = [now + self.config.window, 0.0]
            self._windows[key] = state
        reset = state[0] - now
        if state[1] >= self.config.rate:
            return False, reset, 0
        state[1] += 1
        return True, reset, self.config.rate - int(state[1])

    def headers(self, reset: float, remaining: int) -> dict[str, str]:
        """The rate-limit headers of an answered (or refused, unless bare) response."""
        style = self._header_style
        if style == "none":
            return {}
        if style == "legacy":
            return {
                "X-Rate-Limit-Limit": self._limit,
                "X-Rate-Limit-Remaining": str(remaining),
                "X-Rate-Limit-Reset": f"{reset:.6f}",
            }
        shown = str(math.ceil(reset)) if self.config.reset_integer else format_seconds(reset)
        sep = ", " if style == "ratelimit" else "; "
        return {"ratelimit": f"limit={self._limit}{sep}remaining={remaining}{sep}reset={shown}"}

    def refusal(self, reset: float) -> tuple[bytes, str, dict[str, str]]:
        """The body, content type and headers of a 429 in the configured style."""
        style = self._style_429
        if style == "bare":
            return _BARE_429, "text/html", {}
        headers = self.headers(reset, 0)
        if style == "retry-after" or self.config.reset_integer:
            # Close's Retry-After is the reset rounded up to a whole second.
            headers["Retry-After"] = str(max(1, math.ceil(reset)))
        if style == "retry-after":
            return _RETRY_AFTER_BODY, "application/json", headers
        details: dict[str, object] = {
            "rate_reset": round(reset, 3),
            "message": RATE_LIMIT_MESSAGE,
            "rate_limit": self.config.rate,
            "rate_window": self._window_json,
            "rate_limit_type": "key",
        }
        if style == "body":
            body: dict[str, object] = {"error": details}
        else:
            details["rate_reset"] = f"{reset:.6f}"
            body = details
        return json.dumps(body).encode(), "application/json", headers
