"""Names: from the document's tags, operation ids, schema titles and JSON keys to Python's."""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

# Tags whose operations nest one level down (``activitiesNotes`` -> ``activities.notes``).
NESTING_PREFIXES = ("activities", "custom_fields", "bulk_actions")

# Names a generated field or argument may not take: the models' own members and builtins
# that a method body uses. Arguments: every method's per-call options (``timeout``,
# ``extra_headers``, ``extra_query``) and the locals its body sets (``request``,
# ``options``); a query or path parameter of such a name would get a ``_`` appended.
RESERVED_FIELDS = frozenset({"extra", "to_json", "from_json", "fields_set", "missing_fields"})
RESERVED_ARGUMENTS = frozenset(
    {"self", "body", "request", "options", "timeout", "extra_headers", "extra_query"}
)


def snake(name: str) -> str:
    """``activitiesWhatsappMessages`` -> ``activities_whatsapp_messages``."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return name.lower().strip("_")


def camel(name: str) -> str:
    """``custom_activities`` -> ``CustomActivities``; ``getMe`` -> ``GetMe``."""
    parts = re.split(r"[^0-9A-Za-z]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def namespace_of(tag: str) -> tuple[str, ...]:
    """The client namespace of a ``subpackage_<group>`` tag (``operations.md``'s rule)."""
    group = snake(tag.removeprefix("subpackage_"))
    for prefix in NESTING_PREFIXES:
        if group.startswith(prefix + "_"):
            return (prefix, group.removeprefix(prefix + "_"))
    return (group,)


def method_of(operation_id: str) -> str:
    """``create-association`` -> ``create_association``."""
    return operation_id.replace("-", "_")


def identifier(name: str, *, reserved: frozenset[str] = frozenset()) -> str:
    """A Python identifier for a JSON key or query name (``_fields`` -> ``fields``)."""
    text = re.sub(r"[^0-9A-Za-z_]", "_", name).lstrip("_") or "value"
    if text[0].isdigit():
        text = "n" + text
    if keyword.iskeyword(text) or text in reserved:
        text += "_"
    return text


def document_name(schema_name: str) -> str:
    """A class name for a schema as the document spells it (0.x's model names): the
    document's ``<group>_<op>_Response_200`` titles become ``<Group><Op>Response``
    (``users_getMe_Response_200`` -> ``UsersGetMeResponse``). :func:`model_name` applies the
    naming scheme on top."""
    match = re.fullmatch(r"(.+)_([A-Za-z]+)_Response_[0-9]{3}", schema_name)
    if match:
        return camel(match[1]) + camel(match[2]) + "Response"
    return camel(schema_name) if not schema_name[:1].isupper() else schema_name


# ------------------------------------------------------------------ the models' scheme
#
# One scheme for every model (issue 28): the thing itself ``<Thing>``; the bodies that make
# or change it ``<Thing>Create`` / ``<Thing>Update``; other bodies ``<Thing><Verb>``;
# activities without the ``Activity`` suffix (``NoteActivity`` -> ``Note``, as ``Call``);
# a schema nested in another (a field's own object, enum or union, or a list's items)
# ``<Parent><Field>`` with the parent's new name and a list's field in the singular
# (``CreateNoteActivityAttachmentsItems`` -> ``NoteCreateAttachment``). The overlay's
# ``names:`` gives the exceptions (``Workflow`` -> ``Sequence``). A name already in the
# scheme (``CallUpdate``, ``PipelineCreate``) is left as it is.

_VERB_FIRST = re.compile(r"(Create|Update)([A-Z][A-Za-z0-9]*)")
_ACTIVITY = re.compile(r"([A-Z][A-Za-z0-9]*?)Activity")


def thing_name(name: str, names: Mapping[str, str]) -> str:
    """The name of a thing in the scheme: the overlay's, else without ``Activity``."""
    if name in names:
        return names[name]
    match = _ACTIVITY.fullmatch(name)
    return match[1] if match else name


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def model_name(
    schema_name: str,
    names: Mapping[str, str] | None = None,
    parents: Mapping[str, str] | None = None,
) -> str:
    """A schema's model name in the scheme (see above).

    ``names``: the overlay's exceptions, by schema name. ``parents``: the schema each
    nested schema belongs to (its name a prefix of the nested one's, see
    :func:`nested_parents`).
    """
    names = names or {}
    parents = parents or {}
    if schema_name in names:
        return names[schema_name]
    parent = parents.get(schema_name)
    if parent is not None:
        rest = schema_name[len(parent) :]
        field = _singular(rest.removesuffix("Items")) if rest.endswith("Items") else rest
        return model_name(parent, names, parents) + field
    base = document_name(schema_name)
    verb_first = _VERB_FIRST.fullmatch(base)
    if verb_first:
        return thing_name(verb_first[2], names) + verb_first[1]
    return thing_name(base, names)


def nested_parents(references: Mapping[str, set[str]]) -> dict[str, str]:
    """Each nested schema's parent: the longest other schema whose name begins its name
    (case aside: ``CreateSmsActivity...`` belongs to ``CreateSMSActivity``) and that
    refers to it. ``references``: every schema's name -> the schemas it refers to."""
    parents: dict[str, str] = {}
    lowered = {name.lower(): name for name in references}
    for name in references:
        for end in range(len(name) - 1, 0, -1):
            parent = lowered.get(name[:end].lower())
            if parent is not None and name[end].isupper() and name in references[parent]:
                parents[name] = parent
                break
    return parents
