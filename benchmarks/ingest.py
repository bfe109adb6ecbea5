"""Ingest throughput: samples the collector applies per second of its own CPU time.

Pre-encodes frames from K simulated agents (sim backend, 8 GPUs x 8 metrics, 1 s
frames), starts a real `gputel collector` process, replays every agent's frames
over its own gRPC stream concurrently (grpc.aio, a window of 32 unacknowledged
frames each), and reads the collector's CPU time from /proc (psutil). Encoding and
the client's CPU are not counted: the figure is the collector's cost only.

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


def start_collector(store: str, data_dir: str) -> tuple[subprocess.Popen[str], int, int]:
    argv = [sys.executable, "-m", "gputel.cli", "collector", "--host", "127.0.0.1",
            "--grpc-port", "0", "--http-port", "0", "--log-level", "warning",
            "--retention", "86400", "--store", store, "--data-dir", data_dir]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"gRPC on [^:]+:(\d+), HTTP on http://[^:]+:(\d+)", line)
        if match:
            return proc, int(match[1]), int(match[2])
    raise SystemExit("collector did not start")


async def run(args: argparse.Namespace) -> None:
    t0 = time.time_ns() - args.frames * 10**9
    encoded = [encode_agent(i, args.frames, args.gpus, args.rate, t0) for i in range(args.agents)]
    samples_sent = sum(len(np.frombuffer(b.values, "<f4")) for msgs in encoded
                       for m in msgs[1:] for b in m.frame.blocks)
    data_dir = tempfile.mkdtemp(prefix="gputel-bench-")
    proc, grpc_port, http_port = start_collector(args.store, data_dir)
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
