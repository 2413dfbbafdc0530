"""Issue 28, point 5: errors named as the ecosystem names them.

Every timeout close-async raises is a builtin ``TimeoutError`` (``except TimeoutError``
around a call catches it), no error class shadows a builtin unless it subclasses it, Close's
statuses map to the classes the docs' table names, and every bad option is a
``ConfigurationError``. Real HTTP on loopback against the fake Close where a server matters.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import yarl

import close_async
from close_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BulkAbortedError,
    BulkInterruptedError,
    ClientValidationError,
    CloseClient,
    CloseError,
    ConfigurationError,
    ConnectError,
    ConnectTimeoutError,
    InternalServerError,
    LocalRateLimiter,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ResponseTimeoutError,
    ResponseTooLargeError,
    RetryPolicy,
    Timeout,
)
from close_async._engine.http.aiohttp_transport import AiohttpTransport
from close_async._engine.http.request import Request
from close_async._engine.retry import retry_reason
from close_async.models import CallCreate, CallUpdate
from close_async.testing import FakeClose, FakeFaults

KEY = "test_key"

ERROR_CLASSES = sorted(
    (
        obj
        for name, obj in vars(close_async).items()
        if name in close_async.__all__ and inspect.isclass(obj) and issubclass(obj, BaseException)
    ),
    key=lambda cls: cls.__name__,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), strict=True) as server:
        yield server


# --- the names --------------------------------------------------------------------------


def test_every_error_is_exported_from_the_one_errors_module() -> None:
    assert len(ERROR_CLASSES) >= 25
    for cls in ERROR_CLASSES:
        assert cls.__module__ == "close_async._engine.errors", cls
        assert issubclass(cls, CloseError), cls


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_no_error_shadows_a_builtin_unless_it_subclasses_it(cls: type) -> None:
    builtin = getattr(builtins, cls.__name__, None)
    if builtin is not None:
        assert isinstance(builtin, type), cls
        assert issubclass(cls, builtin), f"close_async.{cls.__name__} shadows the builtin"


def test_the_tree_reads_as_the_docs_say() -> None:
    for cls in (APIConnectionError, APITimeoutError, APIResponseValidationError, APIStatusError):
        assert issubclass(cls, APIError)
    for cls in (ConnectError, ProtocolError, ResponseTooLargeError, ResponseTimeoutError):
        assert issubclass(cls, APIConnectionError)
    # Every timeout is an APITimeoutError, so a builtin TimeoutError.
    for cls in (APITimeoutError, ResponseTimeoutError, ConnectTimeoutError):
        assert issubclass(cls, APITimeoutError)
        assert issubclass(cls, builtins.TimeoutError)
    assert issubclass(ConnectTimeoutError, ConnectError)
    # The whole call's timeout is no connection error: it may cut a limiter wait.
    assert not issubclass(APITimeoutError, APIConnectionError)
    statuses: dict[type[APIStatusError], int] = {
        BadRequestError: 400,
        AuthenticationError: 401,
        PaymentRequiredError: 402,
        PermissionDeniedError: 403,
        NotFoundError: 404,
        RateLimitError: 429,
        InternalServerError: 500,
    }
    for cls in statuses:
        assert issubclass(cls, APIStatusError)
    for cls in (ConfigurationError, ClientValidationError):
        assert issubclass(cls, ValueError)
        assert not issubclass(cls, APIError)
    for cls in (BulkAbortedError, BulkInterruptedError):
        assert not issubclass(cls, APIError)


# --- timeouts: caught by ``except TimeoutError`` ----------------------------------------


async def test_the_whole_calls_timeout_is_caught_by_except_timeout_error(
    fake: FakeClose,
) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0)
    (call_id,) = fake.seed_calls(1)
    caught: BaseException | None = None
    async with CloseClient(KEY, base_url=fake.base_url) as close:
        try:
            await close.calls.get(call_id, timeout=0.2)
        except TimeoutError as exc:
            caught = exc
    assert type(caught) is APITimeoutError
    assert caught.phase in ("waiting", "reading")
    assert not isinstance(caught, APIConnectionError)
    assert caught.method == "GET"


async def test_an_attempts_read_timeout_is_a_timeout_error_and_a_connection_error(
    fake: FakeClose,
) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0)
    (call_id,) = fake.seed_calls(1)
    retry = RetryPolicy.no_wait(attempts=2)
    caught: BaseException | None = None
    async with CloseClient(
        KEY, base_url=fake.base_url, timeout=Timeout(read=0.2), retry=retry
    ) as close:
        try:
            await close.calls.get(call_id)
        except TimeoutError as exc:
            caught = exc
        # Retried exactly as the old TimeoutError was: a GET is idempotent.
        assert close.stats.retries["timeout"] == 1
    assert type(caught) is ResponseTimeoutError
    assert isinstance(caught, APIConnectionError)
    assert "Timeout.read" in str(caught)


async def test_a_posts_attempt_timeout_stays_the_attempts_not_the_calls(
    fake: FakeClose,
) -> None:
    # Not retried (a create may have landed), and not mistaken for the call's own timeout
    # although it is a builtins.TimeoutError now.
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0)
    async with CloseClient(
        KEY, base_url=fake.base_url, timeout=Timeout(attempt=0.2, total=30.0)
    ) as close:
        with pytest.raises(ResponseTimeoutError) as caught:
            await close.calls.create(CallCreate(lead_id="lead_1", direction="outbound"))
        assert sum(close.stats.retries.values()) == 0
    assert "Timeout.attempt" in str(caught.value)


def test_a_connect_timeout_is_a_timeout_error_retried_as_a_connect_error() -> None:
    transport = AiohttpTransport(
        yarl.URL("http://127.0.0.1:1/"), timeout=Timeout(connect=1.5), max_connections=1
    )
    error = transport._translate(
        aiohttp.ConnectionTimeoutError(),
        {},
        {"method": "POST", "path": "/api/v1/lead/"},
        Timeout(connect=1.5),
    )
    assert type(error) is ConnectTimeoutError
    assert isinstance(error, TimeoutError)
    assert "Timeout.connect" in str(error)
    # Nothing was sent: retried even for a POST, under its old reason.
    assert retry_reason(Request("POST", "lead/"), error) == "connect_error"


def test_reprs_keep_their_fields() -> None:
    attempt = ResponseTimeoutError("slow", method="GET", path="lead/")
    assert repr(attempt) == "ResponseTimeoutError('slow', method='GET', path='lead/')"
    call = APITimeoutError("ran out", method="GET", path="lead/", phase="reading")
    assert repr(call) == "APITimeoutError('ran out', method='GET', path='lead/', phase='reading')"
    assert str(call) == "GET lead/: ran out"


# --- statuses ---------------------------------------------------------------------------


async def test_a_400_is_a_bad_request_error_with_field_errors(fake: FakeClose) -> None:
    internal = fake.add_call(source="Close.io")["id"]
    async with CloseClient(KEY, base_url=fake.base_url) as close:
        with pytest.raises(BadRequestError) as caught:
            await close.calls.update(internal, CallUpdate(duration=10))
    assert caught.value.status == 400
    assert "duration" in caught.value.field_errors


async def test_a_5xx_is_an_internal_server_error(fake: FakeClose) -> None:
    fake.faults = FakeFaults(error_rate=1.0, error_statuses=(502,))
    (call_id,) = fake.seed_calls(1)
    async with CloseClient(
        KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=2)
    ) as close:
        with pytest.raises(InternalServerError) as caught:
            await close.calls.get(call_id)
        assert close.stats.retries["server_error"] == 1
    assert caught.value.status == 502
    assert isinstance(caught.value, APIStatusError)


# --- bad options ------------------------------------------------------------------------

BAD_OPTIONS: dict[str, Callable[[], Any]] = {
    "client max_connections": lambda: CloseClient(KEY, max_connections=0),
    "Timeout.connect": lambda: Timeout(connect=0),
    "Timeout.total": lambda: Timeout(total=-1.0),
    "Timeout.read not a number": lambda: Timeout(read="5"),  # type: ignore[arg-type]
    "RetryPolicy.attempts": lambda: RetryPolicy(attempts=0),
    "RetryPolicy.wait_max": lambda: RetryPolicy(wait_max=-1.0),
    "RetryPolicy.wait_exp_base": lambda: RetryPolicy(wait_exp_base=0.5),
    "LocalRateLimiter rate": lambda: LocalRateLimiter(rate=0),
    "LocalRateLimiter burst": lambda: LocalRateLimiter(burst=0),
}


@pytest.mark.parametrize("make", BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys())
def test_a_bad_option_is_a_configuration_error(make: Callable[[], Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make()
    assert isinstance(caught.value, ValueError)  # still caught where a ValueError was


async def test_a_bad_option_per_call_or_view_is_a_configuration_error() -> None:
    async with CloseClient(KEY) as close:
        with pytest.raises(ConfigurationError):
            close.with_options(max_retries=-1)
        with pytest.raises(ConfigurationError, match="concurrency"):
            close.calls.update_many([], concurrency=0)
        with pytest.raises(ConfigurationError, match="unknown bulk option"):
            close.calls.update_many([], concurency=4)  # type: ignore[call-arg]
