"""Ingest throughput: samples the collector applies per second of its own CPU time.

Pre-encodes frames from K simulated agents (sim backend, 8 GPUs x 8 metrics, 1 s
frames), starts a real `gputel collector` process, replays every agent's frames
over its own gRPC stream concurrently (grpc.aio, a window of 32 unacknowledged
frames each), and reads the collector's CPU time from /proc (psutil). Encoding and
the client's CPU are not counted: the figure is the collector's cost only.

This module is also the benchmarks' one frame generator and driver, which the suite
(`python -m benchmarks.suite`) uses for every row: `simulate_node` (values quantised as
drivers report them, `QUANTUM`), `encode_node` / `encode_frame` (frames as the agent sends
them, its pod holding GPUs 0 and 1), `replay` and `start_collector`.

Usage: python benchmarks/ingest.py [--agents 50] [--frames 60] [--gpus 8] [--rate 10]
                                   [--store duckdb|memory]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import numpy as np
import numpy.typing as npt
import psutil

from gputel.agent.backends.sim import SimBackend
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from gputel.proto.metrics import exact as exact_metrics

WINDOW = 32
# How drivers report each core metric (NVML, AMD SMI): the unit step its value comes in,
# in the catalogue's unit. Utilization and temperature whole numbers, clocks whole MHz,
# power whole milliwatts, memory whole bytes, energy a millijoule counter.
# The simulator gives the catalogue's wire units (percent, bytes, mW, degrees C, MHz, mJ), in
# which every driver reports whole numbers.
QUANTUM = {"gpu_util": 1.0, "mem_util": 1.0, "mem_used": 1.0, "mem_total": 1.0,
           "power": 1.0, "temperature": 1.0, "sm_clock": 1.0, "energy": 1.0}


@dataclass(frozen=True, slots=True)
class NodeSamples:
    """One simulated node's samples: ts_ns[frame, tick], values[frame, tick, gpu, metric].

    Values are float64, quantised as drivers report them (`quantise`); every benchmark
    that needs the same samples on another wire (remote write, OpenMetrics) reads them here.
    """

    hello: pb.Hello
    ts_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @property
    def node(self) -> str:
        """The node's name."""
        return str(self.hello.node)

    @property
    def samples(self) -> int:
        """Values held (no NaN in simulated data)."""
        return int(self.values.size)


def quantise(values: npt.NDArray[np.float64], metrics: tuple[str, ...]
             ) -> npt.NDArray[np.float64]:
    """Values (..., metric) rounded to the unit step their driver reports them in (QUANTUM)."""
    steps = np.array([QUANTUM.get(m, 0.0) for m in metrics])
    exact = steps == 0.0
    return np.where(exact, values, np.round(values / np.where(exact, 1.0, steps)) * steps)


def simulate_node(index: int, n_frames: int, gpus: int, rate: float, t0: int,
                  prefix: str = "bench") -> NodeSamples:
    """n_frames one-second frames of one simulated node (sim backend), from t0 (Unix ns)."""
    node = f"{prefix}-{index:04d}"
    sim = SimBackend(gpus=gpus, seed=index, salt=node)
    sim.open()
    ticks = max(1, round(rate))
    period = round(1e9 / rate)
    hello = pb.Hello(protocol_version=pb.PROTOCOL_VERSION_1, node=node,
                     agent_instance=uuid.uuid4().hex, metrics=list(sim.metrics()),
                     backend="sim", sample_rate_hz=rate,
                     devices=[pb.Device(index=d.index, uuid=d.uuid, vendor=d.vendor,
                                        model=d.model) for d in sim.devices()])
    ts = t0 + period * np.arange(n_frames * ticks, dtype=np.int64)
    values = np.stack([sim.read(int(t)).values for t in ts]).astype(np.float64)
    values = quantise(values, sim.metrics())
    return NodeSamples(hello, ts.reshape(n_frames, ticks),
                       values.reshape(n_frames, ticks, gpus, len(sim.metrics())))


HELD_GPUS = (0, 1)  # the sim's training GPUs; one pod per node holds them, as in `gputel up`


def workload_of(node: str) -> pb.Workload:
    """The pod holding a node's HELD_GPUS in every benchmark frame."""
    return pb.Workload(uid=str(uuid.uuid5(uuid.NAMESPACE_DNS, node)), kind="pod",
                       namespace="bench", pod=f"train-{node}", container="main")


def encode_frame(node: NodeSamples, f: int, seq: int) -> pb.AgentMessage:
    """Frame f of a node as the agent sends it, under sequence number seq; its pod holds
    HELD_GPUS from the frame's first tick."""
    metrics = tuple(range(node.values.shape[3]))
    ts, values = node.ts_ns[f], node.values[f]
    exact = exact_metrics(node.hello.metrics)  # whole wire units, as the agent sends them
    blocks = [frames.encode_block(d, metrics, ts, values[:, d, :].T, exact)
              for d in range(values.shape[1])]
    frames.share_timestamps(blocks)  # as the agent sends them to a collector that says so
    pod = workload_of(node.node)
    holdings = [pb.Holding(device=d, since_ts_ns=int(ts[0]),
                           shares=[pb.Share(workload=pod.uid, fraction=1.0)])
                for d in HELD_GPUS if d < values.shape[1]]
    return pb.AgentMessage(frame=pb.Frame(seq=seq, blocks=blocks, holdings=holdings,
                                          workloads=[pod],
                                          attribution=pb.ATTRIBUTION_STATE_UP))


def encode_node(node: NodeSamples, first: int = 0, last: int | None = None, seq0: int = 0
                ) -> list[pb.AgentMessage]:
    """Hello plus frames [first, last) of a node; frame f goes under seq seq0 + f + 1."""
    stop = node.ts_ns.shape[0] if last is None else last
    return [pb.AgentMessage(hello=node.hello),
            *(encode_frame(node, f, seq0 + f + 1) for f in range(first, stop))]


