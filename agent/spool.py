"""The agent's on-disk spool: unacknowledged frames in SQLite (WAL), so a restart loses none.

The spool also keeps the agent instance id, the next sequence number and the
Hello the frames were encoded against: an agent that restarts with the same
devices resumes the same instance (the collector recognises resends), one whose
devices changed starts a new instance and drops the old frames, counted.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gputel.agent.errors import AgentError

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY, ticks INTEGER NOT NULL, samples INTEGER NOT NULL,
    payload BLOB NOT NULL);
"""


class SpoolError(AgentError):
    """The spool directory cannot be used; the message says why."""


class SpoolFullError(SpoolError):
    """The spool's filesystem is full (SQLITE_FULL): room must be made by dropping frames."""


def _translated(action: str, exc: sqlite3.Error) -> SpoolError:
    """A sqlite3 error as gputel's own: SpoolFullError for a full disk, else SpoolError."""
    full = (getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"
            or "disk is full" in str(exc))
    return (SpoolFullError if full else SpoolError)(f"cannot {action} the spool: {exc}")


@dataclass(frozen=True, slots=True)
class SpooledFrame:
    """One frame as spooled: its seq, ticks and samples, and the AgentMessage bytes (empty
    when listed by `resume`, which reads only the index and the size, `nbytes`; `payload`
    reads the bytes)."""

    seq: int
    ticks: int
    samples: int
    payload: bytes
    nbytes: int = 0


class Spool:
    """A SQLite file in `directory`; every method is called under the outbox's lock."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / "spool.db"
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # A process crash loses nothing at NORMAL; only a power cut can lose the last frames.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot use spool directory {directory}: {exc}") from exc

    def resume(self, identity: bytes) -> tuple[str | None, int, list[SpooledFrame]]:
        """(instance, next seq, frames) when `identity` (devices + metrics) matches the
        spooled one; else (None, 1, []) after dropping the old frames."""
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("identity") != identity:
            dropped = self._db.execute("DELETE FROM frames").rowcount
            if dropped:
                log.warning("devices changed since the last run: %d spooled frame(s) of the "
                            "previous inventory dropped", dropped)
            return None, 1, []
        rows = self._db.execute(
            "SELECT seq, ticks, samples, length(payload) FROM frames ORDER BY seq")
        frames = [SpooledFrame(seq, ticks, samples, b"", size)
                  for seq, ticks, samples, size in rows]
        next_seq = max(int(meta.get("next_seq", b"1")), frames[-1].seq + 1 if frames else 1)
        return meta["instance"].decode(), next_seq, frames

    def start_instance(self, instance: str, identity: bytes, next_seq: int) -> None:
        """Record the instance the following frames belong to."""
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [("instance", instance.encode()), ("identity", identity),
                              ("next_seq", str(next_seq).encode())])

    def add(self, frame: SpooledFrame) -> None:
        """Keep a frame until it is acknowledged.

        Raises SpoolFullError when the disk is full, SpoolError on any other write failure.
        """
        try:
            self._insert(frame)
        except sqlite3.Error as exc:
            raise _translated("write to", exc) from exc

    def _insert(self, frame: SpooledFrame) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)",
                             (frame.seq, frame.ticks, frame.samples, frame.payload))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)",
                             (str(frame.seq + 1).encode(),))

    def payload(self, seq: int) -> bytes:
        """The AgentMessage bytes of a spooled frame. Raises SpoolError if gone or unreadable."""
        try:
            row = self._db.execute("SELECT payload FROM frames WHERE seq = ?",
                                   (seq,)).fetchone()
        except sqlite3.Error as exc:
            raise _translated("read", exc) from exc
        if row is None:
            raise SpoolError(f"frame {seq} is not in the spool")
        return bytes(row[0])

    def remove(self, seqs: list[int]) -> None:
        """Forget acknowledged, rejected or dropped frames. Raises SpoolError if it cannot."""
        if not seqs:
            return
        try:
            with self._db:
                self._db.executemany("DELETE FROM frames WHERE seq = ?", [(s,) for s in seqs])
        except sqlite3.Error as exc:
            raise _translated("delete from", exc) from exc

    def checkpoint(self) -> None:
        """Fold the WAL back into the file and restart it from its beginning, so the next
        writes reuse its disk space instead of growing it (a full disk); failures ignored."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(RESTART)")
        except sqlite3.Error as exc:
            log.debug("spool checkpoint failed: %s", exc)

    def size_bytes(self) -> int:
        """Bytes on disk, WAL included."""
        return sum(p.stat().st_size for p in self.path.parent.glob("spool.db*") if p.is_file())

    def close(self) -> None:
        """Close the file; idempotent."""
        self._db.close()
