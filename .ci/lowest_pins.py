"""Print ``name==lowest`` for each runtime dependency pyproject.toml declares.

The runtime dependencies and the ``redis`` extra, each pinned to the lower bound of its
``>=`` specifier: CI installs these as constraints and runs the tests on them, so the
bounds users read in the metadata are ones that were tested. A dependency without a
``>=`` bound is an error, since nothing would say what its lowest version is.

``--test-requirements`` prints the ``dev`` extra less the tools run by hand only
(mutmut, whose terminal UI needs a newer rich than the SDK does): what the test suite
needs beside the pinned runtime dependencies.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_EXTRAS = ("redis",)
_HAND_RUN_TOOLS = ("mutmut",)
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def lowest_pins(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in _EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins = []
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"{requirement!r}: no '>=' lower bound to pin")
        pins.append(f"{match[1]}=={match[3]}")
    return pins


def test_requirements(pyproject: Path) -> list[str]:
    dev = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["dev"]
    return [r for r in dev if not r.startswith(_HAND_RUN_TOOLS)]


if __name__ == "__main__":
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    wanted = test_requirements if sys.argv[1:] == ["--test-requirements"] else lowest_pins
    print("\n".join(wanted(pyproject)))
