"""Shared fixtures, hypothesis profiles, and the CI rule that nothing is skipped."""

from __future__ import annotations

import base64
import contextlib
import importlib
import inspect
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from hypothesis import HealthCheck, settings

from close_async import CloseClient, RetryPolicy
from close_async._types import conversion as _conversion
from close_async.testing import FakeClose

# Property tests run on slow, shared 2-core machines: a wall-clock deadline per example, or
# a health check that measures generation speed, fails them for the machine's load, not for
# anything the code did. Neither weakens what the tests assert (examples are the same).
_SPEED_CHECKS = [HealthCheck.too_slow]
settings.register_profile("dev", deadline=None, suppress_health_check=_SPEED_CHECKS)
settings.register_profile("ci", deadline=None, suppress_health_check=_SPEED_CHECKS, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

IN_CI = bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    # Locally a test may skip for a missing tool (it says which); in CI the tool is
    # installed, so a skip means CI lost something: fail instead of hiding it.
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where nothing may be: {reason}"


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    # pytest writes a control character or non-ASCII letter in a test id as a backslash
    # escape, and then cannot select the test by that id; mutmut selects tests by id. Such
    # characters are spelled as code points instead, so every id can be passed back.
    if isinstance(val, bytes):
        val = val.decode("latin-1")
    if not isinstance(val, str) or (val.isascii() and val.isprintable() and "\\" not in val):
        return None
    return "".join(
        ch if ch.isascii() and ch.isprintable() and ch != "\\" else f"U+{ord(ch):04X}" for ch in val
    )


API_KEY = "api_test_secret_key_1234567890"
CALL_ID = "acti_3fKQ1nK8zqg7PbZ0"


@pytest.fixture(autouse=True)
def _mutated_converter() -> None:
    # mutmut (docs/contributing.md) forks each mutant's test run from a process that
    # built the converter and its hooks at import, before any mutant was chosen. Running
    # the module again (it defines no classes, and its functions read its globals) lets
    # the mutated hook factories run. Outside mutmut this does nothing.
    if os.environ.get("MUTANT_UNDER_TEST"):
        importlib.reload(_conversion)


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key in the environment must never leak into a test.
    monkeypatch.delenv("CLOSE_API_KEY", raising=False)


def call_payload(call_id: str = CALL_ID, **fields: object) -> dict[str, object]:
    """A Call as Close returns it (the always-present fields)."""
    payload: dict[str, object] = {
        "_type": "Call",
        "id": call_id,
        "organization_id": "orga_1",
        "date_created": "2026-01-02T03:04:05.123000+00:00",
        "date_updated": "2026-01-02T03:04:05.123000+00:00",
        "activity_at": "2026-01-02T03:04:05+00:00",
        "lead_id": "lead_1",
        "contact_id": None,
        "created_by": "user_1",
        "updated_by": "user_1",
        "user_id": "user_1",
        "outcome_id": None,
        "source": "External",
        "status": "completed",
        "users": [],
    }
    payload.update(fields)
    return payload


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port while the block runs; yields its root URL
    (``http://127.0.0.1:<port>/``)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_api(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` for every request under ``/api/v1/``; yields that base URL."""
    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", handler)
    async with serve(app) as url:
        yield url + "api/v1/"


FAKE_KEY = "test_key"
"""The API key the fake Close (``close_async.testing.FakeClose``) accepts by default."""

CONNECTION_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
"""What aiohttp raises when the server drops or resets the connection."""


def basic(key: str, password: str = "") -> str:
    """An HTTP Basic ``Authorization`` header value, the way Close takes an API key."""
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    """A strict fake Close on loopback that knows :data:`FAKE_KEY` (modules may override)."""
    async with FakeClose(api_keys=(FAKE_KEY,), strict=True) as server:
        yield server


@pytest.fixture
async def close(fake: FakeClose) -> AsyncIterator[CloseClient]:
    """A client of :func:`fake`, retrying without waits."""
    async with CloseClient(FAKE_KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait()) as client:
        yield client


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTP session that authenticates with :data:`FAKE_KEY`."""
    # force_close: aiohttp retries an idempotent request once when a reused connection
    # dies, which would double every injected drop; a fresh connection per request does not.
    async with aiohttp.ClientSession(
        headers={"Authorization": basic(FAKE_KEY)},
        connector=aiohttp.TCPConnector(force_close=True),
    ) as client:
        yield client


async def send(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    """Status, body (JSON decoded, else the text) and response of one request."""
    async with session.request(method, url, **kwargs) as response:
        text = await response.text()
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        return response.status, body, response


class _NoStreamWriter:
    output_size = 0


# aiohttp before 3.14 (the lowest versions CI tests) has no such argument.
_TAKES_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters


class _CompatClientResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer`` argument
    (pnuckowski/aioresponses#289); supply a finished one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _TAKES_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, made to work with aiohttp 3.14."""
    monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatClientResponse)
    with aioresponses() as m:
        yield m
