"""Commit latency while seals run: how late a frame's acknowledgement comes when the store
seals blocks beside the writer.

    python benchmarks/seal_latency.py [--nodes 200] [--gpus 8] [--seconds 60] [--seal 10]
                                      [--maintain 10] [--grid 30]

Each wall-clock second, one frame per node (10 ticks of --gpus GPUs, the 8 core metrics) goes
through the store's own write path (storage.durable.DurableStore, a fresh data directory, the
default rollup tiers); every --maintain seconds a maintenance pass seals what is older than
--seal seconds, cut on a grid of --grid seconds (the collector's defaults: 60 s seal age,
a pass every 10 s, a 30 s grid, so every third pass seals 30 s of data; `--grid 1` seals
at every pass, as before the grid). The store's clock is simulated, one second a round.

Printed (one JSON line): commit latency, from a frame's submit to its future resolving,
p50 / p99 / max in ms over all frames; the same over frames submitted while a pass ran; the
passes' durations; blocks sealed; CPU cores used (process CPU time / wall time); rounds
that started more than a second late (the box could not keep up: the numbers then measure
a backlog, not the store).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import Future, wait
from pathlib import Path

import numpy as np

from gputel.collector.storage.durable import SEAL_GRID_NS, DurableStore
from gputel.collector.storage.engine import DeviceRows, Engine
from gputel.collector.storage.rollups import DEFAULT_TIERS
from gputel.proto.metrics import CORE_METRICS

SECOND = 10**9
T0 = 1_700_000_000 * SECOND
TICKS = 10


def _values(rng: np.random.Generator) -> np.ndarray:
    """One GPU's second: whole percents, bytes, watts with 3 decimals, MHz, a counter."""
    rows = [rng.integers(0, 101, TICKS), rng.integers(0, 101, TICKS),
            rng.integers(1 << 30, 1 << 34, TICKS), np.full(TICKS, 8e10),
            rng.integers(100_000, 700_000, TICKS) / 1000, rng.integers(30, 90, TICKS),
            rng.integers(1000, 2000, TICKS), 3e7 + np.cumsum(rng.integers(0, 700, TICKS))]
    return np.array(rows, dtype=np.float64)


class _Latencies:
    """Submit-to-resolve times (s), and which were submitted while a pass ran."""

    def __init__(self) -> None:
        self.all: list[float] = []
        self.during: list[float] = []
        self._lock = threading.Lock()

    def track(self, future: Future[bool], during: bool) -> None:
        t0 = time.perf_counter()

        def done(_f: Future[bool]) -> None:
            took = time.perf_counter() - t0
            with self._lock:
                self.all.append(took)
                if during:
                    self.during.append(took)

        future.add_done_callback(done)


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    got = np.array(values) * 1000
    return {"p50": round(float(np.percentile(got, 50)), 1),
            "p99": round(float(np.percentile(got, 99)), 1), "max": round(float(got.max()), 1)}


def run(data_dir: Path, nodes: int, gpus: int, seconds: int, seal_s: int,
        maintain_s: int, grid_s: int = SEAL_GRID_NS // SECOND) -> dict[str, object]:
    """One run into `data_dir`; what the module docstring says is printed."""
    rng = np.random.default_rng(7)
    values = [[_values(rng) for _ in range(gpus)] for _ in range(nodes)]
    clock = [T0]
    engine = Engine(data_dir, tiers=DEFAULT_TIERS, retention_ns=3600 * SECOND)
    durable = DurableStore(engine, time_ns=lambda: clock[0], seal_ns=seal_s * SECOND,
                           seal_grid_ns=grid_s * SECOND)
    durable.start()
    lat, passes, late = _Latencies(), [], 0
    pending: list[Future[bool]] = []
    passing: Future[bool] | None = None
    cpu0, start = time.process_time(), time.perf_counter()
    for r in range(seconds):
        behind = time.perf_counter() - (start + r)
        if behind < 0:
            time.sleep(-behind)  # pacing: one round a wall-clock second
        late += behind > 1.0
        clock[0] = T0 + (r + 1) * SECOND
        if r and r % maintain_s == 0:  # first, so this round's frames queue behind it
            passing = durable.maintain()
            _time_pass(passing, passes)
            pending.append(passing)
        ts = T0 + r * SECOND + np.arange(TICKS, dtype=np.int64) * (SECOND // TICKS)
        for n in range(nodes):
            rows: list[DeviceRows] = [(f"GPU-{n}-{g}", ts, tuple(range(len(CORE_METRICS))),
                                       values[n][g]) for g in range(gpus)]
            future = durable.append(f"node-{n}", "i", r + 1, b"", b"", CORE_METRICS, rows)
            lat.track(future, passing is not None and not passing.done())
            pending.append(future)
    wait(pending)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    durable.close()
    return {"nodes": nodes, "gpus": gpus, "seconds": seconds, "frames": len(lat.all),
            "commit_ms": _ms(lat.all), "commit_ms_during_pass": _ms(lat.during),
            "pass_s": [round(p, 2) for p in passes], "blocks_sealed": engine.stats.blocks_sealed,
            "cores": round(cpu / wall, 2), "late_rounds": late}


def _time_pass(future: Future[bool], passes: list[float]) -> None:
    t0 = time.perf_counter()
    future.add_done_callback(lambda _f: passes.append(time.perf_counter() - t0))


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run once in a fresh temporary directory, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--seal", type=int, default=10, help="seal age (s)")
    ap.add_argument("--maintain", type=int, default=10, help="seconds between passes")
    ap.add_argument("--grid", type=int, default=SEAL_GRID_NS // SECOND,
                    help="seal cutoffs on this grid (s)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gputel-seal-") as d:
        print(json.dumps(run(Path(d), args.nodes, args.gpus, args.seconds, args.seal,
                             args.maintain, args.grid)))


if __name__ == "__main__":
    main()
