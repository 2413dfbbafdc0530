"""The generator of the typed layer: ``python -m tools.codegen`` (docs/contributing.md)."""
