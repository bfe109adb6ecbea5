"""The scale-out row: N collectors over VictoriaMetrics (`--store remote`) against one
embedded collector, on the same samples: samples acknowledged per collector CPU-second
(summed over the N; VictoriaMetrics' own CPU apart) and the p50 of the same questions, asked
in turn of the N replicas and of the embedded collector.

A remote frame is acknowledged once VictoriaMetrics answered 2xx for every sample of it; an
embedded one once it is fsynced. Fresh servers each run; the questions are asked on the
last run's, once every replica lists every node.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial

from benchmarks.ingest import NodeSamples, encode_node
from benchmarks.suite import feed
from benchmarks.suite.procs import BenchError, Gputel, VictoriaMetrics, cpu_seconds, wait_for
from benchmarks.suite.rows import Context, Question, Row, ask, median, pct
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

Streams = list[list[pb.AgentMessage]]


class Cluster:
    """VictoriaMetrics, N remote collectors over it, and one embedded collector."""

    def __init__(self, ctx: Context, collectors: int) -> None:
        self.vm = VictoriaMetrics(ctx.scratch("victoria-metrics"))
        self.remote = [Gputel(ctx.scratch(f"gputel-remote-{i}") / "data", store="remote",
                              flags=("--tsdb-url", self.vm.base))
                       for i in range(collectors)]
        self.embedded = Gputel(ctx.scratch("gputel-embedded") / "data")

    def start(self) -> Cluster:
        """Start every server."""
        self.vm.start()
        for side in (*self.remote, self.embedded):
            side.start()
        return self

    def stop(self) -> None:
        """Stop every server (SIGTERM)."""
        for side in (*self.remote, self.embedded):
            side.stop()
        self.vm.stop()


def run(ctx: Context) -> Row:
    """The row; ctx.collectors remote collectors."""
    s, n = ctx.size, ctx.collectors
    nodes = ctx.nodes(s.ingest_nodes, s.ingest_seconds)
    streams = [encode_node(node) for node in nodes]
    samples = sum(node.samples for node in nodes)
    remote, embedded, vm_cpu = [], [], []
    timings: dict[str, tuple[list[float], list[float], tuple[int, int]]] = {}
    for i in range(ctx.runs):
        cluster = Cluster(ctx, n).start()
        try:
            cpu, tsdb = _feed_remote(cluster, streams, samples)
            remote.append(samples / cpu)
            vm_cpu.append(tsdb)
            embedded.append(samples / _feed_embedded(cluster.embedded, streams))
            if i == ctx.runs - 1:
                _wait_listed(cluster, len(nodes))
                timings = ask(_questions(ctx, cluster, nodes[0]), s.query_reps)
        finally:
            cluster.stop()
    r, e = median(remote), median(embedded)
    p50 = {q: (pct(ours, 50) * 1e3, pct(theirs, 50) * 1e3)
           for q, (ours, theirs, _) in timings.items()}
    return Row("scaleout", f"scale-out: {n} collectors over VictoriaMetrics (gputel column) vs "
               "1 embedded collector (peer column): samples per collector CPU-second; query "
               "p50", "-",
               f"{r:,.0f}; " + ", ".join(f"{q} {a:.1f} ms" for q, (a, _) in p50.items()),
               "embedded " + f"{e:,.0f}; " + ", ".join(f"{q} {b:.1f} ms"
                                                       for q, (_, b) in p50.items()),
               r / e, None, [
                   f"{s.ingest_nodes} nodes x {s.ingest_seconds} s = {samples:,} samples, "
                   f"{ctx.runs} runs, fresh servers each run; the nodes' streams spread over "
                   f"the {n} remote collectors, all at once",
                   f"remote: acknowledged after VictoriaMetrics' 2xx, CPU summed over the {n} "
                   f"collectors, runs {', '.join(f'{v:,.0f}' for v in remote)}; "
                   f"VictoriaMetrics' own CPU {', '.join(f'{v:.1f}' for v in vm_cpu)} s",
                   f"embedded: acknowledged after fsync, runs "
                   f"{', '.join(f'{v:,.0f}' for v in embedded)}",
                   f"queries: {s.query_reps} asks each, alternating remote (in turn of the "
                   f"{n} replicas) and embedded, after the last run's feed; p99 "
                   + ", ".join(f"{q} {pct(o, 99) * 1e3:.1f} / {pct(t, 99) * 1e3:.1f} ms"
                               for q, (o, t, _) in timings.items())])


def _feed_remote(cluster: Cluster, streams: Streams, samples: int) -> tuple[float, float]:
    """Every stream into the remote collectors at once (node i to collector i mod N): the
    collectors' CPU-seconds summed, and VictoriaMetrics'. Raises BenchError when the TSDB
    does not hold every sample."""
    sides = cluster.remote
    cpu0 = [cpu_seconds(side.pid) for side in sides]
    vm0 = cpu_seconds(cluster.vm.pid)
    _concurrently([partial(feed.gputel_bulk, side.target, streams[i::len(sides)])
                   for i, side in enumerate(sides)])
    cpu = sum(cpu_seconds(side.pid) - c for side, c in zip(sides, cpu0, strict=True))
    tsdb = cpu_seconds(cluster.vm.pid) - vm0
    held = cluster.vm.gputel_samples()
    if held != samples:
        raise BenchError(f"VictoriaMetrics holds {held:,} of {samples:,} samples")
    return cpu, tsdb


def _feed_embedded(side: Gputel, streams: Streams) -> float:
    cpu0 = cpu_seconds(side.pid)
    feed.gputel_bulk(side.target, streams)
    return cpu_seconds(side.pid) - cpu0


def _concurrently(jobs: Sequence[Callable[[], object]]) -> None:
    """Run each job in its own thread; re-raise the first failure."""
    errors: list[BaseException] = []

    def one(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _wait_listed(cluster: Cluster, nodes: int) -> None:
    """Until every collector lists every node (replicas read the shared state back)."""
    def listed() -> bool:
        cluster.vm.flush()
        return all(len(side.get("/nodes", pageSize=1000)) == nodes
                   for side in (*cluster.remote, cluster.embedded))

    wait_for(listed, 120, "every collector to list every node", interval=0.2)


def _questions(ctx: Context, cluster: Cluster, held: NodeSamples) -> list[Question]:
    """The node list, one node's GPUs, and one node's power over the fed window at 1 s."""
    end = ctx.end_ns / 1e9
    start = end - ctx.size.ingest_seconds
    node = held.node
    turn = [0]

    def remote() -> Gputel:
        turn[0] += 1
        return cluster.remote[turn[0] % len(cluster.remote)]

    asks: dict[str, tuple[str, dict[str, str | float]]] = {
        "node list": ("/nodes", {"pageSize": 1000}),
        "a node's GPUs": (f"/nodes/{node}/gpus", {}),
        "a node's power at 1 s": (f"/nodes/{node}/metrics", {
            "metric": "power", "start": start, "end": end, "step": "1s"}),
    }

    def count(side: Callable[[], Gputel], path: str, params: dict[str, str | float]) -> int:
        got = side().get(path, **params)
        return len(got) if isinstance(got, list) else len(got.get("gpus", got))

    return [Question(name, partial(count, remote, path, params),
                     partial(count, lambda: cluster.embedded, path, params))
            for name, (path, params) in asks.items()]
