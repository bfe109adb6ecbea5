"""A collector serving every compatibility API, fed with known frames: tests/api/feed.py's
three nodes plus n4 (below), whose workloads carry scheduler queue, team and user labels
and whose GPU 0 is split into MIG instances.

- n4 (model "Gamma 80GB", connected): GPU 0 a MIG parent no one holds (45 %, 250 W);
  MIG 1 (GPU-n4-1, parent GPU-n4-0) held by serve/vllm-llama (queue inference);
  MIG 2 held half by research/train-q (queue research, 0.5: a fragmented slot).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from pydantic import TypeAdapter

from gputel.collector.api.compat import NAMES
from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.api.conftest import POLICY, PRICING, RULES
from tests.api.feed import FRAMES, PER_FRAME, PERIOD, Feed, feed
from tests.harness.raw_stream import RawStream, hello
from tests.harness.servers import CollectorThread, get_json, wait_until

N4_WORKLOADS = {
    "serve/vllm-llama": pb.Workload(
        uid="serve/vllm-llama", kind="pod", namespace="serve", pod="vllm-llama",
        container="vllm", labels={"app": "vllm", "model": "llama2-7b", "team": "web",
                                  "user": "alice", "kai.scheduler/queue": "inference"},
        owners=[pb.Owner(kind="ReplicaSet", name="vllm-rs")]),
    "research/train-q": pb.Workload(
        uid="research/train-q", kind="pod", namespace="research", pod="train-q",
        container="main", labels={"team": "vision", "user": "bob",
                                  "kai.scheduler/queue": "research"},
        owners=[pb.Owner(kind="Job", name="train-q")]),
}
N4_HOLDERS = {1: (("serve/vllm-llama", 1.0),), 2: (("research/train-q", 0.5),)}
N4_UTIL = {0: 45.0, 1: 70.0, 2: 20.0}
# n4's device inventory, as its Hello carries it: an H100 with MIG on, two 3g.40gb slices.
N4_INVENTORY = [
    pb.GpuInventory(device=0, read_ts_ns=1, power_limit_watts=700.0, architecture="Hopper",
                    driver_version="550.54.15", serial="1654922001234", mig_supported=True,
                    mig_enabled=True, memory_reserved_bytes=539 * 2**20, pcie_generation=5,
                    pcie_width=16, ecc_enabled=True),
    *[pb.GpuInventory(device=i, read_ts_ns=1, driver_version="550.54.15",
                      mig_profile="3g.40gb") for i in (1, 2)]]


def _n4_hello() -> pb.Hello:
    devices = [pb.Device(index=0, uuid="GPU-n4-0", vendor="sim", model="Gamma 80GB",
                         memory_total_bytes=80 * 2**30)]
    devices += [pb.Device(index=i, uuid=f"GPU-n4-{i}", vendor="sim", model="Gamma 80GB",
                          memory_total_bytes=40 * 2**30, mig_parent_uuid="GPU-n4-0")
                for i in (1, 2)]
    msg = hello(node="n4", n_devices=3, metrics=list(CORE_METRICS), devices=devices)
    msg.inventory.extend(N4_INVENTORY)
    return msg


def _n4_frame(seq: int, t0: int) -> pb.Frame:
    k = np.arange((seq - 1) * PER_FRAME, seq * PER_FRAME, dtype=np.int64)
    ts = t0 + PERIOD * k
    blocks = []
    for index, util in N4_UTIL.items():
        table = {"gpu_util": util, "mem_util": util / 2, "mem_used": 10 * 2**30,
                 "mem_total": (80 if index == 0 else 40) * 2**30, "power": 250.0 - 50 * index,
                 "temperature": 60.0, "sm_clock": 1400.0}
        rows = np.vstack([np.full(k.size, table.get(m, 0.0)) if m != "energy"
                          else 100.0 * k for m in CORE_METRICS]).astype(np.float32)
        blocks.append(frames.encode_block(index, tuple(range(len(CORE_METRICS))), ts, rows))
    holdings = [pb.Holding(device=i, since_ts_ns=int(ts[0]), shares=[
        pb.Share(workload=u, fraction=f) for u, f in N4_HOLDERS.get(i, ())]) for i in range(3)]
    return pb.Frame(seq=seq, blocks=blocks, holdings=holdings,
                    workloads=list(N4_WORKLOADS.values()),
                    attribution=pb.ATTRIBUTION_STATE_UP)


def feed_n4(target: str, t0: int) -> RawStream:
    """n4's frames, on a stream kept open."""
    stream = RawStream(target)
    stream.send_hello(_n4_hello())
    assert stream.answer().HasField("welcome")
    for seq in range(1, FRAMES + 1):
        stream.send_frame(_n4_frame(seq, t0))
        assert stream.answer().ack.seq == seq
    return stream


@dataclass
class Compat:
    """The fed collector: its own API and the compatibility routes."""

    server: CollectorThread
    feed: Feed

    @property
    def base(self) -> str:
        return self.server.http_base

    def own(self, path: str, **params: object) -> Any:
        """gputel's own answer (data) to GET /api/v1<path>, every page of a list."""
        response = httpx.get(f"{self.base}/api/v1{path}", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def call(self, path: str, method: str = "GET", **params: object) -> httpx.Response:
        """A compatibility route, as its clients call it."""
        return httpx.request(method, f"{self.base}{path}", params=params, timeout=10)

    def seed(self, path: str, shape: Any, expect: int = 200,
             **params: object) -> Any:
        """GET a compatibility route: assert its status is `expect`, validate its body against the
        seed's shape, return the body."""
        response = self.call(path, **params)
        assert response.status_code == expect, response.text
        body = response.json()
        TypeAdapter(shape).validate_python(body, strict=True)
        return body


@pytest.fixture(scope="package")
def compat() -> Iterator[Compat]:
    server = CollectorThread(alert_rules=RULES, health_policy=POLICY, pricing=PRICING,
                             alert_interval_seconds=0.1, rate_limit_per_second=0.0,
                             compat=NAMES).start()
    fed = feed(server.grpc_target)
    fed.streams.append(feed_n4(server.grpc_target, fed.t0))
    base = f"{server.http_base}/api/v1"
    wait_until(lambda: not get_json(f"{base}/nodes/n3")[1]["data"]["connected"],
               what="n3's stream to end")
    wait_until(lambda: len(get_json(f"{base}/alerts")[1]["data"]) == 5, what="five alerts")
    yield Compat(server, fed)
    fed.close()
    server.stop()
