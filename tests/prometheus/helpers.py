"""Agents on sim GPUs that can spike, and frames made the way an agent makes them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import numpy as np

from gputel.agent.backends.base import BackendHealth, DeviceInfo, Inventory, Reading
from gputel.agent.backends.sim import SimBackend
from gputel.agent.exporter import GpuExporter, TickWindow
from gputel.agent.runtime import Agent, AgentConfig
from gputel.collector.api.metrics.exporter import WorkloadRollup
from gputel.proto import frames
from gputel.proto.metrics import exact, wire_per_unit
from tests.harness.servers import RecordingBackend

SPIKE_WATTS = 999.0
WORKLOADS = [
    WorkloadRollup("uid-1", "ml", "trainer-0", "main", 96.5, 640.0, 1.5e6, 3600.0, 3400.0, 1.0),
    WorkloadRollup("uid-2", "ml", "trainer-1", "main", None, None, 0.0, 0.0, 0.0, 0.0),
    WorkloadRollup("uid-3", "serving", 'web "a"', "c\\1", 20.0, 150.0, 2e5, 60.0, 12.0, 0.5),
]


class SpikeBackend:
    """Sim GPUs; `arm(at_ns)` makes GPU 0 draw SPIKE_WATTS for the one tick due at `at_ns`."""

    def __init__(self, inner: SimBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self._power = inner.metrics().index("power")
        self._at_ns: int | None = None
        self._period_ns = 0
        self.spiked_at_ns: int | None = None
        self.spiked = threading.Event()

    def arm(self, at_ns: int, period_ns: int) -> None:
        """Spike the first tick at or after at_ns."""
        self._period_ns = period_ns
        self._at_ns = at_ns

    def open(self) -> None:
        self.inner.open()

    def devices(self) -> list[DeviceInfo]:
        return self.inner.devices()

    def metrics(self) -> tuple[str, ...]:
        return self.inner.metrics()

    def read(self, ts_ns: int) -> Reading:
        reading = self.inner.read(ts_ns)
        if self._at_ns is not None and self.spiked_at_ns is None and ts_ns >= self._at_ns:
            reading.values[0, self._power] = SPIKE_WATTS * 1000  # in mW, the wire unit
            self.spiked_at_ns = ts_ns
            self.spiked.set()
        return reading

    def health(self) -> BackendHealth:
        return self.inner.health()

    def inventory(self) -> list[Inventory]:
        return self.inner.inventory()

    def close(self) -> None:
        self.inner.close()


def agent_metrics(agent: Agent) -> str:
    """The agent's /metrics; fails clearly when the GPU families are not wired in."""
    assert agent.http is not None
    text = httpx.get(f"http://127.0.0.1:{agent.http.port}/metrics", timeout=5).text
    assert "gputel_gpu_power_watts_max{" in text, (
        "the agent's /metrics has no GPU families: Agent.start must build a TickWindow and a "
        "GpuExporter, pass it to AgentHTTPServer(gpus=...), and call window.observe each tick")
    return text


@contextmanager
def spiking_agent(target: str, node: str, gpus: int = 2, rate_hz: float = 10.0,
                  ) -> Iterator[tuple[Agent, SpikeBackend, RecordingBackend]]:
    """A started agent whose GPU 0 can spike; every tick recorded (spike included)."""
    spike = SpikeBackend(SimBackend(gpus=gpus, seed=3, salt=node))
    recorder = RecordingBackend(spike)  # type: ignore[arg-type]
    agent = Agent(AgentConfig(node=node, collector=target, rate_hz=rate_hz,
                              http_host="127.0.0.1", http_port=0, backoff_max_seconds=0.5),
                  recorder)
    agent.start()
    try:
        yield agent, spike, recorder
    finally:
        agent.stop(drain_timeout=2.0)


def sim_blocks(node: str, gpus: int, start_ns: int, ticks: int, rate_hz: float = 10.0,
               seed: int = 5) -> tuple[list[DeviceInfo], tuple[str, ...],
                                       list[list[frames.Block]]]:
    """Sim readings cut into 1 s frames, encoded and decoded as ingest decodes them."""
    sim = SimBackend(gpus=gpus, seed=seed, salt=node)
    sim.open()
    period = round(1e9 / rate_hz)
    per_frame = max(1, round(rate_hz))
    stamps = np.array([start_ns + k * period for k in range(ticks)], dtype=np.int64)
    values = np.stack([sim.read(int(t)).values for t in stamps])  # (ticks, gpus, metrics)
    metrics = sim.metrics()
    out = []
    for first in range(0, ticks, per_frame):
        ts = stamps[first:first + per_frame]
        blocks = [frames.encode_block(d, tuple(range(len(metrics))), ts,
                                      values[first:first + per_frame, d, :].T, exact(metrics))
                  for d in range(gpus)]
        out.append([frames.decode_block(b, gpus, wire_per_unit(metrics)) for b in blocks])
    return sim.devices(), metrics, out


def gpu_exporter(holders: dict | Callable[[], dict] | None = None, compat: str = ""
                 ) -> tuple[GpuExporter, np.ndarray, tuple[str, ...]]:
    """Two sim GPUs after one tick, model name with quotes, holders as given (a dict, or a
    callable returning one; None: off)."""
    sim = SimBackend(gpus=2, seed=1, salt="n")
    sim.open()
    devices = [DeviceInfo(d.index, d.uuid, d.vendor, 'H100 "SXM"', d.memory_total_bytes,
                          pci_bus_id=d.pci_bus_id) for d in sim.devices()]
    window = TickWindow(2, len(sim.metrics()))
    values = sim.read(10**18).values
    window.observe(10**18, values)
    source = holders if callable(holders) or holders is None else (lambda: holders)
    exporter = GpuExporter("n", devices, sim.metrics(), window, holders=source, compat=compat)
    return exporter, values, sim.metrics()
