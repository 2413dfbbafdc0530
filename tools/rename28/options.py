"""``python -m tools.rename28.options``: issue 28's per-call option words, rewritten in place.

Run from the repository root; idempotent (a second run changes nothing). It rewrites, in
``close_async/`` (not ``generated/``, which the generator writes), ``tests/``, ``docs/``,
``benchmarks/``, ``examples/`` and ``README.md``:

- ``Timeout(..., deadline=...)`` -> ``Timeout(..., total=...)``; ``Timeout.deadline`` and
  ``.timeout.deadline`` -> ``.total`` (the field bounding a whole call);
- ``deadline_exceeded(..., deadline=...)`` and ``describe(..., deadline=...)`` (the engine's
  timeout error and its words) -> ``seconds=``;
- every other ``deadline=`` keyword (a call's whole-call bound) -> ``timeout=``, except in
  hypothesis ``settings(...)`` / ``register_profile(...)``, whose ``deadline`` is theirs;
- ``with_options(..., headers=...)`` -> ``with_options(..., extra_headers=...)``.

A line holding ``rename28: keep`` is left alone. Stdlib only. Prose (docstrings and docs
saying "deadline") is changed by hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from . import NAMED_ON_PURPOSE

ROOTS = ("close_async", "tests", "docs", "benchmarks", "examples", "README.md")
SUFFIXES = (".py", ".md")

# A keyword inside one call's parentheses: what precedes it within the call, no nesting.
_IN_TIMEOUT = re.compile(r"(\bTimeout\([^()]*?)\bdeadline=")
_IN_SECONDS = re.compile(r"(\b(?:deadline_exceeded|describe)\([^()]*?)\bdeadline=")
_FIELD = re.compile(r"\b(Timeout|\.timeout)\.deadline\b")
_KEYWORD = re.compile(r"\bdeadline=(?!=)")
_HYPOTHESIS = frozenset({"settings", "register_profile"})
_WITH_OPTIONS = re.compile(r"(\bwith_options\([^()]*?)\bheaders=")


def _until_stable(pattern: re.Pattern[str], replacement: str, text: str) -> str:
    # A call with two such keywords needs two passes: each match ends at the first one.
    while True:
        changed = pattern.sub(replacement, text)
        if changed == text:
            return text
        text = changed


def _callee(text: str, at: int) -> str:
    """The name of the call whose parentheses enclose position ``at`` (``""``: none)."""
    depth = 0
    for index in range(at - 1, -1, -1):
        char = text[index]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                name = re.search(r"[\w.]*$", text[:index])
                return name.group(0).rsplit(".", 1)[-1] if name else ""
            depth -= 1
    return ""


def _keywords(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if _callee(text, match.start()) in _HYPOTHESIS:
            return match.group(0)
        return "timeout="

    return _KEYWORD.sub(one, text)


RULES: tuple[Callable[[str], str], ...] = (
    lambda text: _until_stable(_IN_TIMEOUT, r"\1total=", text),
    lambda text: _until_stable(_IN_SECONDS, r"\1seconds=", text),
    lambda text: _FIELD.sub(r"\1.total", text),
    _keywords,
    lambda text: _until_stable(_WITH_OPTIONS, r"\1extra_headers=", text),
)


KEEP = "rename28: keep"
"""A line holding this (a comment) is left as it is: a check that the old words are gone."""


def rewrite(text: str) -> str:
    """``text`` with every rule applied, lines marked :data:`KEEP` left alone."""
    lines = text.splitlines(keepends=True)
    kept = {i: line for i, line in enumerate(lines) if KEEP in line}
    if kept:
        # Each kept line is swapped for a placeholder no rule matches, then put back.
        text = "".join(f"\x00{i}\x00\n" if i in kept else line for i, line in enumerate(lines))
    for rule in RULES:
        text = rule(text)
    if kept:
        text = re.sub(r"\x00(\d+)\x00\n", lambda m: kept[int(m.group(1))], text)
    return text


def files(root: Path) -> Iterator[Path]:
    """The files the rules apply to, under ``root``."""
    for name in ROOTS:
        top = root / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            if (
                path.is_file()
                and path.suffix in SUFFIXES
                and "generated" not in path.parts
                and "rename28" not in path.parts
                and path.relative_to(root) not in NAMED_ON_PURPOSE
            ):
                yield path


def main(root: Path | None = None) -> int:
    """Rewrite the files under ``root`` (the current directory); print those changed."""
    base = Path.cwd() if root is None else root
    for path in files(base):
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(path.relative_to(base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
