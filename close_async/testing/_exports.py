"""The fake's Export API: ``POST /export/lead/`` and ``/export/opportunity/`` start an
export, ``GET /export/{id}/`` shows it go ``created`` -> ``in_progress`` -> ``done`` as
``delay`` seconds pass, and the ``download_url`` of a done export, on the fake itself,
serves a gzip file (JSON array or CSV) of the objects stored when it was started.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import time
from collections.abc import Iterable
from typing import Any

import attrs
from aiohttp import web

from ._ids import fake_id
from ._messages import FakeRequest
from ._responses import Outcome, dumps, object_body

__all__ = ["DOWNLOAD_PREFIX", "ExportDesk"]

DOWNLOAD_PREFIX = "/_fake/export-files/"
_KINDS = {"lead": "lead", "opportunity": "opportunity"}


@attrs.define
class _Export:
    id: str
    object_type: str
    format: str
    started: float
    file: bytes
    failed: bool


def _file(rows: Iterable[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "csv":
        text = io.StringIO()
        rows = list(rows)
        columns = sorted({key for row in rows for key in row})
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [
                    v if isinstance(v, str) else "" if v is None else json.dumps(v)
                    for v in (row.get(c) for c in columns)
                ]
            )
        raw = text.getvalue().encode()
    else:
        raw = json.dumps(list(rows)).encode()
    return gzip.compress(raw)


@attrs.define
class ExportDesk:
    """Exports by id. ``delay``: seconds until done (half of it ``created``, the rest
    ``in_progress``); ``fail``: exports end ``failed`` instead of ``done``.
    """

    delay: float = 0.2
    fail: bool = False
    exports: dict[str, _Export] = attrs.Factory(dict)
    _numbers: Any = attrs.Factory(lambda: iter(range(1, 1 << 62)))

    def start(self, object_type: str, body: Any, rows: Iterable[dict[str, Any]]) -> Outcome:
        """Answer ``POST /export/<object_type>/``."""
        fields = object_body(body)
        if isinstance(fields, bytes):
            return 400, fields
        fmt = fields.get("format", "json")
        if fmt not in ("json", "csv"):
            return 400, dumps({"field-errors": {"format": "Must be json or csv."}})
        export = _Export(
            fake_id("expt", next(self._numbers)),
            object_type,
            fmt,
            time.monotonic(),
            _file(rows, fmt),
            self.fail,
        )
        self.exports[export.id] = export
        return 200, dumps(self._view(export, None))

    def get(self, export_id: str, request: FakeRequest) -> Outcome:
        """Answer ``GET /export/{id}/``."""
        export = self.exports.get(export_id)
        if export is None:
            return 404, dumps({"error": "Not found."})
        return 200, dumps(self._view(export, request))

    def _view(self, export: _Export, request: FakeRequest | None) -> dict[str, Any]:
        elapsed = time.monotonic() - export.started
        status = "created" if elapsed < self.delay / 2 else "in_progress"
        url = None
        if elapsed >= self.delay:
            status = "failed" if export.failed else "done"
            if not export.failed and request is not None:
                url = f"{request.origin}{DOWNLOAD_PREFIX}{export.id}"
        return {
            "id": export.id,
            "type": export.object_type,
            "format": export.format,
            "status": status,
            "download_url": url,
        }

    async def download(self, request: web.Request) -> web.Response:
        """Serve a done export's gzip file (no API key: Close's are pre-signed URLs)."""
        export = self.exports.get(request.match_info["export_id"])
        if export is None or time.monotonic() - export.started < self.delay or export.failed:
            return web.Response(status=404)
        return web.Response(body=export.file, content_type="application/gzip")
