"""The durable write path: one writer thread, group commit into the columnar engine.

Every accepted frame becomes, in one DuckDB transaction with the other frames that arrived
together: its samples as head rows (one per node, GPU and tick), its (node, agent instance,
seq) and digest in `applied`, and its bytes in `tail` until the next state snapshot takes it
in. A frame is acknowledged only after that transaction committed (DuckDB fsyncs its WAL on
COMMIT), so an acknowledged sample survives `kill -9`; frames that arrive together share one
commit, so durability costs one fsync per batch, not per frame. In memory (`--store memory`)
nothing is read back at start-up, so `applied` and `tail` are not written, and the engine
keeps its sample bound after each commit.

Maintenance: seal head rows older than the seal age into a Parquet block, retention by age and
by disk size, block checksums, and pruning of what start-up no longer needs. Only the seal's
expensive part runs beside the writer, in a sealer thread: reading the rows, writing and
fsyncing the block, computing their rollups; frames keep committing meanwhile (a late frame's
old rows are not among the seal's, see engine.SealPlan). The rest runs in the writer thread
between batches, the seal's commit included: one short transaction inserts the rollups and
deletes the sealed rows from the head, so nothing is rolled up twice.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow as pa

from gputel.collector.storage.engine import (
    DeviceRows,
    Engine,
    SealedBlock,
    StorageError,
    sample_batch,
)

__all__ = ["DurableStore", "StorageError", "WriteStats"]

log = logging.getLogger(__name__)

MAX_BATCH = 512
MAX_BATCH_VALUES = 2_000_000  # a commit's transient arrays stay in the tens of MB
RECENT_KEYS = 200_000  # (node, instance, seq) written lately: a resend racing its original
DIGESTS_KEPT = 4096  # applied rows kept per agent instance (resends come from the newest)
DEFAULT_SEAL_NS = 60 * 10**9
# Seal cutoffs fall on this grid, so a block holds whole 30 s spans and the newest five
# minutes sit in at most ten blocks, not one per maintenance pass (30): a read of recent
# minutes opens each block it spans (benchmarks/recent_reads.py: a 300 s read of one GPU
# 6.9-7.6 -> 4.9-5.0 ms, seal and merge CPU -12 to -17 %, the head up to 30 s longer).
SEAL_GRID_NS = 30 * 10**9
PROBE_BYTES = 1 << 20


@dataclass(slots=True)
class WriteStats:
    """Counters for /metrics. Durations in seconds."""

    commits: int = 0
    frames_written: int = 0
    last_commit_seconds: float = 0.0
    failures: int = 0
    snapshots: int = 0
    writer_restarts: int = 0


@dataclass(slots=True)
class _Item:
    kind: str
    args: tuple[object, ...]
    future: Future[bool] = field(default_factory=Future)


@dataclass(slots=True)
class _Pass:
    """A maintenance pass whose seal's block is being written in the sealer thread."""

    job: Future[SealedBlock | None]
    waiting: list[_Item]  # the maintain requests it answers


def _values(item: _Item) -> int:
    """Values a queued frame carries (0 for other items)."""
    if item.kind != "frame":
        return 0
    rows = item.args[6]
    assert isinstance(rows, list)
    return sum(int(r[1].size) * len(r[2]) for r in rows)


