"""What mypy sees of the errors (issue 28): checked by ``mypy --strict`` in the test suite
(tests/test_public_api.py), never run. Every timeout is a builtin ``TimeoutError``; the
attributes keep their types."""

from __future__ import annotations

from typing import Any, assert_type

from close_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    ClientValidationError,
    CloseClient,
    ConfigurationError,
    ConnectTimeoutError,
    InternalServerError,
    RateLimitError,
    ResponseTimeoutError,
)


async def call(close: CloseClient) -> None:
    try:
        await close.calls.get("acti_1")
    except TimeoutError as timeout:
        # The builtin clause: every timeout of ours lands here, as the builtin's type.
        assert_type(timeout, TimeoutError)
        if isinstance(timeout, APITimeoutError):
            assert_type(timeout.last_error, BaseException | None)
            assert_type(timeout.method, str | None)
    except BadRequestError as bad:
        assert_type(bad.status, int)
        assert_type(bad.field_errors, dict[str, Any])
        assert_type(bad.errors, list[Any])
    except RateLimitError as throttled:
        assert_type(throttled.retry_after, float | None)
    except InternalServerError as failed:
        assert_type(failed.retry_after, float | None)
    except APIStatusError as status:
        assert_type(status.status, int)
        assert_type(status.body, Any)
    except APIConnectionError as dropped:
        assert_type(dropped.path, str | None)
    except APIError as other:
        assert_type(other.method, str | None)
    except ClientValidationError as refused:
        assert_type(refused.field, str | None)


def hierarchy(error: ResponseTimeoutError, connect: ConnectTimeoutError) -> None:
    # Assignable where their bases are expected: no cast needed in users' handlers.
    as_timeout: TimeoutError = error
    as_api_timeout: APITimeoutError = error
    as_connection: APIConnectionError = error
    as_builtin: TimeoutError = connect
    bad_option: ValueError = ConfigurationError("x")
    bad_input: ValueError = ClientValidationError("x", field="note")
    print(as_timeout, as_api_timeout, as_connection, as_builtin, bad_option, bad_input)
