"""Hand-crafted frames whose every number is known, fed to a real collector.

Three nodes, 50 ticks (5 s at 10 Hz) in 5 frames, the last tick ~2 s before feeding:

- n1 (model Alpha, connected): GPU 0 trains (80 %, 300 + k W, 90 C: over 85 C) held by
  ml/train-a; GPU 1 idles (2 %, 100 W) shared by ml/infer-b and web/infer-c (0.5 each).
- n2 (model Beta, connected, also sends xid_events): GPU 0 held by ml/train-a2 (60 %,
  200 W, XID counter 0 -> 2 at tick 30); GPU 1 sent 10 ticks 20 minutes ago only: lost.
- n3 (model Alpha): one frame, then its stream ends: unreachable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.raw_stream import RawStream, hello

PERIOD = 100_000_000
TICKS, FRAMES = 50, 5
PER_FRAME = TICKS // FRAMES
OLD_NS = 1200 * 10**9
XID_METRICS = (*CORE_METRICS, "xid_events")
WORKLOADS = {
    "ml/train-a": pb.Workload(uid="ml/train-a", kind="pod", namespace="ml", pod="train-a",
                              container="main", labels={"app": "train", "team": "vision"},
                              owners=[pb.Owner(kind="ReplicaSet", name="train-rs"),
                                      pb.Owner(kind="Deployment", name="train")]),
    "ml/train-a2": pb.Workload(uid="ml/train-a2", kind="pod", namespace="ml", pod="train-a2",
                               container="main", labels={"app": "train", "team": "vision"},
                               owners=[pb.Owner(kind="ReplicaSet", name="train-rs"),
                                       pb.Owner(kind="Deployment", name="train")]),
    "ml/infer-b": pb.Workload(uid="ml/infer-b", kind="pod", namespace="ml", pod="infer-b",
                              container="main", labels={"app": "infer", "team": "vision"},
                              owners=[pb.Owner(kind="ReplicaSet", name="infer-rs")]),
    "web/infer-c": pb.Workload(uid="web/infer-c", kind="pod", namespace="web", pod="infer-c",
                               container="main", labels={"app": "infer", "team": "web"},
                               owners=[pb.Owner(kind="Job", name="batch-c")]),
}
HOLDERS = {("n1", 0): (("ml/train-a", 1.0),), ("n1", 1): (("ml/infer-b", 0.5),
                                                          ("web/infer-c", 0.5)),
           ("n2", 0): (("ml/train-a2", 1.0),)}
MODELS = {"n1": "Alpha", "n2": "Beta", "n3": "Alpha"}


def uuid(node: str, index: int) -> str:
    """The UUID of a fed GPU."""
    return f"GPU-{node}-{index}"


def values(node: str, index: int, k: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of one GPU at ticks k (float64; the wire carries float32)."""
    ones = np.ones(k.size)
    util, watts, temp, joules = {("n1", 0): (80.0, 300.0 + k, 90.0, 1000 + 30.0 * k),
                                 ("n1", 1): (2.0, 100.0 * ones, 50.0, 500 + 10.0 * k),
                                 ("n2", 0): (60.0, 200.0 * ones, 60.0, 2000 + 20.0 * k),
                                 }.get((node, index), (30.0, 150.0 * ones, 40.0, 10.0 * k))
    return {"gpu_util": util * ones, "mem_util": util / 2 * ones,
            "mem_used": (index + 1) * 1e9 * ones, "mem_total": 8e10 * ones, "power": watts,
            "temperature": temp * ones, "sm_clock": 1500.0 * ones, "energy": joules,
            "xid_events": np.where(k >= 30, 2.0, 0.0)}


def _block(node: str, index: int, metric_ids: tuple[str, ...], ts: np.ndarray,
           k: np.ndarray) -> pb.DeviceBlock:
    table = values(node, index, k)
    rows = np.vstack([table[m] for m in metric_ids]).astype(np.float32)
    return frames.encode_block(index, tuple(range(len(metric_ids))), ts, rows)


def frame(node: str, seq: int, t0: int, metric_ids: tuple[str, ...], devices: int,
          ticks: range) -> pb.Frame:
    """One frame of `ticks` for every GPU of a node, restating who holds each."""
    k = np.arange(ticks.start, ticks.stop, dtype=np.int64)
    ts = t0 + PERIOD * k
    blocks = [_block(node, i, metric_ids, ts, k) for i in range(devices)
              if (node, i) != ("n2", 1)]
    if node == "n2" and seq == 1:  # the lost GPU: only old samples, once
        blocks.append(_block(node, 1, metric_ids, ts - OLD_NS, k))
    holdings = [pb.Holding(device=i, since_ts_ns=int(ts[0]), shares=[
        pb.Share(workload=u, fraction=f) for u, f in HOLDERS.get((node, i), ())])
        for i in range(devices)]
    named = {u for i in range(devices) for u, _ in HOLDERS.get((node, i), ())}
    return pb.Frame(seq=seq, blocks=blocks, holdings=holdings,
                    workloads=[WORKLOADS[u] for u in sorted(named)],
                    attribution=pb.ATTRIBUTION_STATE_UP)


def node_hello(node: str, devices: int, metric_ids: tuple[str, ...]) -> pb.Hello:
    """A hello with unique UUIDs and the node's model."""
    return hello(node=node, n_devices=devices, metrics=list(metric_ids), devices=[
        pb.Device(index=i, uuid=uuid(node, i), vendor="sim", model=MODELS[node],
                  memory_total_bytes=80 * 10**9) for i in range(devices)])


@dataclass
class Feed:
    """The streams kept open (n1, n2) and the first tick's time (Unix ns)."""

    t0: int
    streams: list[RawStream] = field(default_factory=list)

    def tick(self, k: int) -> int:
        """Tick k's time."""
        return self.t0 + PERIOD * k

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


def _send(target: str, node: str, devices: int, metric_ids: tuple[str, ...], t0: int,
          n_frames: int) -> RawStream:
    stream = RawStream(target)
    stream.send_hello(node_hello(node, devices, metric_ids))
    assert stream.answer().HasField("welcome")
    for f in range(n_frames):
        stream.send_frame(frame(node, f + 1, t0, metric_ids, devices,
                                range(f * PER_FRAME, (f + 1) * PER_FRAME)))
        assert stream.answer().ack.seq == f + 1
    return stream


def feed(target: str) -> Feed:
    """Send every node's frames; n3's stream ends after its one frame."""
    t0 = time.time_ns() - 2 * 10**9 - PERIOD * (TICKS - 1)
    fed = Feed(t0)
    fed.streams.append(_send(target, "n1", 2, CORE_METRICS, t0, FRAMES))
    fed.streams.append(_send(target, "n2", 2, XID_METRICS, t0, FRAMES))
    _send(target, "n3", 1, CORE_METRICS, t0, 1).close()
    return fed
