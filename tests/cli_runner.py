"""Running ``close-async`` in-process for the CLI tests: its exit status, stdout and stderr."""

from __future__ import annotations

import io

from close_async._cli.main import amain


async def run_cli(*argv: str, key: str) -> tuple[int, str, str]:
    """``close-async ARGV`` with ``$CLOSE_API_KEY`` set to ``key``, signals left alone."""
    out, err = io.StringIO(), io.StringIO()
    code = await amain(
        list(argv), stdout=out, stderr=err, environ={"CLOSE_API_KEY": key}, handle_signals=False
    )
    return code, out.getvalue(), err.getvalue()
