"""What each subcommand runs; signals (SIGINT, SIGTERM) stop them cleanly."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from gputel.agent.backends import create, probe
from gputel.agent.config import AgentConfig
from gputel.agent.errors import AgentError
from gputel.agent.runtime import Agent
from gputel.cli.options import die
from gputel.collector.api.secrets import SecurityConfigError
from gputel.collector.ingest.admission import IngestLimits
from gputel.collector.kube.settings import KubeConfigError, KubeSettings
from gputel.collector.outbound.hooks import HookStoreError
from gputel.collector.query.alerts import AlertRules
from gputel.collector.query.core import HealthPolicy
from gputel.collector.query.costs import Pricing
from gputel.collector.query.limits import QueryLimits
from gputel.collector.server import Collector, CollectorConfig
from gputel.collector.storage.durable import StorageError
from gputel.collector.storage.engine import DB_NAME, Engine
from gputel.collector.storage.rollups import Tier
from gputel.collector.storage.tsdb import TsdbEndpoints

# `gputel up`'s default --spool-dir: its agent spools under the collector's data directory.
UP_SPOOL_DIR = "<data-dir>/agent-spool"
# Present in every pod that mounts its service account's token: in a cluster.
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105


def run_agent(args: argparse.Namespace) -> int:
    """Sample this node's GPUs and stream them to the collector until a signal."""
    try:
        backend = create(args.backend, args.gpus, args.seed, args.node)
        agent = Agent(agent_config(args), backend)
        agent.start()
    except AgentError as exc:
        die(str(exc))
    except OSError as exc:
        die(f"cannot serve the agent's HTTP on port {args.agent_port}: {exc.strerror}")
    _say(f"gputel agent: node {args.node}, backend {backend.name}, "
         f"{len(backend.devices())} GPU(s) at {args.rate:g} Hz -> {args.collector}; "
         f"metrics on http://{_shown(args.http_host)}:{agent.http.port if agent.http else 0}"
         "/metrics")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    drained = agent.stop(drain_timeout=5.0)
    _say("gputel agent: stopped" + ("" if drained else
                                    f", {len(agent.outbox)} frame(s) not acknowledged"))
    return 0


def agent_config(args: argparse.Namespace) -> AgentConfig:
    """The AgentConfig the agent flags describe."""
    return AgentConfig(node=args.node, collector=args.collector, rate_hz=args.rate,
                       flush_seconds=args.flush_interval,
                       http_host=getattr(args, "http_host", "0.0.0.0"),
                       http_port=args.agent_port, outbox_frames=args.outbox_frames,
                       spool_max_bytes=args.spool_max_bytes,
                       reconnect_max_seconds=args.reconnect_max,
                       refused_retry_seconds=args.refused_retry_interval,
                       max_clock_skew_seconds=args.max_clock_skew,
                       spool_dir=Path(args.spool_dir) if args.spool_dir else None,
                       tls_ca=_path(args, "tls_ca"), tls_cert=_path(args, "tls_cert"),
                       tls_key=_path(args, "tls_key"), token_file=_path(args, "token_file"),
                       attribution=_attribution(args), kubelet_socket=args.kubelet_socket,
                       proc_root=_path(args, "proc_root"), metrics_compat=args.metrics_compat,
                       stream_compression=getattr(args, "stream_compression", "gzip"))


def _attribution(args: argparse.Namespace) -> str:
    """auto: the kubelet when its socket is there (in a cluster), else simulated pods on
    simulated GPUs, else none."""
    if args.attribution != "auto":
        return str(args.attribution)
    if Path(args.kubelet_socket).exists():
        return "kubelet"
    return "sim" if args.backend == "sim" else "none"


def _tsdb_config(args: argparse.Namespace) -> dict[str, Any]:
    """CollectorConfig fields of --store remote; exits with one line on a bad URL."""
    if args.store != "remote":
        return {}
    try:
        endpoints = TsdbEndpoints.build(args.tsdb_layout, args.tsdb_url, args.tsdb_write_url,
                                        args.tsdb_read_url, args.tsdb_tenant)
    except ValueError as exc:
        die(f"--store remote: {exc}")
    return {"tsdb": endpoints, "tsdb_headers_file": _path(args, "tsdb_headers_file"),
            "tsdb_sync_seconds": args.tsdb_sync_interval,
            "tsdb_write_deadline_seconds": args.tsdb_write_deadline}


