"""Turns ticks into columnar frames: one block per device, flushed every `ticks_per_frame` ticks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from gputel.agent.backends.base import Buffered, Reading
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import exact


class Batcher:
    """Accumulates Readings; per flush emits a Frame (seq unset) and its tick count to `emit`.

    `metrics` are the backend's metric ids (Reading.values columns, in wire units): the
    catalogue says which travel as exact integers. `decorate(frame, first_ts_ns)` adds
    what is not a sample (attribution) before emitting.
    """

    def __init__(self, n_devices: int, metrics: Sequence[str], ticks_per_frame: int,
                 emit: Callable[[pb.Frame, int], object],
                 decorate: Callable[[pb.Frame, int], None] | None = None) -> None:
        if ticks_per_frame < 1:
            raise ValueError("a frame holds at least one tick")
        self._n_devices = n_devices
        self._exact = exact(metrics)
        self._cap = ticks_per_frame
        self._emit = emit
        self._decorate = decorate
        self._ts = np.zeros(ticks_per_frame, dtype=np.int64)
        self._values = np.empty((ticks_per_frame, n_devices, len(metrics)), dtype=np.float64)
        self._buffered: list[Buffered] = []
        self._n = 0
        self._lock = threading.Lock()

    def add(self, ts_ns: int, reading: Reading) -> None:
        """Append one tick; flush when the frame is full."""
        with self._lock:
            self._ts[self._n] = ts_ns
            self._values[self._n] = reading.values
            self._buffered.extend(reading.buffered)
            self._n += 1
            if self._n == self._cap:
                self._flush_locked()

    def flush(self) -> None:
        """Emit what has accumulated, if anything (at shutdown)."""
        with self._lock:
            if self._n or self._buffered:
                self._flush_locked()

    def _flush_locked(self) -> None:
        n = self._n
        ts = self._ts[:n]
        blocks: list[pb.DeviceBlock] = []
        for d in range(self._n_devices):
            cols = self._values[:n, d, :]  # (ticks, metrics)
            present = tuple(int(m) for m in np.flatnonzero(~np.isnan(cols).all(axis=0)))
            if present and n:
                blocks.append(frames.encode_block(d, present, ts, cols[:, present].T,
                                                  [self._exact[m] for m in present]))
        blocks.extend(_buffered_blocks(self._buffered, self._exact))
        frames.share_timestamps(blocks)
        self._n = 0
        self._buffered = []
        if not blocks:
            return
        frame = pb.Frame(blocks=blocks)
        if self._decorate is not None:
            self._decorate(frame, int(ts[0]) if n else int(min(b.base_ts_ns for b in blocks)))
        self._emit(frame, n)


def _buffered_blocks(buffered: list[Buffered], exact_metric: tuple[bool, ...]
                     ) -> list[pb.DeviceBlock]:
    """Merge driver-buffered samples per (device, metric) into one block each."""
    merged: dict[tuple[int, int], list[Buffered]] = {}
    for b in buffered:
        if b.ts_ns.size:
            merged.setdefault((b.device, b.metric), []).append(b)
    out = []
    for (device, metric), parts in merged.items():
        ts = np.concatenate([p.ts_ns for p in parts])
        vals = np.concatenate([p.values for p in parts])
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        keep = np.concatenate(([True], np.diff(ts) > 0))  # the driver never repeats a timestamp
        out.append(frames.encode_block(device, (metric,), ts[keep], vals[keep][None, :],
                                       (exact_metric[metric],)))
    return out
