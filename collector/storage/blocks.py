"""Sealed blocks: immutable Parquet files of full-rate samples, sorted by (node, gpu, ts).

A block's name carries its number and the CRC-32 of its bytes (`000000000042-1a2b3c4d.parquet`);
a compacted block, the first and last numbers of the blocks it replaced
(`000000000001-000000000060-1a2b3c4d.parquet`). Its footer holds the time range, samples per
node and which metrics are stored as whole numbers of their wire unit, so the directory itself
says what is held: nothing has to be replayed or indexed at start-up. A block that fails a
check (a footer that does not parse, a size or checksum that does not match) is moved to
`quarantine/`, logged and counted; the rest are served. A block whose numbers another block's
range covers was replaced by a compaction that had finished: it is removed at start-up.

Encoding, chosen by measurement (README, "at rest"): a metric the drivers report as whole
numbers (`Metric.exact`: percent, MHz, milliwatts, bytes, a millijoule counter) is an int64
of its wire unit when every value of the block is one (else float64); timestamps and counters
are DELTA_BINARY_PACKED, gauges BYTE_STREAM_SPLIT, node and GPU ids dictionaries; zstd.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from gputel.proto.metrics import METRICS

log = logging.getLogger(__name__)

NAME = re.compile(r"^(\d{12})(?:-(\d{12}))?-([0-9a-f]{8})\.parquet$")
META_KEY = b"gputel"  # footer: {"min_ts", "max_ts", "nodes": {node: samples}, "ints": {m: k}}
READ_CHUNK = 1 << 20
ROW_GROUP = 16_384  # rows a group: a series decodes less (query-profile.md); 65,536: -1.4 % bytes
ZSTD_LEVEL = 9  # 3: +1.3 % bytes; 15: -3.5 % bytes for 1.5-3x the write time
KEYS = ("node", "gpu", "ts")
Step = Callable[[str], None]  # called between the steps of a write (a test's crash point)


@dataclass(frozen=True, slots=True)
class Block:
    """One sealed block: file, numbers, checksum, time range (Unix ns), samples per node and
    the metrics held as whole numbers (metric -> wire units per API unit)."""

    path: Path
    number: int  # the newest block number it holds
    crc: int
    min_ts: int
    max_ts: int
    nodes: dict[str, int]
    size_bytes: int
    first: int = 0  # the oldest block number it holds (0: the same as number)
    ints: tuple[tuple[str, int], ...] = ()

    @property
    def samples(self) -> int:
        """Samples the block holds, all nodes together."""
        return sum(self.nodes.values())

    @property
    def oldest(self) -> int:
        """The oldest block number it holds."""
        return self.first or self.number

    def holds(self, node: str, start_ns: int, end_ns: int) -> bool:
        """True if the block may hold samples of `node` in [start_ns, end_ns]."""
        return node in self.nodes and self.min_ts <= end_ns and self.max_ts >= start_ns

    def per_unit(self, metric: str) -> int:
        """Wire units per API unit when `metric` is stored as an integer, else 0."""
        return dict(self.ints).get(metric, 0)


def block_name(number: int, crc: int, first: int = 0) -> str:
    """The file name of block `number` (holding blocks `first`..`number`) with CRC-32 `crc`."""
    if first and first != number:
        return f"{first:012d}-{number:012d}-{crc:08x}.parquet"
    return f"{number:012d}-{crc:08x}.parquet"


def numbers_of(name: str) -> tuple[int, int] | None:
    """(first, last) block numbers a block file name holds; None if not a block name."""
    match = NAME.match(name)
    if match is None:
        return None
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def file_crc(path: Path) -> int:
    """CRC-32 of a file's bytes (reads it whole, in 1 MiB pieces)."""
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (so a rename in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_block(path: Path) -> Block:
    """Read a block's name and footer (not its data). Raises ValueError naming the defect."""
    match = NAME.match(path.name)
    if match is None:
        raise ValueError("not a block name")
    try:
        meta = pq.read_metadata(path)
        info = json.loads((meta.metadata or {})[META_KEY])
        ints = tuple(sorted((str(m), int(k)) for m, k in info.get("ints", {}).items()))
        first, last = numbers_of(path.name) or (0, 0)
        return Block(path, last, int(match.group(3), 16), int(info["min_ts"]),
                     int(info["max_ts"]), {str(k): int(v) for k, v in info["nodes"].items()},
                     path.stat().st_size, first, ints)
    except (OSError, KeyError, TypeError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise ValueError(f"footer unreadable ({exc})") from exc


def verify(block: Block) -> str:
    """'' if the block's bytes match its checksum, else what is wrong."""
    try:
        crc = file_crc(block.path)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return "" if crc == block.crc else f"checksum {crc:08x} is not {block.crc:08x}"


def quarantine(path: Path, why: str) -> Path:
    """Move a damaged file aside into `quarantine/` next to it, with one log line."""
    where = path.parent.parent / "quarantine" if path.parent.name == "blocks" \
        else path.parent / "quarantine"
    where.mkdir(parents=True, exist_ok=True)
    target = where / path.name
    n = 1
    while target.exists():
        target = where / f"{path.name}.{n}"
        n += 1
    os.replace(path, target)
    log.error("storage: %s is damaged (%s); moved to %s, the rest is served", path, why, target)
    return target


def scan(directory: Path, sealed_through: int) -> tuple[list[Block], list[str]]:
    """Blocks in `directory`, by number; what was wrong with the others (quarantined).

    Blocks numbered above `sealed_through` were written by a seal that did not commit
    (their rows are still in the head): removed, not served twice. Temporary files of an
    interrupted seal or compaction are removed too, and so are blocks a finished compaction
    replaced (another block's numbers cover theirs).
    """
    blocks: list[Block] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*")):
        if path.name.startswith(".tmp-"):
            path.unlink(missing_ok=True)
            continue
        numbers = numbers_of(path.name)
        if numbers is not None and numbers[1] > sealed_through:
            log.info("storage: removing %s, written by a seal that did not commit", path)
            path.unlink(missing_ok=True)
            continue
        try:
            blocks.append(open_block(path))
        except (ValueError, OSError) as exc:
            quarantine(path, str(exc))
            problems.append(f"{path.name}: {exc}")
    return _without_replaced(blocks), problems


def _without_replaced(blocks: list[Block]) -> list[Block]:
    """Remove (file and entry) every block whose numbers a wider block covers."""
    kept = []
    for b in blocks:
        wider = next((o for o in blocks if o is not b and o.oldest <= b.oldest
                      and b.number <= o.number and o.number - o.oldest > b.number - b.oldest),
                     None)
        if wider is None:
            kept.append(b)
            continue
        log.info("storage: removing %s, replaced by the compacted %s", b.path.name,
                 wider.path.name)
        b.path.unlink(missing_ok=True)
    return sorted(kept, key=lambda b: b.number)


# ------------------------------------------------------------------------- writing
def quote(name: str) -> str:
    """A SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def exact_test(column: str) -> str:
    """SQL: true when every value of a metric column is a whole number of its wire unit
    (and stays exact in float64 on the way back); NULL when the column has no value."""
    k = METRICS[column].wire_per_unit
    q = quote(column)
    return f"bool_and({q} IS NULL OR (abs({q}) < 2^52 / {k} AND round({q} * {k}) / {k} = {q}))"


def encoded(source: str, columns: Sequence[str], ints: dict[str, int]) -> str:
    """SQL: the rows of `source` (API units, float64) as a block stores them, by series."""
    parts = list(KEYS)
    for c in columns:
        q = quote(c)
        parts.append(f"CAST(round({q} * {ints[c]}) AS BIGINT) AS {q}" if c in ints else q)
    return f"SELECT {', '.join(parts)} FROM ({source}) ORDER BY node, gpu, ts"


def decoded(blocks: Iterable[Block], columns: Sequence[str], where: str = "") -> str:
    """SQL: the rows of `blocks` in API units (float64): one read_parquet per encoding."""
    groups: dict[tuple[int, ...], list[Block]] = {}
    for b in blocks:
        groups.setdefault(tuple(b.per_unit(c) for c in columns), []).append(b)
    selects = []
    for units, members in groups.items():
        cols = [quote(c) if not k else f"CAST({quote(c)} AS DOUBLE) / {k} AS {quote(c)}"
                for c, k in zip(columns, units, strict=True)]
        paths = ", ".join("'" + str(b.path).replace("'", "''") + "'" for b in members)
        selects.append(f"SELECT {', '.join((*KEYS, *cols))} FROM read_parquet([{paths}])"
                       + (f" WHERE {where}" if where else ""))
    return " UNION ALL ".join(selects)


def write(cur: duckdb.DuckDBPyConnection, select: str, path: Path, info: dict[str, object],
          step: Step | None = None) -> None:
    """Stream the rows of `select` (an `encoded` query) into a new Parquet file at `path`,
    with `info` in its footer, and fsync it. Memory: one batch of rows at a time (DuckDB's
    sort spills past its memory limit). Raises duckdb.Error or OSError; the file is then
    left for the caller to remove."""
    reader = cur.sql(select).to_arrow_reader(ROW_GROUP)
    schema = reader.schema
    encodings = {f.name: _encoding(f) for f in schema if f.name not in ("node", "gpu")}
    with pq.ParquetWriter(path, schema, compression="zstd", compression_level=ZSTD_LEVEL,
                          use_dictionary=["node", "gpu"], column_encoding=encodings,
                          store_schema=False, write_statistics=list(KEYS)) as writer:
        pending: list[pa.RecordBatch] = []
        for batch in itertools.chain(reader, [None]):  # streamed, never all at once
            if batch is not None:
                pending.append(batch)
            if pending and (batch is None or sum(b.num_rows for b in pending) >= ROW_GROUP):
                group = pa.Table.from_batches(pending, schema)
                writer.write_table(group, row_group_size=group.num_rows)
                pending = []
                if step is not None:
                    step("row group")
        writer.add_key_value_metadata({META_KEY.decode(): json.dumps(info)})
    fsync_path(path)


def _encoding(f: pa.Field) -> str:
    """Timestamps and counters as deltas, gauges byte-stream-split (measured best)."""
    counter = f.name in METRICS and METRICS[f.name].prom_type == "counter"
    return "DELTA_BINARY_PACKED" if f.name == "ts" or (counter and pa.types.is_integer(
        f.type)) else "BYTE_STREAM_SPLIT"
