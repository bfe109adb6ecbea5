"""The fixed costs under the suite's missed rows, each side's, measured in one run.

    python -m benchmarks.floors [--nodes 100] [--seconds 60] [--reps 300]

The suite's ingest and query rows miss their goals by more than any change to gputel's own
Python has moved them; this measures the floors those rows stand on, so what each answer
or frame cannot go below is a number, not a guess:

- HTTP: an answer with no work in it, on both servers (gputel's `/readyz` and an empty node
  list; Prometheus' `/-/ready` and an instant query of a series it does not have), asked
  alternately over one keep-alive connection each.
- Store, in this process on the collector's own engine (no HTTP): one frame's rows into
  the head (`--commit-frames` frames a commit, as the store's writer commits them), one
  DuckDB statement (`SELECT 1`), one GPU's samples read from the head alone, from one
  sealed Parquet block alone, and a read that finds nothing (the head and a block's footers
  only).
- Frame: parsing a 640-sample frame's bytes (protobuf, C++) and decoding it into arrays
  (proto/frames.py), per frame.

Data: the suite's simulated nodes (8 GPUs x 8 metrics at 10 Hz), `--nodes` of them for
`--seconds`, written through the collector's store as its ingest writes them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.ingest import NodeSamples, encode_node
from benchmarks.suite import data
from benchmarks.suite.procs import Gputel, Prometheus
from benchmarks.wire_size import median_us
from gputel.collector.storage.engine import DeviceRows, Engine, sample_batch
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb


def p50_ms(ask: Callable[[], object], reps: int) -> float:
    """Median wall time of `ask` in ms, after one untimed ask (a first read opens files)."""
    ask()
    return median_us(ask, reps) / 1e3


def frame_floors(node: NodeSamples, reps: int) -> list[tuple[str, float]]:
    messages = encode_node(node)
    hello, wire = messages[0].hello, [m.SerializeToString() for m in messages[1:]]
    ids, n = list(hello.metrics), len(hello.devices)
    parsed = [pb.AgentMessage.FromString(b).frame for b in wire]
    loops = max(1, reps // len(wire))
    parse = p50_ms(lambda: [pb.AgentMessage.FromString(b) for b in wire], loops) / len(wire)
    decode = p50_ms(lambda: [frames.decode_frame(f, n, ids) for f in parsed], loops) / len(wire)
    return [("frame: parse a 640-sample frame's bytes (protobuf)", parse),
            ("frame: decode it into arrays (proto/frames.py)", decode)]


Frame = tuple[str, list[str], list[DeviceRows]]  # node, its metric ids, the decoded rows


def decoded_frames(nodes: list[NodeSamples], first: int = 0, last: int | None = None
                   ) -> list[Frame]:
    """Frames [first, last) of every node, encoded and decoded as the collector decodes them,
    in the order they are due (second by second, node by node)."""
    per_node = []
    for node in nodes:
        messages = encode_node(node, first, last)
        hello = messages[0].hello
        uuids, ids = [d.uuid for d in hello.devices], list(hello.metrics)
        per_node.append([(node.node, ids, [(uuids[b.device], b.ts_ns, b.metrics, b.values)
                                           for b in frames.decode_frame(m.frame, len(uuids),
                                                                        ids)])
                         for m in messages[1:]])
    return [f for second in zip(*per_node, strict=True) for f in second]


def commit(engine: Engine, due: list[Frame], per_commit: int) -> int:
    """Insert the frames' rows into the head, `per_commit` frames a transaction, as the
    store's writer commits them; return the samples stored."""
    stored = 0
    for i in range(0, len(due), per_commit):
        batch = sample_batch(due[i:i + per_commit])
        with engine.transaction() as cur:
            engine.insert(cur, batch)
        engine.counted(batch.counts)
        stored += sum(batch.counts.values())
    return stored


