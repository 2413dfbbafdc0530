"""A type checker run elsewhere finds the installed package, editable install included.

The README installs with ``pip install -e ".[dev]"``. setuptools' default editable install
for a flat layout is an import hook (a finder in a ``.pth``) that mypy and pyright cannot
see: from any other directory they reported ``Cannot find implementation or library stub
for module named "close_async"``. ``package-dir`` in pyproject.toml makes it a plain path
``.pth`` they follow. CI installs the package afresh that way before running this.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # one cold mypy run over the package: a few seconds


def test_mypy_from_another_directory_finds_close_async(tmp_path: Path) -> None:
    try:
        importlib.metadata.distribution("close-async")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("close-async is not installed (pip install -e .) in this environment")
    (tmp_path / "use.py").write_text(
        "import close_async\n\nreveal_type(close_async.CloseClient)\n", encoding="utf-8"
    )
    # A config of its own: nothing of the repository's, nor the user's, applies.
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    # Only what the install put on the path: no PYTHONPATH or MYPYPATH pointing at the repo.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "mypy.ini",
            # The package's own errors (under other dependency versions) are not the point.
            "--follow-imports",
            "silent",
            "--cache-dir",
            str(tmp_path / "cache"),
            "use.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "import-not-found" not in output, (
        "mypy cannot see close_async: an editable install made before package-dir was set "
        f"needs `pip install -e .` again\n{output}"
    )
    # The package's own types, read through its py.typed, not Any.
    assert 'Revealed type is "def' in output, output
    assert "close_async._client.CloseClient" in output, output
    assert run.returncode == 0, output
