"""What the ingest edge admits: limits on hellos, frames and the resources they can grow.

Every count, size, range and rate an agent sends is checked here, before anything is
decoded or stored: sequence numbers, devices, metrics, blocks, holdings, workloads,
samples, the sample rate. The limits are configuration (one dataclass, filled from the
collector's flags); what they refuse is counted by reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gputel.collector.errors import InvalidFrameError
from gputel.collector.ingest.inventory import inventory_problem, processes_problem
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

NODE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$")
MAX_SEQ = 2**63 - 1  # sequence numbers are stored as signed 64-bit integers
MAX_ID_CHARS = 128


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on what agents can make the collector hold. Times in ns, sizes in bytes.

    `max_nodes`, `max_streams` and `max_series` refuse a Hello (RESOURCE_EXHAUSTED naming
    the limit); the per-frame bounds refuse a frame (INVALID_ARGUMENT); `inflight_bytes`
    bounds frames read but not yet acknowledged, over every stream (readers wait for room).
    """

    max_nodes: int = 10_000
    max_streams: int = 10_000
    max_series: int = 2_000_000
    max_devices: int = 1024
    max_metrics: int = 64
    min_rate_hz: float = 0.001
    max_rate_hz: float = 1000.0
    blocks_per_device: int = 4
    holdings_per_device: int = 64
    max_shares: int = 64
    max_workloads: int = 4096
    max_processes: int = 1024  # per device in one process list
    max_frame_samples: int = 1 << 22
    max_future_ns: int = 300 * 10**9
    max_past_ns: int = 86_400 * 10**9
    inflight_bytes: int = 256 * 1024 * 1024
    node_ttl_ns: int = 86_400 * 10**9


def hello_problem(hello: pb.Hello, limits: IngestLimits) -> str:
    """What is wrong with a Hello, or '' when nothing."""
    if not NODE_NAME.match(hello.node):
        return f"node name {hello.node[:64]!r} is not a valid host name"
    if not 0 < len(hello.agent_instance) <= MAX_ID_CHARS:
        return f"agent_instance must be 1 to {MAX_ID_CHARS} characters"
    if len(hello.devices) > limits.max_devices:
        return f"{len(hello.devices)} devices; at most {limits.max_devices}"
    uuids = [d.uuid for d in hello.devices]
    if any(not u or len(u) > MAX_ID_CHARS for u in uuids) or len(set(uuids)) != len(uuids):
        return f"every device needs a unique uuid of 1 to {MAX_ID_CHARS} characters"
    if not hello.metrics or len(set(hello.metrics)) != len(hello.metrics):
        return "metrics must be a non-empty list of distinct ids"
    if len(hello.metrics) > limits.max_metrics or any(
            not 0 < len(m) <= MAX_ID_CHARS for m in hello.metrics):
        return (f"at most {limits.max_metrics} metrics, each id 1 to {MAX_ID_CHARS} "
                "characters")
    rate = hello.sample_rate_hz
    if not (math.isfinite(rate) and limits.min_rate_hz <= rate <= limits.max_rate_hz):
        return (f"sample_rate_hz {rate} is outside [{limits.min_rate_hz}, "
                f"{limits.max_rate_hz}]")
    return inventory_problem(hello.inventory, len(hello.devices))


def check_frame_shape(frame: pb.Frame, n_devices: int, limits: IngestLimits) -> str:
    """The reason a frame is too large or out of range before decoding, or ''.

    Cheap (counts only), so a hostile frame costs next to nothing to refuse.
    """
    if not 0 < frame.seq <= MAX_SEQ:
        return f"sequence number {frame.seq} is outside 1 to 2^63-1"
    devices = max(n_devices, 1)
    if len(frame.blocks) > limits.blocks_per_device * devices:
        return (f"{len(frame.blocks)} blocks; at most {limits.blocks_per_device} per device "
                f"({limits.blocks_per_device * devices})")
    if len(frame.holdings) > limits.holdings_per_device * devices:
        return (f"{len(frame.holdings)} holdings; at most {limits.holdings_per_device} per "
                f"device ({limits.holdings_per_device * devices})")
    if any(len(h.shares) > limits.max_shares for h in frame.holdings):
        return f"a holding has more than {limits.max_shares} shares"
    if len(frame.workloads) > limits.max_workloads:
        return f"{len(frame.workloads)} workloads; at most {limits.max_workloads}"
    problem = (inventory_problem(frame.inventory, n_devices)
               or processes_problem(frame.processes, n_devices, limits.max_processes))
    if problem:
        return problem
    samples = sum(_block_values(b) for b in frame.blocks)
    if samples > limits.max_frame_samples:
        return f"{samples} values; at most {limits.max_frame_samples} per frame"
    return ""


def _block_values(block: pb.DeviceBlock) -> int:
    """Values a block declares: its grid of samples x metrics (float32 and exact rows), or
    its list of exact values if that is longer (decoding refuses such a block, later)."""
    rows = len(block.metrics) + len(block.int_metrics)
    return max(len(block.ts_delta_ns) * max(rows, 1), len(block.int_values))


def check_frame(frame: pb.Frame, n_devices: int, limits: IngestLimits) -> None:
    """Refuse a frame whose shape is out of bounds. Raises InvalidFrameError."""
    problem = check_frame_shape(frame, n_devices, limits)
    if problem:
        raise InvalidFrameError(f"frame {frame.seq}: {problem}",
                                frame.seq if 0 < frame.seq <= MAX_SEQ else 0)
