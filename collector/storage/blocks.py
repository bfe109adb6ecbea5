"""Sealed blocks: immutable Parquet files of full-rate samples, sorted by (node, gpu, ts).

A block's name carries its number and the CRC-32 of its bytes (`000000000042-1a2b3c4d.parquet`),
its footer the time range and samples per node, so the directory itself says what is held:
nothing has to be replayed or indexed at start-up. A block that fails a check (a footer that
does not parse, a size or checksum that does not match) is moved to `quarantine/`, logged
and counted; the rest are served.
"""

from __future__ import annotations

import json
import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

log = logging.getLogger(__name__)

NAME = re.compile(r"^(\d{12})-([0-9a-f]{8})\.parquet$")
META_KEY = b"gputel"  # footer key: {"min_ts", "max_ts", "nodes": {node: samples}}
READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Block:
    """One sealed block: file, number, checksum, time range (Unix ns) and samples per node."""

    path: Path
    number: int
    crc: int
    min_ts: int
    max_ts: int
    nodes: dict[str, int]
    size_bytes: int

    @property
    def samples(self) -> int:
        """Samples the block holds, all nodes together."""
        return sum(self.nodes.values())

    def holds(self, node: str, start_ns: int, end_ns: int) -> bool:
        """True if the block may hold samples of `node` in [start_ns, end_ns]."""
        return node in self.nodes and self.min_ts <= end_ns and self.max_ts >= start_ns


def block_name(number: int, crc: int) -> str:
    """The file name of block `number` whose bytes have CRC-32 `crc`."""
    return f"{number:012d}-{crc:08x}.parquet"


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
    except (OSError, KeyError, ValueError) as exc:  # ArrowInvalid is a ValueError
        raise ValueError(f"footer unreadable ({exc})") from exc
    return Block(path, int(match.group(1)), int(match.group(2), 16), int(info["min_ts"]),
                 int(info["max_ts"]), {str(k): int(v) for k, v in info["nodes"].items()},
                 path.stat().st_size)


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
    interrupted seal are removed too.
    """
    blocks: list[Block] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*")):
        if path.name.startswith(".tmp-"):
            path.unlink(missing_ok=True)
            continue
        match = NAME.match(path.name)
        if match is not None and int(match.group(1)) > sealed_through:
            log.info("storage: removing %s, written by a seal that did not commit", path)
            path.unlink(missing_ok=True)
            continue
        try:
            blocks.append(open_block(path))
        except (ValueError, OSError) as exc:
            quarantine(path, str(exc))
            problems.append(f"{path.name}: {exc}")
    return blocks, problems
