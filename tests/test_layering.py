"""The package's layers: no import loops, and no layer imports one above it.

Every import counts, also those under ``TYPE_CHECKING`` and inside functions: a loop that
only the type checker sees still ties the layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import close_async

PACKAGE = Path(close_async.__file__).parent

# Bottom to top. A module may import its own layer and those below it only.
LAYERS = [
    "_webhook_signature",
    "_engine",
    "_types",
    "models",
    "_bulk",
    "_resources",
    "_client",
    "_blocking",  # the async client, run on a loop thread for sync code
    "webhooks",
    "_cli",
    "__init__",
    "__main__",
]


# The engine's own floors, bottom to top: a module may import its own part and the parts
# below it only. A part is a module at the engine's top or one of its folders; the small
# leaves that everything uses (the error tree, text cleaning, phases, how a secret is shown,
# config values) form the ground floor. Config values refuse a bad option with the tree's
# ConfigurationError, so they stand beside the errors.
ENGINE_LAYERS: list[set[str]] = [
    {"text", "phase", "redact", "closing"},
    {"errors", "config"},
    {"ids"},
    {"ratelimit"},  # what Close's limits say, and the limiters acting on it
    {"http"},  # requests, what an answer means (which feeds the limiter), the transport
    {"auth"},  # credentials; OAuth's token endpoint is reached through the transport
    {"retry"},
    {"telemetry"},
    {"options"},
    {"engine"},
    {"requester"},
]
ENGINE_FOLDERS = {"http", "ratelimit", "auth", "telemetry"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every close_async module ``path`` imports, resolved to full dotted names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("close_async"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("close_async"):
                continue
            for alias in node.names:
                # `from . import x` names a module; `from .m import x` names a member of m.
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) & MODULES.keys() - {name} for name, path in MODULES.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_graph_sees_the_imports_it_should() -> None:
    # The checks below are only as good as the parser: the client must be seen to import
    # the engine, and the call resource to import the requester only under TYPE_CHECKING.
    calls = "close_async._resources.generated.activities_calls"
    assert "close_async._engine.engine" in GRAPH["close_async._client"]
    assert "close_async._engine.requester" in GRAPH[calls]
    assert "close_async._resources.bulk_verbs" in GRAPH[calls]


def test_no_import_loops() -> None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            loop = [*path[path.index(module) :], module]
            pytest.fail("import loop: " + " -> ".join(loop))
        if module in done:
            return
        for imported in sorted(GRAPH[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])


@pytest.mark.parametrize(
    "module", sorted(m for m in GRAPH if not m.startswith("close_async.testing"))
)
def test_layers_import_only_downwards(module: str) -> None:
    layer = LAYERS.index(layer_of(module))
    for imported in GRAPH[module]:
        if imported.startswith("close_async.testing"):
            # The fake Close is a tool the CLI's demo and fake-server options start.
            assert layer_of(module) == "_cli", f"{module} imports the fake Close"
            continue
        assert LAYERS.index(layer_of(imported)) <= layer, f"{module} imports {imported}"


def engine_part(module: str) -> str:
    """The engine part a module of ``close_async._engine`` belongs to (its folder or name)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else "__init__"


def engine_floor(module: str) -> int:
    part = engine_part(module)
    for floor, parts in enumerate(ENGINE_LAYERS):
        if part in parts:
            return floor
    raise AssertionError(f"{module} is in no floor of ENGINE_LAYERS: give it one")


ENGINE_MODULES = sorted(
    m for m in GRAPH if m.startswith("close_async._engine.") and engine_part(m) != "__init__"
)


def test_every_engine_folder_is_a_floor() -> None:
    # A folder or module added to the engine must be placed on a floor, and a floor that
    # names a part the engine no longer has is stale.
    parts = {engine_part(m) for m in ENGINE_MODULES}
    assert parts == set().union(*ENGINE_LAYERS)
    assert parts >= ENGINE_FOLDERS
    for folder in ENGINE_FOLDERS:
        assert (PACKAGE / "_engine" / folder / "__init__.py").is_file()


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_parts_import_only_downwards(module: str) -> None:
    floor = engine_floor(module)
    for imported in GRAPH[module]:
        if not imported.startswith("close_async._engine."):
            # Above the engine's own floors: the package layers test forbids any of these.
            continue
        assert engine_floor(imported) <= floor, f"{module} imports {imported}"


def test_the_fake_close_stands_alone() -> None:
    # Users' tests import close_async.testing on its own; it must not need the SDK's insides.
    for module in GRAPH:
        if module.startswith("close_async.testing"):
            outside = {m for m in GRAPH[module] if not m.startswith("close_async.testing")}
            # The signature rule is one stdlib-only module, so the fake signs as the SDK checks.
            assert outside <= {"close_async._webhook_signature"}, f"{module} imports {outside}"


def test_resources_and_bulk_never_import_the_client() -> None:
    for module, imported in GRAPH.items():
        if layer_of(module) in ("_resources", "_bulk", "_types", "_engine"):
            assert "close_async._client" not in imported, module
