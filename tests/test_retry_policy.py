"""The retry allow-list, as a table."""

from __future__ import annotations

import contextvars
import logging
import random
from typing import Any

import attrs
import pytest
import tenacity

from close_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ResponseTimeoutError,
    RetryEvent,
    RetryPolicy,
)
from close_async._engine.http.request import Request
from close_async._engine.phase import begin as begin_phase
from close_async._engine.retry import deadline_exceeded, make_retrying, retry_reason


def api(cls: type[APIStatusError], status: int) -> APIStatusError:
    return cls("x", status=status, method="PUT", path="activity/call/acti_1/")


@pytest.mark.parametrize(
    ("method", "error", "expected"),
    [
        ("PUT", api(RateLimitError, 429), "rate_limited"),
        ("POST", api(RateLimitError, 429), "rate_limited"),
        ("PUT", api(InternalServerError, 500), "server_error"),
        ("put", api(InternalServerError, 500), "server_error"),
        ("delete", ResponseTimeoutError("slow"), "timeout"),
        ("PUT", api(InternalServerError, 502), "server_error"),
        ("PUT", api(InternalServerError, 503), "server_error"),
        ("PUT", api(InternalServerError, 504), "server_error"),
        ("GET", api(InternalServerError, 500), "server_error"),
        ("DELETE", api(InternalServerError, 504), "server_error"),
        ("PUT", api(InternalServerError, 501), None),
        ("POST", api(InternalServerError, 500), None),
        ("POST", api(InternalServerError, 503), None),
        ("PUT", ConnectError("refused"), "connect_error"),
        ("POST", ConnectError("refused"), "connect_error"),
        ("PUT", ResponseTimeoutError("slow"), "timeout"),
        ("POST", ResponseTimeoutError("slow"), None),
        ("PUT", APIConnectionError("dropped"), "disconnected"),
        ("POST", APIConnectionError("dropped"), None),
        ("PUT", api(BadRequestError, 400), None),
        ("PUT", api(AuthenticationError, 401), None),
        ("PUT", api(NotFoundError, 404), None),
        ("PUT", ValueError("not ours"), None),
        ("PUT", KeyboardInterrupt(), None),
    ],
)
def test_retry_allow_list(method: str, error: BaseException, expected: str | None) -> None:
    assert retry_reason(Request(method, "activity/call/"), error) == expected


def test_no_wait_policy_keeps_the_rules_but_not_the_waits() -> None:
    policy = RetryPolicy.no_wait(attempts=3)
    assert policy.attempts == 3
    assert policy.wait_initial == 0
    assert policy.wait_max == 0


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


# --- the giving-up rules, the waits and the deadline, driven through tenacity ----------