def store_floors(nodes: list[NodeSamples], end_ns: int, reps: int, work: Path,
                 commit_frames: int) -> list[tuple[str, float]]:
    engine = Engine(work / "data", retention_ns=10**15)
    try:
        due = decoded_frames(nodes)
        cpu0 = time.process_time()  # every thread's, DuckDB's included
        commit(engine, due, commit_frames)
        out = [(f"store: one frame's rows into the head ({commit_frames} frames a commit, "
                "with its fsync), CPU per frame", (time.process_time() - cpu0) * 1e3 / len(due))]
        held = nodes[0]
        one = [(held.node, held.hello.devices[0].uuid)]
        start = end_ns - 60 * 10**9
        cur = engine.cursor()
        out.append(("store: one DuckDB statement (SELECT 1)",
                    p50_ms(lambda: cur.execute("SELECT 1").fetchall(), reps)))
        n_head = len(engine.read_many(one, "power", start, end_ns)[0][0])
        out.append((f"store: one GPU's {n_head} samples, head only",
                    p50_ms(lambda: engine.read_many(one, "power", start, end_ns), reps)))
        engine.seal(end_ns + 1)
        n_block = len(engine.read_many(one, "power", start, end_ns)[0][0])
        rows = sum(b.samples for b in engine.blocks())
        out.append((f"store: the same {n_block} samples from one sealed block "
                    f"({rows:,} samples) and an empty head",
                    p50_ms(lambda: engine.read_many(one, "power", start, end_ns), reps)))
        none = [(held.node, "GPU-none")]
        out.append(("store: a read that finds nothing (empty head, one block's row groups "
                    "skipped by their statistics)",
                    p50_ms(lambda: engine.read_many(none, "power", start, end_ns), reps)))
        return out
    finally:
        engine.close()


def http_floors(work: Path, reps: int) -> list[tuple[str, float, float]]:
    ours, theirs = Gputel(work / "gputel" / "data"), Prometheus(work / "prometheus")
    (work / "gputel").mkdir()
    ours.start()
    theirs.start()
    try:
        assert ours.proc is not None
        with httpx.Client(base_url=ours.proc.base) as g, \
                httpx.Client(base_url=theirs.base) as p:
            pairs = [("HTTP: readiness (`/readyz`; `/-/ready`)",
                      lambda: g.get("/readyz"), lambda: p.get("/-/ready")),
                     ("HTTP: an answer with nothing in it (`/api/v1/nodes` of none; an "
                      "instant query `x[60s]` of a series not held)",
                      lambda: g.get("/api/v1/nodes"),
                      lambda: p.get("/api/v1/query", params={"query": "absent_x[60s]"}))]
            out = []
            for name, a, b in pairs:
                for ask in (a, b):
                    if ask().status_code != 200:
                        raise SystemExit(f"{name}: not answered 200")
                ta, tb = [], []
                for i in range(reps):  # alternated: who goes first changes every ask
                    for ask, into in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
                        t0 = time.perf_counter()
                        ask()
                        into.append(time.perf_counter() - t0)
                out.append((name, statistics.median(ta) * 1e3, statistics.median(tb) * 1e3))
            return out
    finally:
        ours.kill()
        theirs.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--commit-frames", type=int, default=32,
                        help="frames a commit when filling the store (its writer takes what "
                             "is queued, up to 512)")
    args = parser.parse_args()
    end_ns = time.time_ns()
    nodes = [data.node(i, args.seconds, end_ns) for i in range(args.nodes)]
    with tempfile.TemporaryDirectory(prefix="gputel-floors-") as tmp:
        work = Path(tmp)
        rows = http_floors(work, args.reps)
        print("| floor | gputel p50 | Prometheus p50 | ratio |\n|---|---|---|---|")
        for name, a, b in rows:
            print(f"| {name} | {a:.3f} ms | {b:.3f} ms | {a / b:.2f}x |")
        print("\n| floor (gputel, in process) | p50 |\n|---|---|")
        for name, t in (*frame_floors(nodes[0], args.reps),
                        *store_floors(nodes, end_ns, args.reps, work,
                                     args.commit_frames)):
            print(f"| {name} | {t:.3f} ms |")


if __name__ == "__main__":
    main()
