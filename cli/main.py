"""`gputel up | agent | collector | compact | top`: the one console script."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gputel.cli import options as o
from gputel.cli.commands import UP_SPOOL_DIR, run_agent, run_collector, run_compact, run_up
from gputel.cli.top import add_parser as add_top_parser
from gputel.cli.top import run_top


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The parser for every subcommand, with defaults from GPUTEL_* variables."""
    parser = o.OneLineParser(prog="gputel", description="High-frequency GPU telemetry.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=o.OneLineParser)
    up = sub.add_parser("up", help="collector plus a local agent (simulated GPUs if none)")
    collector = sub.add_parser("collector", help="the central collector")
    agent = sub.add_parser("agent", help="the per-node agent")
    compact = sub.add_parser("compact", help="merge a stopped collector's sealed blocks now")
    o.add(compact, env, "--data-dir", "./gputel-data", "the collector's data directory")
    o.add(compact, env, "--retention", "1h", "the collector's --retention (blocks span at most "
          "a tenth of it)", o.duration(1, 10 * 365 * 86400))
    for p in (up, collector):
        _collector_flags(p, env)
        _api_flags(p, env)
        _ingest_limit_flags(p, env)
        _limit_flags(p, env)
        _kube_flags(p, env)
    for p in (up, agent):
        _agent_flags(p, env, up=p is up)
    o.add(agent, env, "--collector", "localhost:50051", "collector gRPC address HOST:PORT; "
          "several comma-separated, or a DNS name with several records (a headless Service): "
          "the agent moves to another when its stream breaks", o.host_ports)
    o.add(agent, env, "--stream-compression", "gzip", "compression of the frames on the "
          "ingest stream (gRPC message compression; every gRPC server decodes gzip)",
          choices=("gzip", "none"))
    _security_flags(collector, agent, env)
    o.add(agent, env, "--http-host", "0.0.0.0", "agent HTTP listen address")
    add_top_parser(sub, env)
    for p in (up, collector, agent, compact):
        o.add(p, env, "--log-level", "info", "log level",
              choices=("debug", "info", "warning", "error"))
    return parser


def _collector_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    o.add(p, env, "--host", "0.0.0.0", "collector listen address (gRPC and HTTP)")
    o.add(p, env, "--grpc-port", 50051, "collector gRPC port (ingest and query)", o.PORT)
    o.add(p, env, "--http-port", 8080, "collector HTTP port (API, /metrics, probes)", o.PORT)
    o.add(p, env, "--data-dir", "./gputel-data", "directory of the collector's durable store")
    o.add(p, env, "--store", "duckdb", "duckdb: acknowledge frames once durable in --data-dir "
          "(DuckDB head + Parquet blocks); memory: keep nothing across restarts; remote: a "
          "Prometheus-compatible TSDB (--tsdb-url), collectors stateless replicas",
          choices=("duckdb", "memory", "remote"))
    _tsdb_flags(p, env)
    o.add(p, env, "--retention", "1h", "how long full-rate samples are kept (e.g. 1h, 3600)",
          o.duration(1, 10 * 365 * 86400))
    o.add(p, env, "--tiers", "10s:7d,5m:90d", "rollup tiers as STEP:RETENTION,...", o.tiers)
    o.add(p, env, "--max-disk", "0", "bound on the store's bytes on disk (e.g. 50GiB; 0: none): "
          "past it the oldest blocks go first, then the oldest rollups (counted)", o.size)
    o.add(p, env, "--max-points", 11000, "most points one range query may return per series",
          o.ranged(int, 10, 10**7))


def _tsdb_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Where a --store remote collector writes and reads."""
    o.add(p, env, "--tsdb-url", "", "base URL of the TSDB (remote write and the Prometheus "
          "query API under it)")
    o.add(p, env, "--tsdb-write-url", "", "remote-write base (vm-cluster: vminsert) or full "
          "endpoint (prometheus layout), when not --tsdb-url")
    o.add(p, env, "--tsdb-read-url", "", "query API base (vm-cluster: vmselect; Mimir: "
          ".../prometheus), when not --tsdb-url")
    o.add(p, env, "--tsdb-layout", "prometheus", "URL layout: prometheus (Prometheus, "
          "VictoriaMetrics single-node, Mimir, Thanos) or vm-cluster (/insert|/select/<tenant>"
          "/prometheus)", choices=("prometheus", "vm-cluster"))
    o.add(p, env, "--tsdb-tenant", "0", "VictoriaMetrics cluster tenant (accountID[:projectID])")
    o.add(p, env, "--tsdb-headers-file", "", "file of 'Name: value' lines sent with every TSDB "
          "request (Authorization, X-Scope-OrgID)")
    o.add(p, env, "--tsdb-sync-interval", "1s", "how often a replica reads the shared state",
          o.duration(0.05, 3600))
    o.add(p, env, "--tsdb-write-deadline", "30s", "how long a frame's write is retried before "
          "its stream is answered UNAVAILABLE", o.duration(1, 3600))


def _api_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Query API access, alerts, prices and remote write."""
    o.add(p, env, "--api-token-file", "", "file of 'token: read|admin' lines: the query APIs "
          "need a bearer token")
    o.add(p, env, "--api-tokens", "", "'token:role,...' (meant for GPUTEL_API_TOKENS)")
    o.add(p, env, "--metrics-auth", "off", "on: /metrics needs a read token",
          choices=("on", "off"))
    o.add(p, env, "--cors-origins", "", "comma list of browser origins allowed (CORS)")
    o.add(p, env, "--rate-limit", 100.0, "query requests per second per client (0: off)",
          o.ranged(float, 0, 1e6))
    o.add(p, env, "--rate-limit-burst", 200, "burst of the per-client rate limit",
          o.ranged(int, 1, 10**7))
    o.add(p, env, "--gpu-lost-periods", 100, "a GPU is lost after this many sample periods "
          "without data", o.ranged(int, 1, 10**7))
    o.add(p, env, "--gpu-lost-min-seconds", 10.0, "...but never sooner than this",
          o.ranged(float, 0, 86400))
    o.add(p, env, "--busy-threshold", 5.0, "percent utilization at which a GPU counts as busy",
          o.ranged(float, 0, 100))
    o.add(p, env, "--alert-interval", "5s", "how often alert rules run",
          o.duration(0.01, 86400))
    o.add(p, env, "--alert-temperature", 85.0, "over-temperature threshold (C)",
          o.ranged(float, -50, 200))
    o.add(p, env, "--alert-temperature-by-model", "",
          "per-model thresholds, e.g. H100=83,MI300X=90",
          o.model_table("--alert-temperature-by-model"))
    o.add(p, env, "--alert-idle-percent", 5.0, "allocated-but-idle: utilization below this...",
          o.ranged(float, 0, 100))
    o.add(p, env, "--alert-idle-for", "10m", "...for this long", o.duration(0.01, 365 * 86400))
    o.add(p, env, "--alert-xid-window", "5m", "an XID counter rise within this window fires",
          o.duration(1, 365 * 86400))
    o.add(p, env, "--webhook-url", "", "comma list of alert webhook receivers")
    o.add(p, env, "--webhook-secret-file", "", "file with the webhooks' HMAC-SHA256 secret")
    o.add(p, env, "--price-gpu-hour", 0.0, "default price per GPU-hour",
          o.ranged(float, 0, 1e9))
    o.add(p, env, "--price-gpu-hour-by-model", "", "per-model prices, e.g. H100=2.5,A100=1.2",
          o.model_table("--price-gpu-hour-by-model"))
    o.add(p, env, "--price-kwh", 0.0, "energy price per kWh", o.ranged(float, 0, 1e9))
    o.add(p, env, "--currency", "USD", "currency label of prices")
    o.add(p, env, "--compat", "", "comma list of compatibility APIs to serve beside /api/v1: "
          "primus-lens, kai-visualizer, gpu-monitoring, k8s-gpu", o.compat_names)
    o.add(p, env, "--watch-interval", "1s", "default period of gRPC Watch pushes",
          o.duration(0.01, 3600))
    o.add(p, env, "--remote-write-url", "", "Prometheus remote-write 1.0 endpoint ('' off)")
    o.add(p, env, "--remote-write-queue-samples", 500_000,
          "samples queued for remote write before the oldest are dropped",
          o.ranged(int, 1000, 10**9))
    o.add(p, env, "--remote-write-headers-file", "", "file of 'Name: value' lines sent with "
          "every remote write (Authorization, a tenant header)")
    o.add(p, env, "--remote-write-max-series", 200_000, "series remote write keeps state for; "
          "the least recently written are forgotten first", o.ranged(int, 1, 10**8))


def _ingest_limit_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    o.add(p, env, "--max-nodes", 10_000, "nodes the collector keeps; a new node past it is "
          "refused (RESOURCE_EXHAUSTED)", o.ranged(int, 1, 10**7))
    o.add(p, env, "--max-streams", 10_000, "ingest streams open at once",
          o.ranged(int, 1, 10**7))
    o.add(p, env, "--max-series", 2_000_000, "series (node x GPU x metric) the collector holds",
          o.ranged(int, 1, 10**9))
    o.add(p, env, "--max-memory", "0", "memory budget (e.g. 2GiB; 0: none): past it new frames "
          "wait (RESOURCE_EXHAUSTED) and an in-memory store evicts its oldest samples", o.size)
    o.add(p, env, "--ingest-inflight", "256MiB", "bytes of frames read but not yet "
          "acknowledged, over every stream; readers wait past it", o.size)
    o.add(p, env, "--node-ttl", "24h", "a node with no stream is forgotten after this long",
          o.duration(60, 10 * 365 * 86400))
    o.add(p, env, "--workload-retention", "24h", "how long an ended workload is kept",
          o.duration(60, 10 * 365 * 86400))
    o.add(p, env, "--max-workloads", 10_000, "workloads held; the oldest ended go first",
          o.ranged(int, 10, 10**7))
    o.add(p, env, "--retry-after", "5s", "how long a refused agent is told to wait "
          "(storage failing, a limit reached)", o.duration(0.1, 3600))
    o.add(p, env, "--mtls-any-node", "off", "on: a client certificate may stream as any node "
          "(a shared agent certificate); off: the node must be its CN or a DNS name",
          choices=("on", "off"))

def _kube_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """The Kubernetes API watch (collector/kube/)."""
    o.add(p, env, "--kubernetes", "auto", "watch the Kubernetes API for labels, owners, "
          "pending pods, nodes and queues: auto (in a cluster, or with --kubeconfig), on, off",
          choices=("auto", "on", "off"))
    o.add(p, env, "--kubeconfig", "", "kubeconfig file of the cluster to watch (empty: the "
          "pod's service account)")
    o.add(p, env, "--kube-annotations", "", "comma list of pod annotation keys that may be "
          "kept and shown (none by default: annotations can hold secrets)")
    o.add(p, env, "--kube-max-objects", 200_000, "objects of one kind held at most; more are "
          "refused and counted", o.ranged(int, 100, 10**8))


def _limit_flags(p: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """What the collector refuses to protect itself (issue 11)."""
    o.add(p, env, "--http-max-connections", 1000, "most HTTP connections open at once; "
          "beyond it the oldest one still sending headers is closed, else the new one",
          o.ranged(int, 1, 10**6))
    o.add(p, env, "--http-header-timeout", "10s", "close an HTTP connection whose request "
          "headers are not complete within this time", o.duration(0.01, 3600))
    o.add(p, env, "--query-max-series-points", 2_000_000, "most series x points one "
          "query may return", o.ranged(int, 1000, 10**9))
    o.add(p, env, "--query-max-samples", 20_000_000, "most raw samples one range query "
          "may read", o.ranged(int, 1000, 10**11))
    o.add(p, env, "--query-max-concurrent", 4, "costly queries (range, heatmap, "
          "statistics, cost) running at once", o.ranged(int, 1, 1024))
    o.add(p, env, "--query-queue-timeout", "2s", "how long a costly query waits for a "
          "slot before 429", o.duration(0, 600))
    o.add(p, env, "--log-repeat-limit", 10, "log records per minute per message template "
          "before the rest are dropped and counted (0: off)", o.ranged(int, 0, 10**6))


def _security_flags(collector: argparse.ArgumentParser, agent: argparse.ArgumentParser,
                    env: Mapping[str, str]) -> None:
    o.add(collector, env, "--tls-cert", "", "PEM certificate: serve gRPC and HTTP over TLS")
    o.add(collector, env, "--tls-key", "", "PEM private key of --tls-cert")
    o.add(collector, env, "--tls-client-ca", "",
          "PEM CA: gRPC clients (agents) must present a certificate it signed (mutual TLS)")
    o.add(collector, env, "--token-file", "",
          "file of bearer tokens, one per line: ingest streams must present one")
    o.add(agent, env, "--tls-ca", "", "PEM CA that signed the collector's certificate (TLS)")
    o.add(agent, env, "--tls-cert", "", "PEM client certificate for mutual TLS")
    o.add(agent, env, "--tls-key", "", "PEM private key of --tls-cert")
    o.add(agent, env, "--token-file", "", "file whose first line is the ingest bearer token")


def default_spool_dir(env: Mapping[str, str]) -> str:
    """The agent's spool outside the working directory: $XDG_STATE_HOME/gputel/agent-spool,
    else ~/.local/state/gputel/agent-spool (the DaemonSet sets GPUTEL_SPOOL_DIR itself)."""
    home = env.get("HOME")
    base = env.get("XDG_STATE_HOME") or (str(Path(home) / ".local" / "state") if home
                                         else tempfile.gettempdir())
    return str(Path(base) / "gputel" / "agent-spool")


def _agent_flags(p: argparse.ArgumentParser, env: Mapping[str, str], up: bool) -> None:
    from gputel.agent.backends import CHOICES  # noqa: PLC0415 - keeps --help fast

    o.add(p, env, "--backend", "auto", "GPU library", choices=CHOICES)
    o.add(p, env, "--rate", 10.0, "samples per second per GPU (Hz)", o.positive_rate)
    o.add(p, env, "--gpus", 4, "number of simulated GPUs (sim backend)", o.ranged(int, 1, 256))
    o.add(p, env, "--seed", 0, "seed of the simulated load (sim backend)", int)
    o.add(p, env, "--node", env.get("NODE_NAME") or socket.gethostname(),
          "node name reported to the collector (Kubernetes: from NODE_NAME)")
    o.add(p, env, "--agent-port", 9401, "agent HTTP port (/metrics, /healthz, /readyz)", o.PORT)
    o.add(p, env, "--flush-interval", 1.0, "seconds of samples per frame",
          o.ranged(float, 0.01, 60))
    o.add(p, env, "--outbox-frames", 3600, "frames kept while the collector is away",
          o.ranged(int, 1, 10**6))
    o.add(p, env, "--spool-max-bytes", 512 * 1024 * 1024, "bytes of frames kept while the "
          "collector is away (spool or memory); beyond it the oldest are dropped, counted",
          o.ranged(int, 1024 * 1024, 2**40))
    o.add(p, env, "--spool-dir", UP_SPOOL_DIR if up else default_spool_dir(env),
          "directory of the agent's on-disk spool of unacknowledged frames ('' for memory)")
    o.add(p, env, "--reconnect-max", 2.0, "longest reconnect backoff (s) once a collector "
          "has answered (10 s before that)", o.ranged(float, 0.2, 600))
    o.add(p, env, "--refused-retry-interval", 30.0, "seconds (to twice that) between "
          "connects while the collector refuses this agent", o.ranged(float, 1, 86400))
    o.add(p, env, "--max-clock-skew", 10.0, "not ready while this node's clock is further "
          "than this (s) from the collector's", o.ranged(float, 0.001, 86400))
    o.add(p, env, "--attribution", "auto",
          "who holds each GPU: kubelet (PodResources socket), sim (simulated pods, for "
          "simulated GPUs), none, or auto (kubelet when its socket exists, else sim on "
          "simulated GPUs, else none)", choices=("auto", "kubelet", "sim", "none"))
    o.add(p, env, "--kubelet-socket", "/var/lib/kubelet/pod-resources/kubelet.sock",
          "the kubelet's PodResources unix socket")
    o.add(p, env, "--proc-root", "",
          "host /proc for process attribution (needs hostPID); '' for none")
    o.add(p, env, "--metrics-compat", "",
          "also export dcgm-exporter's metric names and labels on /metrics ('dcgm')",
          choices=("", "dcgm"))


# httpx logs one INFO line per request ("HTTP Request: POST ..."): one per remote-write
# batch and webhook, which would drown the collector's own lines. Their warnings stay.
QUIET_BELOW_DEBUG = ("httpx", "httpcore")


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (a logging level name); HTTP client chatter only at debug."""
    number = logging.getLevelName(level.upper())
    logging.basicConfig(level=number, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_BELOW_DEBUG:
        logging.getLogger(name).setLevel(number if number <= logging.DEBUG else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `gputel` console script."""
    env = o.environ()
    args = build_parser(env).parse_args(argv)
    configure_logging(args.log_level)
    command = {"up": run_up, "collector": run_collector, "agent": run_agent,
               "compact": run_compact, "top": run_top}[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
