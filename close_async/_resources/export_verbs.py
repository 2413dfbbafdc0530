"""``start``, ``wait``, ``rows`` and ``stream`` on ``close.exports``: an export end to end.

The generator gives this mixin to the group that has ``create_lead`` (``POST
export/lead/``), ``create_opportunity`` and ``get`` (``GET export/{id}/``); see ``MIXINS``
in tools/codegen/render.py. Each method builds on those generated operations, so every
request goes through the client's limiter, retries, error mapping and timeouts. The
file's rows are read by ``export_rows`` (gzip streamed in flat memory).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._engine.config import Timeout
from .._engine.errors import (
    APIConnectionError,
    APITimeoutError,
    ClientValidationError,
    ConfigurationError,
    ExportError,
)
from .export_stream import FORMATS, export_rows

if TYPE_CHECKING:
    from .._types.generated.exports import Export

__all__ = ["ExportKind", "ExportVerbs"]

ExportKind = Literal["lead", "opportunity"]

_ENDED = ("failed", "error", "canceled")
_WAIT_SECONDS = 900.0  # how long a wait lasts when its Timeout sets no total


def _body(
    kind: str,
    query: str | None,
    params: Mapping[str, Any] | None,
    format: str,
    fields: Sequence[str] | None,
    send_done_email: bool = False,
) -> dict[str, Any]:
    if kind not in ("lead", "opportunity"):
        raise ClientValidationError('the kind must be "lead" or "opportunity"', field="kind")
    if format not in FORMATS:
        raise ClientValidationError('format must be "json" or "csv"', field="format")
    # Close filters each kind its own way; a filter it would ignore must not silently
    # widen the export to every object.
    if kind == "opportunity" and query is not None:
        raise ClientValidationError(
            "an opportunity export is filtered by params (the opportunity list's filters), "
            "not query",
            field="query",
        )
    if kind == "lead" and params is not None:
        raise ClientValidationError(
            "a lead export is filtered by query (a search query), not params", field="params"
        )
    if isinstance(fields, str):
        raise ClientValidationError("fields must be a list of field names", field="fields")
    if not isinstance(send_done_email, bool):
        raise ClientValidationError(
            "send_done_email must be true or false", field="send_done_email"
        )
    # Close emails the user when an export is done unless told not to: one email per
    # export a program starts and waits for itself is noise, so off unless asked.
    body: dict[str, Any] = {"format": format, "send_done_email": send_done_email}
    if kind == "lead":
        body["type"] = "leads"  # one row a lead (Close also offers "contacts", "lead_opps")
    if query is not None:
        body["query"] = query
    if params is not None:
        body["params"] = dict(params)
    if fields is not None:
        body["fields"] = list(fields)
    return body


def _wait_timeout(timeout: float | Timeout) -> tuple[Timeout | None, float]:
    """A wait's ``timeout`` as (the phases of each poll, if given; the whole wait's seconds)."""
    if isinstance(timeout, Timeout):
        return timeout, timeout.total if timeout.total is not None else _WAIT_SECONDS
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError(f"timeout must be a Timeout or positive seconds, got {timeout!r}")
    return None, float(timeout)


class ExportVerbs:
    """Start an export, wait for it, stream its rows: methods of ``close.exports``."""

    create_lead: Callable[..., Awaitable[Export]]
    create_opportunity: Callable[..., Awaitable[Export]]
    get: Callable[..., Awaitable[Export]]

    async def start(
        self,
        kind: ExportKind,
        *,
        query: str | None = None,
        params: Mapping[str, Any] | None = None,
        format: str = "json",
        fields: Sequence[str] | None = None,
        send_done_email: bool = False,
        timeout: float | Timeout | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> Export:
        """Start a ``"lead"`` or ``"opportunity"`` export; Close's answer carries its ``id``.

        Leads are filtered by ``query`` (a search query, ``"status:Trial"``),
        opportunities by ``params`` (the opportunity list's filters); ``format`` is
        ``"json"`` or ``"csv"``; ``fields`` limits the columns; ``send_done_email``
        (default false) asks Close to email the user when it is done. Checked before
        sending (:class:`~close_async.ClientValidationError` naming the argument).
        ``timeout``, ``extra_headers``, ``extra_query``: this call's options, as on every
        method.
        """
        body = _body(kind, query, params, format, fields, send_done_email)
        create = self.create_lead if kind == "lead" else self.create_opportunity
        return await create(
            body, timeout=timeout, extra_headers=extra_headers, extra_query=extra_query
        )

    async def wait(
        self,
        export: str | Export,
        *,
        timeout: float | Timeout = 900.0,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        first_wait: float = 1.0,
        max_wait: float = 30.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Export:
        """Poll ``GET export/{id}/`` until it is ``done``; return it (with ``download_url``).

        ``export`` is the id or the started :class:`~close_async.models.Export`. Waits
        ``first_wait`` seconds, doubling up to ``max_wait``; ``timeout`` (seconds, default
        900) bounds the whole wait, each poll's request (and its retries) included; a
        :class:`~close_async.Timeout` gives each poll its phases too, its ``total`` (900 s
        if unset) bounding the whole wait. ``extra_headers`` and ``extra_query`` go with
        each poll. Raises :class:`~close_async.ExportError` (``.export_id``, the last
        ``.status``) when it ends ``failed``/``error``/``canceled`` or the time runs out
        first. ``sleep`` and ``clock`` are for tests.
        """
        phases, seconds = _wait_timeout(timeout)
        return await self._wait(
            export,
            phases,
            seconds,
            extra_headers=extra_headers,
            extra_query=extra_query,
            first_wait=first_wait,
            max_wait=max_wait,
            sleep=sleep,
            clock=clock,
        )

    async def _wait(
        self,
        export: str | Export,
        phases: Timeout | None,
        seconds: float,
        *,
        extra_headers: Mapping[str, str | None] | None,
        extra_query: Mapping[str, object] | None,
        first_wait: float,
        max_wait: float,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> Export:
        # ``seconds`` may be spent already (a stream's start took it all): then no poll.
        export_id = export if isinstance(export, str) else export.id
        if not isinstance(export_id, str) or not export_id:
            raise ClientValidationError("the export has no id", field="export")
        ends = clock() + seconds
        wait = first_wait
        status: str | None = None if isinstance(export, str) else export.status

        def late(status: str | None) -> ExportError:
            return ExportError(
                f"export {export_id} was not done within {seconds}s (last status {status!r})",
                export_id=export_id,
                status=status,
            )

        while True:
            left = ends - clock()
            if left <= 0:
                raise late(status)
            try:
                seen = await self.get(
                    export_id,
                    timeout=left if phases is None else attrs.evolve(phases, total=left),
                    extra_headers=extra_headers,
                    extra_query=extra_query,
                )
            except APITimeoutError as exc:
                if isinstance(exc, APIConnectionError):
                    raise  # one attempt's timeout, retries spent: not this wait running out
                raise late(status) from exc
            status = seen.status
            if status == "done" and seen.download_url:
                return seen
            if status in _ENDED:
                raise ExportError(
                    f"export {export_id} ended {status}", export_id=export_id, status=status
                )
            left = ends - clock()
            if left <= 0:
                raise late(status)
            await sleep(min(wait, left))
            wait = min(wait * 2, max_wait)

    def rows(self, export: Export, *, format: str | None = None) -> AsyncIterator[Any]:
        """The rows of a done export's file (see ``export_stream.export_rows``), in its
        own ``format`` unless ``format`` says otherwise.

        Use with ``contextlib.aclosing`` when breaking out early, so the download closes now.
        """
        if not export.download_url:
            raise ClientValidationError(
                f"export {export.id} has no download_url yet: wait for it first", field="export"
            )
        chosen = format or export.format
        if chosen is None:
            raise ClientValidationError("the export does not say its format", field="format")
        return export_rows(export.download_url, chosen)

    async def stream(
        self,
        kind: ExportKind,
        *,
        query: str | None = None,
        params: Mapping[str, Any] | None = None,
        format: str = "json",
        fields: Sequence[str] | None = None,
        send_done_email: bool = False,
        timeout: float | Timeout = 900.0,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        first_wait: float = 1.0,
        max_wait: float = 30.0,
    ) -> AsyncIterator[Any]:
        """:meth:`start` an export, :meth:`wait` for it and yield its rows.

        ``timeout`` (seconds or a :class:`~close_async.Timeout`, as for :meth:`wait`)
        bounds starting and waiting (the download then runs as long as the file is);
        ``extra_headers`` and ``extra_query`` go with each of those requests. Example::

            async for lead in close.exports.stream("lead", query="status:Trial"):
                ...
        """
        phases, seconds = _wait_timeout(timeout)
        started_at = time.monotonic()
        started = await self.start(
            kind,
            query=query,
            params=params,
            format=format,
            fields=fields,
            send_done_email=send_done_email,
            timeout=seconds if phases is None else attrs.evolve(phases, total=seconds),
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        done = await self._wait(
            started,
            phases,
            seconds - (time.monotonic() - started_at),
            extra_headers=extra_headers,
            extra_query=extra_query,
            first_wait=first_wait,
            max_wait=max_wait,
        )
        async for row in self.rows(done, format=format):
            yield row
