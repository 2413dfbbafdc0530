"""``python -m benchmarks``: run the benchmark scenarios and write ``RESULTS.md``."""

from __future__ import annotations

import sys

from ._runner import main

if __name__ == "__main__":
    sys.exit(main())
