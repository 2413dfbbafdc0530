"""The generator of the typed layer: ``python -m tools.codegen`` (see README.md here)."""
