"""The one name of each resource on the command line, and the old spellings that point to it.

The client nests Close's activity types under ``close.activities`` (``close.activities.notes``)
because Close files them under ``/activity/``. On the command line the nesting only adds
typing: ``notes`` is as unambiguous (no other group has any of those names), it is the name
``notes list`` always had, and it matches ``calls``, whose client group is top-level
(``close.calls``). So every verb of an activity type goes under its last part
(``close-async notes list|update|create|delete``). The other nested groups keep their dot:
their last part names no resource on its own (``custom_fields.lead`` holds custom fields,
not leads; ``bulk_actions.edit`` is no noun).

The dotted spelling of a flattened group (``activities.notes``) still runs: it is read as
the new name before parsing (so no help or error lists it), and says so on stderr.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

__all__ = ["cli_name", "old_spellings", "respell"]

# Client namespaces whose groups go by their last part on the command line.
_FLATTENED = ("activities",)


def cli_name(path: str, taken: Collection[str] = ()) -> str:
    """The command-line name of the client group at ``path`` (``activities.notes`` ->
    ``notes``); ``taken`` holds the other groups' paths, whose names it must not take."""
    prefix, dot, leaf = path.partition(".")
    if dot and prefix in _FLATTENED and "." not in leaf and leaf not in taken:
        return leaf
    return path


def old_spellings(paths: Iterable[str]) -> dict[str, str]:
    """Each old spelling among the group ``paths`` -> its command-line name."""
    paths = list(paths)
    names = {path: cli_name(path, paths) for path in paths}
    return {path: name for path, name in names.items() if path != name}


def respell(argv: Sequence[str], renamed: Mapping[str, str]) -> tuple[list[str], str | None]:
    """``argv`` with an old spelling of its command replaced by the new name, and the line
    that says so (``None`` when the command is spelled as it is now)."""
    argv = list(argv)
    # The command is the first word: ``close-async`` itself takes no option but --help.
    at = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if at is None or argv[at] not in renamed:
        return argv, None
    old, argv[at] = argv[at], renamed[argv[at]]
    return argv, f"`{old}` is now `{argv[at]}` (the old name still runs, for now)"
