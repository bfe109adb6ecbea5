"""Runs one collector: the gRPC server (ingest + query) and the HTTP server on one asyncio loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from gputel.collector.api.grpc.ingest import IngestPolicy, IngestServicer, add_ingest_servicer
from gputel.collector.api.grpc.query import QueryServicer
from gputel.collector.api.http.app import create_app
from gputel.collector.api.http.guard import ConnectionGuard
from gputel.collector.api.metrics.exporter import (
    CollectorCollector,
    StoreGauges,
    WorkloadRollup,
    ack_latency_histogram,
)
from gputel.collector.api.metrics.kube import KubeCollector
from gputel.collector.api.metrics.limits import LimitsCollector
from gputel.collector.api.metrics.tsdb import TsdbCollector
from gputel.collector.api.secrets import read_headers, read_secret
from gputel.collector.api.serving import (
    QuietServer,
    RateLimit,
    Security,
    TlsFiles,
    add_grpc_port,
    bind_http,
    grpc_server,
    http_server,
    load_security,
)
from gputel.collector.errors import UnavailableError
from gputel.collector.ingest.admission import IngestLimits
from gputel.collector.ingest.backpressure import return_freed_memory, steady_allocator
from gputel.collector.ingest.core import IngestCore
from gputel.collector.ingest.remote import RemoteJournal
from gputel.collector.ingest.state import StateSync, StateWriter
from gputel.collector.kube.settings import KubeSettings
from gputel.collector.lograte import RepeatLimiter
from gputel.collector.maintenance import Maintenance
from gputel.collector.outbound.hooks import HookRegistry
from gputel.collector.outbound.remote_write import RemoteWriteConfig, RemoteWriter
from gputel.collector.outbound.webhooks import WebhookConfig, WebhookSender
from gputel.collector.query.alerts import AlertEvent, AlertRules
from gputel.collector.query.core import HealthPolicy, QueryCore
from gputel.collector.query.costs import Pricing
from gputel.collector.query.health import (
    HealthReport,
    health_report,
    remote_health,
    store_health,
)
from gputel.collector.query.limits import QueryLimits
from gputel.collector.query.services import build_services
from gputel.collector.registry.cluster import ClusterLimits, ClusterRegistry
from gputel.collector.registry.nodes import DeviceRecord, NodeRegistry
from gputel.collector.registry.workloads import WorkloadLimits
from gputel.collector.storage import compaction
from gputel.collector.storage.alertbook import RemoteAlertBook
from gputel.collector.storage.durable import DurableStore, StorageError
from gputel.collector.storage.engine import Engine
from gputel.collector.storage.remote import RemoteRollups, RemoteSeries
from gputel.collector.storage.rollups import DEFAULT_TIERS, RollupReader, Tier
from gputel.collector.storage.store import SeriesReads, SeriesStore
from gputel.collector.storage.tsdb import TsdbClient, TsdbEndpoints, TsdbSettings
from gputel.proto.frames import Block
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

if TYPE_CHECKING:  # loads the Kubernetes client: imported only with --kube (_kube_watcher)
    from gputel.collector.kube.watcher import KubeWatcher

log = logging.getLogger(__name__)
SEAL_TIMEOUT_S = 60.0  # at a clean stop, for sealing the head
SERVICE_NAMES = ("gputel.v1.IngestService", "gputel.v1.QueryService",
                 health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME)


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """Listen addresses, storage and limits. Durations in seconds.

    `data_dir` None keeps everything in memory (nothing survives a restart);
    otherwise frames are acknowledged only once durable in data_dir (DuckDB + Parquet
    blocks, see storage.engine). `max_disk_bytes` (0: no bound) drops the oldest blocks,
    then the oldest rollups, past it; `seal_seconds` is how long samples stay in the
    write-optimised head before they seal into a block; `store_memory_bytes` bounds the
    engine's own buffers (default: a quarter of --max-memory, else 1 GiB).

    Query API: `api_token_file` (`token: role` lines) and `api_tokens` (`token:role,...`)
    turn on bearer tokens for HTTP /api and gRPC QueryService; `rate_limit_per_second` 0
    turns rate limiting off; `webhook_urls` get every alert that fires or resolves, signed
    with the secret in `webhook_secret_file`.
    """

    grpc_host: str = "0.0.0.0"
    grpc_port: int = 50051
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    retention_seconds: float = 3600.0
    max_points: int = 11_000
    data_dir: Path | None = None
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    maintenance_seconds: float = 10.0
    max_disk_bytes: int = 0
    seal_seconds: float = 60.0
    store_memory_bytes: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    token_file: Path | None = None
    api_token_file: Path | None = None
    api_tokens: str = ""
    metrics_need_token: bool = False
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_second: float = 100.0
    rate_limit_burst: int = 200
    health_policy: HealthPolicy = field(default_factory=HealthPolicy)
    alert_rules: AlertRules = field(default_factory=AlertRules)
    alert_interval_seconds: float = 5.0
    webhook_urls: tuple[str, ...] = ()
    webhook_secret_file: Path | None = None
    pricing: Pricing = field(default_factory=Pricing)
    watch_interval_seconds: float = 1.0
    remote_write_url: str = ""  # a Prometheus remote-write 1.0 endpoint; "" = off
    remote_write_queue_samples: int = 500_000
    remote_write_headers_file: Path | None = None  # `Name: value` lines sent with each push
    remote_write_max_series: int = 200_000
    limits: IngestLimits = field(default_factory=IngestLimits)
    max_memory_bytes: int = 0  # 0: no memory budget
    retry_after_seconds: float = 5.0
    mtls_any_node: bool = False  # True: a client certificate may stream as any node
    # Self-protection (issue 11): HTTP connections and header time, costly queries, and
    # repeated log lines (per minute per message template; 0 = off). See api.http.guard,
    # query.limits, lograte.
    http_max_connections: int = 1000
    http_header_timeout_seconds: float = 10.0
    query_limits: QueryLimits = field(default_factory=QueryLimits)
    log_repeat_limit: int = 10
    workload_retention_seconds: float = 86_400.0  # an ended workload is kept this long
    max_workloads: int = 10_000  # workloads in memory; the oldest ended go first
    kube: KubeSettings | None = None  # watch the Kubernetes API (None: off)
    compat: tuple[str, ...] = ()  # compatibility routers to mount (collector.api.compat)
    # Scale-out (issue 14): a Prometheus-compatible TSDB instead of the embedded store
    # (None: embedded). See storage.tsdb, ingest.remote, ingest.state.
    tsdb: TsdbEndpoints | None = None
    tsdb_headers_file: Path | None = None  # `Name: value` lines sent with every request
    tsdb_sync_seconds: float = 1.0
    tsdb_write_deadline_seconds: float = 30.0


class Collector:
    """One collector. `await start()`, then `await stop()`; ports are known after start."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        retention_ns = int(config.retention_seconds * 1e9)
        budget = config.max_memory_bytes
        # In memory, the head holds a fifth of the memory budget at ~24 B a sample (DuckDB's
        # in-memory tables before a checkpoint compresses them); it shrinks further if the
        # process still goes over (_relieve_memory).
        engine = Engine(config.data_dir, config.tiers, retention_ns, config.max_disk_bytes,
                        config.store_memory_bytes or (budget // 2 if budget else 1 << 30),
                        max_samples=max(10**6, budget // 128) if budget else 0,
                        compact_widths=compaction.levels(int(config.seal_seconds * 1e9),
                                                         retention_ns))
        self.store = SeriesStore(retention_ns, engine=engine)
        self.log = DurableStore(engine, seal_ns=int(config.seal_seconds * 1e9))
        rollups = RollupReader(engine) if config.data_dir is not None else None
        self.remote_write = (RemoteWriter(_remote_write_config(config),
                                          holders=self._largest_holders)
                             if config.remote_write_url else None)
        self.nodes = NodeRegistry()
        self.tsdb = _tsdb_client(config)
        self.journal = (RemoteJournal(self.tsdb, self.nodes, config.tsdb_write_deadline_seconds)
                        if self.tsdb is not None else None)
        self.ingest = IngestCore(self.store, time.time_ns, config.limits,
                                 journal=self.journal or self.log, on_commit=self._committed,
                                 workload_limits=WorkloadLimits(
                                     int(config.workload_retention_seconds * 1e9),
                                     config.max_workloads), registry=self.nodes,
                                 on_close=self._closed, ms_resolution=self.tsdb is not None)
        self.state_writer, self.state_sync, reads = self._shared_state(config, retention_ns)
        if self.tsdb is not None:  # over a TSDB no local rollups: the TSDB computes buckets
            rollups = None
        self.cluster = (ClusterRegistry(ClusterLimits(config.kube.max_objects))
                        if config.kube is not None else None)
        self.kube = (_kube_watcher(config.kube, self.cluster)
                     if config.kube is not None and self.cluster is not None else None)
        self.query = QueryCore(self.nodes, self.ingest.workloads, reads, time.time_ns,
                               config.max_points,
                               rollups=RemoteRollups(self.tsdb) if self.tsdb is not None
                               else rollups, tiers=config.tiers, head_ns=retention_ns,
                               policy=config.health_policy, limits=config.query_limits,
                               cluster=self.cluster, inventory=self.ingest.inventory)
        self.webhooks: WebhookSender | None = None
        self.hooks = HookRegistry(config.data_dir / "webhooks.json" if config.data_dir
                                  else None, time.time_ns)
        self.ingest_servicer: IngestServicer | None = None
        self.alert_book = (RemoteAlertBook(self.tsdb, int(max(
            config.workload_retention_seconds, config.retention_seconds) * 1e9))
            if self.tsdb is not None else None)
        self.services = build_services(self.query, self.health, config.alert_rules,
                                       config.pricing, self._notify,
                                       config.watch_interval_seconds, self.alert_book)
        self._started = time.monotonic()
        self.registry = CollectorRegistry()
        self.ack_latency = ack_latency_histogram()
        self.store_sizes = (StoreGauges(self.log, rollups, config.tiers)
                            if rollups is not None else None)
        self.registry.register(CollectorCollector(
            self.ingest, self.query, self.store, frame_log=self.log,
            store_sizes=self.store_sizes, remote_write=self.remote_write,
            workloads=self._workload_rollups, ack_latency=self.ack_latency,
            flow=lambda: self.ingest_servicer))
        self.http_guard = ConnectionGuard(config.http_max_connections,
                                          config.http_header_timeout_seconds)
        self.log_filter = (RepeatLimiter(config.log_repeat_limit)
                           if config.log_repeat_limit > 0 else None)
        self.maintenance = Maintenance(
            self.store, self.ingest, self.log, config.maintenance_seconds,
            self.store_sizes.refresh if self.store_sizes is not None else None)
        self.registry.register(LimitsCollector(self.http_guard, self.query.gate,
                                               self.log_filter))
        if self.kube is not None:
            self.registry.register(KubeCollector(self.kube))
        if self.journal is not None and self.state_writer and self.state_sync:
            self.registry.register(TsdbCollector(self.journal, self.state_writer,
                                                 self.state_sync))
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: grpc.aio.Server | None = None
        self._http: QuietServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False
        self._grpc_health = grpc_health.aio.HealthServicer()

    def _shared_state(self, config: CollectorConfig, retention_ns: int,
                      ) -> tuple[StateWriter | None, StateSync | None, SeriesReads]:
        """Over a TSDB: the shared-state writer and reader, and the series reads."""
        if self.tsdb is None:
            return None, None, self.store
        index = self.ingest.workloads
        return (StateWriter(self.tsdb, self.nodes, index, self.ingest.streaming_nodes),
                StateSync(self.tsdb, self.nodes, index, self.ingest.streaming,
                          int(config.workload_retention_seconds * 1e9),
                          inventory=self.ingest.inventory),
                RemoteSeries(self.tsdb, retention_ns, known_gpus=self._known_gpus))

    def _known_gpus(self) -> list[tuple[str, str]]:
        """(node, uuid) of every GPU the registry knows."""
        return [(d.node, d.uuid) for n in self.nodes.nodes() for d in n.devices]

    def _committed(self, node: str, devices: Sequence[DeviceRecord],
                   metric_ids: Sequence[str], blocks: list[Block]) -> None:
        """After each applied frame: remote write queues it, the shared state notes it."""
        if self.remote_write is not None:
            self.remote_write.enqueue_blocks(node, devices, metric_ids, blocks)
        if self.state_writer is not None:
            self.state_writer.note(node)

    def _closed(self, node: str) -> None:
        if self.state_writer is not None:
            self.state_writer.note(node)

    def _largest_holders(self, node: str, uuid: str, start_ns: int, end_ns: int,
                         ) -> list[tuple[int, tuple[str, str, str]]]:
        """Remote write's holder labels: the ingest's workload index, which has the frame's
        holdings by the time its samples are queued (on_commit runs after they are applied)."""
        return self.ingest.workloads.largest_holders(node, uuid, start_ns, end_ns)

    async def start(self) -> None:
        """Recover the store, bind both ports, serve. Raises OSError (port) or StorageError."""
        self._protect_process()
        self.hooks.load()  # before recovery: a damaged hooks file stops the start at once
        t0 = time.perf_counter()
        frames = await asyncio.to_thread(self.ingest.recover)
        self.log.start()
        if self.journal is not None:
            self.journal.start()
            await self._share_state()
        log.info("recovered the state from %s in %.2f s (%d frame(s) after its snapshot)",
                 self.log.path, time.perf_counter() - t0, frames)
        security = self._security()
        self._start_webhooks()
        self._grpc = grpc_server(security)
        self.ingest_servicer = IngestServicer(self.ingest, self._ingest_policy(security),
                                              ack_latency=self.ack_latency)
        add_ingest_servicer(self.ingest_servicer, self._grpc)
        pb_grpc.add_QueryServiceServicer_to_server(QueryServicer(self.services), self._grpc)
        health_pb2_grpc.add_HealthServicer_to_server(self._grpc_health, self._grpc)
        reflection.enable_server_reflection(SERVICE_NAMES, self._grpc)
        self.grpc_port = add_grpc_port(self._grpc, self.config.grpc_host, self.config.grpc_port,
                                       security.tls)
        sock = bind_http(self.config.http_host, self.config.http_port)
        self.http_port = sock.getsockname()[1]
        self._http = http_server(create_app(self.services, self.registry, self.ready,
                                            security.access, self._http_closing,
                                            self.config.compat, self.hooks),
                                 self.http_guard, security.tls)
        if self.store_sizes is not None:
            await asyncio.to_thread(self.store_sizes.refresh)
        if self.remote_write is not None:
            self.remote_write.start()
        if self.kube is not None:  # its own thread: the API server's pace never slows ingest
            self.kube.start()
        await self._grpc.start()
        self._tasks = [asyncio.create_task(self._http.serve(sockets=[sock])),
                       asyncio.create_task(self.maintenance.run()),
                       asyncio.create_task(self._alert_loop())]
        if self.journal is not None:
            self._tasks.append(asyncio.create_task(self._state_loop()))
        while not self._http.started:
            if self._tasks[0].done():
                self._tasks[0].result()
                raise OSError("HTTP server stopped while starting")
            await asyncio.sleep(0.01)
        self._ready = True
        for name in ("", *SERVICE_NAMES[:2]):
            await self._grpc_health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def _http_closing(self) -> bool:
        """The HTTP server is stopping (its open event streams then end)."""
        return self._http is None or self._http.should_exit

    def ready(self) -> bool:
        """Serving, and able to make frames durable (readiness tells the truth); over a
        TSDB also: the shared state was read."""
        if self.journal is not None and self.state_sync is not None:
            return self._ready and self.journal.writing() and self.state_sync.synced
        return self._ready and self.log.writing()

    async def _state_loop(self) -> None:
        """Over a TSDB, every tsdb_sync_seconds: write this collector's figures, read every
        replica's, and while writes fail try one."""
        while True:
            await asyncio.sleep(self.config.tsdb_sync_seconds)
            try:
                await self._share_state()
            except Exception:
                log.exception("shared state pass failed; trying again next interval")

    async def _share_state(self) -> None:
        assert self.journal is not None
        assert self.state_writer is not None
        assert self.state_sync is not None
        if self.journal.failing:
            await asyncio.to_thread(self.journal.probe)
        await asyncio.to_thread(self.state_writer.flush)
        await asyncio.to_thread(self.state_sync.refresh)
        if self.alert_book is not None:
            await asyncio.to_thread(self.alert_book.refresh)

    def _ingest_policy(self, security: Security) -> IngestPolicy:
        cfg = self.config
        inflight = cfg.limits.inflight_bytes
        if cfg.max_memory_bytes:  # frames in flight take at most a sixteenth of the budget
            inflight = min(inflight, cfg.max_memory_bytes // 16)
        return IngestPolicy(security.node_binding, cfg.max_memory_bytes, inflight,
                            int(cfg.retry_after_seconds * 1000),
                            store_failing=self._store_failing,
                            relieve=self._relieve_memory)

    def _store_failing(self) -> str:
        """Why frames cannot be made durable now, "" when they can."""
        return self.journal.failing if self.journal is not None else self.log.failing

    def _relieve_memory(self) -> None:
        """Over --max-memory: an in-memory store gives back half of what it holds; on disk
        the engine's buffers are bounded already (store_memory_bytes)."""
        evicted = self.store.shrink(0.5)
        # Refused streams leave frames in reference cycles (gRPC's aborted calls and their
        # errors): collected only by a full collection, which plain ingest rarely triggers.
        gc.collect()
        return_freed_memory()
        log.warning("over the memory budget: %d sample(s) evicted from memory", evicted)

    def health(self) -> HealthReport:
        """The collector's state for /api/v1/health and gRPC GetHealth."""
        nodes = self.nodes.nodes()
        if self.journal is not None:
            store = remote_health(self.query.store, self.journal.failing,
                                  self.journal.path, self.config.retention_seconds)
        else:
            store = store_health(self.store, self.log, self.config.retention_seconds,
                                 self.config.tiers)
        return health_report(self._ready, nodes, store, self.services.alerts.active_count(),
                             time.monotonic() - self._started, self.config.compat)

    def _protect_process(self) -> None:
        """Rate-limit repeated log lines (every root handler); raise the open-file limit;
        with a memory budget, an allocator that gives freed frames back."""
        if self.log_filter is not None:
            self.log_filter.install()
        raise_fd_limit()
        if self.config.max_memory_bytes and not steady_allocator():
            log.warning("cannot tune the C allocator here; --max-memory is kept by eviction "
                        "and refusals alone")

    def _security(self) -> Security:
        """TLS checked, every token file read. Raises SecurityConfigError."""
        cfg = self.config
        return load_security(TlsFiles(cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca),
                             cfg.token_file, cfg.api_token_file, cfg.api_tokens,
                             RateLimit(cfg.rate_limit_per_second, cfg.rate_limit_burst),
                             metrics_need_token=cfg.metrics_need_token,
                             cors_origins=cfg.cors_origins, mtls_any_node=cfg.mtls_any_node)

    def _start_webhooks(self) -> None:
        """Start the webhook sender: the flags' URLs and the hooks registered through the
        API. Raises SecurityConfigError."""
        cfg = self.config
        if self.webhooks is None:
            secret = (read_secret(cfg.webhook_secret_file, "webhook secret").strip()
                      if cfg.webhook_secret_file else b"")
            self.webhooks = WebhookSender(WebhookConfig(cfg.webhook_urls, secret),
                                          targets=self.hooks.targets)
            self.webhooks.start()

    def _notify(self, event: AlertEvent) -> None:
        if self.webhooks is not None:
            self.webhooks.enqueue(event)

    async def _alert_loop(self) -> None:
        """Evaluate the alert rules every alert_interval_seconds, off the event loop."""
        while True:
            await asyncio.sleep(self.config.alert_interval_seconds)
            try:
                await asyncio.to_thread(self.services.alerts.evaluate)
            except UnavailableError as exc:  # a remote store away: said once per interval
                log.warning("alert evaluation skipped: %s", exc)
            except Exception:
                log.exception("alert evaluation failed; trying again next interval")

    def _workload_rollups(self) -> list[WorkloadRollup]:
        """Per-workload gauges and counters for /metrics, from the workload index."""
        return [WorkloadRollup(s.info.uid, s.info.namespace, s.info.pod, s.info.container,
                               s.utilization_percent, s.power_watts, s.usage.energy_joules,
                               s.usage.gpu_seconds_allocated, s.usage.gpu_seconds_busy, s.gpus,
                               s.info.kind, bool(s.children))
                for s in self.query.workloads.summaries(running=True)]  # live ones only

    async def maintain_now(self) -> None:
        """One maintenance pass right away (tests, shutdown)."""
        await self.maintenance.now()

    async def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, end open streams after `grace` seconds, stop HTTP; idempotent."""
        self._ready = False
        if self._grpc is not None:
            await self._grpc_health.enter_graceful_shutdown()
            await self._grpc.stop(grace)
            self._grpc = None
        if self._http is not None:
            self._http.should_exit = True
            await asyncio.gather(self._tasks[0], return_exceptions=True)
            self._http = None
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.kube is not None:
            await asyncio.to_thread(self.kube.stop)
        if self.webhooks is not None:  # deliver what is queued, briefly
            await asyncio.to_thread(self.webhooks.stop)
            self.webhooks = None
        if self.remote_write is not None:  # push what is queued, briefly
            await asyncio.to_thread(self.remote_write.stop, 5.0)
            self.remote_write = None
        if self.journal is not None and self.state_writer is not None:
            await asyncio.to_thread(self.state_writer.flush)
            await asyncio.to_thread(self.journal.close)
        if self.tsdb is not None:  # its pooled connections, once nothing writes or reads
            await asyncio.to_thread(self.tsdb.close)
        try:  # a clean restart reads no frame back
            await self.maintenance.checkpoint()
        except (StorageError, TimeoutError) as exc:
            log.warning("no final state snapshot (%s); the next start reads the tail", exc)
        try:  # every sample in a block: what is at rest is compact and ready to compact
            await asyncio.wait_for(asyncio.wrap_future(self.log.seal_all()), SEAL_TIMEOUT_S)
        except (StorageError, TimeoutError) as exc:
            log.warning("the head was not sealed at stop (%s); it stays in the database", exc)
        await asyncio.to_thread(self.log.close)
        if self.ingest_servicer is not None:
            self.ingest_servicer.close()
        if self.log_filter is not None:
            self.log_filter.uninstall()


def _remote_write_config(config: CollectorConfig) -> RemoteWriteConfig:
    """Remote write's settings; its header file read now. Raises SecurityConfigError."""
    return RemoteWriteConfig(
        config.remote_write_url, max_queue_samples=config.remote_write_queue_samples,
        max_series=config.remote_write_max_series,
        headers=read_headers(config.remote_write_headers_file)
        if config.remote_write_headers_file else ())


def _tsdb_client(config: CollectorConfig) -> TsdbClient | None:
    """The TSDB client when the store is remote; its header file read now. Raises
    SecurityConfigError."""
    if config.tsdb is None:
        return None
    headers = read_headers(config.tsdb_headers_file) if config.tsdb_headers_file else ()
    return TsdbClient(TsdbSettings(config.tsdb, headers))


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit (agents' streams and HTTP
    clients each hold one); return the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard in (resource.RLIM_INFINITY, soft):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
        return soft
    return hard


def _kube_watcher(settings: KubeSettings, cluster: ClusterRegistry) -> KubeWatcher:
    """The Kubernetes watch; its module (and the Kubernetes client) is loaded only here, so
    a collector without --kube does not carry it. Raises KubeConfigError."""
    from gputel.collector.kube.watcher import KubeWatcher  # noqa: PLC0415

    return KubeWatcher(settings, cluster)
