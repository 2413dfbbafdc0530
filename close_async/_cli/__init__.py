"""The ``close-async`` command line."""
