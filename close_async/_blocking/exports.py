"""``close.exports.start/wait/rows/stream`` on the blocking client."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .stepping import iterate

if TYPE_CHECKING:
    from .._engine.config import Timeout
    from .._resources.export_verbs import ExportKind, ExportVerbs
    from .._types.generated.exports import Export
    from .portal import Portal

__all__ = ["BlockingExportVerbs"]


def _download_read_on() -> bool:
    # The rows of one download: reading on asks Close for nothing new, and a stream left
    # half-way is closed all the same (see stepping.iterate).
    return True


class BlockingExportVerbs:
    """Start an export, wait for it, stream its rows: the async ``close.exports`` verbs,
    blocking; rows are read from the download as the caller iterates (those already read
    handed over together, a few hundred at most), and leaving early closes it."""

    _portal: Portal
    _resource: Callable[[], ExportVerbs]

    def start(
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
        """Start a ``"lead"`` or ``"opportunity"`` export (the words of the async
        ``start``); Close's answer carries its ``id``."""
        return self._portal.run(
            self._resource().start(
                kind,
                query=query,
                params=params,
                format=format,
                fields=fields,
                send_done_email=send_done_email,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )
        )

    def wait(
        self,
        export: str | Export,
        *,
        timeout: float | Timeout = 900.0,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
        first_wait: float = 1.0,
        max_wait: float = 30.0,
    ) -> Export:
        """Poll the export until it is ``done`` and return it (with ``download_url``);
        :class:`~close_async.ExportError` if it fails or ``timeout`` passes."""
        return self._portal.run(
            self._resource().wait(
                export,
                timeout=timeout,
                extra_headers=extra_headers,
                extra_query=extra_query,
                first_wait=first_wait,
                max_wait=max_wait,
            )
        )

    def rows(self, export: Export, *, format: str | None = None) -> Iterator[Any]:
        """The rows of a done export's file, in its own ``format`` unless ``format`` says
        otherwise; breaking out early closes the download."""
        return iterate(
            self._portal, self._resource().rows(export, format=format), _download_read_on
        )

    def stream(
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
    ) -> Iterator[Any]:
        """Start an export, wait for it and yield its rows: ``start``, ``wait`` and
        ``rows`` in one (``timeout`` bounds the start and the wait)."""
        rows = self._resource().stream(
            kind,
            query=query,
            params=params,
            format=format,
            fields=fields,
            send_done_email=send_done_email,
            timeout=timeout,
            extra_headers=extra_headers,
            extra_query=extra_query,
            first_wait=first_wait,
            max_wait=max_wait,
        )
        return iterate(self._portal, rows, _download_read_on)
