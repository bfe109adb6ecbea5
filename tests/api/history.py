"""Three days of known series written into a real collector through ingest (real gRPC), one
sample a minute with synthetic timestamps ending a minute ago: each node one shape whose
forecast is known.

- flat (2 GPUs, held by ml/flat all along): GPU 0 at 40 %, GPU 1 at 2 % (idle under the
  5 % threshold): a constant 21 % node mean, 2 GPUs allocated;
- ramp (8 GPUs): every GPU at 10 + 0.5 % per hour; ml/ramp holds 1 + hours // 12 of them;
- cycle (1 GPU, held by ml/cycle all along): 50 + 30 sin(2 pi t / 1 day) %.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from gputel.collector.ingest.admission import IngestLimits
from gputel.collector.query.alerts import AlertRules
from gputel.collector.query.core import HealthPolicy
from gputel.collector.query.costs import Pricing
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.raw_stream import RawStream, hello
from tests.harness.servers import CollectorThread

PERIOD_NS = 60 * 10**9
HOUR_NS = 3600 * 10**9
HOURS = 72
TICKS = HOURS * 60
PER_FRAME = 360
KEPT_NS = 4 * 24 * HOUR_NS
PRICE = 2.0  # per GPU-hour
Shape = Callable[[np.ndarray], np.ndarray]  # hours since t0 -> percent


def _flat(index: int) -> Shape:
    return lambda h: np.full(h.size, 40.0 if index == 0 else 2.0)


def _ramp(_: int) -> Shape:
    return lambda h: 10.0 + 0.5 * h


def _cycle(_: int) -> Shape:
    return lambda h: 50.0 + 30.0 * np.sin(2 * math.pi * h / 24.0)


@dataclass(frozen=True)
class NodeShape:
    """A fed node: its GPUs' utilization by hour, and the GPUs its workload holds then."""

    gpus: int
    util: Callable[[int], Shape]
    held: Callable[[float], int]


NODES = {"flat": NodeShape(2, _flat, lambda h: 2),
         "ramp": NodeShape(8, _ramp, lambda h: 1 + int(h // 12)),
         "cycle": NodeShape(1, _cycle, lambda h: 1)}


def _frame(node: str, shape: NodeShape, seq: int, t0: int) -> pb.Frame:
    k = np.arange((seq - 1) * PER_FRAME, seq * PER_FRAME, dtype=np.int64)
    ts = t0 + PERIOD_NS * k
    hours = (ts - t0) / HOUR_NS
    blocks = []
    for index in range(shape.gpus):
        util = shape.util(index)(hours)
        table = {"gpu_util": util, "mem_util": util / 2, "power": 100.0 + util,
                 "temperature": np.full(k.size, 50.0)}
        rows = np.vstack([table.get(m, np.zeros(k.size)) for m in CORE_METRICS])
        blocks.append(frames.encode_block(index, tuple(range(len(CORE_METRICS))), ts,
                                          rows.astype(np.float32)))
    uid = f"ml/{node}"
    held = shape.held(float(hours[0]))
    holdings = [pb.Holding(device=i, since_ts_ns=int(ts[0]), shares=[
        pb.Share(workload=uid, fraction=1.0)] if i < held else []) for i in range(shape.gpus)]
    workload = pb.Workload(uid=uid, kind="pod", namespace="ml", pod=node, container="main")
    return pb.Frame(seq=seq, blocks=blocks, holdings=holdings, workloads=[workload],
                    attribution=pb.ATTRIBUTION_STATE_UP)


@dataclass
class History:
    """The first sample's time (Unix ns) and the streams kept open."""

    t0: int
    streams: list[RawStream]

    def truth(self, node: str, times_ns: list[int]) -> list[float]:
        """The node's mean utilization over each hour ending at `times_ns`, as the collector
        averages it (the samples in (t - 1 h, t] on the fed minute grid, continued)."""
        shape = NODES[node]
        out = []
        for t in times_ns:
            last = (t - self.t0) // PERIOD_NS
            ks = np.arange(last - 59, last + 1)
            hours = ks * PERIOD_NS / HOUR_NS
            out.append(float(np.mean([shape.util(i)(hours) for i in range(shape.gpus)])))
        return out

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


def feed_history(target: str) -> History:
    """Send every node's three days; the streams stay open (the nodes stay connected)."""
    t0 = time.time_ns() - PERIOD_NS - (TICKS - 1) * PERIOD_NS
    streams = []
    for node, shape in NODES.items():
        stream = RawStream(target)
        stream.send_hello(hello(node=node, n_devices=shape.gpus, sample_rate_hz=1 / 60,
                                devices=[pb.Device(index=i, uuid=f"GPU-{node}-{i}",
                                                   vendor="sim", model="Alpha")
                                         for i in range(shape.gpus)]))
        assert stream.answer().HasField("welcome")
        for seq in range(1, TICKS // PER_FRAME + 1):
            stream.send_frame(_frame(node, shape, seq, t0))
            assert stream.answer().ack.seq == seq
        streams.append(stream)
    return History(t0, streams)


@contextmanager
def history_collector(**config: object) -> Iterator[tuple[CollectorThread, History]]:
    """A collector keeping four days (in memory), GPU-hours at PRICE, idle under 5 %, fed
    the three days; `config` adds to its configuration (compat...)."""
    server = CollectorThread(
        retention_seconds=KEPT_NS / 1e9, limits=IngestLimits(max_past_ns=KEPT_NS),
        pricing=Pricing(gpu_hour=PRICE), alert_rules=AlertRules(idle_util_percent=5.0),
        health_policy=HealthPolicy(lost_after_periods=10, lost_after_min_seconds=3600.0),
        rate_limit_per_second=0.0, **config).start()
    try:
        history = feed_history(server.grpc_target)
        yield server, history
        history.close()
    finally:
        server.stop()
