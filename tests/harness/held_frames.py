"""Frames whose holdings, workloads and energy a test chooses, for the workload index tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.raw_stream import RawStream, hello

PERIOD = 100_000_000  # 10 Hz
Holders = Mapping[int, Sequence[tuple[str, float]]]  # device -> (workload uid, fraction)


def pod(uid: str, namespace: str = "ns", **labels: str) -> pb.Workload:
    """A pod workload named after its uid."""
    return pb.Workload(uid=uid, kind="pod", namespace=namespace, pod=uid.rsplit("/", 1)[-1],
                       container="main", labels=labels)


def held_frame(seq: int, t0: int, ticks: range, holders: Holders,
               workloads: Sequence[pb.Workload], devices: int = 1, watts: float = 100.0,
               joules: np.ndarray | None = None) -> pb.Frame:
    """Every core metric of `devices` GPUs at ticks k (t0 + k x PERIOD): `watts` of power, an
    energy counter rising watts x PERIOD per tick (or `joules`, one per tick), 50 % busy."""
    k = np.arange(ticks.start, ticks.stop, dtype=np.int64)
    ts = t0 + PERIOD * k
    table = {"gpu_util": 50.0, "mem_util": 10.0, "mem_used": 1e9, "mem_total": 8e10,
             "power": watts, "temperature": 50.0, "sm_clock": 1500.0}
    energy = watts * PERIOD / 1e9 * k if joules is None else joules
    rows = np.vstack([energy if m == "energy" else np.full(k.size, table[m])
                      for m in CORE_METRICS]).astype(np.float32)
    blocks = [frames.encode_block(d, tuple(range(len(CORE_METRICS))), ts, rows)
              for d in range(devices)]
    holdings = [pb.Holding(device=d, since_ts_ns=int(ts[0]), shares=[
        pb.Share(workload=u, fraction=f) for u, f in holders.get(d, ())])
        for d in range(devices)]
    return pb.Frame(seq=seq, blocks=blocks, holdings=holdings, workloads=list(workloads),
                    attribution=pb.ATTRIBUTION_STATE_UP)


def open_node(target: str, node: str, devices: int = 1, instance: str = "raw-1") -> RawStream:
    """A stream that said hello for `node` (GPU UUIDs GPU-<node>-<i>)."""
    stream = RawStream(target)
    stream.send_hello(hello(node=node, n_devices=devices, agent_instance=instance, devices=[
        pb.Device(index=i, uuid=f"GPU-{node}-{i}", vendor="sim", model="Raw")
        for i in range(devices)]))
    assert stream.answer().HasField("welcome")
    return stream


def send(stream: RawStream, frame: pb.Frame) -> None:
    """Send a frame and wait for its acknowledgement."""
    stream.send_frame(frame)
    assert stream.answer().ack.seq == frame.seq
