"""The collector's store on its own: bytes per sample at rest, durable ingest per CPU-second,
and restart time against retained history.

    python benchmarks/storage_layout.py [--nodes 10] [--gpus 8] [--seconds 300] [--rate 10]

Simulated GPUs (the `sim` backend), values quantised as drivers report them (whole percent,
degrees and MHz, milliwatts, bytes, millijoules). Frames of one second per node go through
the store's own write path (storage.durable: group commits of --batch frames, each durable
before its future resolves) into a fresh data directory; then every row seals into a block.

Printed: samples, CPU seconds of the writer, samples per CPU-second; bytes per sample in the
DuckDB head before sealing and in the sealed Parquet blocks; the time to open the store and
rebuild the ingest state (IngestCore.recover) for this history and for --restart-factor
times more, with the frames read back at start (the tail after the last snapshot).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path

import numpy as np

from gputel.agent.backends.sim import SimBackend
from gputel.collector.ingest.core import IngestCore
from gputel.collector.registry.workloads import WorkloadIndex
from gputel.collector.storage.durable import DurableStore
from gputel.collector.storage.engine import DeviceRows, Engine
from gputel.collector.storage.rollups import DEFAULT_TIERS
from gputel.collector.storage.store import SeriesStore
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

DAY_NS = 86_400 * 10**9
# Decimal places a driver reports each metric with, in the collector's units.
PLACES = {"power": 3, "power_avg": 3, "energy": 3}


def _quantised(values: np.ndarray, metrics: tuple[str, ...]) -> np.ndarray:
    out = np.empty_like(values, dtype=np.float64)
    for i, m in enumerate(metrics):
        out[..., i] = np.round(values[..., i].astype(np.float64), PLACES.get(m, 0))
    return out


def _frames(nodes: int, gpus: int, seconds: int, rate: float, t0: int,
            ) -> Iterator[tuple[str, int, tuple[str, ...], list[DeviceRows]]]:
    """(node, seq, metric ids, rows) per node per second, in time order."""
    backends = [SimBackend(gpus=gpus, seed=n) for n in range(nodes)]
    for b in backends:
        b.open()
    metrics = backends[0].metrics()
    period = int(1e9 / rate)
    ticks = int(rate)
    for second in range(seconds):
        ts = t0 + (second * ticks + np.arange(ticks, dtype=np.int64)) * period
        for n, backend in enumerate(backends):
            values = _quantised(np.stack([backend.read(int(t)).values for t in ts]), metrics)
            rows: list[DeviceRows] = [
                (f"GPU-{n}-{g}", ts, tuple(range(len(metrics))), values[:, g, :].T)
                for g in range(gpus)]
            yield f"node-{n}", second + 1, metrics, rows


def ingest(durable: DurableStore, frames: list[tuple[str, int, tuple[str, ...],
                                                     list[DeviceRows]]], batch: int) -> float:
    """Write every frame, `batch` in flight at a time; return the writer's CPU seconds."""
    thread_cpu = time.thread_time
    start = time.process_time()
    t_main = thread_cpu()
    for i in range(0, len(frames), batch):
        futures: list[Future[bool]] = []
        for node, seq, metrics, rows in frames[i:i + batch]:
            futures.append(durable.append(node, "bench", seq, seq.to_bytes(8, "big"), b"",
                                          metrics, rows))
        wait(futures)
        for f in futures:
            f.result()
    return time.process_time() - start - (thread_cpu() - t_main)


def restart_seconds(data_dir: Path) -> tuple[float, int]:
    """Open the store and rebuild the ingest state; return (seconds, frames read back)."""
    t0 = time.perf_counter()
    engine = Engine(data_dir, DEFAULT_TIERS, 30 * DAY_NS)
    durable = DurableStore(engine)
    core = IngestCore(SeriesStore(30 * DAY_NS, engine=engine), time.time_ns, journal=durable)
    core.recover()
    seconds = time.perf_counter() - t0
    read = engine.stats.tail_frames_read
    engine.close()
    return seconds, read


def run(args: argparse.Namespace, root: Path, seconds: int) -> dict[str, float]:
    t0 = time.time_ns() - 2 * 3600 * 10**9
    frames = list(_frames(args.nodes, args.gpus, seconds, args.rate, t0))
    samples = sum(int(np.count_nonzero(~np.isnan(r[3]))) for f in frames for r in f[3])
    data_dir = root / f"d{seconds}"
    engine = Engine(data_dir, DEFAULT_TIERS, 30 * DAY_NS)
    durable = DurableStore(engine, seal_ns=0)
    durable.start()
    for n in range(args.nodes):  # the hellos start-up reads back
        hello = pb.Hello(node=f"node-{n}", agent_instance="bench", sample_rate_hz=args.rate,
                         metrics=frames[0][2])
        durable.remember_agent(f"node-{n}", "bench", hello.SerializeToString()).result()
    cpu = ingest(durable, frames, args.batch)
    engine.cursor().execute("CHECKPOINT")
    head_bytes = (data_dir / "gputel.duckdb").stat().st_size
    empty = {"instances": [], "last_ts": [], "nodes": [], "latest": [],
             "workloads": WorkloadIndex().state()}
    durable.snapshot("ingest", json.dumps(empty).encode(),
                     [(f[0], "bench", f[1]) for f in frames]).result()
    durable.maintain().result()  # seals every row (seal age 0)
    block_bytes = sum(b.size_bytes for b in engine.blocks())
    durable.close()
    restart, read = restart_seconds(data_dir)
    return {"samples": samples, "cpu": cpu, "head_bytes": head_bytes,
            "block_bytes": block_bytes, "restart": restart, "read_back": read}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=32, help="frames per group commit")
    parser.add_argument("--restart-factor", type=int, default=4)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gputel-storage-"))
    try:
        small = run(args, root, args.seconds)
        print(f"samples                      {small['samples']:,}")
        print(f"writer CPU seconds           {small['cpu']:.2f}")
        print(f"durable samples per CPU-s    {small['samples'] / small['cpu']:,.0f} "
              f"({args.batch} frames per commit)")
        print(f"head (DuckDB) bytes/sample   {small['head_bytes'] / small['samples']:.2f}")
        print(f"blocks (Parquet) bytes/sample {small['block_bytes'] / small['samples']:.3f}")
        print(f"restart, {args.seconds} s of history    {small['restart']:.3f} s "
              f"({small['read_back']} frames read back)")
        big = run(args, root, args.seconds * args.restart_factor)
        print(f"restart, {args.seconds * args.restart_factor} s of history   "
              f"{big['restart']:.3f} s ({big['read_back']} frames read back)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
