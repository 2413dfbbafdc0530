"""What a call is doing right now, so that a timeout cutting it can say what it cut.

Each attempt starts a fresh :class:`PhaseMark` (:func:`begin`, kept in a context variable of
the attempt's task); the engine, the transport's connector and the retry loop move it on as
the attempt goes (:func:`enter`, or the mark itself). A limiter sleeping out a pause Close
asked for records that pause on the mark (:attr:`PhaseMark.pause`). When a timeout ends the
call, :func:`current` is what it was doing, :func:`describe` the words for it, and the
mark's pause why it was still waiting. The mark is the attempt's: nothing on it outlives
the attempt or reaches another call.

A mark is never cleared when the timeout cancels the awaited step: that is the point. A
fresh mark per attempt, rather than one per task, keeps calls apart that run in tasks
spawned from one another (``asyncio.gather``): a child task's context starts as a copy of
its parent's, mark included.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Literal, get_args

__all__ = ["PHASES", "Phase", "PhaseMark", "begin", "current", "describe", "enter", "mark"]

Phase = Literal["rate_limiter", "authorizing", "connecting", "waiting", "reading", "retry_wait"]
"""Where a call was when its whole-call timeout ran out:

- ``rate_limiter``: waiting for the rate limiter to let the attempt go;
- ``authorizing``: waiting for an OAuth access token (a refresh);
- ``connecting``: waiting for a pooled connection or opening one;
- ``waiting``: a connection was had and the request handed to it (sending it included);
  Close's answer had not begun. With a session you pass to the client, connecting counts
  as waiting: only the client's own connector marks it;
- ``reading``: Close's answer had begun and was being read;
- ``retry_wait``: waiting before the next attempt, or the next attempt's wait would have
  outlasted the timeout.
"""

PHASES: tuple[Phase, ...] = get_args(Phase)

_DOING: dict[Phase, str] = {
    "rate_limiter": "waiting for the rate limiter",
    "authorizing": "waiting for an OAuth access token",
    "connecting": "connecting to Close",
    "waiting": "waiting for Close's answer",
    "reading": "reading Close's answer",
    "retry_wait": "waiting to retry",
}
# Before these, the attempt cut short had not left this machine.
_NOT_SENT: frozenset[Phase] = frozenset({"rate_limiter", "authorizing", "connecting"})
_MAY_HAVE_LANDED: frozenset[Phase] = frozenset({"waiting", "reading"})


class PhaseMark:
    """The phase of one attempt (mutable, so that every task of the attempt moves it), and
    the pause Close asked for that its limiter is sleeping out, if any (``pause``: the
    ``RateLimitError`` a call cut there names; left in place when the sleep is cancelled,
    since that is when it is read). Typed as any exception: the errors module imports this
    one."""

    __slots__ = ("pause", "phase")

    def __init__(self, phase: Phase) -> None:
        self.phase: Phase = phase
        self.pause: Exception | None = None


_MARK: ContextVar[PhaseMark | None] = ContextVar("close_async_call_phase", default=None)


def begin(phase: Phase) -> PhaseMark:
    """A fresh mark for the attempt the current task starts, in ``phase``."""
    mark = PhaseMark(phase)
    _MARK.set(mark)
    return mark


def enter(phase: Phase) -> None:
    """Move the current task's attempt to ``phase``."""
    mark = _MARK.get()
    if mark is None:
        begin(phase)
    else:
        mark.phase = phase


def mark() -> PhaseMark | None:
    """The current task's mark, for the steps that run outside its task."""
    return _MARK.get()


def current() -> Phase | None:
    """The phase the current task's call marked last (``None``: it marked none)."""
    found = _MARK.get()
    return None if found is None else found.phase


def describe(phase: Phase | None, *, seconds: float | None, earlier_error: bool) -> str:
    """The message of a whole-call timeout (``seconds``) that ran out in ``phase``;
    ``earlier_error`` says whether an attempt before failed (then "no attempt was sent"
    would not be true)."""
    when = f"timeout of {float(seconds)!r} s" if seconds is not None else "the timeout"
    if phase is None:
        return f"{when} ran out before the call could succeed"
    text = f"{when} ran out while {_DOING[phase]}"
    if phase in _NOT_SENT:
        text += " (this attempt was not sent)" if earlier_error else " (no attempt was sent)"
    elif phase in _MAY_HAVE_LANDED:
        text += " (it may have been applied)"
    return text
