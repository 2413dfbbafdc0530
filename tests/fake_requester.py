"""A scripted, in-memory Requester for resource tests: no HTTP, no clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from close_async._engine.engine import ClientStats
from close_async._engine.http.request import Request


class FakeRequester:
    """Answers each request with the next scripted answer (an exception is raised).

    Records every request and its deadline; a request past the script fails the test.
    """

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.deadlines: list[float | None] = []
        self._stats = ClientStats()

    @property
    def stats(self) -> ClientStats:
        return self._stats

    @property
    def telemetry(self) -> None:
        return None

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        self.requests.append(request)
        self.deadlines.append(deadline)
        # Give way once, as a real request would, so overlapping fetches can be seen.
        await asyncio.sleep(0)
        if not self.answers:
            raise AssertionError(f"unexpected request: {request!r}")
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        # As the engine does: what ``parse`` makes of the answer (a list's page reader).
        return answer if parse is None else parse(answer)

    @property
    def params(self) -> list[dict[str, str]]:
        """Each request's query, as a dict."""
        return [dict(r.params) for r in self.requests]