def _api_config(args: argparse.Namespace) -> dict[str, Any]:
    """CollectorConfig fields of the query API, alerts, prices and remote write."""
    return {
        "api_token_file": _path(args, "api_token_file"), "api_tokens": args.api_tokens,
        "metrics_need_token": args.metrics_auth == "on",
        "cors_origins": _csv(args.cors_origins), "rate_limit_per_second": args.rate_limit,
        "rate_limit_burst": args.rate_limit_burst,
        "health_policy": HealthPolicy(args.gpu_lost_periods, args.gpu_lost_min_seconds,
                                      args.busy_threshold),
        "alert_rules": AlertRules(args.alert_temperature, args.alert_temperature_by_model,
                                  args.alert_idle_percent, args.alert_idle_for,
                                  args.alert_xid_window),
        "alert_interval_seconds": args.alert_interval,
        "webhook_urls": _csv(args.webhook_url),
        "webhook_secret_file": _path(args, "webhook_secret_file"),
        "pricing": Pricing(args.price_gpu_hour, args.price_gpu_hour_by_model, args.price_kwh,
                           args.currency),
        "watch_interval_seconds": args.watch_interval, "compat": args.compat,
        "remote_write_url": args.remote_write_url,
        "remote_write_queue_samples": args.remote_write_queue_samples,
        "remote_write_headers_file": _path(args, "remote_write_headers_file"),
        "remote_write_max_series": args.remote_write_max_series,
    }


def _limit_config(args: argparse.Namespace) -> dict[str, Any]:
    """CollectorConfig fields that bound what clients can make the collector hold or do:
    ingest (nodes, streams, series, memory), HTTP connections, query cost, log lines."""
    return {
        "limits": IngestLimits(max_nodes=args.max_nodes, max_streams=args.max_streams,
                               max_series=args.max_series, inflight_bytes=args.ingest_inflight,
                               node_ttl_ns=int(args.node_ttl * 1e9)),
        "max_memory_bytes": args.max_memory, "retry_after_seconds": args.retry_after,
        "mtls_any_node": args.mtls_any_node == "on",
        "workload_retention_seconds": args.workload_retention,
        "max_workloads": args.max_workloads,
        "http_max_connections": args.http_max_connections,
        "http_header_timeout_seconds": args.http_header_timeout,
        "query_limits": QueryLimits(args.query_max_series_points, args.query_max_samples,
                                    args.query_max_concurrent, args.query_queue_timeout),
        "log_repeat_limit": args.log_repeat_limit,
    }


def _kube_settings(args: argparse.Namespace) -> KubeSettings | None:
    """The Kubernetes watch's settings; None when off (auto: off outside a cluster unless a
    kubeconfig is given)."""
    kubeconfig = _path(args, "kubeconfig")
    if args.kubernetes == "off" or (args.kubernetes == "auto" and kubeconfig is None
                                    and not Path(SERVICE_ACCOUNT_TOKEN).exists()):
        return None
    return KubeSettings(kubeconfig, frozenset(_csv(args.kube_annotations)),
                        max_objects=args.kube_max_objects)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _path(args: argparse.Namespace, name: str) -> Path | None:
    """A path flag, None when unset (or absent from this subcommand)."""
    value = getattr(args, name, "")
    return Path(value) if value else None


def run_collector(args: argparse.Namespace) -> int:
    """Serve ingest, queries and /metrics until a signal."""
    return asyncio.run(_collector_main(args, None))


def run_compact(args: argparse.Namespace) -> int:
    """Merge every window's sealed blocks of a stopped collector's store; say what it did.
    Exit 1 with one line when the directory holds no store or a collector uses it."""
    data_dir = Path(args.data_dir)
    if not (data_dir / DB_NAME).is_file():
        die(f"no gputel store in {data_dir} (no {DB_NAME})")
    try:
        engine = Engine(data_dir, retention_ns=int(args.retention * 1e9))
    except StorageError as exc:
        die(str(exc))
    try:
        blocks, size = len(engine.blocks()), sum(b.size_bytes for b in engine.blocks())
        replaced = engine.compact(full=True)
        after = sum(b.size_bytes for b in engine.blocks())
        failures = engine.stats.compaction_failures
    finally:
        engine.close()
    _say(f"gputel compact: {replaced} of {blocks} blocks merged into "
         f"{engine.stats.compactions}; blocks {size:,} -> {after:,} bytes")
    return 1 if failures else 0


