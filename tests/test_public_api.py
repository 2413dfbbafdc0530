"""The public surface: one import location, sorted ``__all__``, documented names."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import close_async
import close_async.testing

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_complete() -> None:
    names = [n for n in close_async.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in close_async.__all__:
        assert hasattr(close_async, name), name


def test_contract_names_are_exported() -> None:
    for name in ("CloseClient", "CallUpdate", "CallCreate", "Call", "RedisRateLimiter"):
        assert name in close_async.__all__


def test_every_public_name_has_a_docstring() -> None:
    for module in (close_async, close_async.testing):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name} has no docstring"
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not callable(member):
                        continue
                    assert inspect.getdoc(member), f"{name}.{attr} has no docstring"


def test_modules_are_private() -> None:
    package = Path(close_async.__file__).parent
    # Every module and subpackage is private except the fake server users test against.
    public = [
        p.name
        for p in package.iterdir()
        if not p.name.startswith("_") and p.name not in ("testing", "py.typed")
    ]
    assert public == []


def test_package_is_typed() -> None:
    assert (Path(close_async.__file__).parent / "py.typed").exists()


def test_import_does_not_need_redis() -> None:
    code = (
        "import sys; sys.modules['redis'] = None; sys.modules['redis.asyncio'] = None\n"
        "import close_async\n"
        "try:\n"
        "    close_async.RedisRateLimiter('redis://127.0.0.1:1/0', rate=1)\n"
        "except close_async.ConfigurationError as exc:\n"
        "    assert 'close-async[redis]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('expected ConfigurationError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_typed_usage_and_examples_pass_mypy_strict() -> None:
    # A small user program, checked the way users' CI would check it.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "tests/typed_usage.py", "examples"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_testing_module_imports_standalone() -> None:
    assert importlib.import_module("close_async.testing").FakeClose
