"""Reads of recent data while a collector seals and compacts: where seals cut, and the levels.

    python -m benchmarks.recent_reads [--nodes 50] [--minutes 15] [--reps 15]

A live collector seals at every maintenance pass (10 s) what is older than a minute and
merges the blocks of a compaction window (300 s with 1 h retention) once it is sealed
through; every read of recent data (a dashboard's last minutes) opens each block it spans.
This replays that in process on the collector's own engine from the same frames, four ways:
a cutoff at every pass (blocks of 10 s, up to 30 in the newest window: the collector before
the seal grid); the same with one more compaction level of 60 s; cutoffs on the seal grid
(durable.SEAL_GRID_NS, 30 s: the collector now); and on a 60 s grid. For each it prints
the blocks a read of the last 300 s spans, the p50 time of one GPU's last 60 s and last
300 s, the CPU that seals and merges took per sample, and the most rows the head held
after a seal.

Data: the suite's simulated nodes (8 GPUs x 8 metrics at 10 Hz), decoded from their frames,
`--nodes` of them for `--minutes`; 32 frames a commit, a pass every 10 s of data, compaction
after each seal; reads measured after every pass from the sixth minute on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.floors import commit, decoded_frames, p50_ms
from benchmarks.ingest import NodeSamples
from benchmarks.suite import data
from gputel.collector.storage import compaction
from gputel.collector.storage.durable import DEFAULT_SEAL_NS, SEAL_GRID_NS
from gputel.collector.storage.engine import Engine

PASS_S = 10  # a maintenance pass every 10 s
RETENTION_NS = 3600 * 10**9


def run(nodes: list[NodeSamples], widths: tuple[int, ...], grid_ns: int, reps: int,
        work: Path) -> dict[str, float]:
    engine = Engine(work, retention_ns=10**15, compact_widths=widths)
    held = [(nodes[0].node, nodes[0].hello.devices[0].uuid)]
    spans, t60, t300, samples, cpu, head = [], [], [], 0, 0.0, 0
    try:
        seconds = nodes[0].ts_ns.shape[0]
        first_ns = int(nodes[0].ts_ns[0, 0])
        for step in range(0, seconds, PASS_S):
            samples += commit(engine, decoded_frames(nodes, step, step + PASS_S), 32)
            now = first_ns + (step + PASS_S) * 10**9
            c0 = time.process_time()
            engine.seal((now - DEFAULT_SEAL_NS) // grid_ns * grid_ns)
            head = max(head, engine.head_rows())
            engine.compact()
            cpu += time.process_time() - c0
            if step + PASS_S >= 360:
                for window, into in ((60, t60), (300, t300)):
                    start = now - window * 10**9
                    into.append(p50_ms(lambda s=start, e=now: engine.read_many(
                        held, "power", s, e), reps))
                spans.append(sum(1 for b in engine.blocks()
                                 if b.holds(held[0][0], now - 300 * 10**9, now)))
        return {"blocks": statistics.mean(spans), "blocks_max": max(spans),
                "read60": statistics.median(t60), "read300": statistics.median(t300),
                "cpu_us": cpu / samples * 1e6, "head": head}
    finally:
        engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    end_ns = time.time_ns() // 10**9 * 10**9
    nodes = [data.cycled(i, args.minutes * 60, end_ns) for i in range(args.nodes)]
    levels_1h = compaction.levels(DEFAULT_SEAL_NS, RETENTION_NS)
    finer = (DEFAULT_SEAL_NS, *levels_1h)
    second = 10**9
    ways = (("a cutoff every pass (before)", levels_1h, second),
            ("every pass, one more level of 60 s", finer, second),
            (f"the seal grid, {SEAL_GRID_NS // second} s (now)", levels_1h, SEAL_GRID_NS),
            ("a 60 s grid", levels_1h, 60 * second))
    print("| seals | levels (s) | blocks a 300 s read spans (mean, max) | one GPU, last 60 s, "
          "p50 | one GPU, last 300 s, p50 | seal + merge CPU per sample | head rows at most |\n"
          "|---|---|---|---|---|---|---|")
    for name, widths, grid in ways:
        with tempfile.TemporaryDirectory(prefix="gputel-recent-") as tmp:
            got = run(nodes, widths, grid, args.reps, Path(tmp) / "data")
        print(f"| {name} | {', '.join(str(w // second) for w in widths)} | "
              f"{got['blocks']:.1f}, {got['blocks_max']} | {got['read60']:.2f} ms | "
              f"{got['read300']:.2f} ms | {got['cpu_us']:.3f} us | {got['head']:,} |")


if __name__ == "__main__":
    main()
