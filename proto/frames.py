"""Pure encode/decode of columnar frames, shared by the agent and the collector.

A frame holds, per device, a block of samples: timestamps (Unix ns) delta-encoded
as sint64 and the metric values packed as little-endian float32, metric-major.
Decoding validates everything a hostile or broken agent could get wrong and
raises FrameError with a message that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.proto.gputel.v1 import telemetry_pb2 as pb

F32 = np.dtype("<f4")
# Bounds that keep every decoded timestamp inside int64 (2**62 + 2**20 * 2**40 < 2**63).
MAX_BASE_TS_NS = 2**62
MAX_DELTA_NS = 2**40  # about 18 minutes between two samples of one block
MAX_BLOCK_SAMPLES = 2**20

Int64Array = npt.NDArray[np.int64]
Float32Array = npt.NDArray[np.float32]


class FrameError(ValueError):
    """A frame or block is malformed; the message says how."""


@dataclass(frozen=True, slots=True)
class Block:
    """Samples of one device: ts_ns[n] and values[len(metrics), n] (NaN = not sampled)."""

    device: int
    metrics: tuple[int, ...]
    ts_ns: Int64Array
    values: Float32Array

    @property
    def samples(self) -> int:
        """Number of non-NaN values in the block."""
        return int(np.count_nonzero(~np.isnan(self.values)))


def encode_block(device: int, metrics: tuple[int, ...], ts_ns: Int64Array,
                 values: Float32Array) -> pb.DeviceBlock:
    """Build one DeviceBlock; values has shape (len(metrics), len(ts_ns))."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    vals = np.ascontiguousarray(values, dtype=F32)
    if vals.shape != (len(metrics), ts.size):
        raise FrameError(f"values shape {vals.shape} != ({len(metrics)}, {ts.size})")
    base = int(ts[0]) if ts.size else 0
    deltas = np.diff(ts, prepend=base)
    return pb.DeviceBlock(device=device, metrics=metrics, base_ts_ns=base,
                          ts_delta_ns=deltas.tolist(), values=vals.tobytes())


def decode_block(block: pb.DeviceBlock, n_devices: int, n_metrics: int) -> Block:
    """Decode and validate one block against the agent's Hello. Raises FrameError."""
    if block.device >= n_devices:
        raise FrameError(f"block names device {block.device}; the hello declared {n_devices}")
    metrics = tuple(block.metrics)
    if not metrics:
        raise FrameError("block lists no metrics")
    if max(metrics) >= n_metrics:
        raise FrameError(f"block names metric {max(metrics)}; the hello declared {n_metrics}")
    if len(set(metrics)) != len(metrics):
        raise FrameError("block lists a metric twice")
    n = len(block.ts_delta_ns)
    if len(block.values) != 4 * n * len(metrics):
        raise FrameError(f"block values hold {len(block.values)} bytes; "
                         f"{n} samples x {len(metrics)} metrics need {4 * n * len(metrics)}")
    if n > MAX_BLOCK_SAMPLES:
        raise FrameError(f"block holds {n} samples; at most {MAX_BLOCK_SAMPLES}")
    if not 0 <= block.base_ts_ns < MAX_BASE_TS_NS:
        raise FrameError("block base timestamp is outside 1970 to 2116")
    deltas = np.array(block.ts_delta_ns, dtype=np.int64)
    if n and (deltas[0] < 0 or deltas.max() > MAX_DELTA_NS):
        raise FrameError(f"a timestamp delta is negative or above {MAX_DELTA_NS} ns")
    if n > 1 and np.any(deltas[1:] <= 0):
        raise FrameError("block timestamps do not strictly increase")
    ts = np.cumsum(deltas) + np.int64(block.base_ts_ns)  # bounded above: cannot overflow
    values = np.frombuffer(block.values, dtype=F32).reshape(len(metrics), n)
    if np.isinf(values).any():
        raise FrameError("block holds an infinite value")
    return Block(device=block.device, metrics=metrics, ts_ns=ts, values=values)


def decode_frame(frame: pb.Frame, n_devices: int, n_metrics: int) -> list[Block]:
    """Decode every block of a frame; all or nothing. Raises FrameError."""
    if frame.seq == 0:
        raise FrameError("frame has no sequence number (seq 0)")
    return [decode_block(b, n_devices, n_metrics) for b in frame.blocks]
