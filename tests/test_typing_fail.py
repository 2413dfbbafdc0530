"""Wrong uses must fail the type check (issue 28's proof): ``mypy --strict`` on
tests/typing/fail/ reports an error on exactly the lines marked ``# E: <text>``, each with
its marked text in the message. The positive checks (``assert_type``) are in
tests/test_public_api.py, which leaves this folder out."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAIL = ROOT / "tests" / "typing" / "fail"

_MARK = re.compile(r"#\s*E:\s*(?P<text>.+?)\s*$")
_ERROR = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): error: (?P<message>.*)$", re.MULTILINE)

Where = tuple[str, int]


def marks(path: Path) -> dict[Where, str]:
    """``(file, line) -> text`` for every line of ``path`` marked ``# E: text``."""
    found: dict[Where, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _MARK.search(line)
        if match:
            found[(path.name, number)] = match["text"]
    return found


def errors(output: str) -> dict[Where, list[str]]:
    """mypy's errors, by ``(file name, line)``; notes are left out."""
    found: dict[Where, list[str]] = defaultdict(list)
    for match in _ERROR.finditer(output):
        found[(Path(match["path"]).name, int(match["line"]))].append(match["message"])
    return dict(found)


def mismatches(expected: dict[Where, str], reported: dict[Where, list[str]]) -> list[str]:
    """Every way ``reported`` differs from ``expected``, in words; empty when they agree."""
    problems = []
    for (name, line), text in sorted(expected.items()):
        messages = reported.get((name, line))
        if not messages:
            problems.append(f"{name}:{line}: type-checks, but must fail with {text!r}")
        elif not any(text in message for message in messages):
            problems.append(f"{name}:{line}: fails with {messages}, not with {text!r}")
    for (name, line), messages in sorted(reported.items()):
        if (name, line) not in expected:
            problems.append(f"{name}:{line}: unexpected error {messages}")
    return problems


def test_mismatches_sees_each_way_of_disagreeing() -> None:
    expected = {("f.py", 3): "has no attribute", ("f.py", 5): "read-only"}
    output = (
        'tests/typing/fail/f.py:3: error: "X" has no attribute "y"  [attr-defined]\n'
        "tests/typing/fail/f.py:5: error: Incompatible types in assignment  [assignment]\n"
        "tests/typing/fail/f.py:5: note: defined here\n"
        'tests/typing/fail/f.py:9: error: Name "z" is not defined  [name-defined]\n'
    )
    problems = mismatches(expected, errors(output))
    assert len(problems) == 2
    assert problems[0].startswith("f.py:5: fails with")
    assert problems[1].startswith("f.py:9: unexpected error")
    assert mismatches(expected, {}) == [
        "f.py:3: type-checks, but must fail with 'has no attribute'",
        "f.py:5: type-checks, but must fail with 'read-only'",
    ]
    assert mismatches({}, {}) == []


def test_wrong_uses_fail_mypy_strict_on_exactly_the_marked_lines() -> None:
    files = sorted(FAIL.glob("*.py"))
    expected: dict[Where, str] = {}
    for path in files:
        expected.update(marks(path))
    assert len(expected) >= 10  # the file is read: a broken marker pattern finds none
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--no-pretty",
            "--hide-error-context",
            *(str(path.relative_to(ROOT)) for path in files),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr  # 1: type errors found
    assert mismatches(expected, errors(result.stdout)) == [], result.stdout
