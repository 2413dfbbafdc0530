"""The blocking client's resource groups, rendered from the same operations as the async ones.

Each async group (``close_async/_resources/generated/<module>.py``) gets a blocking twin
(``close_async/_blocking/generated/<module>.py``) with the same methods, parameters and
docstrings, each waiting for the async method on the client's loop thread; a list returns a
``BlockingPager`` and the hand-written verbs come from the blocking mixins.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from .render import (
    HEADER,
    _abc_aside,
    _base,
    _environment,
    _ruff,
    _signature_words,
    _title,
    _used,
    class_doc_lines,
    docstring,
    mixins_of,
    model_imports,
    operation_docstrings,
    operation_models,
    sliceable,
)
from .spec import API, NamespaceDef

__all__ = ["BLOCKING_DIR", "render_blocking"]

BLOCKING_DIR = Path("close_async/_blocking/generated")

# Where each async mixin's blocking twin lives (in close_async/_blocking/).
_MIXIN_MODULES = {"bulk_verbs": "bulk", "export_verbs": "exports"}

_BLOCKING_WORDS = (
    # The async wording of what a method returns, and the blocking one.
    ("~close_async.Pager", "~close_async.BlockingPager"),
    ("``close_async.BulkRun``", "``close_async.BlockingBulkRun``"),
)

BLOCKING_DOC = (
    "Each method waits, in the calling thread, for the same method of the async client's",
    "group, run on the client's loop thread.",
)


def _blocking_words(text: str) -> str:
    for async_word, blocking_word in _BLOCKING_WORDS:
        text = text.replace(async_word, blocking_word)
    return text


def render_blocking(api: API) -> dict[Path, str]:
    """Every blocking group module and the blocking root, by path."""
    env = _environment()
    module_of = {m.name: m.module for m in api.models.values()}
    files: dict[Path, str] = {}
    for ns in api.namespaces.values():
        files[BLOCKING_DIR / f"{ns.module}.py"] = _render_group(env, api, ns, module_of)
    top = [ns for ns in api.namespaces.values() if len(ns.path) == 1]
    aliases = {alias: api.namespaces[target] for alias, target in api.aliases.items()}
    type_imports = {
        f"from .{ns.module} import Blocking{ns.class_name}, Blocking{ns.class_name}WithRawResponse"
        for ns in [*top, *aliases.values()]
    }
    files[BLOCKING_DIR / "_root.py"] = env.get_template("blocking_root.py.j2").render(
        header=HEADER,
        top=top,
        titles={ns.path: _title(ns) for ns in api.namespaces.values()},
        aliases=sorted(aliases.items()),
        type_imports=sorted(type_imports),
    )
    files[BLOCKING_DIR / "__init__.py"] = (
        f'{HEADER}\n"""The blocking resource groups, one module each (see ``_root``)."""\n'
    )
    return {path: _ruff(code, str(path)) for path, code in files.items()}


def _render_group(
    env: jinja2.Environment, api: API, ns: NamespaceDef, module_of: dict[str, str]
) -> str:
    deps = operation_models(ns)
    runtime = model_imports(deps, module_of)
    lists = [op for op in ns.operations if op.item]
    singles = [op for op in ns.operations if not op.item]
    if lists:
        runtime.append("from ..pager import BlockingPager")
    wrappers = [
        name
        for name, ops in (("blocking_raw_first_page", lists), ("blocking_raw_operation", singles))
        if ops
    ]
    if wrappers:
        runtime.append(f"from ..raw import {', '.join(wrappers)}")
    mixins = mixins_of(ns)
    for module in sorted({m.module for m in mixins}):
        classes = ", ".join(sorted(f"Blocking{m.name}" for m in mixins if m.module == module))
        runtime.append(f"from ..{_MIXIN_MODULES[module]} import {classes}")
    sliced = {op.method for op in lists if sliceable(op)}
    if sliced:
        runtime.append("from ..._resources.slicer import SliceOptions")
    if ns.operations:
        runtime.append("from ..._engine.config import Timeout")
    lazy_children = [api.namespaces[(*ns.path, c)] for c in ns.children]
    type_imports = [
        "from ..portal import Portal",
        f"from ..._resources.generated.{ns.module} import {ns.class_name}",
        *(f"from .{c.module} import Blocking{c.class_name}" for c in lazy_children),
        *(f"from .{c.module} import Blocking{c.class_name}WithRawResponse" for c in lazy_children),
    ]
    signature_text = " ".join(_signature_words(op) for op in ns.operations)
    head = f"``{ns.dotted}`` on the blocking client: {_title(ns)}."
    class_lines = class_doc_lines(ns, mixins, head, about=BLOCKING_DOC)
    bases = [f"Blocking{_base(m, ns)}" for m in mixins]
    code = env.get_template("blocking_resource.py.j2").render(
        header=HEADER,
        ns=ns,
        blocking_class=f"Blocking{ns.class_name}",
        bases=f"({', '.join(bases)})" if bases else "",
        sliced=sliced,
        title=_title(ns),
        class_doc=_blocking_words(docstring(class_lines, 4)),
        docstrings={
            method: _blocking_words(text)
            for method, text in operation_docstrings(api, ns, sliced).items()
        },
        runtime_imports=runtime,
        type_imports=sorted(type_imports),
        lazy_children=lazy_children,
        needs={"functools": bool(lazy_children), "dt": "_dt." in signature_text},
        abc_names=", ".join(sorted({"Callable", "Mapping", *_used(("Sequence",), signature_text)})),
        typing_names=", ".join(
            sorted({*_used(("Any", "Literal"), signature_text), "TYPE_CHECKING"})
        ),
    )
    return _abc_aside(code, deps)
