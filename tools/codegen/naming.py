"""Names: from the document's tags, operation ids, schema titles and JSON keys to Python's."""

from __future__ import annotations

import keyword
import re

# Tags whose operations nest one level down (``activitiesNotes`` -> ``activities.notes``).
NESTING_PREFIXES = ("activities", "custom_fields", "bulk_actions")

# Names a generated field or argument may not take: the models' own members and builtins
# that a method body uses. Arguments: every method's per-call options (``timeout``,
# ``extra_headers``, ``extra_query``) and the locals its body sets (``request``,
# ``options``); a query or path parameter of such a name would get a ``_`` appended.
RESERVED_FIELDS = frozenset({"extra", "to_json", "from_json", "fields_set"})
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


def model_name(schema_name: str) -> str:
    """A class name for a schema: the document's ``<group>_<op>_Response_200`` titles become
    ``<Group><Op>Response`` (``users_getMe_Response_200`` -> ``UsersGetMeResponse``)."""
    match = re.fullmatch(r"(.+)_([A-Za-z]+)_Response_[0-9]{3}", schema_name)
    if match:
        return camel(match[1]) + camel(match[2]) + "Response"
    return camel(schema_name) if not schema_name[:1].isupper() else schema_name