def run_up(args: argparse.Namespace) -> int:
    """The collector plus a local agent in one process tree (simulated GPUs when none)."""
    backend = args.backend
    if backend == "auto":
        reasons = [r for r in (probe("nvml"), probe("amdsmi")) if r is not None]
        if len(reasons) == 2:
            _say(f"gputel up: no GPU library found ({'; '.join(reasons)}); "
                 f"using {args.gpus} simulated GPUs")
            backend = "sim"
    return asyncio.run(_collector_main(args, backend))


async def _collector_main(args: argparse.Namespace, agent_backend: str | None) -> int:
    durable = args.store == "duckdb"
    try:
        if durable:
            Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        collector = Collector(CollectorConfig(
            grpc_host=args.host, grpc_port=args.grpc_port, http_host=args.host,
            http_port=args.http_port, retention_seconds=args.retention,
            max_points=args.max_points, data_dir=Path(args.data_dir) if durable else None,
            tiers=tuple(Tier(int(step * 1e9), int(keep * 1e9)) for step, keep in args.tiers),
            max_disk_bytes=args.max_disk,
            tls_cert=_path(args, "tls_cert"), tls_key=_path(args, "tls_key"),
            tls_client_ca=_path(args, "tls_client_ca"), token_file=_path(args, "token_file"),
            kube=_kube_settings(args), **_tsdb_config(args), **_api_config(args),
            **_limit_config(args)))
        await collector.start()
    except (StorageError, SecurityConfigError, KubeConfigError, HookStoreError) as exc:
        die(str(exc))
    except OSError as exc:
        die(f"cannot use {args.data_dir if exc.filename else args.host}: "
            f"{exc.strerror or exc}")
    host = _shown(args.host)
    where = (f"duckdb in {Path(args.data_dir)}, acknowledged once durable" if durable
             else f"remote TSDB at {collector.config.tsdb.write}, acknowledged once accepted"
             if collector.config.tsdb is not None else "in memory, lost on restart")
    _say(f"gputel collector: gRPC on {host}:{collector.grpc_port}, "
         f"HTTP on http://{host}:{collector.http_port} (store: {where}; full rate kept "
         f"{args.retention:g} s)")
    child = None
    if agent_backend is not None:
        child = _spawn_agent(args, agent_backend, collector.grpc_port)
        _say(f"  console: http://{host}:{collector.http_port}/")
        _say(f"  nodes:   http://{host}:{collector.http_port}/api/v1/nodes")
        _say(f"  API doc: http://{host}:{collector.http_port}/docs")
        _say(f"  agent:   http://{host}:{args.agent_port}/metrics")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watch = asyncio.create_task(_watch_child(child, stop)) if child else None
    await stop.wait()
    if child is not None:
        await asyncio.to_thread(_stop_child, child)
    if watch is not None:
        watch.cancel()
    await collector.stop()
    _say("gputel: stopped")
    return 0 if child is None or child.returncode in (0, -signal.SIGTERM) else 1


def _spawn_agent(args: argparse.Namespace, backend: str, grpc_port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(agent_argv(args, backend, grpc_port))


def agent_argv(args: argparse.Namespace, backend: str, grpc_port: int) -> list[str]:
    """The command line of the agent `gputel up` starts beside its collector."""
    return [sys.executable, "-m", "gputel.cli", "agent", "--collector",
            f"localhost:{grpc_port}", "--backend", backend, "--rate", str(args.rate),
            "--gpus", str(args.gpus), "--seed", str(args.seed), "--node", args.node,
            "--agent-port", str(args.agent_port), "--flush-interval", str(args.flush_interval),
            "--outbox-frames", str(args.outbox_frames), "--log-level", args.log_level,
            "--spool-dir", str(Path(args.data_dir) / "agent-spool")
            if args.spool_dir == UP_SPOOL_DIR else args.spool_dir,
            "--spool-max-bytes", str(args.spool_max_bytes),
            "--reconnect-max", str(args.reconnect_max),
            "--refused-retry-interval", str(args.refused_retry_interval),
            "--max-clock-skew", str(args.max_clock_skew),
            "--attribution", args.attribution, "--kubelet-socket", args.kubelet_socket,
            "--proc-root", args.proc_root, "--metrics-compat", args.metrics_compat]


async def _watch_child(child: subprocess.Popen[bytes], stop: asyncio.Event) -> None:
    """If the agent exits by itself (bad backend, port taken), stop everything and say so."""
    code = await asyncio.to_thread(child.wait)
    if not stop.is_set():
        _say(f"gputel up: the agent exited with status {code}; stopping")
        stop.set()


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _shown(host: str) -> str:
    return "localhost" if host in ("0.0.0.0", "::", "") else host


def _say(line: str) -> None:
    print(line, flush=True)