class FakeTime:
    """A clock only the retry loop's sleep moves, and a record of what it slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@attrs.define
class Run:
    attempts: int
    events: list[RetryEvent]
    slept: list[float]
    book: Any
    outcome: object = None
    error: BaseException | None = None


REQUEST = Request("PUT", "activity/call/acti_1/")


async def drive(
    policy: RetryPolicy,
    outcomes: list[object],
    *,
    request: Request = REQUEST,
    deadline_at: float | None = None,
) -> Run:
    """Attempts answer with ``outcomes`` in turn (an exception is raised); what happened."""
    time = FakeTime()
    events: list[RetryEvent] = []
    retrying, book = make_retrying(
        policy,
        request,
        deadline_at=deadline_at,
        on_retry=events.append,
        sleep=time.sleep,
        clock=time.clock,
    )
    run = Run(attempts=0, events=events, slept=time.slept, book=book)
    answers = iter(outcomes)
    try:
        async for attempt in retrying:
            with attempt:
                run.attempts += 1
                answer = next(answers)
                if isinstance(answer, BaseException):
                    raise answer
                run.outcome = answer
    except Exception as exc:
        run.error = exc
    return run


def throttled(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError("slow down", status=429, retry_after=retry_after)


def fault(status: int = 500, retry_after: float | None = None) -> InternalServerError:
    return InternalServerError("oops", status=status, retry_after=retry_after)


@pytest.fixture
def top_of_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # Full jitter draws uniformly below the cap; drawing the cap makes the backoff exact.
    monkeypatch.setattr(tenacity.wait.random, "uniform", lambda low, high: high)


@pytest.mark.parametrize("attempts", [1, 2, 3])
async def test_faults_give_up_after_exactly_attempts(attempts: int) -> None:
    failing = await drive(RetryPolicy.no_wait(attempts=attempts), [fault()] * 5)
    assert failing.attempts == attempts
    assert isinstance(failing.error, InternalServerError)
    assert len(failing.events) == attempts - 1
    passing = await drive(
        RetryPolicy.no_wait(attempts=attempts), [fault()] * (attempts - 1) + ["ok"]
    )
    assert (passing.outcome, passing.error) == ("ok", None)


@pytest.mark.parametrize("allowed", [0, 1, 3])
async def test_429s_give_up_after_rate_limit_attempts(allowed: int) -> None:
    policy = RetryPolicy.no_wait(attempts=1, rate_limit_attempts=allowed)
    failing = await drive(policy, [throttled()] * 5)
    assert failing.attempts == allowed + 1
    assert isinstance(failing.error, RateLimitError)
    passing = await drive(policy, [throttled()] * allowed + ["ok"])
    assert (passing.outcome, passing.error) == ("ok", None)


async def test_faults_and_429s_have_separate_budgets() -> None:
    policy = RetryPolicy.no_wait(attempts=2, rate_limit_attempts=2)
    mixed = [throttled(), fault(), throttled(), "ok"]
    run = await drive(policy, mixed)
    assert run.outcome == "ok"
    assert [e.reason for e in run.events] == ["rate_limited", "server_error", "rate_limited"]
    assert (run.book.faults, run.book.throttles) == (1, 2)
    one_fault_too_many = await drive(policy, [throttled(), fault(), throttled(), fault(), "ok"])
    assert isinstance(one_fault_too_many.error, InternalServerError)
    assert one_fault_too_many.attempts == 4


@pytest.mark.parametrize(
    ("error", "kind"),
    [(throttled, RateLimitError), (lambda wait: fault(503, retry_after=wait), InternalServerError)],
)
async def test_a_server_wait_up_to_max_server_wait_is_slept_past_it_raises(
    error: Any, kind: type[Exception]
) -> None:
    policy = RetryPolicy(max_server_wait=30.0)
    at_the_cap = await drive(policy, [error(30.0), "ok"])
    assert (at_the_cap.outcome, at_the_cap.slept) == ("ok", [30.0])
    assert [e.wait for e in at_the_cap.events] == [30.0]
    past_it = await drive(policy, [error(30.001), "ok"])
    assert isinstance(past_it.error, kind)
    assert (past_it.attempts, past_it.slept, past_it.events) == (1, [], [])
    assert past_it.book.deadline_hit is False


async def test_a_429_without_a_wait_leaves_the_wait_to_the_limiter(top_of_jitter: None) -> None:
    run = await drive(RetryPolicy(), [throttled(None), "ok"])
    assert run.slept == [0.0]


async def test_a_5xx_without_retry_after_backs_off_exponentially(top_of_jitter: None) -> None:
    policy = RetryPolicy(attempts=6, wait_initial=1.0, wait_exp_base=3.0, wait_max=20.0)
    run = await drive(policy, [fault()] * 5 + ["ok"])
    assert run.slept == [1.0, 3.0, 9.0, 20.0, 20.0]
    assert [e.wait for e in run.events] == run.slept


async def test_a_long_run_of_faults_backs_off_at_wait_max(top_of_jitter: None) -> None:
    # 10.0 ** 309 overflows a float: from the 310th fault on, the cap alone bounds the wait.
    policy = RetryPolicy(attempts=320, wait_initial=1.0, wait_exp_base=10.0, wait_max=20.0)
    run = await drive(policy, [fault()] * 319 + ["ok"])
    assert run.outcome == "ok"
    assert run.slept[:3] == [1.0, 10.0, 20.0]
    assert run.slept[305:] == [20.0] * 14


async def test_backoff_counts_faults_only(top_of_jitter: None) -> None:
    policy = RetryPolicy(wait_initial=1.0, wait_exp_base=2.0)
    run = await drive(policy, [fault(), throttled(5.0), fault(), fault(503, 7.0), fault(), "ok"])
    assert run.slept == [1.0, 5.0, 2.0, 7.0, 8.0]


async def test_backoff_is_drawn_below_its_cap() -> None:
    policy = RetryPolicy(attempts=4, wait_initial=1.0, wait_max=3.0)
    run = await drive(policy, [fault()] * 3 + ["ok"])
    for slept, cap in zip(run.slept, [1.0, 2.0, 3.0], strict=True):
        assert 0 <= slept <= cap


async def test_the_deadline_gives_up_when_the_wait_would_reach_it() -> None:
    # Waits of 4 s from t=0: retries at 4 and 8; the next would land at 12 >= 10.
    run = await drive(RetryPolicy(), [throttled(4.0)] * 5 + ["ok"], deadline_at=10.0)
    assert run.attempts == 3
    assert run.slept == [4.0, 4.0]
    assert run.book.deadline_hit is True
    assert isinstance(run.error, RateLimitError)
    assert run.book.last_error is run.error


@pytest.mark.parametrize(("deadline_at", "hit"), [(8.0, True), (8.001, False)])
async def test_the_deadline_boundary(deadline_at: float, hit: bool) -> None:
    run = await drive(
        RetryPolicy(), [throttled(4.0), throttled(4.0), "ok"], deadline_at=deadline_at
    )
    assert run.book.deadline_hit is hit
    assert (run.outcome == "ok") is not hit
    assert run.slept == ([4.0] if hit else [4.0, 4.0])


async def test_no_deadline_never_cuts_retries_short() -> None:
    run = await drive(RetryPolicy(), [throttled(100.0)] * 3 + ["ok"])
    assert run.outcome == "ok"
    assert run.book.deadline_hit is False


async def test_each_retry_is_reported_once_with_what_failed() -> None:
    error = fault(502)
    request = Request("get", "activity/call/acti_9/")
    run = await drive(RetryPolicy.no_wait(), [error, "ok"], request=request)
    (event,) = run.events
    assert event == RetryEvent(
        method="GET",
        path="activity/call/acti_9/",
        attempt=1,
        wait=0.0,
        reason="server_error",
        error=error,
    )


async def test_retries_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="close_async.retry")
    await drive(RetryPolicy.no_wait(), [throttled(1.5), "ok"])
    (record,) = caplog.records
    assert record.getMessage() == (
        "retrying PUT activity/call/acti_1/ after rate_limited (attempt 1 failed), waiting 1.500 s"
    )


async def test_errors_off_the_allow_list_are_raised_at_once() -> None:
    run = await drive(RetryPolicy(), [ValueError("not ours"), "ok"])
    assert isinstance(run.error, ValueError)
    assert (run.attempts, run.events) == (1, [])


async def test_one_decision_per_failed_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each failed attempt is counted once and its jitter drawn once: what is slept is what
    # the event reports, and the backoff's cap follows the faults counted so far.
    caps: list[float] = []

    def draw(low: float, high: float) -> float:
        caps.append(high)
        return high / 2 + len(caps)  # a different value each draw

    monkeypatch.setattr(random, "uniform", draw)
    policy = RetryPolicy(attempts=4, wait_initial=1.0, wait_max=100.0)
    run = await drive(policy, [fault(), fault(), fault(), "ok"])
    assert caps == [1.0, 2.0, 4.0]
    assert run.slept == [1.5, 3.0, 5.0]
    assert [e.wait for e in run.events] == run.slept
    assert [e.attempt for e in run.events] == [1, 2, 3]
    assert (run.book.faults, run.book.throttles) == (3, 0)


async def test_disabled_never_retries() -> None:
    assert RetryPolicy.disabled() == RetryPolicy(attempts=1, rate_limit_attempts=0)
    for error in (fault(), throttled(), ConnectError("refused")):
        run = await drive(RetryPolicy.disabled(), [error, "ok"])
        assert (run.attempts, run.error, run.slept) == (1, error, [])


def test_no_wait_passes_its_budgets_through() -> None:
    assert RetryPolicy.no_wait() == RetryPolicy(wait_initial=0.0, wait_max=0.0)
    policy = RetryPolicy.no_wait(attempts=3, rate_limit_attempts=7)
    assert (policy.attempts, policy.rate_limit_attempts) == (3, 7)


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.attempts, policy.rate_limit_attempts, policy.max_server_wait) == (5, 20, 120.0)
    assert (policy.wait_initial, policy.wait_max, policy.wait_exp_base) == (0.5, 20.0, 2.0)


def test_deadline_exceeded_names_the_call_its_last_error_and_the_phase() -> None:
    last = fault(503)
    request = Request("DELETE", "activity/call/acti_2/")

    def make() -> APITimeoutError:
        begin_phase("retry_wait")
        return deadline_exceeded(request, last, seconds=2.0)

    error = contextvars.Context().run(make)
    assert isinstance(error, APITimeoutError)
    assert (error.method, error.path, error.last_error) == ("DELETE", "activity/call/acti_2/", last)
    assert error.phase == "retry_wait"
    assert (
        str(error)
        == "DELETE activity/call/acti_2/: timeout of 2.0 s ran out while waiting to retry"
    )
    # A task that marked no phase: nothing is made up.
    unknown = contextvars.Context().run(deadline_exceeded, request, None)
    assert unknown.phase is None
    assert str(unknown) == (
        "DELETE activity/call/acti_2/: the timeout ran out before the call could succeed"
    )
