"""``python -m close_async.testing``: run the fake Close server (see ``--help``)."""

from __future__ import annotations

import sys

from ._standalone import main

if __name__ == "__main__":
    sys.exit(main())
