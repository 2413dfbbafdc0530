"""The generator as a function: the document and overlay in, the files' text out."""

from __future__ import annotations

from pathlib import Path

from .render import render
from .render_blocking import render_blocking
from .spec import load


def generate() -> dict[Path, str]:
    """Every generated file's text, by its path relative to the repository root."""
    api = load()
    return render(api) | render_blocking(api)


def stale_files(files: dict[Path, str], root: Path) -> list[Path]:
    """The generated files under ``root`` that differ from ``files``, are missing, or
    are left over from an earlier run."""
    differ = [
        path
        for path, code in files.items()
        if not (root / path).exists() or (root / path).read_text() != code
    ]
    for directory in {p.parent for p in files if p.parent.name == "generated"}:
        differ += [
            old.relative_to(root)
            for old in sorted((root / directory).glob("*.py"))
            if old.relative_to(root) not in files
        ]
    return sorted(differ)
