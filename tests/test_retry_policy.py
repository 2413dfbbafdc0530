"""The retry allow-list, as a table."""

from __future__ import annotations

import pytest

from close_async import (
    APIError,
    AuthenticationError,
    ConnectError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from close_async._retry import retry_reason


def api(cls: type[APIError], status: int) -> APIError:
    return cls("x", status=status, method="PUT", path="activity/call/acti_1/")


@pytest.mark.parametrize(
    ("method", "error", "expected"),
    [
        ("PUT", api(RateLimitError, 429), "rate_limited"),
        ("POST", api(RateLimitError, 429), "rate_limited"),
        ("PUT", api(ServerError, 500), "server_error"),
        ("PUT", api(ServerError, 502), "server_error"),
        ("PUT", api(ServerError, 503), "server_error"),
        ("PUT", api(ServerError, 504), "server_error"),
        ("GET", api(ServerError, 500), "server_error"),
        ("DELETE", api(ServerError, 504), "server_error"),
        ("PUT", api(ServerError, 501), None),
        ("POST", api(ServerError, 500), None),
        ("POST", api(ServerError, 503), None),
        ("PUT", ConnectError("refused"), "connect_error"),
        ("POST", ConnectError("refused"), "connect_error"),
        ("PUT", TimeoutError("slow"), "timeout"),
        ("POST", TimeoutError("slow"), None),
        ("PUT", TransportError("dropped"), "disconnected"),
        ("POST", TransportError("dropped"), None),
        ("PUT", api(ValidationError, 400), None),
        ("PUT", api(AuthenticationError, 401), None),
        ("PUT", api(NotFoundError, 404), None),
        ("PUT", ValueError("not ours"), None),
        ("PUT", KeyboardInterrupt(), None),
    ],
)
def test_retry_allow_list(method: str, error: BaseException, expected: str | None) -> None:
    assert retry_reason(method, error) == expected


def test_no_wait_policy_keeps_the_rules_but_not_the_waits() -> None:
    policy = RetryPolicy.no_wait(attempts=3)
    assert policy.attempts == 3
    assert policy.wait_initial == 0
    assert policy.wait_max == 0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
