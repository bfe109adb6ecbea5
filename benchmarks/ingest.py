"""Ingest throughput: samples the collector applies per second of its own CPU time.

Pre-encodes frames from K simulated agents (sim backend, 8 GPUs x 8 metrics, 1 s
frames), starts a real `gputel collector` process, replays every agent's frames
over its own gRPC stream concurrently (grpc.aio, a window of 32 unacknowledged
frames each), and reads the collector's CPU time from /proc (psutil). Encoding and
the client's CPU are not counted: the figure is the collector's cost only.

With `--store remote` it starts VictoriaMetrics single-node (as tests/scaleout does) and
`--collectors` collector processes over it, the agents spread over them; the CPU is summed
over the collectors (VictoriaMetrics' own is printed apart) and the samples are counted in
the TSDB. `--queries N` then times N rounds of the same questions (node list, one node's
GPUs, a node's 1 s range over the run, 24 h usage statistics) and prints each one's p50.

Usage: python benchmarks/ingest.py [--agents 50] [--frames 60] [--gpus 8] [--rate 10]
                                   [--store duckdb|memory|remote] [--collectors 1]
                                   [--queries 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import grpc
import httpx
import numpy as np
import psutil

from gputel.agent.backends.sim import SimBackend
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

WINDOW = 32


def encode_agent(index: int, n_frames: int, gpus: int, rate: float,
                 t0: int) -> list[pb.AgentMessage]:
    """Hello plus n_frames one-second frames of one simulated node."""
    node = f"bench-{index:04d}"
    sim = SimBackend(gpus=gpus, seed=index, salt=node)
    sim.open()
    ticks = max(1, round(rate))
    period = round(1e9 / rate)
    hello = pb.Hello(protocol_version=pb.PROTOCOL_VERSION_1, node=node,
                     agent_instance=uuid.uuid4().hex, metrics=list(sim.metrics()),
                     backend="sim", sample_rate_hz=rate,
                     devices=[pb.Device(index=d.index, uuid=d.uuid, vendor=d.vendor,
                                        model=d.model) for d in sim.devices()])
    out = [pb.AgentMessage(hello=hello)]
    metrics = tuple(range(len(sim.metrics())))
    for f in range(n_frames):
        ts = t0 + period * (f * ticks + np.arange(ticks, dtype=np.int64))
        values = np.stack([sim.read(int(t)).values for t in ts])  # (ticks, gpus, metrics)
        blocks = [frames.encode_block(d, metrics, ts, values[:, d, :].T) for d in range(gpus)]
        out.append(pb.AgentMessage(frame=pb.Frame(seq=f + 1, blocks=blocks)))
    return out


async def replay(target: str, messages: list[pb.AgentMessage]) -> int:
    """Send one agent's messages over one stream, at most WINDOW unacknowledged; return acks."""
    credit = asyncio.Semaphore(WINDOW)
    async with grpc.aio.insecure_channel(target) as channel:
        call = pb_grpc.IngestServiceStub(channel).Stream()
        acks = 0

        async def read() -> None:
            nonlocal acks
            async for answer in call:
                if answer.WhichOneof("kind") == "ack":
                    acks += 1
                    credit.release()
                    if acks == len(messages) - 1:
                        return

        reader = asyncio.create_task(read())
        for message in messages:
            if message.WhichOneof("kind") == "frame":
                await credit.acquire()
            await call.write(message)
        await reader
        await call.done_writing()
        return acks


def start_collector(store: str, data_dir: str,
                    more: tuple[str, ...] = ()) -> tuple[subprocess.Popen[str], int, int]:
    argv = [sys.executable, "-m", "gputel.cli", "collector", "--host", "127.0.0.1",
            "--grpc-port", "0", "--http-port", "0", "--log-level", "warning",
            "--retention", "86400", "--store", store, "--data-dir", data_dir, *more]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"gRPC on [^:]+:(\d+), HTTP on http://[^:]+:(\d+)", line)
        if match:
            return proc, int(match[1]), int(match[2])
    raise SystemExit("collector did not start")


