"""Benchmarks: close-async against a bare aiohttp loop and the official ``closeio`` client.

Run ``python -m benchmarks`` (see ``benchmarks/README.md``). Every scenario gets a fresh fake
Close in its own process, and every client run is its own process too, so CPU time and peak
memory are the client's alone.
"""