class DurableStore:
    """Owns the writer thread; every write returns a Future that resolves once durable."""

    def __init__(self, engine: Engine, time_ns: Callable[[], int] = time.time_ns,
                 seal_ns: int = DEFAULT_SEAL_NS, seal_grid_ns: int = SEAL_GRID_NS) -> None:
        if seal_grid_ns <= 0:
            raise ValueError("the seal grid must be positive")
        self.engine = engine
        self._time_ns = time_ns
        self._seal_ns = seal_ns
        self._seal_grid_ns = seal_grid_ns
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gputel-store-writer",
                                        daemon=True)
        self._stopped = False
        self._recent: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        # (node, instance) -> the oldest frame whose commit failed: later frames of that
        # agent wait for its resend, so none is committed ahead of it
        self._failed_from: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._sealer = ThreadPoolExecutor(1, thread_name_prefix="gputel-store-sealer")
        self._pass: _Pass | None = None  # the pass in progress (writer thread only)
        self._deferred: list[_Item] = []  # maintain requests that came during it
        self.stats = WriteStats()
        self.failing = ""  # why the last write failed; "" once a write succeeds again

    @property
    def path(self) -> str:
        """Where the store lives, for logs and health ("memory" when in memory)."""
        return str(self.engine.data_dir) if self.engine.data_dir is not None else "memory"

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def running(self) -> bool:
        """True while the writer thread runs (its writes may be failing)."""
        return self._thread.is_alive()

    def writing(self) -> bool:
        """True while the writer thread runs and the last write succeeded (readiness)."""
        return self._thread.is_alive() and not self.failing

    def supervise(self) -> None:
        """Restart the writer thread if it died (counted); a no-op while it runs."""
        if self._stopped or self._thread.is_alive() or not self._thread.ident:
            return
        self.stats.writer_restarts += 1
        log.error("the store's writer thread had stopped; restarting it")
        self._thread = threading.Thread(target=self._run, name="gputel-store-writer",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer, close the engine; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.engine.close()  # a seal still writing stops at its next row group
        self._sealer.shutdown(wait=True)

    # ------------------------------------------------------------------ writes
    def append(self, node: str, instance: str, seq: int, digest: bytes, payload: bytes,
               metric_ids: Sequence[str], rows: Sequence[DeviceRows]) -> Future[bool]:
        """Write a frame; the Future gives True if new, False if (node, instance, seq) was
        written already (a resend that raced its original)."""
        return self._submit(_Item("frame", (node, instance, seq, digest, payload, metric_ids,
                                            rows, self._time_ns())))

    def remember_agent(self, node: str, instance: str, hello: bytes,
                       seen_ns: int | None = None) -> Future[bool]:
        """Keep an agent's Hello (its inventory decodes its frames after a restart), seen at
        `seen_ns` (default now); the node's first hello is kept apart, for good."""
        seen = self._time_ns() if seen_ns is None else seen_ns
        return self._submit(_Item("agent", (node, instance, hello, seen)))

    def forget(self, node: str) -> None:
        """Nothing held in memory per agent: its rows age out by retention (maintenance)."""

    def snapshot(self, name: str, body: bytes,
                 folded: Sequence[tuple[str, str, int]]) -> Future[bool]:
        """Keep the ingest state `body` and drop from the tail the frames it holds."""
        return self._submit(_Item("snapshot", (name, body, list(folded))))

    def maintain(self) -> Future[bool]:
        """Seal, retention, verification: the seal's block is written in a thread of its
        own while frames keep committing; the rest, and the seal's short commit, in the
        writer thread. Resolves when the pass is done."""
        return self._submit(_Item("maintain", ()))

    def seal_all(self) -> Future[bool]:
        """Seal every head row into a block (a clean stop; in the writer thread)."""
        return self._submit(_Item("seal", ()))

    def compact(self) -> int:
        """Merge small sealed blocks (Engine.compact) in the calling thread, beside the
        writer; return the blocks replaced."""
        return self.engine.compact()

    def _submit(self, item: _Item) -> Future[bool]:
        if self._stopped:
            item.future.set_exception(StorageError("the store is closed"))
        else:
            self._queue.put(item)
        return item.future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._settle()
                return
            batch, values = [first], _values(first)
            while len(batch) < MAX_BATCH and values < MAX_BATCH_VALUES:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    self._settle()
                    return
                batch.append(item)
                values += _values(item)
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        """Frames and agents in one transaction; snapshots and maintenance each on their own.
        Any failure fails the items' futures (nothing acknowledged); the writer goes on."""
        batch = [i for i in batch if i.future.set_running_or_notify_cancel()]  # not cancelled
        writes = self._not_behind_a_failure([i for i in batch if i.kind in ("frame", "agent")])
        if writes:
            self._guarded(writes, self._commit_writes, proves=self._frames_prove(writes))
        for item in batch:
            if item.kind == "snapshot":
                self._guarded([item], lambda items: self._commit_snapshot(items[0]),
                              proves=False)
            elif item.kind == "maintain":
                self._begin_pass([item])
            elif item.kind == "sealed":
                self._end_pass(item.args[0])  # type: ignore[arg-type]
                item.future.set_result(True)
            elif item.kind == "seal":
                self._settle()
                self._guarded([item], lambda _items: [self.engine.seal_all() >= 0], proves=True)

    def _not_behind_a_failure(self, writes: list[_Item]) -> list[_Item]:
        """Fail the frames queued behind a frame of their agent whose commit failed (their
        stream is being refused; the agent resends from that frame); a frame at or before
        it is the resend, and lets the agent's frames through again."""
        kept = []
        for item in writes:
            if item.kind == "frame" and self._failed_from:
                key, seq = (str(item.args[0]), str(item.args[1])), int(str(item.args[2]))
                failed = self._failed_from.get(key)
                if failed is not None and seq > failed:
                    item.future.set_exception(StorageError(
                        f"frame {failed} of this agent was not stored; frame {seq} waits "
                        "for its resend"))
                    continue
                self._failed_from.pop(key, None)
            kept.append(item)
        return kept

    def _frames_prove(self, writes: list[_Item]) -> bool:
        """Whether committing `writes` would say writes work again: frames do, while the
        disk has room for the maintenance probe. A small frame also fits in the slack of a
        full disk (the log's last page) and would make the state flap, one error line a
        flap."""
        if not any(i.kind == "frame" for i in writes):
            return False
        if not self.failing or self.engine.data_dir is None:
            return True
        try:
            return shutil.disk_usage(self.engine.data_dir).free >= PROBE_BYTES
        except OSError:
            return False

    def _guarded(self, items: list[_Item], work: Callable[[list[_Item]], list[bool]],
                 proves: bool) -> None:
        """Run one write; a failure fails its items. Only a write that must have reached the
        disk (`proves`: frames with room beside them, or maintenance with its probe) says
        writes work again: a small write can land in the slack of a full disk."""
        t0 = time.perf_counter()
        try:
            results = work(items)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the writer must go on
            self._failed(exc, items)
            return
        self.stats.commits += 1
        self.stats.last_commit_seconds = time.perf_counter() - t0
        if self.failing and proves:
            log.warning("store writes work again (after %d failed write(s))",
                        self.stats.failures)
            self.failing = ""
        for item, result in zip(items, results, strict=True):
            item.future.set_result(result)

    def _failed(self, exc: Exception, items: list[_Item]) -> None:
        self.stats.failures += 1
        if not self.failing:  # one line when writes start failing, not one per batch
            log.error("store writes failing (%s); frames are not acknowledged until a "
                      "write succeeds again", exc)
        self.failing = str(exc) or type(exc).__name__
        for item in items:
            if item.kind == "frame":
                key, seq = (str(item.args[0]), str(item.args[1])), int(str(item.args[2]))
                self._failed_from[key] = min(seq, self._failed_from.get(key, seq))
                while len(self._failed_from) > RECENT_KEYS:
                    self._failed_from.popitem(last=False)
            item.future.set_exception(StorageError(f"store write failed: {self.failing}"))

    def _commit_writes(self, items: list[_Item]) -> list[bool]:
        frames, results, keys = [], [], []
        applied: dict[str, list[object]] = {k: [] for k in ("node", "instance", "seq", "digest",
                                                            "received_ns", "payload")}
        agents = []
        for item in items:
            if item.kind == "agent":
                agents.append(item.args)
                results.append(True)
                continue
            node, instance, seq, digest, payload, metric_ids, rows, received = item.args
            key = (str(node), str(instance), int(str(seq)))
            new = key not in self._recent and key not in keys
            results.append(new)
            if not new:
                continue
            keys.append(key)
            frames.append((node, metric_ids, rows))
            for name, value in zip(applied, (node, instance, seq, digest, received, payload),
                                   strict=True):
                applied[name].append(value)
        batch = sample_batch(frames)  # type: ignore[arg-type]
        engine = self.engine
        with engine.transaction() as cur:
            for node, instance, hello, seen in agents:
                cur.execute("INSERT OR REPLACE INTO agents VALUES (?, ?, ?, ?)",
                            [node, instance, hello, seen])
                cur.execute("INSERT OR IGNORE INTO nodes VALUES (?, ?)", [node, seen])
            engine.insert(cur, batch)
            if keys and engine.data_dir is not None:  # in memory nothing is read back
                self._insert_frames(cur, applied)
        engine.counted(batch.counts)
        engine.keep_bound()
        for key in keys:
            self._recent[key] = None
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)
        self.stats.frames_written += len(keys)
        return results

    @staticmethod
    def _insert_frames(cur: object, cols: dict[str, list[object]]) -> None:
        import duckdb  # noqa: PLC0415 - typed below

        assert isinstance(cur, duckdb.DuckDBPyConnection)
        table = pa.table({"node": pa.array(cols["node"], pa.string()),
                          "instance": pa.array(cols["instance"], pa.string()),
                          "seq": pa.array(cols["seq"], pa.int64()),
                          "digest": pa.array(cols["digest"], pa.binary()),
                          "received_ns": pa.array(cols["received_ns"], pa.int64()),
                          "payload": pa.array(cols["payload"], pa.binary())})
        cur.register("new_frames", table)
        try:
            cur.execute("INSERT INTO applied SELECT node, instance, seq, digest FROM new_frames")
            cur.execute("INSERT INTO tail SELECT node, instance, seq, received_ns, payload "
                        "FROM new_frames")
        finally:
            cur.unregister("new_frames")

    def _commit_snapshot(self, item: _Item) -> list[bool]:
        name, body, folded = item.args
        assert isinstance(folded, list)
        done = pa.table({"node": pa.array([k[0] for k in folded], pa.string()),
                         "instance": pa.array([k[1] for k in folded], pa.string()),
                         "seq": pa.array([k[2] for k in folded], pa.int64())})
        with self.engine.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", [name, body])
            cur.register("folded", done)
            try:
                cur.execute("DELETE FROM tail USING folded WHERE tail.node = folded.node AND "
                            "tail.instance = folded.instance AND tail.seq = folded.seq")
            finally:
                cur.unregister("folded")
        self.stats.snapshots += 1
        return [True]

    def _begin_pass(self, items: list[_Item]) -> None:
        """Start a maintenance pass for `items`: its seal's block is written by the sealer
        thread and the pass ends when the block is (`_end_pass`, back in this thread).
        While writes fail the whole pass runs here (its probe must go through first)."""
        if self._pass is not None:  # one seal at a time: the next pass starts after it
            self._deferred.extend(items)
            return
        if self.failing:
            self._guarded(items, self._maintain, proves=True)
            return
        try:
            plan = self.engine.prepare_seal(self._cutoff())
        except Exception as exc:  # noqa: BLE001 - fails the pass, the writer goes on
            self._failed(exc, items)
            return
        if plan is None:  # in memory: nothing to seal
            self._guarded(items, self._after_seal, proves=True)
            return
        try:
            job = self._sealer.submit(self.engine.write_seal, plan)
        except RuntimeError as exc:  # the store is closing: its sealer stopped
            self.engine.abandon_seal(plan)
            self._failed(exc, items)
            return
        self._pass = _Pass(job, items)
        job.add_done_callback(lambda done: self._queue.put(_Item("sealed", (done,))))

    def _end_pass(self, job: Future[SealedBlock | None]) -> None:
        """Commit the seal whose block `job` wrote and finish its pass; then start the pass
        asked for meanwhile. A job whose pass ended already (`_settle`) is ignored."""
        done = self._pass
        if done is None or done.job is not job:
            return
        self._pass = None
        self._guarded(done.waiting, lambda items: self._commit_pass(job, items), proves=True)
        if self._deferred:
            deferred, self._deferred = self._deferred, []
            self._begin_pass(deferred)

    def _commit_pass(self, job: Future[SealedBlock | None], items: list[_Item]) -> list[bool]:
        written = job.result()  # raises what writing the block raised (its file is gone)
        if written is not None:
            self.engine.commit_seal(written)
        return self._after_seal(items)

    def _settle(self) -> None:
        """Wait for the seal in progress and end its pass, and any asked for meanwhile
        (before seal_all, and when the writer stops)."""
        while self._pass is not None:
            wait([self._pass.job])
            self._end_pass(self._pass.job)

    def _maintain(self, items: list[_Item]) -> list[bool]:
        """A whole pass in the writer thread (while writes fail)."""
        engine = self.engine
        with engine.transaction() as cur:  # a write the size of a batch must go through
            cur.execute("INSERT OR REPLACE INTO state VALUES ('probe', ?)",
                        [os.urandom(PROBE_BYTES)])
        engine.seal(self._cutoff())
        return self._after_seal(items)

    def _cutoff(self) -> int:
        """What a pass seals: samples older than seal_ns, down to the last grid line."""
        older = self._time_ns() - self._seal_ns
        return older // self._seal_grid_ns * self._seal_grid_ns

    def _after_seal(self, items: list[_Item]) -> list[bool]:
        """Retention, block checks and pruning: the rest of a maintenance pass."""
        engine, now = self.engine, self._time_ns()
        engine.retain(now)
        engine.verify_some()
        with engine.transaction() as cur:
            cur.execute(
                "DELETE FROM applied WHERE (node, instance, seq) IN (SELECT node, instance, seq "
                "FROM (SELECT node, instance, seq, row_number() OVER (PARTITION BY node, "
                f"instance ORDER BY seq DESC) AS r FROM applied) WHERE r > {DIGESTS_KEPT})")
            cur.execute("DELETE FROM agents WHERE seen_ns < ? AND NOT EXISTS (SELECT 1 FROM "
                        "tail t WHERE t.node = agents.node AND t.instance = agents.instance)",
                        [now - max(engine.retention_ns, max((t.retention_ns
                                                             for t in engine.tiers), default=0))])
        return [True] * len(items)

    def recovery(self) -> Engine:
        """What start-up reads back: agents, applied digests, the snapshot and its tail."""
        return self.engine

    def size_bytes(self) -> int:
        """Bytes on disk: database, WAL and blocks."""
        return self.engine.size_bytes()
