"""RedisRateLimiter against a real redis-server on a loopback port.

Rates are measured over real time (a shared budget across processes is only observable
that way), so these tests keep rates small and windows short, with loose bounds. The tests
of learned pace, window starts, bounded waits and organization budgets (at the end) assert
the state the scripts leave in Redis and what ``acquire`` raises instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from close_async._engine.errors import ConfigurationError, RateLimitError
from close_async._engine.ratelimit.info import RateLimitInfo
from close_async._engine.ratelimit.limiter import RateFeedback, RateLimiter
from close_async._engine.ratelimit.redis import RedisRateLimiter, _pause_seconds
from tests.test_local_limiter import ok

REDIS_SERVER = shutil.which("redis-server")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOGGER = "close_async.ratelimit"

needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server binary not installed (CI installs it)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One throwaway redis-server process on loopback: no persistence, or with ``aof_dir``
    an append-only file there, fsynced on every write (a restart loses nothing acknowledged).
    ``stop`` then ``start`` restarts it on the same port."""

    def __init__(self, aof_dir: Path | None = None) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.aof_dir = aof_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        persistence = ["--appendonly", "no"]
        if self.aof_dir is not None:
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
            persistence += ["--dir", str(self.aof_dir)]
        self.proc = subprocess.Popen(
            [*command, *persistence],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer PING")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server shared by the tests that never stop it (each uses its own names)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not installed (CI installs it)")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server this test may kill, freeze and restart."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not installed (CI installs it)")
    server = RedisServer()
    server.start()
    yield server
    if server.proc is not None:
        server.thaw()
    server.stop()


MakeLimiter = Callable[..., RedisRateLimiter]


@pytest.fixture
async def make_limiter(request: pytest.FixtureRequest) -> AsyncIterator[MakeLimiter]:
    """Builds limiters with a name unique to the test; closes them all afterwards."""
    made: list[RedisRateLimiter] = []
    unique = f"{request.node.name}-{time.monotonic_ns()}"

    def make(url: str, **kwargs: Any) -> RedisRateLimiter:
        kwargs.setdefault("name", unique)
        # A loaded CI machine can stall a healthy local Redis past the 0.25 s default and
        # send a test about sharing down the fallback path; tests of timeouts set their own.
        kwargs.setdefault("op_timeout", 2.0)
        limiter = RedisRateLimiter(url, **kwargs)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


@pytest.fixture
async def raw_redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    """A plain client on the shared server, to look at and tamper with the stored state."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


class RecordingLimiter:
    """A fallback that admits at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.released: list[tuple[str, RateFeedback | None]] = []
        self.closed = False

    async def acquire(self, group: str) -> None:
        self.acquired.append(group)

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        self.released.append((group, feedback))

    async def aclose(self) -> None:
        self.closed = True


async def _count_admissions(
    limiters: list[RedisRateLimiter], tasks_each: int, seconds: float
) -> int:
    """How many acquires of group "g" return within ``seconds``, over all limiters."""
    admitted = 0
    start = time.monotonic()
    deadline = start + seconds

    async def worker(limiter: RedisRateLimiter) -> None:
        nonlocal admitted
        while True:
            await limiter.acquire("g")
            if time.monotonic() >= deadline:
                await limiter.release("g", None)
                return
            admitted += 1
            await limiter.release("g", None)

    workers = [worker(lim) for lim in limiters for _ in range(tasks_each)]
    await asyncio.wait_for(asyncio.gather(*workers), seconds + 5)
    return admitted


def _dead_url() -> str:
    return f"redis://:hunter2pw@127.0.0.1:{_free_port()}/0"


def _records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == level]


# --- sharing one budget ---------------------------------------------------------------


