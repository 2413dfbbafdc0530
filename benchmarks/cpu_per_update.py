"""``python -m benchmarks.cpu_per_update``: the client's instructions per update, by callgrind.

Wall-clock figures on a shared 2-core machine move by ±25% from run to run; instruction
counts do not. One fake Close process (no limit, no latency, ``--no-record``) serves two
client runs, each under ``valgrind --tool=callgrind``: ``--small`` and then ``--large``
updates of seeded calls (distinct calls and notes) through
``calls.update_many(concurrency=32)``. Imports and start-up cost the same in both runs, so
(large - small) / (large - small updates) is the client's cost of one update.

The client run uses only the public API (``CloseClient``, ``CallUpdate``), so this script
measures an old and a new package layout alike. Needs ``valgrind``; takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

API_KEY = "test_key"  # the fake's default key
CONCURRENCY = 32
_TOTAL_RE = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


async def _client(spec: dict[str, Any]) -> dict[str, int]:
    from close_async import CallUpdate, CloseClient

    items = [
        (call_id, CallUpdate(note=f"cpu-per-update {spec['tag']} #{i}"))
        for i, call_id in enumerate(spec["ids"])
    ]
    ok = failed = 0
    async with (
        CloseClient(api_key=API_KEY, base_url=spec["base_url"]) as close,
        close.calls.update_many(items, concurrency=CONCURRENCY) as run,
    ):
        async for result in run:
            if result.ok:
                ok += 1
            else:
                failed += 1
    return {"ok": ok, "failed": failed}


def _instructions(base_url: str, ids: list[str], tag: str, workdir: Path) -> int:
    """Run one client under callgrind; return its total instruction count."""
    spec = workdir / f"{tag}.json"
    spec.write_text(json.dumps({"base_url": base_url, "tag": tag, "ids": ids}))
    out = workdir / f"callgrind.{tag}.out"
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            *(sys.executable, "-m", "benchmarks.cpu_per_update", "--client", str(spec)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the client run failed ({done.returncode}): {done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report != {"ok": len(ids), "failed": 0}:
        raise RuntimeError(f"not every update of the {tag} run succeeded: {report}")
    totals = _TOTAL_RE.findall(out.read_text())
    if not totals:
        raise RuntimeError(f"no summary or totals line in {out}")
    return int(totals[0])


def measure(small: int, large: int) -> dict[str, Any]:
    """Instructions of a ``small`` and a ``large`` run, and per update between them."""
    # Imported here, not in the measured client process, which imports only close_async.
    from benchmarks._fake_process import FakeProcess
    from close_async.testing import fake_call_id

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProcess(["--seed-calls", str(small + large), "--no-record"]) as fake,
    ):
        counts = {
            size: _instructions(
                fake.base_url,
                [fake_call_id(start + i) for i in range(size)],
                f"n{size}",
                Path(tmp),
            )
            for start, size in ((0, small), (small, large))
        }
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
    return {
        "small": small,
        "large": large,
        "instructions_small": counts[small],
        "instructions_large": counts[large],
        "instructions_per_update": round((counts[large] - counts[small]) / (large - small)),
        "python": platform.python_version(),
        "valgrind": version.stdout.strip(),
    }


def main(argv: list[str] | None = None) -> None:
    """Measure and print the instructions at both sizes and per update."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_per_update")
    parser.add_argument("--small", type=int, default=400, help="updates of the small run")
    parser.add_argument("--large", type=int, default=1400, help="updates of the large run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--client", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(_client(json.loads(Path(args.client).read_text())))))
        return
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    figures = measure(args.small, args.large)
    print(f"instructions at {figures['small']:,} updates: {figures['instructions_small']:,}")
    print(f"instructions at {figures['large']:,} updates: {figures['instructions_large']:,}")
    print(f"instructions per update: {figures['instructions_per_update']:,}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
