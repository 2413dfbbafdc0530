"""The fake Close in a process of its own, and its admin endpoints (``/_fake/...``).

Server and clients never share an event loop (nor a core's worth of GIL): the fake runs as
``python -m close_async.testing``, which prints its base URL as the first stdout line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any

__all__ = ["FakeProcess"]

_START_TIMEOUT = 60.0


class FakeProcess:
    """``with FakeProcess(args) as fake:`` runs the fake server until the block ends.

    ``args`` are ``python -m close_async.testing`` options (``--rate 40``, ``--seed-calls N``,
    ...). ``base_url`` is the API base URL; :meth:`admin` calls an admin endpoint.
    """

    def __init__(self, args: Sequence[str]) -> None:
        self._args = list(args)
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.base_url = ""
        self.root = ""

    def __enter__(self) -> FakeProcess:
        self._log = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "close_async.testing", *self._args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self._process.stdout is not None
        # The first stdout line is the fake's contract: its base URL, once it listens.
        line = self._process.stdout.readline().strip()
        if not line.startswith("http"):
            self._stop()
            raise RuntimeError(f"the fake server did not start: {self._stderr()[-2000:]}")
        self.base_url = line
        self.root = line.split("/api/", 1)[0]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stderr(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def admin(self, path: str, *, method: str = "GET") -> Any:
        """Call ``/_fake/<path>`` (loopback only) and return its decoded JSON."""
        # The fake printed this http:// loopback URL itself; no other scheme can come in.
        request = urllib.request.Request(f"{self.root}/_fake/{path}", method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())
