"""Every exception class of the SDK is defined in one module: ``close_async._engine.errors``.

A reader looking for what can be raised, or where an error's fields come from, reads one
file. The CLI's own signals (a usage problem, a reader gone) and the fake Close's are not
part of the SDK's tree: the CLI turns them into exit codes, and the fake Close stands alone
(tests/test_layering.py), so they stay where they are raised.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import close_async
from close_async._engine import errors

# Outside the tree that users catch (see the module docstring).
_NOT_THE_SDK = ("close_async._cli", "close_async.testing", "close_async.__main__")


def sdk_modules() -> list[str]:
    names = ["close_async"]
    for info in pkgutil.walk_packages(close_async.__path__, "close_async."):
        if not info.name.startswith(_NOT_THE_SDK):
            names.append(info.name)
    return names


def test_every_exception_class_is_defined_in_the_errors_module() -> None:
    elsewhere = set()
    for name in sdk_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and name != errors.__name__
            ):
                elsewhere.add(f"{name}.{value.__qualname__}")
    assert elsewhere == set()


def test_the_public_names_are_the_errors_modules_classes() -> None:
    # The package exports every error of the tree under its own name, unchanged.
    for name in errors.__all__:
        assert getattr(close_async, name) is getattr(errors, name)
        assert name in close_async.__all__