def encode_agent(index: int, n_frames: int, gpus: int, rate: float,
                 t0: int) -> list[pb.AgentMessage]:
    """Hello plus n_frames one-second frames of one simulated node."""
    return encode_node(simulate_node(index, n_frames, gpus, rate, t0))


Pace = Callable[[int], Awaitable[None]]


async def replay(target: str, messages: Sequence[pb.AgentMessage], pace: Pace | None = None
                 ) -> int:
    """Send one agent's messages (a Hello, then frames) over one stream, at most WINDOW
    unacknowledged; `await pace(i)` before frame i when given. Returns the frames acknowledged.
    """
    credit = asyncio.Semaphore(WINDOW)
    # gzip, as the agent sends by default (--stream-compression)
    async with grpc.aio.insecure_channel(target, compression=grpc.Compression.Gzip) as channel:
        call = pb_grpc.IngestServiceStub(channel).Stream()
        acks = 0

        async def read() -> None:
            nonlocal acks
            try:
                async for answer in call:
                    if answer.WhichOneof("kind") == "ack":
                        acks += 1
                        credit.release()
                        if acks == len(messages) - 1:
                            return
            finally:  # ended early (an error, or the server closed): the writer must not wait
                for _ in range(WINDOW):
                    credit.release()

        reader = asyncio.create_task(read())
        for i, message in enumerate(messages):
            if message.WhichOneof("kind") == "frame":
                if pace is not None:
                    await pace(i - 1)
                await credit.acquire()
            if reader.done():
                break
            await call.write(message)
        await reader  # raises what ended the stream, if anything did
        await call.done_writing()
        return acks


@dataclass(slots=True)
class CollectorProcess:
    """A `gputel collector` child process and the ports it printed."""

    proc: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int

    @property
    def target(self) -> str:
        """Its gRPC address."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def base(self) -> str:
        """Its HTTP base URL."""
        return f"http://127.0.0.1:{self.http_port}"


def start_collector(store: str, data_dir: str, extra: Sequence[str] = (),
                    launcher: Sequence[str] = (sys.executable, "-m", "gputel.cli"),
                    log_path: str | None = None, timeout: float = 120.0) -> CollectorProcess:
    """Start a collector on free loopback ports; return once it printed them.

    Its output goes to `log_path` (default: collector.log beside data_dir), never a pipe
    nobody reads. Raises SystemExit with the log's tail when it exits or stays silent.
    """
    argv = [*launcher, "collector", "--host", "127.0.0.1", "--grpc-port", "0",
            "--http-port", "0", "--log-level", "warning", "--retention", "86400",
            "--store", store, "--data-dir", data_dir, *extra]
    log = Path(log_path or f"{data_dir.rstrip('/')}.collector.log")
    with log.open("ab") as out:
        offset = out.tell()  # a restart appends: only this start's lines count
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with log.open("rb") as lines:
            lines.seek(offset)
            printed = lines.read().decode(errors="replace")
        match = re.search(r"gRPC on [^:]+:(\d+), HTTP on http://[^:]+:(\d+)", printed)
        if match:
            return CollectorProcess(proc, int(match[1]), int(match[2]))
        time.sleep(0.005)
    proc.kill()
    raise SystemExit(f"collector did not start:\n{log.read_text(errors='replace')[-3000:]}")


async def run(args: argparse.Namespace) -> None:
    t0 = time.time_ns() - args.frames * 10**9
    encoded = [encode_agent(i, args.frames, args.gpus, args.rate, t0) for i in range(args.agents)]
    samples_sent = sum(len(b.values) // 4 + len(b.int_values)  # int_values: present only
                       for msgs in encoded for m in msgs[1:] for b in m.frame.blocks)
    data_dir = tempfile.mkdtemp(prefix="gputel-bench-")
    started = start_collector(args.store, data_dir)
    proc, grpc_port, http_port = started.proc, started.grpc_port, started.http_port
    try:
        collector = psutil.Process(proc.pid)
        cpu0 = collector.cpu_times()
        wall0 = time.perf_counter()
        acks = await asyncio.gather(*(replay(f"127.0.0.1:{grpc_port}", m) for m in encoded))
        wall = time.perf_counter() - wall0
        cpu1 = collector.cpu_times()
        rss = collector.memory_info().rss
        health = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health").json()["data"]
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(data_dir, ignore_errors=True)
        Path(f"{data_dir}.collector.log").unlink(missing_ok=True)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    stored = health["store"]["samples"]
    assert sum(acks) == args.agents * args.frames, "every frame acknowledged"
    assert stored == samples_sent, f"stored {stored} of {samples_sent}"
    durability = "acknowledged after fsync" if args.store == "duckdb" else "no durability"
    print(f"store={args.store} ({durability})")
    print(f"agents={args.agents} gpus/agent={args.gpus} metrics=8 rate={args.rate:g}Hz "
          f"frames/agent={args.frames} samples/frame={samples_sent // (args.agents * args.frames)}")
    print(f"samples ingested:          {stored:,} (all acknowledged, none lost)")
    print(f"wall time:                 {wall:.2f} s ({stored / wall:,.0f} samples/s, "
          f"{sum(acks) / wall:,.0f} frames/s)")
    print(f"collector CPU:             {cpu:.2f} s (user {cpu1.user - cpu0.user:.2f}, "
          f"system {cpu1.system - cpu0.system:.2f})")
    print(f"samples per collector CPU-second: {stored / cpu:,.0f}")
    print(f"collector RSS after:       {rss / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--store", choices=("duckdb", "memory"), default="duckdb")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
