"""Wires one agent together: backend -> sampler -> batcher -> outbox -> stream, plus HTTP."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry, ProcessCollector

from gputel.agent.attribution.attributor import Attributor
from gputel.agent.attribution.cgroups import CgroupResolver
from gputel.agent.attribution.framing import HoldingsTracker
from gputel.agent.attribution.model import AllocationSource
from gputel.agent.attribution.podresources import (
    PodResourcesClient,
    PodResourcesPoller,
)
from gputel.agent.attribution.simulated import SimulatedCluster
from gputel.agent.backends.base import Backend, DeviceInfo, Reading
from gputel.agent.batcher import Batcher
from gputel.agent.clock import Clock, SystemClock
from gputel.agent.config import AgentConfig
from gputel.agent.credentials import channel_credentials, ingest_token
from gputel.agent.exporter import AgentCollector, GpuExporter, TickWindow
from gputel.agent.handoff import TickHandoff
from gputel.agent.http import AgentHTTPServer
from gputel.agent.inventory import InventoryReporter
from gputel.agent.outbox import Outbox
from gputel.agent.reconnect import Backoff
from gputel.agent.sampler import Sampler
from gputel.agent.spool import Spool
from gputel.agent.stream import StreamClient
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.version import VERSION

log = logging.getLogger(__name__)
# Seconds of ticks the hand-off to the frame writer holds before it drops ticks, counted.
HANDOFF_SECONDS = 10.0


class Agent:
    """One running agent. `start()` opens the backend and starts every thread."""

    def __init__(self, config: AgentConfig, backend: Backend, clock: Clock | None = None,
                 registry: CollectorRegistry | None = None,
                 credentials: grpc.ChannelCredentials | None = None,
                 spool_factory: Callable[[Path], Spool] = Spool) -> None:
        self.config = config
        self.backend = backend
        self.clock = clock or SystemClock()
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)  # the agent's own CPU and RSS
        self.instance = uuid.uuid4().hex
        self.outbox = Outbox(config.outbox_frames, config.window,  # replaced in start()
                             max_bytes=config.spool_max_bytes)
        self.spool: Spool | None = None
        self._spool_factory = spool_factory
        self.handoff: TickHandoff | None = None
        self.attributor: Attributor | None = None
        self._credentials = credentials
        self.sampler: Sampler | None = None
        self.stream: StreamClient | None = None
        self.http: AgentHTTPServer | None = None
        self.window: TickWindow | None = None
        self.inventory: InventoryReporter | None = None
        self._holdings: HoldingsTracker | None = None
        self._batcher: Batcher | None = None
        self._stopped = False

    def start(self) -> None:
        """Open the backend, bind HTTP, start sampling and streaming. Raises BackendError."""
        self.backend.open()
        devices = self.backend.devices()
        metrics = self.backend.metrics()
        if self.config.spool_dir is not None:
            self._open_spool(self.config.spool_dir)
        self.attributor = self._make_attributor(devices)
        if self.attributor is not None:
            self._holdings = HoldingsTracker(self.attributor, len(devices))
        self.inventory = InventoryReporter(
            self.backend, len(devices), self.clock,
            self.attributor.view if self.attributor is not None else None,
            self.config.inventory_seconds, self.config.processes_seconds)
        self.inventory.refresh()  # the first Hello carries it
        ticks = max(1, round(self.config.rate_hz * self.config.flush_seconds))
        self._batcher = Batcher(len(devices), metrics, ticks, self.outbox.put_frame,
                                self._decorate)
        self.window = TickWindow(len(devices), len(metrics))
        self.handoff = TickHandoff(self._frame_tick,
                                   max(2 * ticks, round(self.config.rate_hz * HANDOFF_SECONDS)))
        self.sampler = Sampler(self.backend, self.config.rate_hz, self._on_tick, self.clock,
                               self.config.max_ticks)
        self.stream = StreamClient(self.config.collector, self.outbox, self._hello,
                                   self._credentials or channel_credentials(self.config),
                                   self._backoff(), ingest_token(self.config), clock=self.clock,
                                   compressed=self.config.stream_compression == "gzip")
        gpus = GpuExporter(self.config.node, devices, metrics, self.window,
                           holders=self.holders if self.attributor is not None else None,
                           compat=self.config.metrics_compat)
        self.registry.register(AgentCollector(
            self.config.node, self.backend.name, devices, metrics, self.sampler, self.outbox,
            self.stream, handoff=self.handoff, attribution_up=self._attribution_up,
            attribution_stats=self.attributor.stats if self.attributor is not None else None,
            backend_health=self.backend.health))
        self.http = AgentHTTPServer(self.config.http_host, self.config.http_port, self.registry,
                                    self._healthy, self._ready, gpus=gpus)
        self.http.start()
        self.stream.start()
        self.handoff.start()
        self.inventory.start()
        self.sampler.start()
        log.info("sampling %d %s GPU(s) at %g Hz on node %s", len(devices), self.backend.name,
                 self.config.rate_hz, self.config.node)

    def _backoff(self) -> Backoff:
        cfg = self.config
        first = min(0.2, cfg.backoff_max_seconds, cfg.reconnect_max_seconds)
        return Backoff(first_s=first, max_s=cfg.backoff_max_seconds,
                       reconnect_max_s=min(cfg.reconnect_max_seconds, cfg.backoff_max_seconds),
                       refused_s=cfg.refused_retry_seconds)

    def _open_spool(self, directory: Path) -> None:
        """Resume the spooled instance when the devices are the same; raises SpoolError."""
        self.spool = self._spool_factory(directory)
        full = self._hello_for("")  # what decoding the frames depends on, nothing else
        identity = pb.Hello(node=full.node, devices=full.devices, metrics=full.metrics,
                            backend=full.backend).SerializeToString(deterministic=True)
        instance, next_seq, frames = self.spool.resume(identity)
        if instance is not None:
            self.instance = instance
            log.info("resuming agent instance %s: %d spooled frame(s) to send", instance,
                     len(frames))
        self.spool.start_instance(self.instance, identity, next_seq)
        self.outbox = Outbox(self.config.outbox_frames, self.config.window, self.spool,
                             next_seq, frames, max_bytes=self.config.spool_max_bytes)

    def _make_attributor(self, devices: list[DeviceInfo]) -> Attributor | None:
        """Kubelet attribution, process attribution (proc_root), both, or None."""
        cfg = self.config
        resolver = CgroupResolver(str(cfg.proc_root)) if cfg.proc_root else None
        poller: AllocationSource | None = None
        if cfg.attribution == "sim":  # simulated pods on simulated GPUs (demos)
            poller = SimulatedCluster(devices)
        elif cfg.attribution == "kubelet":
            poller = PodResourcesPoller(PodResourcesClient(cfg.kubelet_socket), devices,
                                        interval_ns=round(cfg.kubelet_poll_seconds * 1e9))
        if poller is None and resolver is None:
            return None
        return Attributor(devices, poller=poller, resolver=resolver)

    def _on_tick(self, ts_ns: int, reading: Reading) -> None:
        """On the tick thread: nothing slow. /metrics, framing and the spool are the writer's."""
        assert self.handoff is not None
        if self.attributor is not None:  # cheap unless the processes or the kubelet changed
            self.attributor.observe(ts_ns, reading.processes)
        self.handoff.put(ts_ns, reading)

    def _frame_tick(self, ts_ns: int, reading: Reading) -> None:
        """On the frame writer's thread, every tick in order: /metrics' window, then the frame.

        The window is fed here rather than on the tick thread: a few numpy calls right after
        the tick's wake-up cost ~90 us of CPU on a VM against ~7 us in a batch (benchmarks/
        results/agent-overhead.md); /metrics then lags the newest tick by up to 0.1 s.
        """
        assert self.window is not None
        assert self._batcher is not None
        self.window.observe(ts_ns, reading.values, reading.buffered)
        if self.inventory is not None:
            self.inventory.observe(ts_ns, reading.processes)
        self._batcher.add(ts_ns, reading)

    def _decorate(self, frame: pb.Frame, first_ts_ns: int) -> None:
        """What a frame carries besides samples: holdings, inventory and processes changed."""
        if self._holdings is not None:
            self._holdings.decorate(frame, first_ts_ns)
        if self.inventory is not None:
            self.inventory.decorate(frame)

    def _attribution_up(self) -> bool | None:
        """None without attribution, else whether it works (gputel_agent_attribution_up)."""
        return None if self.attributor is None else bool(self.attributor.available)

    def holders(self) -> dict[int, list[tuple[str, str, str, float]]]:
        """Per device index, (pod, namespace, container, fraction) of who holds it now.

        Called on the HTTP thread: reads only the attributor's published snapshot.
        """
        if self.attributor is None:
            return {}
        view = self.attributor.view()
        out: dict[int, list[tuple[str, str, str, float]]] = {}
        for index, shares in view.shares.items():
            for share in shares:
                w = view.workloads.get(share.workload_uid)
                if w is not None:
                    out.setdefault(index, []).append((w.pod, w.namespace, w.container,
                                                      share.fraction))
        return out

    def _hello(self) -> pb.Hello:
        return self._hello_for(self.instance)

    def _hello_for(self, instance: str) -> pb.Hello:
        devices = [pb.Device(index=d.index, uuid=d.uuid, vendor=d.vendor, model=d.model,
                             memory_total_bytes=d.memory_total_bytes,
                             mig_parent_uuid=d.mig_parent_uuid, pci_bus_id=d.pci_bus_id)
                   for d in self.backend.devices()]
        return pb.Hello(protocol_version=pb.PROTOCOL_VERSION_1, node=self.config.node,
                        agent_instance=instance, devices=devices,
                        metrics=list(self.backend.metrics()), backend=self.backend.name,
                        sample_rate_hz=self.config.rate_hz, agent_version=VERSION,
                        inventory=self.inventory.hello() if self.inventory else [])

    def _healthy(self) -> tuple[bool, dict[str, object]]:
        return (self.sampler is not None and not self.sampler.finished.is_set(),
                {"backend": self.backend.name})

    def _ready(self) -> tuple[bool, dict[str, object]]:
        ticks = self.sampler.stats.ticks if self.sampler else 0
        stats = self.stream.stats if self.stream else None
        connected = bool(stats and stats.connected)
        attribution = ("off" if self.attributor is None else
                       "up" if self.attributor.available else "unavailable")
        detail: dict[str, object] = {
            "ticks": ticks, "collectorConnected": connected, "outboxFrames": len(self.outbox),
            "attribution": attribution,
            "clockSkewSeconds": stats.clock_skew_seconds if stats else None}
        # Ready means sampling: a collector or kubelet outage is buffered or retried, not a
        # reason to take the agent out of service. A collector that refuses this agent, or a
        # clock it will refuse frames for, needs the operator: not ready, saying why.
        problems = self._problems()
        if problems:
            detail["message"] = "; ".join(problems)
        return ticks > 0 and not problems, detail

    def _problems(self) -> list[str]:
        """What keeps this agent's data from the collector until an operator acts."""
        stats = self.stream.stats if self.stream else None
        if stats is None:
            return []
        problems = []
        refusal = stats.refusal
        if refusal:
            problems.append(f"the collector refused this agent ({refusal}); retrying every "
                            f"{self.config.refused_retry_seconds:g} s or more, frames kept")
        skew, limit = stats.clock_skew_seconds, self.config.max_clock_skew_seconds
        if skew is not None and abs(skew) > limit:
            problems.append(f"this node's clock is {abs(skew):.1f} s "
                            f"{'ahead of' if skew > 0 else 'behind'} the collector's (more "
                            f"than {limit:g} s): fix its time sync (NTP); frames are kept")
        return problems

    def stop(self, drain_timeout: float = 5.0) -> bool:
        """Stop sampling, flush the last partial frame, wait for acks; True if all were acked."""
        if self._stopped:
            return len(self.outbox) == 0
        self._stopped = True
        if self.sampler is not None:
            self.sampler.stop()
        if self.inventory is not None:
            self.inventory.stop()
        if self.handoff is not None and not self.handoff.stop():
            log.warning("the frame writer did not finish; the ticks it held are lost")
        if self._batcher is not None:
            self._batcher.flush()
        drained = self.outbox.wait_drained(drain_timeout)
        if not drained:
            log.warning("%d frame(s) not acknowledged at shutdown", len(self.outbox))
        if self.stream is not None:
            self.stream.stop()
        if self.http is not None:
            self.http.stop()
        if self.spool is not None:
            self.spool.close()
        if self.attributor is not None:
            self.attributor.close()
        self.backend.close()
        return drained
