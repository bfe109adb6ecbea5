"""The durable frame log: SQLite in WAL mode, one writer thread, group commit.

Every accepted frame is written as it arrived (its protobuf bytes) under the key
(node, agent instance, seq); a frame is acknowledged only after the transaction
holding it has committed, so an acknowledged sample survives `kill -9` (and,
with synchronous=FULL, power loss). Frames that arrive together share one
commit, so durability costs one fsync per batch, not per frame.

Rollups: every few seconds the writer folds the frames not yet rolled into the
rollup tiers and marks them rolled in the same transaction, so no frame is
counted twice or lost across a crash. Frames are deleted once rolled and older
than the full-rate retention; rollup rows are deleted past their tier's retention.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError

from gputel.collector.storage.rollups import Tier, fold_frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    node TEXT NOT NULL, instance TEXT NOT NULL, hello BLOB NOT NULL, seen_ns INTEGER NOT NULL,
    PRIMARY KEY (node, instance)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    node TEXT NOT NULL PRIMARY KEY, first_ns INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frames (
    node TEXT NOT NULL, instance TEXT NOT NULL, seq INTEGER NOT NULL,
    received_ns INTEGER NOT NULL, min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL,
    rolled INTEGER NOT NULL DEFAULT 0, payload BLOB NOT NULL,
    PRIMARY KEY (node, instance, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS frames_unrolled ON frames (rolled, max_ts);
CREATE TABLE IF NOT EXISTS rollups (
    tier INTEGER NOT NULL, node TEXT NOT NULL, gpu TEXT NOT NULL, metric TEXT NOT NULL,
    bucket_ns INTEGER NOT NULL, min REAL, max REAL, sum REAL, count INTEGER,
    last REAL, last_ts INTEGER,
    PRIMARY KEY (tier, node, gpu, metric, bucket_ns)) WITHOUT ROWID;
"""
UPSERT_ROLLUP = """
INSERT INTO rollups (tier, node, gpu, metric, bucket_ns, min, max, sum, count, last, last_ts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (tier, node, gpu, metric, bucket_ns) DO UPDATE SET
    min = min(rollups.min, excluded.min), max = max(rollups.max, excluded.max),
    sum = rollups.sum + excluded.sum, count = rollups.count + excluded.count,
    last = CASE WHEN excluded.last_ts >= rollups.last_ts THEN excluded.last ELSE rollups.last END,
    last_ts = max(rollups.last_ts, excluded.last_ts)
"""
MAX_BATCH = 512
ROLL_BATCH = 5000  # frames folded per maintenance pass, to bound its memory


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """A frame as the log holds it, for replay at start-up."""

    node: str
    instance: str
    seq: int
    received_ns: int
    payload: bytes


@dataclass(slots=True)
class LogStats:
    """Counters for /metrics. Durations in seconds."""

    commits: int = 0
    frames_written: int = 0
    last_commit_seconds: float = 0.0
    frames_rolled: int = 0
    frames_deleted: int = 0
    rollups_deleted: int = 0
    failures: int = 0
    frames_quarantined: int = 0
    agents_deleted: int = 0
    writer_restarts: int = 0


class StorageError(RuntimeError):
    """The store cannot write (disk full, read-only, corrupt); the message says which."""