@needs_redis
async def test_instances_share_one_rate(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    rate, seconds = 20, 1.5
    limiters = [make_limiter(redis_server.url, rate=rate) for _ in range(3)]

    admitted = await _count_admissions(limiters, tasks_each=2, seconds=seconds)

    expected = rate * seconds + 1  # GCRA admits the first at once, then one per interval
    assert expected * 0.75 <= admitted <= expected * 1.25, admitted


_CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from close_async._engine.ratelimit.redis import RedisRateLimiter

    async def main(url, name, rate, seconds):
        limiter = RedisRateLimiter(url, rate=rate, name=name)
        await limiter.acquire("warmup")  # connect before the clock starts
        print("ready", flush=True)
        start = float(sys.stdin.readline())
        await asyncio.sleep(max(0.0, start - time.time()))
        admitted = 0
        while True:
            await limiter.acquire("g")
            if time.time() >= start + seconds:
                break
            admitted += 1
            await limiter.release("g", None)
        await limiter.aclose()
        print(admitted, flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
    """
)


@needs_redis
def test_separate_processes_share_one_rate(redis_server: RedisServer) -> None:
    rate, seconds, processes = 20, 1.5, 3
    name = f"procs-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    args = [sys.executable, "-c", _CHILD, redis_server.url, name, str(rate), str(seconds)]
    children = [
        subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        start = time.time() + 0.2
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"{start}\n")
            child.stdin.flush()
        outputs = [child.communicate(timeout=30)[0] for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert all(child.returncode == 0 for child in children)
    counts = [int(out.split()[-1]) for out in outputs]

    expected = rate * seconds + 1
    assert expected * 0.75 <= sum(counts) <= expected * 1.25, counts
    assert all(count > 0 for count in counts), counts  # every process got a share


@needs_redis
@pytest.mark.parametrize(
    ("other_name", "other_group", "should_wait"),
    [
        ("same", "g", True),
        ("other", "g", False),
        ("same", "h", False),
    ],
)
async def test_names_and_groups_have_their_own_budgets(
    redis_server: RedisServer,
    make_limiter: MakeLimiter,
    other_name: str,
    other_group: str,
    should_wait: bool,
) -> None:
    prefix = f"indep-{time.monotonic_ns()}"
    first = make_limiter(redis_server.url, rate=2, name=f"{prefix}-same")
    second = make_limiter(redis_server.url, rate=2, name=f"{prefix}-{other_name}")
    await first.acquire("g")

    began = time.monotonic()
    await second.acquire(other_group)
    waited = time.monotonic() - began

    if should_wait:
        assert 0.4 <= waited <= 0.8
    else:
        assert waited < 0.2


@needs_redis
async def test_burst_lets_that_many_go_back_to_back(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=2, burst=3)
    began = time.monotonic()
    for _ in range(3):
        await limiter.acquire("g")
    assert time.monotonic() - began < 0.2
    await limiter.acquire("g")
    assert time.monotonic() - began >= 0.4


@needs_redis
async def test_idle_time_does_not_bank_more_than_the_burst(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=10)
    await limiter.acquire("g")
    await asyncio.sleep(0.35)  # idle for several intervals
    began = time.monotonic()
    for _ in range(3):
        await limiter.acquire("g")
    assert time.monotonic() - began >= 0.18  # burst 1: the second and third wait


# --- the shared pause -------------------------------------------------------------------


@needs_redis
async def test_throttle_seen_by_one_process_pauses_another(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    hit = make_limiter(redis_server.url, rate=50)
    other = make_limiter(redis_server.url, rate=50)
    await hit.acquire("g")
    await asyncio.sleep(0.03)  # the request's round trip: its slot is in the past now
    await hit.release("g", RateFeedback(429, retry_after=0.6))

    began = time.monotonic()
    await other.acquire("g")
    waited = time.monotonic() - began

    assert 0.55 <= waited <= 1.0


@needs_redis
async def test_requests_resume_one_interval_apart_after_a_pause(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiters = [make_limiter(redis_server.url, rate=10, burst=3) for _ in range(3)]
    await limiters[0].release("g", RateFeedback(429, retry_after=0.3))
    began = time.monotonic()

    async def timed(limiter: RedisRateLimiter) -> float:
        await limiter.acquire("g")
        return time.monotonic() - began

    done = sorted(await asyncio.gather(*(timed(lim) for lim in limiters)))

    assert done[0] >= 0.28
    # No burst at the end of a pause, even with burst=3: slots are spaced by 1/rate.
    assert done[1] - done[0] >= 0.08
    assert done[2] - done[1] >= 0.08


@needs_redis
async def test_pause_written_while_waiting_for_a_slot_is_honoured(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    waiter = make_limiter(redis_server.url, rate=4)
    hit = make_limiter(redis_server.url, rate=4)
    await waiter.acquire("g")
    began = time.monotonic()
    pending = asyncio.create_task(waiter.acquire("g"))  # its slot is 0.25 s away
    await asyncio.sleep(0.05)
    await hit.release("g", RateFeedback(429, retry_after=0.5))

    await pending
    waited = time.monotonic() - began

    assert 0.5 <= waited <= 0.9  # not at its reserved 0.25 s: the pause came first


async def _pause_left(client: Any, key: str) -> float:
    seconds, micros = await client.time()
    now = seconds * 1_000_000 + micros
    pause = await client.hget(key, "pause")
    return 0.0 if pause is None else (int(pause) - now) / 1_000_000


@needs_redis
@pytest.mark.parametrize(
    ("feedback", "expected_pause"),
    [
        (RateFeedback(429, retry_after=0.7), 0.7),
        (RateFeedback(429, RateLimitInfo(limit=40, remaining=0, reset=0.3)), 0.3),
        (RateFeedback(429, RateLimitInfo(reset=0.3), retry_after=0.8), 0.8),
        (RateFeedback(429), 1.0),
        (RateFeedback(429, retry_after=0.0), 0.1),  # at least one interval (rate 10)
        (RateFeedback(429, retry_after=1e9), 1e9),  # stored in full; acquirers refuse it
        (RateFeedback(200, RateLimitInfo(limit=40, remaining=0, reset=0.4)), 0.4),
        (RateFeedback(200, RateLimitInfo(limit=40, remaining=5, reset=0.4)), None),
        (RateFeedback(200, RateLimitInfo(remaining=0)), None),
        (RateFeedback(500), None),
        (None, None),
    ],
)
async def test_release_writes_the_pause_the_response_asks_for(
    redis_server: RedisServer,
    make_limiter: MakeLimiter,
    raw_redis: Any,
    feedback: RateFeedback | None,
    expected_pause: float | None,
) -> None:
    limiter = make_limiter(redis_server.url, rate=10)
    await limiter.acquire("g")
    await limiter.release("g", feedback)

    left = await _pause_left(raw_redis, limiter.key("g"))

    if expected_pause is None:
        assert left == 0.0
    else:
        assert expected_pause - 0.1 <= left <= expected_pause


@needs_redis
async def test_a_shorter_pause_does_not_cut_a_longer_one(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    one = make_limiter(redis_server.url, rate=10)
    two = make_limiter(redis_server.url, rate=10)
    await one.release("g", RateFeedback(429, retry_after=5.0))
    await two.release("g", RateFeedback(429, retry_after=0.2))

    assert await _pause_left(raw_redis, one.key("g")) > 4.5


@given(
    status=st.sampled_from([200, 404, 429, 500]),
    retry_after=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    remaining=st.none() | st.floats(min_value=-5, max_value=100),
    reset=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
def test_pause_is_finite_and_only_for_a_spent_budget(
    status: int, retry_after: float | None, remaining: float | None, reset: float | None
) -> None:
    feedback = RateFeedback(status, RateLimitInfo(remaining=remaining, reset=reset), retry_after)
    pause = _pause_seconds(feedback, 0.05)
    if pause is not None:
        assert 0 < pause <= 1e9
    if status == 429:
        assert pause is not None
    elif remaining is None or remaining > 0:
        assert pause is None


# --- state kept in Redis ----------------------------------------------------------------


@needs_redis
async def test_keys_are_named_by_name_and_group_and_expire(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=10, name="keys-test")
    await limiter.acquire("PUT activity/call")

    assert limiter.key("PUT activity/call") == "close_async:rl:keys-test:PUT activity/call"
    ttl_ms = await raw_redis.pttl(limiter.key("PUT activity/call"))
    assert 0 < ttl_ms <= 1100 + 100  # one interval ahead plus the margin


@needs_redis
async def test_cancelled_acquire_gives_its_slot_back(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=2)
    await limiter.acquire("g")
    began = time.monotonic()
    doomed = asyncio.create_task(limiter.acquire("g"))  # reserves the slot at +0.5 s
    await asyncio.sleep(0.05)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await asyncio.sleep(0.05)  # the refund runs as its own task

    await limiter.acquire("g")
    waited = time.monotonic() - began

    assert 0.4 <= waited <= 0.75  # the freed 0.5 s slot, not the next one at 1.0 s


# --- Redis down -------------------------------------------------------------------------


async def test_redis_down_at_start_falls_back_with_one_warning(
    make_limiter: MakeLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    fallback = RecordingLimiter()
    # retry_interval=0 probes Redis on every call: each probe fails, one warning all the same.
    limiter = make_limiter(
        _dead_url(), rate=10, fallback=fallback, op_timeout=0.5, retry_interval=0.0
    )

    began = time.monotonic()
    for _ in range(5):
        await limiter.acquire("g")
        await limiter.release("g", RateFeedback(429, retry_after=0.1))
    elapsed = time.monotonic() - began

    assert fallback.acquired == ["g"] * 5
    assert [group for group, _ in fallback.released] == ["g"] * 5
    assert len(_records(caplog, logging.WARNING)) == 1
    assert elapsed < 1.0  # refused at once
    assert "hunter2pw" not in caplog.text
    assert "outage" in repr(limiter)


@needs_redis
async def test_redis_going_down_falls_back_and_recovers(
    own_redis: RedisServer, make_limiter: MakeLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    fallback = RecordingLimiter()
    limiter = make_limiter(own_redis.url, rate=50, fallback=fallback, retry_interval=0.2)
    await limiter.acquire("g")
    await limiter.release("g", None)
    assert fallback.acquired == []

    own_redis.stop()
    for _ in range(3):
        await limiter.acquire("g")
        await limiter.release("g", None)
    assert len(fallback.acquired) == 3
    assert len(_records(caplog, logging.WARNING)) == 1

    own_redis.start()
    await asyncio.sleep(0.25)  # past the retry interval
    for _ in range(3):
        await limiter.acquire("g")
        await limiter.release("g", None)

    assert len(fallback.acquired) == 3  # all three went through Redis again
    assert len(fallback.released) == 3
    assert any("back" in r.getMessage() for r in _records(caplog, logging.INFO))
    assert len(_records(caplog, logging.WARNING)) == 1


@needs_redis
async def test_stalled_redis_times_out_to_the_fallback(
    own_redis: RedisServer, make_limiter: MakeLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    fallback = RecordingLimiter()
    limiter = make_limiter(own_redis.url, rate=50, fallback=fallback, op_timeout=0.1)
    await limiter.acquire("g")
    await limiter.release("g", None)

    own_redis.freeze()
    try:
        began = time.monotonic()
        await limiter.acquire("g")
        waited = time.monotonic() - began
    finally:
        own_redis.thaw()

    assert fallback.acquired == ["g"]
    assert waited < 0.5
    assert len(_records(caplog, logging.WARNING)) == 1


@needs_redis
async def test_only_one_caller_probes_a_stalled_redis(
    own_redis: RedisServer, make_limiter: MakeLimiter
) -> None:
    fallback = RecordingLimiter()
    limiter = make_limiter(
        own_redis.url, rate=50, fallback=fallback, op_timeout=0.2, retry_interval=0.2
    )
    await limiter.acquire("g")
    await limiter.release("g", None)
    own_redis.freeze()
    try:
        await limiter.acquire("g")  # times out: the outage begins
        await asyncio.sleep(0.25)  # the next probe is due

        async def timed() -> float:
            began = time.monotonic()
            await limiter.acquire("g")
            return time.monotonic() - began

        waits = await asyncio.gather(*(timed() for _ in range(5)))
    finally:
        own_redis.thaw()

    slow = [w for w in waits if w > 0.1]
    assert len(slow) == 1, waits  # the prober; the others paced locally at once
    assert len(fallback.acquired) == 6


@needs_redis
async def test_script_error_falls_back(
    redis_server: RedisServer,
    make_limiter: MakeLimiter,
    raw_redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fallback = RecordingLimiter()
    limiter = make_limiter(redis_server.url, rate=10, fallback=fallback)
    await raw_redis.lpush(limiter.key("g"), "not a hash")  # WRONGTYPE inside the script

    await limiter.acquire("g")

    assert fallback.acquired == ["g"]
    assert len(_records(caplog, logging.WARNING)) == 1


async def test_default_fallback_paces_locally(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(_dead_url(), rate=10)

    began = time.monotonic()
    for _ in range(4):
        await limiter.acquire("g")
        await limiter.release("g", RateFeedback(200))
    elapsed = time.monotonic() - began

    assert 0.25 <= elapsed <= 0.8  # three intervals of 0.1 s after the first


async def test_fallback_made_here_is_closed_but_a_given_one_is_not(
    make_limiter: MakeLimiter,
) -> None:
    given_fallback = RecordingLimiter()
    limiter = make_limiter(_dead_url(), rate=10, fallback=given_fallback)
    await limiter.acquire("g")
    await limiter.release("g", None)
    await limiter.aclose()
    assert not given_fallback.closed


# --- configuration, secrets, optional dependency ----------------------------------------


def test_default_name_is_a_digest_of_the_api_key() -> None:
    key = "api_1234567890abcdefSECRET"
    limiter = RedisRateLimiter(rate=10, api_key=key)

    assert limiter.name == hashlib.sha256(key.encode()).hexdigest()[:16]
    assert key not in limiter.name
    assert key not in repr(limiter)
    assert key not in limiter.key("g")
    assert RedisRateLimiter(rate=10).name == "default"
    assert RedisRateLimiter(rate=10, api_key=key, name="team-a").name == "team-a"


@needs_redis
async def test_api_key_never_reaches_redis(redis_server: RedisServer, raw_redis: Any) -> None:
    key = f"api_SECRET{time.monotonic_ns()}"
    limiter = RedisRateLimiter(redis_server.url, rate=10, api_key=key)
    try:
        await limiter.acquire("g")
        await limiter.release("g", RateFeedback(429, retry_after=0.01))
    finally:
        await limiter.aclose()
    stored = [k.decode() for k in await raw_redis.keys("close_async:*")]
    assert limiter.key("g") in stored
    assert not any(key in k for k in stored)


@settings(max_examples=50, deadline=None)
@given(
    user=st.sampled_from(["", "worker"]),
    password=st.text(min_size=1, max_size=20).map(lambda s: "Zq9" + s),
)
def test_repr_and_errors_hide_the_url_password(user: str, password: str) -> None:
    url = f"redis://{user}:{quote(password, safe='')}@127.0.0.1:6390/0"
    limiter = RedisRateLimiter(url, rate=10)
    shown = repr(limiter)
    assert password not in shown
    assert quote(password, safe="") not in shown
    assert "127.0.0.1:6390" in shown

    with pytest.raises(ConfigurationError) as excinfo:
        RedisRateLimiter(f"nosuch://:{quote(password, safe='')}@host/0", rate=10)
    assert "Zq9" not in str(excinfo.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": -1},
        {"rate": math.nan},
        {"rate": math.inf},
        {"rate": 10, "burst": 0},
        {"rate": 10, "burst": 1.5},
        {"rate": 10, "op_timeout": 0},
        {"rate": 10, "retry_interval": -1},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RedisRateLimiter("redis://127.0.0.1:6390/0", **kwargs)


def test_is_a_rate_limiter() -> None:
    assert isinstance(RedisRateLimiter(rate=1), RateLimiter)


def test_package_imports_without_redis_installed() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if not installed
        import close_async
        from close_async._engine.errors import ConfigurationError, RateLimitError
        from close_async._engine.ratelimit.redis import RedisRateLimiter
        try:
            RedisRateLimiter(rate=10)
        except ConfigurationError as exc:
            assert "close-async[redis]" in str(exc), exc
        else:
            raise SystemExit("built a RedisRateLimiter without redis")
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_ci_has_a_redis_server() -> None:
    # Locally the Redis tests may skip; in CI a skip would hide a broken shared limiter.
    if os.environ.get("CI") and REDIS_SERVER is None:
        pytest.fail("CI must install redis-server (.ci/run does): the Redis tests did not run")


@needs_redis
async def test_a_limit_close_states_caps_a_rate_set_above_it(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=1000)
    await limiter.acquire("g")
    # Close says 10 per second are allowed (plenty left, so no pause): pace at 97% of it.
    await limiter.release("g", RateFeedback(200, RateLimitInfo(limit=10, remaining=9, reset=1.0)))
    began = time.monotonic()
    for _ in range(4):
        await limiter.acquire("g")
    assert time.monotonic() - began >= 3 * 0.1  # not 1,000/s: about 103 ms apart


@needs_redis
async def test_a_configured_rate_below_the_stated_limit_still_rules(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=5)
    await limiter.acquire("g")
    await limiter.release("g", RateFeedback(200, RateLimitInfo(limit=1000, remaining=9, reset=1)))
    began = time.monotonic()
    for _ in range(3):
        await limiter.acquire("g")
    assert time.monotonic() - began >= 2 * 0.2 - 0.02


# --- bounded waits, whole-second windows, learned pace, organizations --------------------

HUGE = 1e9


async def redis_now(client: Any) -> int:
    seconds, micros = await client.time()
    return int(seconds) * 1_000_000 + int(micros)


async def field(client: Any, key: str, name: str) -> int | None:
    value = await client.hget(key, name)
    return None if value is None else int(value)


async def field_changed(client: Any, key: str, name: str, old: int | None) -> int | None:
    """``name`` once another task has written it (a fixed sleep would race a slow machine)."""
    async with asyncio.timeout(5):
        # Polled: the write happens in Redis, where no asyncio.Event can see it.
        while (value := await field(client, key, name)) == old:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    return value


async def pause_written(client: Any, key: str, action: Any) -> tuple[float, float]:
    """Run ``action``; the shortest and longest pause (s) it can have written, from Redis
    times read around it (so a slow machine cannot fail the check)."""
    before = await redis_now(client)
    await action
    after = await redis_now(client)
    pause = await field(client, key, "pause")
    assert pause is not None
    return (pause - after) / 1_000_000, (pause - before) / 1_000_000


async def pause_left(client: Any, key: str) -> float:
    pause = await field(client, key, "pause")
    return 0.0 if pause is None else (pause - await redis_now(client)) / 1_000_000


# --- bounded waits -----------------------------------------------------------------------


@needs_redis
async def test_a_pause_longer_than_max_wait_is_stored_but_refused_at_once_everywhere(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    one = make_limiter(redis_server.url, rate=10)
    two = make_limiter(redis_server.url, rate=10)
    await one.acquire("g")
    await one.release("g", RateFeedback(429, retry_after=HUGE))
    assert await pause_left(raw_redis, one.key("g")) > HUGE - 5  # the truth, not a cap
    tat = await field(raw_redis, one.key("g"), "tat")
    for limiter in (one, two):
        with pytest.raises(RateLimitError) as caught:
            await asyncio.wait_for(limiter.acquire("g"), 5)
        assert caught.value.retry_after == pytest.approx(HUGE, abs=5)
    assert await field(raw_redis, one.key("g"), "tat") == tat  # a refusal reserves nothing


@needs_redis
async def test_a_day_long_spent_budget_is_refused_at_once(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=10)
    await limiter.acquire("g")
    await limiter.release("g", ok(40, 0, 86400))
    with pytest.raises(RateLimitError) as caught:
        await asyncio.wait_for(limiter.acquire("g"), 5)
    assert 86000 < (caught.value.retry_after or 0) <= 86400


@needs_redis
async def test_a_pause_within_max_wait_is_waited_out(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    limiter = make_limiter(redis_server.url, rate=10, max_wait=0.5)
    await limiter.release("g", RateFeedback(429, retry_after=0.2))
    await asyncio.wait_for(limiter.acquire("g"), 5)  # no refusal: 0.2 s < max_wait
    await limiter.release("g", RateFeedback(429, retry_after=0.8))
    with pytest.raises(RateLimitError):
        await asyncio.wait_for(limiter.acquire("g"), 5)


@needs_redis
async def test_a_long_pause_written_while_waiting_for_a_slot_is_refused(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    one = make_limiter(redis_server.url, rate=10)
    two = make_limiter(redis_server.url, rate=10)
    await one.acquire("g")
    tat = await field(raw_redis, one.key("g"), "tat")
    waiting = asyncio.create_task(one.acquire("g"))  # its slot is 0.1 s ahead
    await field_changed(raw_redis, one.key("g"), "tat", tat)
    await two.release("g", RateFeedback(429, retry_after=HUGE))
    with pytest.raises(RateLimitError):
        await asyncio.wait_for(waiting, 5)


@needs_redis
async def test_a_normal_answer_lifts_a_pause_too_long_to_wait(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=10)
    await limiter.acquire("g")
    await limiter.acquire("g")
    await limiter.release("g", RateFeedback(429, retry_after=HUGE))
    with pytest.raises(RateLimitError):
        await asyncio.wait_for(limiter.acquire("g"), 5)
    await limiter.release("g", ok(40, 30, 1))  # the other request was answered after all
    assert await pause_left(raw_redis, limiter.key("g")) <= 0
    await asyncio.wait_for(limiter.acquire("g"), 5)


def test_max_wait_and_organization_settings_are_checked() -> None:
    url = "redis://127.0.0.1:6390/0"
    for kwargs in (
        {"max_wait": -1},
        {"organization": "acme"},
        {"organization_rate": 30},
        {"organization": "", "organization_rate": 30},
        {"organization": "acme", "organization_rate": 0},
        {"rate": True},
    ):
        with pytest.raises(ConfigurationError):
            RedisRateLimiter(url, **kwargs)  # type: ignore[arg-type]


# --- whole-second resets: the shared window start -----------------------------------------


@needs_redis
async def test_the_first_answer_of_a_window_is_shared_as_its_start(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    one = make_limiter(redis_server.url, rate=40)
    two = make_limiter(redis_server.url, rate=40)
    key = one.key("g")
    for limiter in (one, two):
        await limiter.release("g", ok(40, 3, 1))  # late in a window
    assert await field(raw_redis, key, "wbegin") is None
    await two.release("g", ok(40, 20, 1))  # up, but too much counted to date the window
    assert await field(raw_redis, key, "wbegin") is None
    before = await redis_now(raw_redis)
    await one.release("g", ok(40, 39, 1))  # the count went back up: a new window
    first = await field(raw_redis, key, "wbegin")
    assert first is not None
    assert before <= first <= await redis_now(raw_redis)
    await asyncio.sleep(0.05)
    await two.release("g", ok(40, 38, 1))  # the same window, seen later: the earliest stays
    assert await field(raw_redis, key, "wbegin") == first
    await one.release("g", ok(40, 37, 1))  # counting down: no new window
    assert await field(raw_redis, key, "wbegin") == first


@needs_redis
async def test_the_very_first_answer_of_a_window_dates_it(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=40)
    await limiter.release("g", ok(40, 39, 1))
    assert await field(raw_redis, limiter.key("g"), "wbegin") is not None


@needs_redis
async def test_a_spent_budget_pauses_only_until_the_learned_window_end(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=40)
    key = limiter.key("g")
    await limiter.release("g", ok(40, 39, 1))
    # The window began 0.7 s ago; Close's rounded-up reset=1 would pause a whole second.
    began = await redis_now(raw_redis) - 700_000
    await raw_redis.hset(key, "wbegin", began)
    await limiter.release("g", ok(40, 0, 1))
    assert await field(raw_redis, key, "pause") == began + 1_000_000  # the window's end


@needs_redis
@pytest.mark.parametrize(
    ("rate", "first_reset", "began_ago", "answer", "pause"),
    [
        # Close's reset=1 is rounded up: cut to the window's end, but a refusal still
        # costs a slot, so one interval is left, not a second.
        pytest.param(
            10,
            1,
            950_000,
            RateFeedback(429, ok(40, 0, 1).info, retry_after=1.0),
            0.1,
            id="whole-second-retry-after",
        ),
        pytest.param(40, 0.93, 700_000, ok(40, 0, 0.8), 0.8, id="decimal-reset"),
        # The window began longer ago than it lasts: its start says nothing of this pause.
        pytest.param(40, 1, 2_500_000, ok(40, 0, 1), 1.0, id="stale-window-start"),
        # Another limit's wait, not a rounded reset.
        pytest.param(
            40, 1, 700_000, RateFeedback(429, retry_after=30.0), 30.0, id="longer-than-the-window"
        ),
    ],
)
async def test_only_a_rounded_up_pause_is_cut_to_the_window_end(
    redis_server: RedisServer,
    make_limiter: MakeLimiter,
    raw_redis: Any,
    rate: float,
    first_reset: float,
    began_ago: int,
    answer: RateFeedback,
    pause: float,
) -> None:
    limiter = make_limiter(redis_server.url, rate=rate)
    key = limiter.key("g")
    await limiter.release("g", ok(40, 39, first_reset))
    await raw_redis.hset(key, "wbegin", await redis_now(raw_redis) - began_ago)
    shortest, longest = await pause_written(raw_redis, key, limiter.release("g", answer))
    assert shortest <= pause <= longest


@needs_redis
async def test_a_spent_budget_reported_just_after_a_new_window_began_is_the_old_one(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=10)
    key = limiter.key("g")
    await limiter.release("g", ok(40, 39, 1))  # the first answer of a new window
    await limiter.release("g", ok(40, 0, 1))  # overtaken: the end of the window before
    assert await pause_left(raw_redis, key) <= 0
    refused = RateFeedback(429, ok(40, 0, 1).info, retry_after=1.0)
    shortest, longest = await pause_written(raw_redis, key, limiter.release("g", refused))
    assert shortest <= 0.1 <= longest  # a refusal costs one slot


@needs_redis
async def test_a_spent_budget_of_a_window_already_over_pauses_nobody(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url, rate=40)
    key = limiter.key("g")
    await limiter.release("g", ok(40, 39, 1))
    await raw_redis.hset(key, "wbegin", await redis_now(raw_redis) - 1_200_000)
    await limiter.release("g", ok(40, 0, 1))  # its window ended 0.2 s ago
    assert await pause_left(raw_redis, key) <= 0


# --- no rate: the pace learned from Close, shared --------------------------------------------


@attrs.frozen
class Reservation:
    """A group's tat before and after one reservation, and Redis's clock read around it
    (us), so a check can bound the ``now`` the reservation saw: a machine slow enough to let
    a slot pass cannot fail it. ``task`` is the acquire, still sleeping for its slot."""

    before: int
    after: int
    clock_before: int
    clock_after: int
    task: asyncio.Task[None]


async def reserve(raw_redis: Any, key: str, acquire: Callable[[], Awaitable[None]]) -> Reservation:
    """Start ``acquire`` and wait for its reservation to land in Redis."""
    before = await field(raw_redis, key, "tat")
    assert before is not None
    clock_before = await redis_now(raw_redis)
    task = asyncio.ensure_future(acquire())
    after = await field_changed(raw_redis, key, "tat", before)
    clock_after = await redis_now(raw_redis)
    assert after is not None
    return Reservation(before, after, clock_before, clock_after, task)


async def slot_spacing(raw_redis: Any, limiter: RedisRateLimiter, group: str) -> tuple[int, int]:
    """How far one more reservation moves the group's tat (us), as the shortest and longest
    it can be: GCRA moves tat on from ``max(tat, now)`` (on a quick machine both are equal)."""
    await limiter.acquire(group)
    slot = await reserve(raw_redis, limiter.key(group), lambda: limiter.acquire(group))
    slot.task.cancel()
    await asyncio.gather(slot.task, return_exceptions=True)
    return (
        slot.after - max(slot.before, slot.clock_after),
        slot.after - max(slot.before, slot.clock_before),
    )


@needs_redis
async def test_without_a_rate_the_limit_one_process_learns_paces_them_all(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    learner = make_limiter(redis_server.url)
    other = make_limiter(redis_server.url)
    # Nothing known yet: one request at a time asks Close.
    await learner.acquire("g")
    waiting = asyncio.create_task(learner.acquire("g"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await learner.release("g", ok(20, 19, 1))  # the answer states the limit
    await asyncio.wait_for(waiting, 5)
    expected = round(1 / (0.97 * 20) * 1_000_000)
    assert await field(raw_redis, learner.key("g"), "ivl") == expected
    # Another process, which has seen no answer yet, paces by what was learned.
    low, high = await slot_spacing(raw_redis, other, "g")
    assert low <= expected <= high
    assert "learned" in repr(other)


@needs_redis
async def test_without_any_limit_from_close_probes_go_one_at_a_time_and_slowly(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    one = make_limiter(redis_server.url)
    two = make_limiter(redis_server.url)
    await one.acquire("g")
    # Another process probes too: its probe waits a probe interval past the first one.
    probe = await reserve(raw_redis, one.key("g"), lambda: two.acquire("g"))
    # A probe goes a probe interval (0.1 s) after the last one, or now if that has passed.
    spaced = probe.before + 100_000
    assert max(spaced, probe.clock_before) <= probe.after <= max(spaced, probe.clock_after)
    await one.release("g", RateFeedback(200))  # an answer without numbers teaches nothing
    await asyncio.wait_for(probe.task, 5)
    await two.release("g", None)


@needs_redis
async def test_a_given_rate_below_the_learned_limit_still_rules(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    learner = make_limiter(redis_server.url)
    capped = make_limiter(redis_server.url, rate=5)
    await learner.release("g", ok(40, 39, 1))
    low, high = await slot_spacing(raw_redis, capped, "g")
    assert low <= 200_000 <= high


# --- the organization's budget ---------------------------------------------------------------


@needs_redis
async def test_keys_of_one_organization_share_its_budget_too(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    org = f"acme-{id(raw_redis)}"
    one = make_limiter(redis_server.url, name=f"{org}-key1", rate=1000, organization=org,
                       organization_rate=2)  # fmt: skip
    two = make_limiter(redis_server.url, name=f"{org}-key2", rate=1000, organization=org,
                       organization_rate=2)  # fmt: skip
    assert one.organization_key("g") == f"close_async:rl-org:{org}:g"
    assert one.key("g") != two.key("g")
    await one.acquire("g")
    # The second key's own budget has room, the organization's not: its slot is 0.5 s on.
    slot = await reserve(raw_redis, one.organization_key("g") or "", lambda: two.acquire("g"))
    assert not slot.task.done()
    start = slot.before
    assert max(start, slot.clock_before) + 500_000 <= slot.after
    assert slot.after <= max(start, slot.clock_after) + 500_000
    key_tat = await field(raw_redis, two.key("g"), "tat")
    assert key_tat is not None
    # The key's slot moved with the organization's (on its own it would be about now).
    assert key_tat >= max(start, slot.clock_before)
    await asyncio.wait_for(slot.task, 5)


@needs_redis
async def test_a_cancelled_acquire_gives_both_slots_back(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    org = f"refund-{id(raw_redis)}"
    limiter = make_limiter(redis_server.url, rate=10, organization=org, organization_rate=10)
    await limiter.acquire("g")
    key_tat = await field(raw_redis, limiter.key("g"), "tat")
    org_tat = await field(raw_redis, limiter.organization_key("g") or "", "tat")
    task = asyncio.create_task(limiter.acquire("g"))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0.05)  # the refund runs in the background
    assert await field(raw_redis, limiter.key("g"), "tat") == key_tat
    assert await field(raw_redis, limiter.organization_key("g") or "", "tat") == org_tat


# --- over loopback: a hostile server, workers sharing one Redis ------------------------


def _hostile_server(headers: dict[str, str], status: int) -> AbstractAsyncContextManager[str]:
    from aiohttp import web

    from tests.conftest import call_payload, serve_api

    async def handler(request: web.Request) -> web.StreamResponse:
        body: Any = call_payload() if status == 200 else {"error": "Too many requests"}
        return web.json_response(body, status=status, headers=headers)

    return serve_api(handler)


@needs_redis
@pytest.mark.parametrize(
    ("status", "headers", "told"),
    [
        (429, {"Retry-After": "1000000000"}, 1e9),
        (200, {"ratelimit": "limit=40, remaining=0, reset=86400"}, 86400),
    ],
)
async def test_workers_sharing_redis_raise_promptly_after_a_pause_of_ages(
    redis_server: RedisServer,
    make_limiter: MakeLimiter,
    status: int,
    headers: dict[str, str],
    told: float,
) -> None:
    from close_async import CloseClient

    async with _hostile_server(headers, status) as url:
        first = CloseClient("api_k", base_url=url, rate_limiter=make_limiter(redis_server.url))
        other = CloseClient("api_k", base_url=url, rate_limiter=make_limiter(redis_server.url))
        async with first, other, asyncio.timeout(30):
            if status == 429:
                with pytest.raises(RateLimitError):
                    await first.calls.get("acti_3fKQ1nK8zqg7PbZ0")
            else:
                await first.calls.get("acti_3fKQ1nK8zqg7PbZ0")
            for client in (first, other):  # the other worker never heard from Close
                with pytest.raises(RateLimitError) as caught:
                    await client.calls.get("acti_3fKQ1nK8zqg7PbZ0")
                assert told - 60 < (caught.value.retry_after or 0) <= told
            assert other.stats.requests == 0


@needs_redis
async def test_a_deadline_ending_in_the_shared_pause_names_it(
    redis_server: RedisServer, make_limiter: MakeLimiter
) -> None:
    from close_async import APITimeoutError, CloseClient

    headers = {"ratelimit": "limit=40, remaining=0, reset=60"}
    async with _hostile_server(headers, 200) as url:
        limiter = make_limiter(redis_server.url)
        async with CloseClient("api_k", base_url=url, rate_limiter=limiter) as close:
            await close.calls.get("acti_3fKQ1nK8zqg7PbZ0")
            with pytest.raises(APITimeoutError) as caught:
                await asyncio.wait_for(close.calls.get("acti_3fKQ1nK8zqg7PbZ0", timeout=0.1), 30)
    last = caught.value.last_error
    assert isinstance(last, RateLimitError)
    assert "paused" in str(last)


@needs_redis
async def test_a_come_back_now_429_still_costs_a_slot_with_no_limit_known(
    redis_server: RedisServer, make_limiter: MakeLimiter, raw_redis: Any
) -> None:
    limiter = make_limiter(redis_server.url)
    before = await redis_now(raw_redis)
    await limiter.release("g", RateFeedback(429, retry_after=0.0))
    after = await redis_now(raw_redis)
    pause = await field(raw_redis, limiter.key("g"), "pause")
    assert pause is not None
    assert before + 100_000 <= pause <= after + 100_000
