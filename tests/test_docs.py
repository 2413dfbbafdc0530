"""Every code sample on the docs site runs, as it is, against the fake Close.

Each ```python block of ``docs/`` is a whole program, run in its own interpreter; each
```bash block a script, run with bash and the venv's ``close-async`` on the PATH.
(```console and ```text blocks are shown, never run: installs and output.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_redis_limiter import REDIS_SERVER, RedisServer

DOCS = Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^```(python|bash)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def samples() -> list[tuple[str, str, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for n, match in enumerate(_FENCE.finditer(page.read_text()), 1):
            found.append((f"{page.relative_to(DOCS)}#{n}", match[1], match[2]))
    return found


SAMPLES = samples()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real Redis for the workers guide when the machine has one (CI installs it)."""
    if REDIS_SERVER is None:
        yield "redis://127.0.0.1:1/0"  # the sample then shows the local fallback
        return
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


def test_the_docs_have_samples_of_both_kinds() -> None:
    kinds = {kind for _, kind, _ in SAMPLES}
    assert kinds == {"python", "bash"}
    assert len(SAMPLES) >= 10


@pytest.mark.slow
@pytest.mark.parametrize(("where", "kind", "code"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_runs(where: str, kind: str, code: str, redis_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    command = [sys.executable, "-c", code] if kind == "python" else ["bash", "-c", code]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, f"{where}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, f"{where}:\n{result.stderr}"
    if REDIS_SERVER is not None:
        # With a Redis to share, the workers share it: no fallback to local pacing.
        assert "unreachable" not in result.stderr, f"{where}:\n{result.stderr}"
