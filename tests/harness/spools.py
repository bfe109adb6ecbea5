"""Spools on disks that misbehave: full after N frames, or slow to commit.

Both wrap the real SQLite connection, so the spool's own code runs and meets SQLite's own
error (`database or disk is full`, as on a full filesystem, where deleting rows frees room
for new ones) or a commit that takes as long as the test says.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from gputel.agent.spool import Spool

_INSERT_FRAME = "INSERT OR REPLACE INTO frames"


class _Connection:
    """Delegates to a sqlite3 connection; `before_insert()` runs before each frame insert."""

    def __init__(self, db: sqlite3.Connection, spool: FullDisk | SlowDisk) -> None:
        self._db = db
        self._spool = spool

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith(_INSERT_FRAME):
            self._spool.before_insert(self._db)
        return self._db.execute(sql, *args)

    def __enter__(self) -> sqlite3.Connection:
        return self._db.__enter__()

    def __exit__(self, *exc: object) -> bool:
        return bool(self._db.__exit__(*exc))  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


class FullDisk(Spool):
    """A spool on a disk with room for `capacity` frames."""

    def __init__(self, directory: Path, capacity: int) -> None:
        super().__init__(directory)
        self.capacity = capacity
        self._db = _Connection(self._db, self)  # type: ignore[assignment]

    def before_insert(self, db: sqlite3.Connection) -> None:
        (rows,) = db.execute("SELECT count(*) FROM frames").fetchone()
        if rows >= self.capacity:
            raise sqlite3.OperationalError("database or disk is full")


class SlowDisk(Spool):
    """A spool whose frame inserts wait until `release` is set (a disk stalled for seconds)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.release = threading.Event()
        self.stalled = threading.Event()
        self._db = _Connection(self._db, self)  # type: ignore[assignment]

    def before_insert(self, db: sqlite3.Connection) -> None:
        self.stalled.set()
        self.release.wait(30)
