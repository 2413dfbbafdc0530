"""A scripted, in-memory Requester for resource tests: no HTTP, no clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from close_async._engine.config import Timeout
from close_async._engine.engine import ClientStats
from close_async._engine.http.request import Request
from close_async._engine.options import RequestOptions
from close_async._engine.retry import RetryPolicy

DEFAULT_OPTIONS = RequestOptions(timeout=Timeout(), retry=RetryPolicy(), headers={})


class FakeRequester:
    """Answers each request with the next scripted answer (an exception is raised).

    Records every request and the options it came with (``None``: the requester's own);
    a request past the script fails the test.
    """

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.sent_options: list[RequestOptions | None] = []
        self.options = DEFAULT_OPTIONS
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
        options: RequestOptions | None = None,
    ) -> Any:
        self.requests.append(request)
        self.sent_options.append(options)
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
    def timeouts(self) -> list[float | None]:
        """Each request's whole-call timeout (seconds), ``None`` where it had none."""
        return [None if o is None else o.timeout.total for o in self.sent_options]

    @property
    def params(self) -> list[dict[str, str]]:
        """Each request's query, as a dict."""
        return [dict(r.params) for r in self.requests]
