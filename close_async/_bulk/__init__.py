"""The streamed bulk engine (workers, journal, results), used by resources."""
