"""The vendored OpenAPI document and openapi-core validators for it, shared by the tests.

Two things openapi-core cannot take from the document as published, worked around here once:
- its operationIds are not unique (``list`` on every resource), which the whole-document
  check refuses, so the validators are built without that check;
- a parameter typed ``[array, "null"]`` (OpenAPI 3.1's nullable form) makes it raise
  ``TypeError`` (27 list operations), so *requests* are validated against a copy whose
  parameter types drop ``"null"`` (a query parameter is never JSON null anyway). Answers are
  validated against the document exactly as published.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI

SPEC = Path(__file__).resolve().parent.parent / "spec" / "close-openapi.yml"
DOC: dict[str, Any] = yaml.safe_load(SPEC.read_bytes())

_CONFIG = Config(spec_validator_cls=None)


def _without_nullable_parameters(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for item in doc["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if isinstance(schema.get("type"), list):
                    kinds = [k for k in schema["type"] if k != "null"]
                    schema["type"] = kinds[0] if len(kinds) == 1 else kinds
    return doc


@functools.cache
def answers_validator() -> OpenAPI:
    """The document as published, for the answers."""
    return OpenAPI.from_file_path(str(SPEC), config=_CONFIG)


@functools.cache
def requests_validator() -> OpenAPI:
    """The document with parameter types openapi-core can read, for the requests."""
    return OpenAPI.from_dict(_without_nullable_parameters(DOC), config=_CONFIG)
