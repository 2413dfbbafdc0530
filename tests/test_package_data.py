"""Files of the package that are not Python: each is read at run time, so each must ship.

The wheel carries only what ``[tool.setuptools.package-data]`` names besides the modules
(``.ci/package`` builds it and checks the same from the other side, in the wheel itself).
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest

import close_async
from close_async._engine.ratelimit import redis as redis_limiter

PACKAGE = Path(close_async.__file__).parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def data_files() -> list[PurePosixPath]:
    return sorted(
        PurePosixPath(path.relative_to(PACKAGE).as_posix())
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    )


def test_every_data_file_is_declared_package_data() -> None:
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    declared = globs["close_async"]
    missing = [
        str(f) for f in data_files() if not any(fnmatch.fnmatchcase(str(f), g) for g in declared)
    ]
    assert missing == [], f"not in [tool.setuptools.package-data]: {missing}"


def scripts_run() -> list[str]:
    source = Path(redis_limiter.__file__).read_text()
    return re.findall(r'_lua\("(\w+)"\)', source)


def test_the_redis_limiter_runs_its_scripts_from_lua_files() -> None:
    # No script is left inline: each one the limiter registers is a file beside it.
    assert sorted(scripts_run()) == ["learn", "pause", "pause_left", "refund", "reserve"]
    source = Path(redis_limiter.__file__).read_text()
    assert "redis.call(" not in source


@pytest.mark.parametrize("name", scripts_run())
def test_each_script_is_read_as_a_package_resource(name: str) -> None:
    script = redis_limiter._lua(name)
    assert "redis.call(" in script
    assert f"_engine/ratelimit/lua/{name}.lua" in [str(f) for f in data_files()]
