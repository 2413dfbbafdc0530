"""``python -m tools.codegen [--out DIR] [--check]``: regenerate the typed layer.

Reads ``spec/close-openapi.yml`` and ``tools/codegen/overlay.yml``; writes the models
(``close_async/_types/generated/``), the resources (``close_async/_resources/generated/``)
and the model index (``close_async/models.py``) under ``--out`` (the repository by default),
removing generated files that are no longer produced. ``--check`` writes nothing and exits
1 when the committed files differ from what the generator makes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .generate import generate, stale_files
from .spec import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.codegen", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT, help="root to write under")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        differ = stale_files(files, args.out)
        for path in differ:
            print(f"differs from the generator's output: {path}", file=sys.stderr)
        return 1 if differ else 0
    for path, code in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != code:
            target.write_text(code)
    for directory in {p.parent for p in files if p.parent.name == "generated"}:
        for old in (args.out / directory).glob("*.py"):
            if old.relative_to(args.out) not in files:
                old.unlink()
    print(f"wrote {len(files)} files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
