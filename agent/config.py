"""What an agent is configured with, besides its backend (built by the CLI from flags)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gputel.agent.attribution.podresources import DEFAULT_SOCKET_PATH
from gputel.agent.outbox import DEFAULT_MAX_BYTES


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """What an agent needs besides its backend. Rates in Hz, durations in seconds."""

    node: str
    collector: str
    rate_hz: float = 10.0
    flush_seconds: float = 1.0
    http_host: str = "0.0.0.0"
    http_port: int = 9401
    outbox_frames: int = 3600
    # Bytes of encoded frames held (spool or memory); beyond it the oldest are dropped.
    spool_max_bytes: int = DEFAULT_MAX_BYTES
    window: int = 32
    max_ticks: int | None = None
    # Reconnect backoff cap before any collector welcomed this agent, and once one has.
    backoff_max_seconds: float = 10.0
    reconnect_max_seconds: float = 2.0
    # The wait (to twice that) after the collector refused the Hello (not ready meanwhile).
    refused_retry_seconds: float = 30.0
    # Not ready while the clock is further than this off the collector's (its Welcome).
    max_clock_skew_seconds: float = 10.0
    spool_dir: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_file: Path | None = None
    # "kubelet": attribute GPUs to pods through the kubelet's PodResources socket (and
    # processes through proc_root when the backend lists them); "sim": simulated pods on
    # the sim backend's GPUs (demos); "none": attribute nothing.
    attribution: str = "none"
    kubelet_socket: str = DEFAULT_SOCKET_PATH
    kubelet_poll_seconds: float = 2.0
    proc_root: Path | None = None
    # Device inventory is read again this often (sent only when it changed); a device's
    # process list is sent when its processes change, else at most this often.
    inventory_seconds: float = 30.0
    processes_seconds: float = 5.0
    # "dcgm": /metrics also carries dcgm-exporter's names, units and labels (DCGM_FI_DEV_*).
    metrics_compat: str = ""
    # "gzip": frames go gzip-compressed on the ingest stream (gRPC message compression,
    # about 0.6x their size); "none": as encoded.
    stream_compression: str = "gzip"
