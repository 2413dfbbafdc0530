"""A durable record of the bulk items that landed, so a rerun skips them (SQLite, stdlib).

Each landed item is committed as it lands. The database runs in WAL mode with
``synchronous=NORMAL``: a commit survives the process being killed (SIGKILL), which is
the crash a backfill meets; only an operating-system crash could lose the last commits
(an update or a delete among them is merely sent again, to the same effect).

An item is keyed by its object id (for a create, its place in the input) and a digest of
its exact body, whatever the resource: a rerun with a changed update for the same object
sends it again, while an identical one is skipped.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from os import PathLike
from typing import Any

__all__ = ["Journal"]


class Journal:
    """The landed-items journal at ``path`` (created if missing)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = str(path)
        # autocommit (isolation_level=None): every INSERT is its own durable transaction.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS landed ("
            " key TEXT PRIMARY KEY, object_id TEXT NOT NULL, landed_at REAL NOT NULL)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(landed)")}
        if "call_id" in columns:
            # A journal written before the column was named for any object: the same data.
            self._db.execute("ALTER TABLE landed RENAME COLUMN call_id TO object_id")
        # Creates are written here before they are sent: a row here and none in landed is
        # a create whose fate is unknown (it may exist in Close).
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS started (key TEXT PRIMARY KEY, started_at REAL NOT NULL)"
        )

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    @staticmethod
    def key(object_id: str, body: dict[str, Any]) -> str:
        """The journal key of one item: its object id (``create#<index>`` for a create)
        and a digest of its body."""
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        return f"{object_id}:{digest}"

    def contains(self, key: str) -> bool:
        """Whether the item with ``key`` already landed in an earlier run."""
        row = self._db.execute("SELECT 1 FROM landed WHERE key = ?", (key,)).fetchone()
        return row is not None

    def landed_id(self, key: str) -> str:
        """The object id recorded with the landed item ``key`` ('' if none)."""
        row = self._db.execute("SELECT object_id FROM landed WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else ""

    def record(self, key: str, object_id: str) -> None:
        """Record that the item with ``key`` landed as ``object_id`` (durable on return)."""
        self._db.execute(
            "INSERT OR IGNORE INTO landed (key, object_id, landed_at) VALUES (?, ?, ?)",
            (key, object_id, time.time()),
        )

    def start(self, key: str) -> None:
        """Record that the create with ``key`` is about to be sent (durable on return)."""
        self._db.execute(
            "INSERT OR IGNORE INTO started (key, started_at) VALUES (?, ?)", (key, time.time())
        )

    def started(self, key: str) -> bool:
        """Whether the create with ``key`` was sent by an earlier run (landed or not)."""
        row = self._db.execute("SELECT 1 FROM started WHERE key = ?", (key,)).fetchone()
        return row is not None

    def count(self) -> int:
        """How many landed items the journal holds."""
        row = self._db.execute("SELECT COUNT(*) FROM landed").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Checkpoint and close the database."""
        self._db.close()