class FrameLog:
    """Owns the database; `append` returns a Future that resolves once the frame is durable."""

    def __init__(self, path: Path, tiers: tuple[Tier, ...], full_retention_ns: int,
                 time_ns: Callable[[], int] = time.time_ns, synchronous: str = "FULL") -> None:
        self.path = path
        self._tiers = tiers
        self._full_retention_ns = full_retention_ns
        self._time_ns = time_ns
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the store {path}: {exc}") from exc
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gputel-frame-log", daemon=True)
        self._stopped = False
        self.stats = LogStats()
        self.failing = ""  # why the last write failed; "" once a write succeeds again

    # ------------------------------------------------------------- reads at start-up
    def agents(self) -> list[tuple[str, str, pb.Hello, int]]:
        """Every (node, instance, hello, last seen ns) the log knows."""
        rows = self._db.execute("SELECT node, instance, hello, seen_ns FROM agents").fetchall()
        return [(n, i, pb.Hello.FromString(h), s) for n, i, h, s in rows]

    def first_seen(self) -> dict[str, int]:
        """Each node's first hello ever (Unix ns), whatever agent instance said it."""
        return dict(self._db.execute("SELECT node, first_ns FROM nodes").fetchall())

    def seqs(self) -> dict[tuple[str, str], list[int]]:
        """Sequence numbers held per (node, instance), ascending."""
        out: dict[tuple[str, str], list[int]] = {}
        for node, instance, seq in self._db.execute(
                "SELECT node, instance, seq FROM frames ORDER BY node, instance, seq"):
            out.setdefault((node, instance), []).append(seq)
        return out

    def replay(self, since_ns: int) -> Iterator[StoredFrame]:
        """Frames whose newest sample is at or after since_ns, in arrival order."""
        cursor = self._db.execute(
            "SELECT node, instance, seq, received_ns, payload FROM frames WHERE max_ts >= ? "
            "ORDER BY received_ns", (since_ns,))
        for row in cursor:
            yield StoredFrame(*row)

    # ------------------------------------------------------------------ writes
    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def writing(self) -> bool:
        """True while the writer thread runs and the last write succeeded (readiness)."""
        return self._thread.is_alive() and not self.failing

    def supervise(self) -> None:
        """Restart the writer thread if it died (counted); a no-op while it runs."""
        if self._stopped or self._thread.is_alive() or not self._thread.ident:
            return
        self.stats.writer_restarts += 1
        log.error("the store's writer thread had stopped; restarting it")
        self._thread = threading.Thread(target=self._run, name="gputel-frame-log", daemon=True)
        self._thread.start()

    def remember_agent(self, node: str, instance: str, hello: pb.Hello,
                       seen_ns: int | None = None) -> Future[bool]:
        """Keep an agent's Hello (needed to decode its frames after a restart), seen at
        `seen_ns` (default now); the node's first hello is kept apart, for good."""
        seen = self._time_ns() if seen_ns is None else seen_ns
        return self._submit(_Item("agent", (node, instance, hello.SerializeToString(), seen)))

    def append(self, node: str, instance: str, seq: int, min_ts: int, max_ts: int,
               payload: bytes) -> Future[bool]:
        """Write a frame; the Future gives True if new, False if (node, instance, seq) was held."""
        return self._submit(_Item("frame", (node, instance, seq, self._time_ns(), min_ts,
                                             max_ts, payload)))

    def maintain(self) -> Future[bool]:
        """Fold unrolled frames into rollups, then apply retention (in the writer thread)."""
        return self._submit(_Item("maintain", ()))

    def _submit(self, item: _Item) -> Future[bool]:
        if self._stopped:
            item.future.set_exception(StorageError("the store is closed"))
        else:
            self._queue.put(item)
        return item.future

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer, close the database; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._db.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        """One transaction for the batch. Any failure, of any kind, fails the batch's
        futures (nothing acknowledged) and leaves the writer running."""
        t0 = time.perf_counter()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            results = [self._apply(item) for item in batch]
            self._db.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - whatever it is, the writer must go on
            self._failed(exc, batch)
            return
        self.stats.commits += 1
        self.stats.last_commit_seconds = time.perf_counter() - t0
        if self.failing:
            log.warning("store writes work again (after %d failed write(s))",
                        self.stats.failures)
            self.failing = ""
        for item, result in zip(batch, results, strict=True):
            item.future.set_result(result)

    def _failed(self, exc: Exception, batch: list[_Item]) -> None:
        self.stats.failures += 1
        if not self.failing:  # one line when writes start failing, not one per batch
            log.error("store writes failing (%s); frames are not acknowledged until a "
                      "write succeeds again", exc)
        self.failing = str(exc) or type(exc).__name__
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            log.debug("rollback after a failed write failed too", exc_info=True)
        for item in batch:
            item.future.set_exception(StorageError(f"store write failed: {self.failing}"))

    def _apply(self, item: _Item) -> bool:
        if item.kind == "frame":
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO frames (node, instance, seq, received_ns, min_ts, max_ts, "
                "payload) VALUES (?, ?, ?, ?, ?, ?, ?)", item.args)
            self.stats.frames_written += cursor.rowcount
            return cursor.rowcount == 1
        if item.kind == "agent":
            self._db.execute("INSERT OR REPLACE INTO agents (node, instance, hello, seen_ns) "
                             "VALUES (?, ?, ?, ?)", item.args)
            self._db.execute("INSERT OR IGNORE INTO nodes (node, first_ns) VALUES (?, ?)",
                             (item.args[0], item.args[3]))
            return True
        self._roll_up()
        self._retain()
        return True

    def _roll_up(self) -> None:
        rows = self._db.execute(
            "SELECT f.node, f.instance, f.seq, f.payload, a.hello FROM frames f "
            "JOIN agents a ON a.node = f.node AND a.instance = f.instance "
            "WHERE f.rolled = 0 LIMIT ?", (ROLL_BATCH,)).fetchall()
        if not rows:
            return
        hellos: dict[bytes, pb.Hello] = {}
        decoded = []
        for node, instance, seq, payload, hello in rows:
            try:
                if hello not in hellos:
                    hellos[hello] = pb.Hello.FromString(hello)
                decoded.append((node, instance, hellos[hello], pb.Frame.FromString(payload)))
            except DecodeError as exc:
                self._quarantined(node, instance, seq, exc)
        self._db.executemany(UPSERT_ROLLUP, fold_frames(decoded, self._tiers, self._quarantined))
        self._db.executemany("UPDATE frames SET rolled = 1 WHERE node = ? AND instance = ? "
                             "AND seq = ?", [(r[0], r[1], r[2]) for r in rows])
        self.stats.frames_rolled += len(rows)

    def _retain(self) -> None:
        now = self._time_ns()
        cursor = self._db.execute("DELETE FROM frames WHERE rolled = 1 AND max_ts < ?",
                                  (now - self._full_retention_ns,))
        self.stats.frames_deleted += cursor.rowcount
        for tier in self._tiers:
            cursor = self._db.execute("DELETE FROM rollups WHERE tier = ? AND bucket_ns < ?",
                                      (tier.step_ns, now - tier.retention_ns))
            self.stats.rollups_deleted += cursor.rowcount
        cursor = self._db.execute(  # agents gone for longer than retention, with no frame
            "DELETE FROM agents WHERE seen_ns < ? AND NOT EXISTS (SELECT 1 FROM frames f "
            "WHERE f.node = agents.node AND f.instance = agents.instance)",
            (now - self._full_retention_ns,))
        self.stats.agents_deleted += cursor.rowcount

    def _quarantined(self, node: str, instance: str, seq: int, exc: Exception) -> None:
        """A held frame that cannot be folded: skipped (marked rolled), logged, counted."""
        self.stats.frames_quarantined += 1
        log.error("frame %d of %s/%s cannot be rolled up (%s); skipped", seq, node, instance,
                  exc)

    def size_bytes(self) -> int:
        """Bytes on disk: the database plus its WAL."""
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")
                   if p.is_file())


@dataclass(slots=True)
class _Item:
    kind: str
    args: tuple[object, ...]
    future: Future[bool] = field(default_factory=Future)