def start_victoria_metrics(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """VictoriaMetrics single-node on a free loopback port, flagged as the README asks."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(["victoria-metrics", f"-storageDataPath={workdir}",
                             f"-httpListenAddr=127.0.0.1:{port}", "-loggerLevel=ERROR",
                             "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                             "-retentionPeriod=100y"])
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        time.sleep(0.1)
    raise SystemExit("VictoriaMetrics did not start")


def tsdb_samples(base: str) -> int:
    """Samples of gputel's series in the TSDB, after making them all searchable."""
    httpx.get(f"{base}/internal/force_flush", timeout=30).raise_for_status()
    got = httpx.get(f"{base}/api/v1/query", timeout=60, params={
        "query": 'sum(count_over_time({__name__=~"gputel_store_.+"}[1d]))'}).json()
    result = got["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def cpu_seconds(procs: list[psutil.Process]) -> tuple[float, float]:
    """(user, system) CPU seconds summed over processes."""
    times = [p.cpu_times() for p in procs]
    return sum(t.user for t in times), sum(t.system for t in times)


def wait_for_nodes(bases: list[str], nodes: int, tsdb: str | None) -> None:
    """Until every collector lists every node (replicas read the shared state back)."""
    for _ in range(600):
        if tsdb is not None:
            httpx.get(f"{tsdb}/internal/force_flush", timeout=30)
        if all(len(httpx.get(f"{b}/api/v1/nodes", params={"pageSize": 1000},
                             timeout=30).json()["data"]) == nodes for b in bases):
            return
        time.sleep(0.1)
    raise SystemExit("the collectors did not all list every node")


def query_p50(bases: list[str], node: str, t0: int, rounds: int) -> dict[str, float]:
    """p50 in ms of each question, asked `rounds` times, in turn of the collectors."""
    start, end = t0 / 1e9, time.time()
    questions = {
        "nodes": ("/api/v1/nodes", {}),
        "node GPUs": (f"/api/v1/nodes/{node}/gpus", {}),
        "node range 1 s": (f"/api/v1/nodes/{node}/metrics",
                           {"metric": "power", "start": f"{start:.3f}", "end": f"{end:.3f}",
                            "step": "1s"}),
        "usage 24 h": ("/api/v1/statistics/usage", {"hours": "24"}),
    }
    out = {}
    with httpx.Client(timeout=60) as client:
        for name, (path, params) in questions.items():
            took = []
            for i in range(rounds):
                t = time.perf_counter()
                response = client.get(bases[i % len(bases)] + path, params=params)
                took.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (name, response.text[:200])
            out[name] = statistics.median(took)
    return out


async def run(args: argparse.Namespace) -> None:
    t0 = time.time_ns() - args.frames * 10**9
    encoded = [encode_agent(i, args.frames, args.gpus, args.rate, t0) for i in range(args.agents)]
    samples_sent = sum(len(np.frombuffer(b.values, "<f4")) for msgs in encoded
                       for m in msgs[1:] for b in m.frame.blocks)
    data_dir = tempfile.mkdtemp(prefix="gputel-bench-")
    tsdb = start_victoria_metrics(Path(data_dir) / "vm") if args.store == "remote" else None
    more = ("--tsdb-url", tsdb[1]) if tsdb is not None else ()
    started = [start_collector(args.store, f"{data_dir}/c{i}", more)
               for i in range(args.collectors)]
    try:
        collectors = [psutil.Process(proc.pid) for proc, _, _ in started]
        vm = psutil.Process(tsdb[0].pid) if tsdb is not None else None
        cpu0, vm0 = cpu_seconds(collectors), vm.cpu_times() if vm else None
        wall0 = time.perf_counter()
        acks = await asyncio.gather(*(replay(f"127.0.0.1:{started[i % len(started)][1]}", m)
                                      for i, m in enumerate(encoded)))
        wall = time.perf_counter() - wall0
        cpu1, vm1 = cpu_seconds(collectors), vm.cpu_times() if vm else None
        rss = max(c.memory_info().rss for c in collectors)
        bases = [f"http://127.0.0.1:{http}" for _, _, http in started]
        if tsdb is not None:
            stored = tsdb_samples(tsdb[1])
        else:
            stored = httpx.get(f"{bases[0]}/api/v1/health").json()["data"]["store"]["samples"]
        if args.queries:
            wait_for_nodes(bases, args.agents, tsdb[1] if tsdb is not None else None)
        p50 = query_p50(bases, "bench-0000", t0, args.queries) if args.queries else {}
    finally:
        for proc, _, _ in started:
            proc.terminate()
            proc.wait(20)
        if tsdb is not None:
            tsdb[0].terminate()
            tsdb[0].wait(20)
        shutil.rmtree(data_dir, ignore_errors=True)
    cpu = (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])
    assert sum(acks) == args.agents * args.frames, "every frame acknowledged"
    assert stored == samples_sent, f"stored {stored} of {samples_sent}"
    durability = {"duckdb": "acknowledged after fsync", "memory": "no durability",
                  "remote": "acknowledged after the TSDB's 2xx"}[args.store]
    print(f"store={args.store} ({durability}), collectors={args.collectors}")
    print(f"agents={args.agents} gpus/agent={args.gpus} metrics=8 rate={args.rate:g}Hz "
          f"frames/agent={args.frames} samples/frame={samples_sent // (args.agents * args.frames)}")
    print(f"samples ingested:          {stored:,} (all acknowledged, none lost)")
    print(f"wall time:                 {wall:.2f} s ({stored / wall:,.0f} samples/s, "
          f"{sum(acks) / wall:,.0f} frames/s)")
    print(f"collector CPU:             {cpu:.2f} s (user {cpu1[0] - cpu0[0]:.2f}, "
          f"system {cpu1[1] - cpu0[1]:.2f}), summed over {args.collectors}")
    print(f"samples per collector CPU-second: {stored / cpu:,.0f}")
    if vm0 is not None and vm1 is not None:
        vm_cpu = (vm1.user - vm0.user) + (vm1.system - vm0.system)
        print(f"VictoriaMetrics CPU:       {vm_cpu:.2f} s")
    print(f"collector RSS after:       {rss / 2**20:.0f} MiB (largest)")
    for name, ms in p50.items():
        print(f"query p50 {name + ':':<16} {ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--store", choices=("duckdb", "memory", "remote"), default="duckdb")
    parser.add_argument("--collectors", type=int, default=1)
    parser.add_argument("--queries", type=int, default=0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
