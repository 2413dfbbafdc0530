"""Issue 28, point 5: rewrite the old error names to the new ones (idempotent).

Run from the repository root: ``python -m tools.rename28.errors``. It rewrites
``close_async/`` (except ``generated/``, which the generator writes, and ``_engine/errors.py``,
which defines the tree by hand), ``tests/``, ``docs/``, ``benchmarks/``, ``examples/`` and
``README.md`` and the generator's overlay and templates (then regenerate:
``python -m tools.codegen``). Running it twice changes nothing. Imports it renames may need
sorting again afterwards: ``ruff check --fix --select I . && ruff format .``.

Unambiguous names are rewritten wherever they stand as a word. Three old names are also
new names, or a builtin's, so they are rewritten only where they can mean the old class:

* ``APIError`` (old: Close answered an error status) becomes ``APIStatusError``, in a file
  that does not already name ``APIStatusError`` (such a file is written in the new words,
  where ``APIError`` is the new base of every request error).
* ``TimeoutError`` (old: ``close_async.TimeoutError``, one attempt got no answer) becomes
  ``ResponseTimeoutError`` where it is qualified (``close_async.TimeoutError``,
  ``errors.TimeoutError``), imported under an alias (``TimeoutError as CloseTimeoutError``),
  drawn in a tree (``├── TimeoutError``), or in a Python file that imports it unaliased from
  close_async's errors (there the builtin was shadowed, so every bare use meant ours).
* ``_RequestError`` (private) becomes ``APIError`` only in the errors module, by hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from . import NAMED_ON_PURPOSE

__all__ = ["main", "rewrite"]

UNAMBIGUOUS = {
    "InvalidRequestError": "ClientValidationError",
    "TransportError": "APIConnectionError",
    "DeadlineExceededError": "APITimeoutError",
    "DecodingError": "APIResponseValidationError",
    "ValidationError": "BadRequestError",
    "ServerError": "InternalServerError",
    "BatchAbortedError": "BulkAbortedError",
    "UpdateInterruptedError": "BulkInterruptedError",
    "CloseTimeoutError": "ResponseTimeoutError",
}

ROOTS = (
    "close_async",
    "tests",
    "docs",
    "benchmarks",
    "examples",
    "README.md",
    "tools/codegen/overlay.yml",
    "tools/codegen/templates",
)
SUFFIXES = {".py", ".md", ".pyi", ".j2", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".ini"}
SKIP = {
    Path("close_async/_engine/errors.py"),  # defines the tree: hand-written
    *NAMED_ON_PURPOSE,
}

# A word not reached through another module (``jsonschema.ValidationError`` is not ours);
# ``close_async.X`` and ``errors.X`` are.
_WORD = re.compile(r"(?<![\w.])(" + "|".join(UNAMBIGUOUS) + r")\b")
_OURS_QUALIFIED = re.compile(r"\b((?:close_async|errors)\.)(" + "|".join(UNAMBIGUOUS) + r")\b")
# ``from <another package> import ...``: its names are that package's, left as they are.
_FOREIGN_IMPORT = re.compile(
    r"^from\s+(?!close_async\b|\.)[\w.]+\s+import\s+(?:\([^)]*\)|[^\n]*)", re.MULTILINE
)
_ALIASED = re.compile(r"\bTimeoutError as (?:CloseTimeoutError|ResponseTimeoutError)\b")
_QUALIFIED = re.compile(r"\b(close_async|errors)\.TimeoutError\b")
_TREE = re.compile(r"(── )TimeoutError\b")
# An import of close_async's TimeoutError without an alias: ``from close_async import (...)``,
# ``from close_async._engine.errors import ...`` or a relative ``from .errors import ...``.
_IMPORT = re.compile(
    r"^from\s+(?:close_async[\w.]*|\.+(?:_engine\.)?errors|\.+)\s+import\s+"
    r"(\([^)]*\)|[^\n]*)",
    re.MULTILINE,
)
_BARE_TIMEOUT = re.compile(r"(?<![\w.])TimeoutError\b(?!\s+as\b)")


def _imports_our_timeout(text: str) -> bool:
    for match in _IMPORT.finditer(text):
        names = match.group(1)
        if re.search(r"(?<![\w.])TimeoutError\b(?!\s+as\b)", names):
            return True
    return False


def rewrite(text: str, *, python: bool) -> str:
    """``text`` with the old error names replaced by the new ones."""
    migrated = re.search(r"\bAPIStatusError\b", text) is not None
    if python and _imports_our_timeout(text):
        text = _BARE_TIMEOUT.sub("ResponseTimeoutError", text)
    text = _ALIASED.sub("ResponseTimeoutError", text)
    text = _QUALIFIED.sub(r"\1.ResponseTimeoutError", text)
    text = _TREE.sub(r"\1ResponseTimeoutError", text)
    # Another package's name, imported bare, stays that package's throughout the file.
    foreign = {
        name
        for statement in _FOREIGN_IMPORT.findall(text)
        for name in re.findall(r"(?<![\w.])(\w+)\b(?!\s+as\b)", statement.split("import", 1)[1])
    }

    def ours(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0) if name in foreign else UNAMBIGUOUS[name]

    pieces = []
    last = 0
    for statement in _FOREIGN_IMPORT.finditer(text):
        pieces.append(_ours(text[last : statement.start()], migrated, ours))
        pieces.append(statement.group(0))
        last = statement.end()
    pieces.append(_ours(text[last:], migrated, ours))
    return "".join(pieces)


def _ours(text: str, migrated: bool, ours: Callable[[re.Match[str]], str]) -> str:
    """The renames of names that are close_async's, in text outside foreign imports."""
    if not migrated:
        text = re.sub(r"(?<![\w.])APIError\b", "APIStatusError", text)
        text = re.sub(r"\b(close_async\.)APIError\b", r"\1APIStatusError", text)
    text = _OURS_QUALIFIED.sub(lambda m: m.group(1) + UNAMBIGUOUS[m.group(2)], text)
    return _WORD.sub(ours, text)


def _files(root: Path) -> Iterator[Path]:
    for name in ROOTS:
        top = root / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or path.suffix not in SUFFIXES or relative in SKIP:
                continue
            if "generated" in relative.parts or "__pycache__" in relative.parts:
                continue
            yield path


def main(root: Path = Path()) -> int:
    changed = 0
    for path in _files(root):
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, python=path.suffix in {".py", ".pyi"})
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
            print(f"rewrote {path.relative_to(root)}")
    print(f"{changed} files rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
