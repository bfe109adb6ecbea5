"""The embedded columnar store: DuckDB for the recent part and the collector's state, sealed
Parquet blocks (see blocks.py) for the rest, rollup tiers computed by SQL as blocks seal.

Layout under the data directory:

- `gputel.duckdb` (+ its WAL): the head table, one row per (node, GPU, tick) and a DOUBLE
  column per metric id (NULL where the frame had none), each commit sorted by (node, gpu,
  ts) and numbered (`batch`: which rows a seal in progress takes); the rollup table; the
  agents, applied sequence numbers, the frames not yet folded into the ingest state
  snapshot (`tail`), the snapshot itself. DuckDB fsyncs its WAL on COMMIT,
  so a committed row survives `kill -9` and power loss.
- `blocks/`: sealed blocks, one per seal, sorted by series, whole-number metrics as integers,
  delta/byte-stream-split encoded and zstd-compressed (blocks.py); merged into larger ones
  by `compact` (compaction.py). `meta.sealed_through` in the database names the newest block
  whose seal committed, so a crash between writing a block and deleting its rows from the
  head never serves a sample twice; a compacted block's name says which blocks it replaced,
  so a crash between writing it and deleting them never serves a sample twice either.
- `LOCK`: held (flock) while a collector uses the directory; a second one is refused.
- `quarantine/`: damaged files moved aside, never deleted.

A seal has three steps (`seal`): `prepare_seal` on the writing thread notes the cutoff and the
newest commit; `write_seal`, in any thread beside the writer, writes the block of those rows
and computes their rollups; `commit_seal`, on the writing thread again, is one short
transaction (insert the rollups, delete exactly those head rows, bump sealed_through).

Reads go through `read()` (head + the blocks that may hold the range); the database serves
any number of threads, each through its own cursor. Writes come from one thread at a time
(the writer of durable.py, or a test's own thread in memory mode), under `write_lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gputel.collector.storage import blocks as blk
from gputel.collector.storage import compaction, windows
from gputel.proto.metrics import METRICS

log = logging.getLogger(__name__)

COLUMNS = tuple(METRICS)
COLUMN_INDEX = {m: i for i, m in enumerate(COLUMNS)}
DB_NAME = "gputel.duckdb"
DB_MIN_BYTES = 3 * 4096  # DuckDB's file headers: a shorter database file was cut short
COMPRESS_EVERY = 2 << 20  # memory mode: samples inserted between checkpoints
FEW_SERIES = 8  # read_many of up to this many series: constant predicates, no joined table
Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
_R = TypeVar("_R")


class StorageError(RuntimeError):
    """The store cannot open or write (disk full, read-only, in use, damaged); says which."""


@dataclass(frozen=True, slots=True)
class Tier:
    """One rollup tier: bucket width and how long its buckets are kept (ns)."""

    step_ns: int
    retention_ns: int


@dataclass(slots=True)
class EngineStats:
    """Counters for /metrics and health."""

    blocks_sealed: int = 0
    samples_sealed: int = 0
    blocks_dropped: dict[str, int] = field(default_factory=dict)  # by reason: age, disk
    samples_dropped: dict[str, int] = field(default_factory=dict)
    rollup_rows_dropped: dict[str, int] = field(default_factory=dict)
    files_quarantined: int = 0
    blocks_verified: int = 0
    tail_frames_read: int = 0  # frames read back at start-up (the state's tail)
    compactions: int = 0  # merged blocks written
    blocks_compacted: int = 0  # blocks they replaced
    compaction_failures: int = 0


_quote = blk.quote


_COLS_SQL = ", ".join(f"{_quote(c)} DOUBLE" for c in COLUMNS)
_COUNT_SQL = " + ".join(f"count({_quote(c)})" for c in COLUMNS)
_EXACT = tuple(c for c in COLUMNS if METRICS[c].exact)
_EXACT_SQL = ", ".join(blk.exact_test(c) for c in _EXACT)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS head (node VARCHAR NOT NULL, gpu VARCHAR NOT NULL,
    ts BIGINT NOT NULL, {_COLS_SQL}, batch BIGINT DEFAULT 0);
ALTER TABLE head ADD COLUMN IF NOT EXISTS batch BIGINT DEFAULT 0;
CREATE TABLE IF NOT EXISTS rollups (tier BIGINT, node VARCHAR, gpu VARCHAR, metric VARCHAR,
    bucket BIGINT, min DOUBLE, max DOUBLE, sum DOUBLE, count BIGINT, last DOUBLE,
    last_ts BIGINT);
CREATE TABLE IF NOT EXISTS agents (node VARCHAR, instance VARCHAR, hello BLOB, seen_ns BIGINT,
    PRIMARY KEY (node, instance));
CREATE TABLE IF NOT EXISTS nodes (node VARCHAR PRIMARY KEY, first_ns BIGINT);
CREATE TABLE IF NOT EXISTS applied (node VARCHAR, instance VARCHAR, seq BIGINT, digest BLOB);
CREATE TABLE IF NOT EXISTS tail (node VARCHAR, instance VARCHAR, seq BIGINT,
    received_ns BIGINT, payload BLOB);
CREATE TABLE IF NOT EXISTS state (name VARCHAR PRIMARY KEY, body BLOB);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT);
"""


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Rows for the head (an Arrow table) and the samples they hold per node."""

    table: pa.Table
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class SealPlan:
    """What one seal takes from the head: rows older than `cutoff_ns` committed in batches up
    to `batch` (a late frame committed while the block is written is not among them), into
    block `number`."""

    number: int
    cutoff_ns: int
    batch: int

    @property
    def rows(self) -> str:
        """SQL: the head rows of this seal (the block's, the rollups' and the delete's)."""
        return f"ts < {int(self.cutoff_ns)} AND batch <= {int(self.batch)}"


@dataclass(frozen=True, slots=True)
class SealedBlock:
    """A seal's block, written and fsynced under its final name but not yet committed (at
    start-up such a file is newer than meta.sealed_through and removed), and its rollups."""

    plan: SealPlan
    path: Path
    rollups: pa.Table


DeviceRows = tuple[str, Int64Array, Sequence[int], npt.NDArray[np.floating]]


def _samples_of_series(rows: str) -> str:
    """SQL: `rows` (node, gpu, ts, v) of the asked series (`wanted_series`), by series (k)
    and time."""
    return (f"SELECT w.k, s.ts, s.v FROM ({rows}) s JOIN wanted_series w "
            "ON s.node = w.node AND s.gpu = w.gpu ORDER BY w.k, s.ts")


def _rows_sql(columns: str, cond: str, metrics: Sequence[str], files: Sequence[blk.Block]
              ) -> str:
    """SQL: `columns` of the head rows and the rows of `files` where `cond`, in API units (a
    block may hold a metric as whole wire units)."""
    rows = f"SELECT {columns} FROM head WHERE {cond}"
    if files:
        rows += f" UNION ALL SELECT {columns} FROM ({blk.decoded(files, metrics, cond)})"
    return rows


def sample_batch(frames: Sequence[tuple[str, Sequence[str], Sequence[DeviceRows]]],
                 ) -> SampleBatch:
    """Head rows of decoded frames: each (node, the agent's metric ids, [(GPU uuid, ts,
    metric indexes of the rows, values[rows, ts])]). NaN values and unknown metrics are not
    stored (NULL); a tick with no known value makes no row. Only the columns some frame
    carries are built (the others are NULL by `INSERT ... BY NAME`), each once, and the rows
    come sorted by (node, gpu, ts): a commit costs about its own values twice in float64."""
    names: dict[tuple[str, str], int] = {}
    keys, stamps = [], []
    pieces: dict[int, list[tuple[int, Float64Array]]] = {}
    counts: dict[str, int] = {}
    offset = 0
    for node, metric_ids, device_rows in frames:
        columns: dict[tuple[int, ...], list[tuple[int, int]]] = {}  # a frame's GPUs share one
        whole = whole_frame(device_rows)
        if whole is not None:  # every GPU the same rows at as many ticks, all present
            known = _known(columns, metric_ids, device_rows[0][2])
            if known:
                n = whole.shape[2]
                ids = [names.setdefault((node, uuid), len(names)) for uuid, *_ in device_rows]
                keys.append(np.repeat(np.array(ids, np.int32), n))
                stamps.append(np.concatenate([ts for _, ts, _, _ in device_rows]))
                by_row = whole.transpose(1, 0, 2).reshape(whole.shape[1], -1)  # one copy
                for col, r in known:
                    pieces.setdefault(col, []).append((offset, by_row[r]))
                counts[node] = counts.get(node, 0) + whole.shape[0] * n * len(known)
                offset += whole.shape[0] * n
            continue
        for uuid, ts, rows, values in device_rows:
            known = _known(columns, metric_ids, rows)
            block, keep, present = _present(values, [r for _, r in known], ts.size)
            if not present:
                continue
            counts[node] = counts.get(node, 0) + present
            n = ts.size if keep is None else int(keep.sum())
            keys.append(np.full(n, names.setdefault((node, uuid), len(names)), np.int32))
            stamps.append(ts if keep is None else ts[keep])
            for (col, _), v in zip(known, block, strict=True):
                pieces.setdefault(col, []).append((offset, v))
            offset += n
    if not offset:
        return SampleBatch(_EMPTY, counts)
    key, ts_all = np.concatenate(keys), np.concatenate(stamps).astype(np.int64, copy=False)
    order = _series_order(key, ts_all, list(names))
    data: dict[str, pa.Array] = {
        "node": pa.DictionaryArray.from_arrays(key, [n for n, _ in names]),
        "gpu": pa.DictionaryArray.from_arrays(key, [g for _, g in names]),
        "ts": pa.array(ts_all)}
    for i in sorted(pieces):
        column = np.full(offset, np.nan)
        for start, v in pieces[i]:
            column[start:start + v.size] = v
        data[COLUMNS[i]] = _float_column(column)
    table = pa.table(data)
    return SampleBatch(table if order is None else table.take(order), counts)


def _known(columns: dict[tuple[int, ...], list[tuple[int, int]]], metric_ids: Sequence[str],
           rows: Sequence[int]) -> list[tuple[int, int]]:
    """(head column, row) of the rows the store has a column for, kept in `columns`."""
    known = columns.get(tuple(rows))
    if known is None:
        known = columns[tuple(rows)] = [(COLUMN_INDEX[metric_ids[m]], r)
                                        for r, m in enumerate(rows)
                                        if metric_ids[m] in COLUMN_INDEX]
    return known


def whole_frame(device_rows: Sequence[DeviceRows]) -> npt.NDArray[np.float64] | None:
    """A frame's values as one (GPUs, rows, ticks) float64 array when every GPU has the same
    rows at as many ticks (some) and no value is missing: the frame an agent sends every
    second, whose head rows are then built with a few array operations, not a few per GPU.
    None otherwise."""
    if len(device_rows) < 2:
        return None
    _, ts0, rows0, _ = device_rows[0]
    if not ts0.size or any(ts.size != ts0.size or rows != rows0
                           for _, ts, rows, _ in device_rows[1:]):
        return None
    whole = np.stack([v for _, _, _, v in device_rows]).astype(np.float64, copy=False)
    return None if np.isnan(whole).any() else whole


def _present(values: npt.NDArray[np.floating], rows: list[int], ticks: int,
             ) -> tuple[Float64Array, npt.NDArray[np.bool_] | None, int]:
    """The known `rows` of a device's values as float64, on the ticks with any value (all
    when `keep` is None), and how many values are present; one pass over the block."""
    if not rows or not ticks:
        return np.empty((0, 0)), None, 0
    block = np.asarray(values, dtype=np.float64)[rows]  # a copy: the frame's stay as sent
    has = ~np.isnan(block)
    present = int(np.count_nonzero(has))
    keep = np.asarray(has.any(axis=0), dtype=np.bool_)
    if keep.all():
        return block, None, present
    return block[:, keep], keep, present


def _series_order(key: npt.NDArray[np.int32], ts: Int64Array,
                  names: list[tuple[str, str]]) -> npt.NDArray[np.intp] | None:
    """The permutation sorting rows by (node, gpu, ts); None when they are sorted already."""
    rank = np.empty(len(names), np.int32)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
    series = rank[key]
    step = np.diff(series)
    if not (step < 0).any() and not ((step == 0) & (np.diff(ts) < 0)).any():
        return None
    return np.lexsort((ts, series))


def _float_column(column: Float64Array) -> pa.Array:
    """A float64 Arrow array over `column` without copying it; NaN is NULL."""
    missing = np.isnan(column)
    if not missing.any():
        return pa.Array.from_buffers(pa.float64(), column.size, [None, pa.py_buffer(column)])
    valid = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    return pa.Array.from_buffers(pa.float64(), column.size, [valid, pa.py_buffer(column)],
                                 null_count=int(missing.sum()))


_EMPTY = pa.table({"node": pa.array([], pa.string()), "gpu": pa.array([], pa.string()),
                   "ts": pa.array([], pa.int64())})


class Engine:
    """The store's files and the one DuckDB database over them.

    `data_dir` None: an in-memory database, no blocks (nothing survives the process), which
    holds at most `max_samples` samples (0: no bound; the oldest go first, counted as
    "memory") and never spills to disk.
    Raises StorageError when the directory is in use by another collector or cannot be
    opened at all; a damaged database or block is quarantined and reported in `problems`.
    """

    def __init__(self, data_dir: Path | None, tiers: Sequence[Tier] = (),
                 retention_ns: int = 3600 * 10**9, max_disk_bytes: int = 0,
                 memory_limit_bytes: int = 0, max_samples: int = 0,
                 compact_widths: Sequence[int] = ()) -> None:
        self.data_dir = data_dir
        self.compact_widths = tuple(compact_widths) or compaction.levels(60 * 10**9,
                                                                          retention_ns)
        self.max_samples = max_samples if data_dir is None else 0
        self.tiers = tuple(tiers)
        self.retention_ns = retention_ns
        self.max_disk_bytes = max_disk_bytes
        self.stats = EngineStats()
        self.problems: list[str] = []  # damage found: health says "degraded" while any
        self.write_lock = threading.RLock()
        self._local = threading.local()
        self._counts_lock = threading.Lock()
        self._node_samples: dict[str, int] = {}
        self._blocks: tuple[blk.Block, ...] = ()  # swapped whole (readers take a snapshot)
        self._blocks_lock = threading.Lock()  # held to change _blocks or a block's file
        self._compact_lock = threading.Lock()  # one compaction at a time
        self._seal_lock = threading.Lock()  # held while a seal's block is written
        self._seal_plan: SealPlan | None = None  # the seal in progress (one at a time)
        self._batch = 0  # the newest commit's number, in each of its head rows
        self._closing = False
        self._sealed_ns = 0  # the newest seal's cutoff: older windows are complete
        self.fault_step: blk.Step | None = None  # tests: called between compaction steps
        self._unverified: list[blk.Block] = []
        self._lock_file: IO[str] | None = None
        self._sealed_through = 0
        self._uncompressed = 0  # memory mode: samples inserted since the last checkpoint
        self._con = self._open()
        if memory_limit_bytes:
            self._con.execute(f"SET memory_limit = '{max(memory_limit_bytes, 64 << 20)}B'")
        if data_dir is None:  # in memory means in memory: no spill files in the cwd
            self._con.execute("SET temp_directory = ''")
        self._w = self._con.cursor()
        self._load()

    # ------------------------------------------------------------------ opening
    @property
    def path(self) -> Path | None:
        """The database file (None in memory)."""
        return None if self.data_dir is None else self.data_dir / DB_NAME

    @property
    def blocks_dir(self) -> Path | None:
        """Where sealed blocks live (None in memory)."""
        return None if self.data_dir is None else self.data_dir / "blocks"

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.data_dir is None:
            con = duckdb.connect(":memory:")
            con.execute(SCHEMA)
            return con
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            (self.data_dir / "blocks").mkdir(exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot use the data directory {self.data_dir}: "
                               f"{exc.strerror or exc}") from exc
        self._lock_dir(self.data_dir)
        path = self.data_dir / DB_NAME
        existed = path.exists()
        if existed and path.stat().st_size < DB_MIN_BYTES:
            self._set_aside(path, f"the database is {path.stat().st_size} bytes long, shorter "
                            "than a DuckDB file can be: it was truncated")
            existed = False
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            if not existed:
                raise StorageError(f"cannot open the store {path}: {exc}") from exc
            self._set_aside(path, f"it does not open ({exc})")
            existed = False
            con = self._connect_fresh(path)
        con.execute(SCHEMA)
        if not existed and any((self.data_dir / "blocks").glob("*.parquet")):
            if not self.problems:
                self.problems.append("the database was missing while sealed blocks exist: "
                                     "the newest (unsealed) samples and the ingest state are "
                                     "gone; the blocks are served")
                log.error("storage: %s", self.problems[-1])
            newest = max((n[1] for p in (self.data_dir / "blocks").glob("*")
                          if (n := blk.numbers_of(p.name))), default=0)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('sealed_through', ?)", [newest])
        return con

    def _connect_fresh(self, path: Path) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            raise StorageError(f"cannot open the store {path}: {exc}") from exc

    def _set_aside(self, path: Path, why: str) -> None:
        """A damaged database (and its WAL) go to quarantine/; reported, never silent."""
        for part in (path.with_name(path.name + ".wal"), path):
            if part.exists():
                blk.quarantine(part, why)
                self.stats.files_quarantined += 1
        self.problems.append(f"{path.name}: {why}; moved to quarantine/, started empty")

    def _lock_dir(self, data_dir: Path) -> None:
        """One collector per data directory: an exclusive flock on data_dir/LOCK."""
        f = (data_dir / "LOCK").open("a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise StorageError(f"the data directory {data_dir} is in use by another collector "
                               f"(pid {holder}); one collector per data directory") from exc
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._lock_file = f

    def _load(self) -> None:
        """Blocks from the directory, samples per node: no frame is read back."""
        row = self._w.execute("SELECT value FROM meta WHERE key = 'sealed_through'").fetchone()
        self._sealed_through = int(row[0]) if row else 0
        row = self._w.execute("SELECT max(batch) FROM head").fetchone()
        self._batch = int(row[0]) if row and row[0] is not None else 0
        if self.blocks_dir is not None:
            found, problems = blk.scan(self.blocks_dir, self._sealed_through)
            self.stats.files_quarantined += len(problems)
            self.problems.extend(problems)
            self._blocks = tuple(found)
            self._unverified = list(found)
            self._sealed_ns = max((b.max_ts + 1 for b in found), default=0)
        counts: dict[str, int] = {}
        for b in self._blocks:
            for node, n in b.nodes.items():
                counts[node] = counts.get(node, 0) + n
        for node, n in self._w.execute(f"SELECT node, {_COUNT_SQL} FROM head GROUP BY node"
                                       ).fetchall():
            counts[node] = counts.get(node, 0) + int(n)
        self._node_samples = counts
        # GLOBAL: a plain SET holds for this cursor only, and reads run on others (measured:
        # 4 blocks of one series, 3.2 -> 2.2 ms with the footers cached)
        self._w.execute("SET GLOBAL parquet_metadata_cache = true")

    def close(self) -> None:
        """Checkpoint and close the database, release the lock; idempotent. A compaction
        or a seal's
        block being written stops at its next batch (its partial file is removed)."""
        self._closing = True
        with self._compact_lock, self._seal_lock, self.write_lock:
            with contextlib.suppress(duckdb.Error):
                self._w.close()
                self._con.close()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    # ------------------------------------------------------------------ cursors
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's own cursor on the database."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction (BEGIN ... COMMIT, rolled back on any error)."""
        with self.write_lock:
            self._w.execute("BEGIN TRANSACTION")
            try:
                yield self._w
                self._w.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    self._w.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------- writes
    def insert(self, cur: duckdb.DuckDBPyConnection, batch: SampleBatch) -> None:
        """Add head rows (sorted by (node, gpu, ts) within the commit; in a transaction),
        each with the commit's number (see SealPlan)."""
        if not batch.table.num_rows:
            return
        with self.write_lock:
            self._batch += 1
            number = self._batch
        cur.register("batch_rows", batch.table)
        try:
            cur.execute(f"INSERT INTO head BY NAME SELECT *, {number}::BIGINT AS batch "
                        "FROM batch_rows")
        finally:
            cur.unregister("batch_rows")

    def counted(self, counts: dict[str, int]) -> None:
        """Samples committed per node (after the commit)."""
        with self._counts_lock:
            for node, n in counts.items():
                self._node_samples[node] = self._node_samples.get(node, 0) + n
            self._uncompressed += sum(counts.values())

    def _uncount(self, counts: dict[str, int]) -> int:
        with self._counts_lock:
            for node, n in counts.items():
                left = self._node_samples.get(node, 0) - n
                if left > 0:
                    self._node_samples[node] = left
                else:
                    self._node_samples.pop(node, None)
        return sum(counts.values())

    # -------------------------------------------------------------------- reads
    def read(self, node: str, gpu: str, metric: str, start_ns: int,
             end_ns: int) -> tuple[Int64Array, Float64Array]:
        """Samples of one series with start_ns <= ts <= end_ns, by time (float64, exact)."""
        if metric not in COLUMN_INDEX or end_ns < start_ns:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        files = [b for b in self._blocks if b.holds(node, start_ns, end_ns)]
        try:
            return self._read(node, gpu, metric, start_ns, end_ns, files)
        except duckdb.Error:
            now = [b for b in self._blocks if b.holds(node, start_ns, end_ns)]
            if now == files and (not files or not self._check(files)):
                raise  # the same blocks, none damaged: a real error
            files = [b for b in self._blocks if b.holds(node, start_ns, end_ns)]
            return self._read(node, gpu, metric, start_ns, end_ns, files)  # compacted meanwhile

    def _read(self, node: str, gpu: str, metric: str, start_ns: int, end_ns: int,
              files: list[blk.Block]) -> tuple[Int64Array, Float64Array]:
        col = _quote(metric)
        where = f"node = $1 AND gpu = $2 AND ts BETWEEN $3 AND $4 AND {col} IS NOT NULL"
        sql = f"SELECT ts, {col} AS v FROM head WHERE {where}"
        if files:
            sql += f" UNION ALL SELECT ts, {col} AS v FROM ({blk.decoded(files, [metric], where)})"
        got = self.cursor().execute(sql + " ORDER BY ts", [node, gpu, start_ns, end_ns]
                                    ).fetchnumpy()
        return (np.asarray(got["ts"], dtype=np.int64), np.asarray(got["v"], dtype=np.float64))

    def read_many(self, series: Sequence[tuple[str, str]], metric: str, start_ns: int,
                  end_ns: int) -> list[tuple[Int64Array, Float64Array]]:
        """Samples of one metric for many (node, GPU) series with start_ns <= ts <= end_ns,
        each by time, in the order asked: one scan of the head and the blocks in range, not
        one per series (a cluster-wide answer over 800 GPUs costs one query, not 800)."""
        empty = (np.empty(0, np.int64), np.empty(0, np.float64))
        if metric not in COLUMN_INDEX or end_ns < start_ns or not series:
            return [empty] * len(series)
        unique = list(dict.fromkeys(series))
        if len(unique) <= FEW_SERIES:
            got = self._with_blocks(unique, start_ns, end_ns, lambda files: self._scan_few(
                unique, metric, start_ns, end_ns, files))
        else:
            got = self._scan_many(unique, [metric], start_ns, end_ns, _samples_of_series,
                                  f"node, gpu, ts, {_quote(metric)} AS v",
                                  f" AND {_quote(metric)} IS NOT NULL")
        k, ts = np.asarray(got["k"], dtype=np.int32), np.asarray(got["ts"], dtype=np.int64)
        v = np.asarray(got["v"], dtype=np.float64)
        bounds = np.searchsorted(k, np.arange(len(unique) + 1)).tolist()
        found = {key: (ts[a:b], v[a:b])
                 for key, (a, b) in zip(unique, itertools.pairwise(bounds), strict=True)}
        return [found[key] for key in series]

    def _scan_few(self, series: Sequence[tuple[str, str]], metric: str, start_ns: int,
                  end_ns: int, files: list[blk.Block]) -> dict[str, npt.NDArray[np.generic]]:
        """`_samples_of_series` for a few distinct series, asked by constant predicates (node
        IN, gpu IN; k by CASE) instead of a join to a registered table: no table to register
        (~0.4 ms), and the Parquet reader skips the row groups whose node and GPU statistics
        miss (benchmarks/results/query-profile.md)."""
        col = _quote(metric)
        params: list[object] = [start_ns, end_ns]

        def p(value: str) -> str:
            params.append(value)
            return f"${len(params)}"

        nodes = ", ".join(p(n) for n in dict.fromkeys(n for n, _ in series))
        gpus = ", ".join(p(g) for g in dict.fromkeys(g for _, g in series))
        cond = (f"ts BETWEEN $1 AND $2 AND {col} IS NOT NULL AND node IN ({nodes}) "
                f"AND gpu IN ({gpus})")
        key = "0" if len(series) == 1 else "CASE " + " ".join(
            f"WHEN node = {p(n)} AND gpu = {p(g)} THEN {i}" for i, (n, g) in enumerate(series)
        ) + " END"
        rows = _rows_sql(f"node, gpu, ts, {col} AS v", cond, [metric], files)
        with self._con.cursor() as cur:  # its own: this thread's may hold a half-read result
            got: dict[str, npt.NDArray[np.generic]] = cur.execute(
                f"SELECT k, ts, v FROM (SELECT {key} AS k, ts, v FROM ({rows})) "
                "WHERE k IS NOT NULL ORDER BY k, ts", params).fetchnumpy()
        return got

    def read_windows(self, series: Sequence[tuple[str, str]], metrics: Sequence[str],
                     first_ns: int, step_ns: int, n_windows: int,
                     agg: str) -> dict[str, windows.Windows]:
        """`agg` (windows.WINDOW_AGGS) of each metric per (node, GPU) series and window of
        `step_ns` from first_ns on (n_windows of them), computed in one statement over the
        head and the blocks in range. A metric left out of the answer (unknown, or a sum
        that would not be exact) is the caller's to aggregate from samples."""
        known = [m for m in dict.fromkeys(metrics) if m in COLUMN_INDEX]
        if not known or not series or n_windows <= 0 or step_ns <= 0:
            return dict.fromkeys(known, windows.EMPTY)
        end_ns = first_ns + n_windows * step_ns - 1
        cols = ", ".join(("node", "gpu", "ts", *(_quote(m) for m in known)))
        got = self._scan_many(series, known, first_ns, end_ns,
                              lambda rows: windows.select(rows, known, first_ns, step_ns, agg),
                              cols, "")
        return windows.parse(got, known, agg)

    def read_peaks(self, series: Sequence[tuple[str, str]], metric: str,
                   spans: Sequence[windows.Span]) -> list[windows.Peak | None]:
        """For each (node, GPU) series and its span (lead_ns, start_ns, end_ns): the time of
        its first sample with lead_ns <= ts <= end_ns, and the largest value and the count of
        its samples with start_ns <= ts <= end_ns (windows.Peak); None where the series has no
        sample from lead_ns to end_ns. One statement for every series, the aggregation in
        DuckDB: what a rule over a window of many GPUs needs, without their samples."""
        if metric not in COLUMN_INDEX or not series:
            return [None] * len(series)
        lo, hi = min(s[0] for s in spans), max(s[2] for s in spans)
        if hi < lo:
            return [None] * len(series)
        got = self._scan_many(series, [metric], lo, hi, windows.peaks_sql,
                              f"node, gpu, ts, {_quote(metric)} AS v",
                              f" AND {_quote(metric)} IS NOT NULL",
                              windows.span_columns(spans))
        return windows.parse_peaks(got, len(series))

    def _scan_many(self, series: Sequence[tuple[str, str]], metrics: Sequence[str],
                   start_ns: int, end_ns: int, sql: Callable[[str], str], columns: str,
                   where: str, extra: dict[str, pa.Array] | None = None
                   ) -> dict[str, npt.NDArray[np.generic]]:
        """Run `sql(rows)` (`rows`: SQL for the head and block rows of `columns` with
        start_ns <= ts <= end_ns and `where`, in API units) with the asked series as
        `wanted_series` (node, gpu, k: their index, and the `extra` columns)."""
        return self._with_blocks(series, start_ns, end_ns, lambda files: self._scan(
            series, metrics, start_ns, end_ns, sql, columns, where, files, extra))

    def _with_blocks(self, series: Sequence[tuple[str, str]], start_ns: int, end_ns: int,
                     scan: Callable[[list[blk.Block]], _R]) -> _R:
        """`scan(blocks)` over the blocks that may hold the series in range; a damaged block
        found on the way is set aside and the scan retried once without it."""
        nodes = {n for n, _ in series}

        def files() -> list[blk.Block]:
            return [b for b in self._blocks if any(b.holds(n, start_ns, end_ns) for n in nodes)]

        held = files()
        try:
            return scan(held)
        except duckdb.Error:
            if not held or not self._check(held):
                raise
            return scan(files())

    def _scan(self, series: Sequence[tuple[str, str]], metrics: Sequence[str], start_ns: int,
              end_ns: int, sql: Callable[[str], str], columns: str, where: str,
              files: list[blk.Block], extra: dict[str, pa.Array] | None = None
              ) -> dict[str, npt.NDArray[np.generic]]:
        rows = _rows_sql(columns, f"ts BETWEEN $1 AND $2{where}", metrics, files)
        wanted = pa.table({"node": [n for n, _ in series], "gpu": [g for _, g in series],
                           "k": pa.array(range(len(series)), pa.int32()), **(extra or {})})
        # A cursor of its own: register() refuses a cursor another caller on this thread
        # left with a half-read result, and the name stays private to this read.
        with self._con.cursor() as cur:
            cur.register("wanted_series", wanted)
            got: dict[str, npt.NDArray[np.generic]] = cur.execute(
                sql(rows), [start_ns, end_ns]).fetchnumpy()
        return got

    def sample_count(self, node: str | None = None) -> int:
        """Samples held (head and blocks), for one node or all."""
        with self._counts_lock:
            if node is None:
                return sum(self._node_samples.values())
            return self._node_samples.get(node, 0)

    def blocks(self) -> tuple[blk.Block, ...]:
        """The sealed blocks now, by number."""
        return self._blocks

    def size_bytes(self) -> int:
        """Bytes on disk: database, its WAL and every block."""
        if self.data_dir is None:
            return 0
        total = sum(b.size_bytes for b in self._blocks)
        for name in (DB_NAME, DB_NAME + ".wal"):
            with contextlib.suppress(OSError):
                total += (self.data_dir / name).stat().st_size
        return total

    def head_rows(self) -> int:
        """Rows in the head (not yet sealed)."""
        rows = self.cursor().execute("SELECT count(*) FROM head").fetchall()  # to the end:
        return int(rows[0][0]) if rows else 0  # a half-read result blocks the cursor

    # ------------------------------------------------------------ sealing
    def seal(self, cutoff_ns: int) -> int:
        """Move head rows older than cutoff_ns into a new block and their rollups into the
        tiers, in one transaction after the block is durable; return samples sealed. The
        three steps of a seal in one call (the store's writer runs the middle one beside it).
        Raises StorageError while another seal is in progress."""
        plan = self.prepare_seal(cutoff_ns)
        if plan is None:
            return 0
        written = self.write_seal(plan)
        return 0 if written is None else self.commit_seal(written)

    def prepare_seal(self, cutoff_ns: int) -> SealPlan | None:
        """Step 1, on the writing thread between commits: which head rows the seal takes
        (older than cutoff_ns, committed by now); None in memory. Raises StorageError while
        another seal is in progress (one at a time: the next block number is taken here)."""
        if self.blocks_dir is None:
            return None
        with self.write_lock:
            if self._seal_plan is not None:
                raise StorageError("a seal is in progress; one at a time")
            plan = SealPlan(self._sealed_through + 1, int(cutoff_ns), self._batch)
            self._seal_plan = plan
            return plan

    def write_seal(self, plan: SealPlan) -> SealedBlock | None:
        """Step 2, in any thread, beside the writer: write and fsync the block of the plan's
        rows and compute their rollups (reads on a cursor of its own; frames committed
        meanwhile are not among the rows). None when there is no row to seal. Raises what
        the write raised (the block file is removed; the plan is given up)."""
        with self._seal_lock:  # close() waits for it
            cur = self._con.cursor()
            try:
                written = self._write_seal(cur, plan)
            except BaseException:
                self.abandon_seal(plan)
                raise
            finally:
                cur.close()
        if written is None:  # nothing older: sealed through the cutoff all the same
            self.abandon_seal(plan, sealed_ns=plan.cutoff_ns)
        return written

    def _write_seal(self, cur: duckdb.DuckDBPyConnection, plan: SealPlan
                    ) -> SealedBlock | None:
        self._step("seal")
        per_node = cur.execute(f"SELECT node, min(ts), max(ts), {_COUNT_SQL}, {_EXACT_SQL} "
                               f"FROM head WHERE {plan.rows} GROUP BY node").fetchall()
        if not per_node:
            return None
        ints = {c: METRICS[c].wire_per_unit for i, c in enumerate(_EXACT, 4)
                if all(r[i] is not False for r in per_node) and any(r[i] for r in per_node)}
        info = {"min_ts": min(int(r[1]) for r in per_node),
                "max_ts": max(int(r[2]) for r in per_node),
                "nodes": {str(r[0]): int(r[3]) for r in per_node}, "ints": ints}
        path = self._write_block(cur, plan, info, ints)
        try:
            rollups = self._rollups(cur, plan)
            self._step("seal written")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return SealedBlock(plan, path, rollups)

    def commit_seal(self, written: SealedBlock) -> int:
        """Step 3, on the writing thread: in one short transaction insert the rollups,
        delete the sealed head rows, name the block in meta.sealed_through; then serve it.
        Return samples sealed. Raises duckdb.Error or OSError (the block file is removed,
        its rows stay in the head for the next seal)."""
        plan = written.plan
        with self.write_lock:
            try:
                with self.transaction() as cur:
                    self._insert_rollups(cur, written.rollups)
                    cur.execute(f"DELETE FROM head WHERE {plan.rows}")
                    cur.execute("INSERT OR REPLACE INTO meta VALUES ('sealed_through', ?)",
                                [plan.number])
            except BaseException:
                written.path.unlink(missing_ok=True)
                raise
            finally:
                self._seal_plan = None
            self._sealed_through = plan.number
            self._sealed_ns = max(self._sealed_ns, plan.cutoff_ns)
        block = blk.open_block(written.path)
        with self._blocks_lock:
            self._blocks = (*self._blocks, block)
        self.stats.blocks_sealed += 1
        self.stats.samples_sealed += block.samples
        return block.samples

    def abandon_seal(self, plan: SealPlan, sealed_ns: int = 0) -> None:
        """Give up a prepared seal (its rows stay in the head); `sealed_ns`: the cutoff, when
        it found nothing to seal."""
        with self.write_lock:
            if self._seal_plan is plan:
                self._seal_plan = None
            self._sealed_ns = max(self._sealed_ns, sealed_ns)

    def _write_block(self, cur: duckdb.DuckDBPyConnection, plan: SealPlan,
                     info: dict[str, object], ints: dict[str, int]) -> Path:
        assert self.blocks_dir is not None
        tmp = self.blocks_dir / f".tmp-{plan.number}.parquet"
        try:
            blk.write(cur, blk.encoded(f"SELECT * FROM head WHERE {plan.rows}", COLUMNS, ints),
                      tmp, info, lambda _step: self._step("seal row group"))
            return self._publish(tmp, plan.number)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _publish(self, tmp: Path, number: int, first: int = 0) -> Path:
        """Rename a written, fsynced block file to its final name, durably."""
        assert self.blocks_dir is not None
        final = self.blocks_dir / blk.block_name(number, blk.file_crc(tmp), first)
        os.replace(tmp, final)
        blk.fsync_path(self.blocks_dir)
        return final

    def _rollups(self, cur: duckdb.DuckDBPyConnection, plan: SealPlan) -> pa.Table:
        """The rollup rows of the plan's head rows, every tier (one Arrow table)."""
        if not self.tiers:
            return pa.table({})
        cols = ", ".join(_quote(c) for c in COLUMNS)
        source = f"SELECT node, gpu, ts, {cols} FROM head WHERE {plan.rows}"
        tiers = " UNION ALL ".join(
            f"SELECT {int(t.step_ns)}::BIGINT AS tier, node, gpu, metric, "
            f"ts // {int(t.step_ns)} * {int(t.step_ns)} AS bucket, min(v), max(v), sum(v), "
            "count(v)::BIGINT, arg_max(v, ts), max(ts) FROM long GROUP BY node, gpu, metric, "
            "bucket" for t in self.tiers)
        return cur.sql(f"WITH long AS (UNPIVOT ({source}) ON {cols} INTO NAME metric "
                       f"VALUE v) {tiers}").to_arrow_table()

    @staticmethod
    def _insert_rollups(cur: duckdb.DuckDBPyConnection, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        cur.register("seal_rollups", rows)
        try:
            cur.execute("INSERT INTO rollups SELECT * FROM seal_rollups")
        finally:
            cur.unregister("seal_rollups")

    # ---------------------------------------------------------- compaction
    def compact(self, full: bool = False) -> int:
        """Merge runs of small sealed blocks into larger ones (compaction.plan: windows
        sealed through, or every window when `full`), until none is left; return the blocks
        replaced. Runs beside the writer (reads Parquet, writes Parquet, touches no table):
        a reader or the writer never waits on it. Each merge is crash-safe: the new block is
        written and fsynced under a temporary name, renamed (the switch) and only then are
        the blocks it replaces deleted. A merge that fails is logged and counted; its blocks
        stay as they were (a damaged one is quarantined)."""
        if self.blocks_dir is None:
            return 0
        replaced = 0
        with self._compact_lock:
            while not self._closing:
                inputs = compaction.plan(self._blocks, self.compact_widths, self._sealed_ns,
                                         full)
                if not inputs:
                    break
                try:
                    done = self._merge(inputs)
                except (duckdb.Error, OSError, ValueError) as exc:
                    self._merge_failed(inputs, exc)
                    break
                if not done:
                    break
                replaced += done
        return replaced

    def _merge(self, inputs: tuple[blk.Block, ...]) -> int:
        """Write one block holding `inputs` and switch to it; return len(inputs), or 0 when
        one of them went (retention, quarantine) meanwhile or the engine is closing."""
        assert self.blocks_dir is not None
        first, last = inputs[0].oldest, inputs[-1].number
        nodes: dict[str, int] = {}
        for b in inputs:
            for node, n in b.nodes.items():
                nodes[node] = nodes.get(node, 0) + n
        ints = {m: k for m, k in inputs[0].ints if all(b.per_unit(m) == k for b in inputs)}
        info = {"min_ts": min(b.min_ts for b in inputs), "max_ts": max(b.max_ts for b in inputs),
                "nodes": nodes, "ints": ints}
        tmp = self.blocks_dir / f".tmp-c{first}-{last}.parquet"
        cur = self._con.cursor()  # its own: this thread's cursor may hold a pending result
        try:
            blk.write(cur, blk.encoded(blk.decoded(inputs, COLUMNS), COLUMNS, ints), tmp, info,
                      self._step)
            self._step("written")
            with self._blocks_lock:  # retention and quarantine wait: none of them goes now
                if self._closing or any(b not in self._blocks for b in inputs):
                    tmp.unlink(missing_ok=True)
                    return 0
                path = self._publish(tmp, last, first)
                block = blk.open_block(path)
                self._blocks = tuple(sorted((*(b for b in self._blocks if b not in inputs),
                                             block), key=lambda b: b.number))
                self._unverified = [*(b for b in self._unverified if b not in inputs), block]
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            cur.close()
        self._step("switched")
        for b in inputs:
            b.path.unlink(missing_ok=True)
            self._step("deleted")
        blk.fsync_path(self.blocks_dir)
        self.stats.compactions += 1
        self.stats.blocks_compacted += len(inputs)
        return len(inputs)

    def _step(self, name: str) -> None:
        if self._closing:
            raise duckdb.InterruptException("the store is closing")
        if self.fault_step is not None:
            self.fault_step(name)

    def _merge_failed(self, inputs: tuple[blk.Block, ...], exc: Exception) -> None:
        if self._closing:
            return
        self.stats.compaction_failures += 1
        log.error("storage: compacting blocks %d-%d failed (%s); they stay as they are",
                  inputs[0].oldest, inputs[-1].number, exc)
        self._check(list(inputs))

    def seal_all(self) -> int:
        """Seal every head row (a clean stop); return samples sealed."""
        return self.seal(2**63 - 1)

    # ---------------------------------------------------------- retention
    def retain(self, now_ns: int) -> None:
        """Drop blocks past the full-rate retention and rollup buckets past their tier's,
        then the oldest blocks while over max_disk_bytes; each counted by reason."""
        horizon = now_ns - self.retention_ns
        for block in [b for b in self._blocks if b.max_ts < horizon]:
            self._drop(block, "age")
        with self.transaction() as cur:
            for tier in self.tiers:
                row = cur.execute("DELETE FROM rollups WHERE tier = ? AND bucket < ?",
                                  [tier.step_ns, now_ns - tier.retention_ns]).fetchone()
                self._count_rollups("age", int(row[0]) if row else 0)
        if self.data_dir is None:
            self._trim_head(horizon, "age")
        self._keep_under_max_disk()

    def _keep_under_max_disk(self) -> None:
        if not self.max_disk_bytes or self.data_dir is None:
            return
        while self.size_bytes() > self.max_disk_bytes and self._blocks:
            self._drop(min(self._blocks, key=lambda b: (b.max_ts, b.number)), "disk")
        if self.size_bytes() > self.max_disk_bytes and self.tiers:
            with self.transaction() as cur:  # then the oldest tenth of the rollup buckets
                row = cur.execute("DELETE FROM rollups WHERE bucket <= (SELECT quantile_disc("
                                  "bucket, 0.1) FROM rollups)").fetchone()
                self._count_rollups("disk", int(row[0]) if row else 0)
            self._w.execute("CHECKPOINT")

    def _count_rollups(self, reason: str, rows: int) -> None:
        if rows:
            dropped = self.stats.rollup_rows_dropped
            dropped[reason] = dropped.get(reason, 0) + rows

    def _drop(self, block: blk.Block, reason: str) -> None:
        """Remove a block (counted by reason); its samples leave the counts. A no-op for a
        block a compaction replaced meanwhile."""
        with self._blocks_lock:
            if block not in self._blocks:
                return
            self._blocks = tuple(b for b in self._blocks if b is not block)
            self._unverified = [b for b in self._unverified if b is not block]
            block.path.unlink(missing_ok=True)
        self.stats.blocks_dropped[reason] = self.stats.blocks_dropped.get(reason, 0) + 1
        self.stats.samples_dropped[reason] = (self.stats.samples_dropped.get(reason, 0)
                                              + self._uncount(block.nodes))

    def _trim_head(self, before_ns: int, reason: str) -> int:
        """Delete head rows older than before_ns (memory mode's retention); return samples."""
        with self.transaction() as cur:
            rows = cur.execute(f"SELECT node, {_COUNT_SQL} FROM head WHERE ts < ? GROUP BY node",
                               [before_ns]).fetchall()
            if rows:
                cur.execute("DELETE FROM head WHERE ts < ?", [before_ns])
        gone = self._uncount({str(n): int(c) for n, c in rows})
        if gone:
            self.stats.samples_dropped[reason] = self.stats.samples_dropped.get(reason, 0) + gone
        return gone

    def keep_bound(self) -> int:
        """Memory mode, after each commit: over `max_samples`, drop the oldest head rows down
        to three quarters of it; then, and after every COMPRESS_EVERY new samples, checkpoint
        (DuckDB compresses in-memory tables only then, and only then frees deleted rows: ~24 B
        a sample before, 1-7 after). Return samples dropped."""
        if self.data_dir is not None:
            return 0
        dropped = 0
        if self.max_samples and self.sample_count() > self.max_samples:
            dropped = self._evict_oldest(self.max_samples * 3 // 4)
        if dropped or self._uncompressed >= COMPRESS_EVERY:
            self._compact()
        return dropped

    def shrink_head(self, fraction: float, floor: int) -> int:
        """Memory mode under memory pressure: drop the oldest head rows until about
        `fraction` of the samples remain (not below `floor`); return samples dropped."""
        held = self.sample_count()
        if self.data_dir is not None or held <= floor:
            return 0
        dropped = self._evict_oldest(max(floor, int(held * fraction)))
        self._compact()
        return dropped

    def _evict_oldest(self, keep: int) -> int:
        """Delete the oldest head rows until at most `keep` samples remain (counted as
        "memory"); return samples dropped."""
        dropped = 0
        with self.write_lock:
            while (held := self.sample_count()) > keep:
                row = self._w.execute("SELECT quantile_disc(ts, ?), min(ts) FROM head",
                                      [1.0 - keep / held]).fetchone()
                if not row or row[1] is None:
                    break
                dropped += self._trim_head(max(int(row[0]), int(row[1]) + 1), "memory")
        return dropped

    def _compact(self) -> None:
        """Checkpoint the in-memory database: compresses new rows, frees deleted ones."""
        with self.write_lock:
            try:
                self._w.execute("CHECKPOINT")
            except duckdb.Error as exc:  # another transaction open: the next commit retries
                log.debug("storage: in-memory checkpoint deferred (%s)", exc)
                return
            self._uncompressed = 0

    # --------------------------------------------------------- verification
    def verify_some(self, max_bytes: int = 256 << 20) -> int:
        """Check the checksums of blocks not yet verified since start, up to max_bytes per
        call; a damaged one is quarantined. Return blocks found damaged."""
        budget, checked = max_bytes, []
        for b in list(self._unverified):
            if budget <= 0:
                break
            checked.append(b)
            budget -= b.size_bytes
        return self._check(checked)

    def _check(self, candidates: list[blk.Block]) -> int:
        damaged = 0
        for b in candidates:
            self._unverified = [u for u in self._unverified if u is not b]
            why = blk.verify(b)
            self.stats.blocks_verified += 1
            with self._blocks_lock:
                if not why or b not in self._blocks or not b.path.exists():
                    continue  # sound, or replaced by a compaction meanwhile
                damaged += 1
                self._blocks = tuple(x for x in self._blocks if x is not b)
                blk.quarantine(b.path, why)
            self._uncount(b.nodes)
            self.stats.files_quarantined += 1
            self.problems.append(f"{b.path.name}: {why}")
        return damaged

    # ------------------------------------------------------------ state I/O
    def agents(self) -> list[tuple[str, str, bytes, int]]:
        """Every (node, instance, hello bytes, last seen ns) held."""
        rows = self.cursor().execute("SELECT node, instance, hello, seen_ns FROM agents"
                                     ).fetchall()
        return [(str(n), str(i), bytes(h), int(s)) for n, i, h, s in rows]

    def first_seen(self) -> dict[str, int]:
        """Each node's first hello ever (Unix ns)."""
        return {str(n): int(t) for n, t in
                self.cursor().execute("SELECT node, first_ns FROM nodes").fetchall()}

    def applied(self) -> list[tuple[str, str, int, bytes]]:
        """(node, instance, seq, digest) of the newest applied frames, by seq."""
        rows = self.cursor().execute("SELECT node, instance, seq, digest FROM applied "
                                     "ORDER BY node, instance, seq").fetchall()
        return [(str(n), str(i), int(s), bytes(d)) for n, i, s, d in rows]

    def tail(self) -> Iterator[tuple[str, str, int, bytes]]:
        """Frames committed after the state snapshot, in commit order (counted)."""
        cur = self.cursor().execute("SELECT node, instance, seq, payload FROM tail "
                                    "ORDER BY received_ns, seq")
        while rows := cur.fetchmany(1024):
            for node, instance, seq, payload in rows:
                self.stats.tail_frames_read += 1
                yield str(node), str(instance), int(seq), bytes(payload)

    def snapshot(self, name: str) -> bytes | None:
        """A state snapshot's body, None when none was written."""
        rows = self.cursor().execute("SELECT body FROM state WHERE name = ?", [name]
                                     ).fetchall()
        return bytes(rows[0][0]) if rows else None
