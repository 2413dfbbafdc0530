"""``python -m benchmarks.import_time``: what ``import close_async`` costs, in milliseconds.

Runs ``python -X importtime -c "import close_async"`` in fresh interpreters (``--runs``,
default 10) and prints, for each run, the sum of the cumulative figures of the top-level
imports that the statement triggered (those that a bare ``python -c pass`` does not make:
the interpreter's own start-up is not counted). The minimum over the runs is the figure
to quote: other work on the machine only ever adds to it.

For the fastest run it also lists the heaviest imports beneath ``close_async``: every
third-party package where it is first imported (its cumulative cost), and
close_async's own modules by their self time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_STATEMENT = "import close_async"


def _importtime(statement: str) -> list[tuple[int, int, int, str]]:
    """``(depth, self_us, cumulative_us, module)`` for each line ``-X importtime`` prints."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = _fields(line)
        rows.append((_depth(name), int(self_us), int(cumulative_us), name.strip()))
    return rows


def _fields(line: str) -> list[str]:
    head, cumulative, name = line.split("|", 2)
    return [head.removeprefix("import time:").strip(), cumulative.strip(), name]


def _depth(name: str) -> int:
    # importtime indents a nested import by two spaces per level, after one separator space
    return (len(name) - len(name.lstrip(" ")) - 1) // 2


def _startup_modules() -> set[str]:
    return {row[3] for row in _importtime("pass")}


def _triggered(
    rows: list[tuple[int, int, int, str]], startup: set[str]
) -> list[list[tuple[int, int, int, str]]]:
    """The statement's top-level imports, each with its subtree (children print first)."""
    trees, pending = [], []
    for row in rows:
        pending.append(row)
        if row[0] == 0:
            if row[3] not in startup:
                trees.append(pending)
            pending = []
    return trees


def _top_level_ms(trees: list[list[tuple[int, int, int, str]]]) -> float:
    return sum(tree[-1][2] for tree in trees) / 1000


def _breakdown(trees: list[list[tuple[int, int, int, str]]]) -> list[str]:
    rows = [row for tree in trees for row in tree]
    lines = ["packages where first imported (cumulative ms):"]
    packages = [r for r in rows if "." not in r[3] and not r[3].startswith(("_", "close_async"))]
    for depth, _, cumulative, name in sorted(packages, key=lambda r: -r[2])[:12]:
        lines.append(f"  {name:<32} {cumulative / 1000:7.1f}  (depth {depth})")
    own = [r for r in rows if r[3].startswith("close_async")]
    lines.append("close_async's own modules (self ms):")
    for _, self_us, _, name in sorted(own, key=lambda r: -r[1])[:12]:
        lines.append(f"  {name:<40} {self_us / 1000:7.1f}")
    lines.append(
        f"  ({len(own)} close_async modules, {sum(r[1] for r in own) / 1000:.1f} ms self in all)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    startup = _startup_modules()
    runs = []
    for _ in range(args.runs):
        trees = _triggered(_importtime(_STATEMENT), startup)
        runs.append((_top_level_ms(trees), trees))
    figures = [ms for ms, _ in runs]
    best_ms, best_trees = min(runs, key=lambda run: run[0])
    print(f"{_STATEMENT!r} in {sys.executable} ({sys.version.split()[0]}), {args.runs} runs")
    print(
        f"min {best_ms:.1f} ms, median {statistics.median(figures):.1f} ms, "
        f"max {max(figures):.1f} ms"
    )
    for line in _breakdown(best_trees):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
