"""``import close_async`` leaves its heaviest dependencies for when they are needed.

aiohttp is most of what importing the package would cost; it is imported when the first
client is built (``benchmarks/import_time.py`` measures the figures). Checked in a fresh
interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

_PROBE = """
import sys

import pytest
import close_async
print(sorted({name.split(".")[0] for name in sys.modules} & {"aiohttp", "redis", "rich"}))
close_async.CloseClient("test_key", base_url="http://127.0.0.1:1/")
print("aiohttp" in sys.modules)
"""


def test_import_leaves_aiohttp_until_a_client_is_built() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    before, after = result.stdout.splitlines()
    assert before == "[]"
    assert after == "True"


def test_the_import_time_benchmark_reports_the_import(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import import_time

    assert import_time.main(["--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^min \d+\.\d ms, median \d+\.\d ms", out, re.MULTILINE)
    # close_async's own modules are found beneath the statement's top-level import
    assert re.search(r"^  close_async\._bulk\.run +\d+\.\d$", out, re.MULTILINE)
    assert "aiohttp" not in out
