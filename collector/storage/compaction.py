"""Which sealed blocks to merge next: Prometheus' levelled compaction over Parquet blocks.

A seal writes one small block (30 s of samples, cut on a grid: durable.SEAL_GRID_NS). Blocks
are merged into larger ones over time windows aligned to the epoch, each level `FACTOR` times
wider than the one below (`levels`): the blocks of one window are merged once the window has
been sealed through, so a sample is rewritten once per level, not once per pass. The widest
level is a tenth of the full-rate retention (as Prometheus caps its blocks), so retention by
age, which drops whole blocks, keeps at most a tenth more than asked.

Only a run of blocks adjacent by number is merged: the merged block's name carries the first
and last number it replaces, and at start-up a block whose number that range covers is taken
as replaced (see blocks.scan), so the range must not cover a block left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from gputel.collector.storage.blocks import Block

FACTOR = 5


def levels(seal_ns: int, retention_ns: int) -> tuple[int, ...]:
    """Window widths (ns): seal age x 5, x 25, ... up to a tenth of the retention (at least
    one level)."""
    widest = max(retention_ns // 10, seal_ns * FACTOR)
    out, width = [], seal_ns * FACTOR
    while width <= widest and width > 0:
        out.append(width)
        width *= FACTOR
    return tuple(out)


def plan(blocks: Sequence[Block], widths: Sequence[int], sealed_ns: int,
         full: bool = False) -> tuple[Block, ...]:
    """The next run of blocks to merge (oldest level and window first); () when none.

    A run: blocks adjacent by number, each starting in the same window of one level and
    spanning less than the window, at least two. Unless `full`, only windows that end at or
    before `sealed_ns` (the newest seal's cutoff) are merged, so a window is merged once.
    """
    ordered = sorted(blocks, key=lambda b: b.number)
    for width in widths:
        run: list[Block] = []
        for b in ordered:
            window = b.min_ts // width if b.max_ts - b.min_ts < width else None
            if run and window is not None and window == run[0].min_ts // width:
                run.append(b)
                continue
            if _ready(run, width, sealed_ns, full):
                return tuple(run)
            run = [b] if window is not None else []
        if _ready(run, width, sealed_ns, full):
            return tuple(run)
    return ()


def _ready(run: list[Block], width: int, sealed_ns: int, full: bool) -> bool:
    """Two blocks or more, in a window sealed through (or `full`)."""
    return len(run) > 1 and (full or (run[0].min_ts // width + 1) * width <= sealed_ns)
