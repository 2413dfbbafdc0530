"""Ready settlers for ``create_many``: find the object an ambiguous create may have made.

Close has no idempotency keys, so the one way to know whether a create whose answer was
lost landed is to look for it. When every body carries an external id in a custom field,
that field finds it: an Advanced Filtering search (``POST data/search/``, retried like a
read) for the exact value.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._engine.errors import ClientValidationError
from .run import Settle

__all__ = ["settle_by_custom_field"]

_RESOURCES = ("lead", "contact", "opportunity")


class _Searcher(Protocol):
    # What the settler needs of a CloseClient (named by shape: the client is a layer above).
    async def post(self, path: str, *, json: Any = None) -> Any: ...


def settle_by_custom_field(close: _Searcher, *, resource: str, field: str) -> Settle:
    """A ``settle=`` for ``create_many`` on ``resource`` (``"lead"``, ``"contact"`` or
    ``"opportunity"``) whose bodies hold an external id under ``custom.<field>``
    (``field``: ``"cf_..."``): it searches for an object of that type with exactly that
    value and answers its id, or ``None`` when there is none.

    A body without the key raises :class:`ClientValidationError` (the item stays unknown).
    """
    if resource not in _RESOURCES:
        raise ClientValidationError(f"resource must be one of {_RESOURCES}", field="resource")
    field_id = field.removeprefix("custom.")
    key = f"custom.{field_id}"

    async def settle(body: dict[str, Any]) -> str | None:
        value = body.get(key)
        if value is None and isinstance(body.get("custom"), dict):
            value = body["custom"].get(field_id)
        if not isinstance(value, str) or not value:
            raise ClientValidationError(f"the body has no {key} to settle by", field=key)
        query = {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": resource},
                {
                    "type": "field_condition",
                    "field": {"type": "custom_field", "custom_field_id": field_id},
                    "condition": {"type": "text", "mode": "exact_value", "value": value},
                },
            ],
        }
        page = await close.post("data/search/", json={"query": query, "_limit": 1})
        data = page.get("data") if isinstance(page, dict) else None
        if data and isinstance(data[0], dict) and isinstance(data[0].get("id"), str):
            found: str = data[0]["id"]
            return found
        return None

    return settle
