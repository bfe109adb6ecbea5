"""Pure encode/decode of columnar frames, shared by the agent and the collector.

A frame holds, per device, a block of samples: timestamps (Unix ns) delta-encoded as
sint64 (around the tick period, `ts_step_ns`); whole-number metrics (the catalogue's
`exact` ones, in their `wire_unit`) as exact int64, each row delta-encoded over its
present samples (zigzag varints, with a presence bitmap when some are missing); a block
read at the same ticks as an earlier one of its frame names that block instead of
repeating the timestamps (`ts_of_block`, sent to collectors that say they decode it); any other
metric as little-endian float32, metric-major (the only form agents sent before exact
integers; still decoded). Decoding
validates everything a hostile or broken agent could get wrong, raises FrameError with a
message that names the problem, and yields float64 rows in the catalogue's API units.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gputel.proto import metrics as catalogue
from gputel.proto.gputel.v1 import telemetry_pb2 as pb

F32 = np.dtype("<f4")
# Bounds that keep every decoded timestamp inside int64 (2**62 + 2**20 * 2**40 < 2**63).
MAX_BASE_TS_NS = 2**62
MAX_DELTA_NS = 2**40  # about 18 minutes between two samples of one block
MAX_BLOCK_SAMPLES = 2**20
# Integer values are exact as float64 up to 2**53; a delta spans at most twice that, so a
# row's running sum cannot overflow int64 before the first value out of range is seen.
MAX_EXACT = 2**53
MAX_INT_DELTA = 2**54

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


class FrameError(ValueError):
    """A frame or block is malformed; the message says how."""


@dataclass(frozen=True, slots=True)
class Block:
    """Samples of one device: ts_ns[n] and values[len(metrics), n] in the catalogue's API
    units (NaN = not sampled): float64, exact for whole numbers up to 2**53; a block of
    float32 rows only (an agent from before exact integers) stays a float32 view of the
    message's bytes, as precise and without a copy (a collector under --max-memory holds
    several 10 MB frames of them in flight)."""

    device: int
    metrics: tuple[int, ...]
    ts_ns: Int64Array
    values: Float64Array | Float32Array

    @property
    def samples(self) -> int:
        """Number of non-NaN values in the block."""
        return int(np.count_nonzero(~np.isnan(self.values)))


# ---------------------------------------------------------------------------- encode
def encode_block(device: int, metrics: tuple[int, ...], ts_ns: Int64Array,
                 values: npt.ArrayLike, exact: Sequence[bool] | None = None) -> pb.DeviceBlock:
    """One DeviceBlock of values[len(metrics), len(ts_ns)], NaN = not sampled.

    Rows where `exact` holds (the agent passes the catalogue's `exact`) are in wire units,
    rounded to whole numbers and sent as int64; a value that cannot be exact (beyond
    +-2**53, infinite) is not sent. The other rows (all of them without `exact`, as agents
    before exact integers sent them) go as float32 in API units. Ticks where no row has a
    value are left out.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape != (len(metrics), ts.size):
        raise FrameError(f"values shape {vals.shape} != ({len(metrics)}, {ts.size})")
    is_int = np.zeros(len(metrics), dtype=bool) if exact is None else np.asarray(exact, bool)
    present = np.abs(vals) <= MAX_EXACT  # False for NaN and infinity
    present[~is_int] = ~np.isnan(vals[~is_int])
    ticks = present.any(axis=0)
    if not ticks.all():
        ts, vals, present = ts[ticks], vals[:, ticks], present[:, ticks]
    base = int(ts[0]) if ts.size else 0
    deltas = np.diff(ts, prepend=base)
    step = int(deltas[1:].min()) if ts.size > 2 else 0  # the tick period, on a schedule
    if step > 0:
        deltas[1:] -= step
    block = pb.DeviceBlock(device=device, base_ts_ns=base, ts_delta_ns=deltas.tolist(),
                           ts_step_ns=max(step, 0))
    if not is_int.all():
        block.metrics.extend(m for m, i in zip(metrics, is_int, strict=True) if not i)
        block.values = np.ascontiguousarray(vals[~is_int], dtype=F32).tobytes()
    if is_int.any():
        block.int_metrics.extend(m for m, i in zip(metrics, is_int, strict=True) if i)
        mask = present[is_int]
        if not ts.size:
            return block
        block.int_values.extend(_row_deltas(np.rint(vals[is_int][mask]).astype(np.int64),
                                            np.flatnonzero(mask) // ts.size).tolist())
        if not mask.all():
            block.int_present = np.packbits(mask, axis=None, bitorder="little").tobytes()
    return block


def share_timestamps(blocks: Sequence[pb.DeviceBlock]) -> None:
    """Point each block whose timestamps equal an earlier block's at that block
    (`ts_of_block`) and clear its own: a node's GPUs are read at the same ticks."""
    seen: dict[tuple[int, int, tuple[int, ...]], int] = {}
    for position, block in enumerate(blocks, start=1):
        if block.ts_of_block:
            continue
        key = (block.base_ts_ns, block.ts_step_ns, tuple(block.ts_delta_ns))
        first = seen.setdefault(key, position)
        if first != position:
            block.ts_of_block = first
            block.ClearField("base_ts_ns")
            block.ClearField("ts_delta_ns")
            block.ClearField("ts_step_ns")


def unshare_timestamps(frame: pb.Frame) -> bool:
    """Give every block that shares timestamps its own copy again (for a collector that
    does not decode `ts_of_block`); True when the frame changed."""
    changed = False
    for block in frame.blocks:
        if 0 < block.ts_of_block <= len(frame.blocks):
            source = frame.blocks[block.ts_of_block - 1]
            block.base_ts_ns = source.base_ts_ns
            block.ts_delta_ns[:] = source.ts_delta_ns
            block.ts_step_ns = source.ts_step_ns
            block.ts_of_block = 0
            changed = True
    return changed


def _row_deltas(flat: Int64Array, rows: Int64Array) -> Int64Array:
    """Each value minus the previous one of its row; a row's first value as it is."""
    deltas = np.diff(flat, prepend=0)
    firsts = np.flatnonzero(np.diff(rows, prepend=-1))
    deltas[firsts] = flat[firsts]
    return deltas


# ---------------------------------------------------------------------------- decode
def decode_block(block: pb.DeviceBlock, n_devices: int, per_unit: Sequence[int],
                 shared_ts: Int64Array | None = None) -> Block:
    """Decode and validate one block against the agent's Hello; `per_unit[m]` is the
    wire units per API unit of Hello.metrics[m]; `shared_ts` the timestamps of the block
    its `ts_of_block` names. Raises FrameError."""
    if block.device >= n_devices:
        raise FrameError(f"block names device {block.device}; the hello declared {n_devices}")
    metrics = (*block.metrics, *block.int_metrics)
    if not metrics:
        raise FrameError("block lists no metrics")
    if max(metrics) >= len(per_unit):
        raise FrameError(f"block names metric {max(metrics)}; "
                         f"the hello declared {len(per_unit)}")
    if len(set(metrics)) != len(metrics):
        raise FrameError("block lists a metric twice")
    if shared_ts is None:
        n = len(block.ts_delta_ns)
        if n > MAX_BLOCK_SAMPLES:
            raise FrameError(f"block holds {n} samples; at most {MAX_BLOCK_SAMPLES}")
        ts = _timestamps(block, n)
    else:
        ts, n = shared_ts, shared_ts.size
    floats = _float_rows(block, n) if block.metrics else None
    if not block.int_metrics:
        assert floats is not None
        return Block(device=block.device, metrics=metrics, ts_ns=ts, values=floats)
    values = _int_rows(block, n)
    divisors = np.array([per_unit[m] for m in block.int_metrics], dtype=np.float64)
    if (divisors != 1).any():
        values /= divisors[:, None]
    if floats is not None:
        values = np.concatenate((floats.astype(np.float64), values))
    return Block(device=block.device, metrics=metrics, ts_ns=ts, values=values)


def _timestamps(block: pb.DeviceBlock, n: int) -> Int64Array:
    if not 0 <= block.base_ts_ns < MAX_BASE_TS_NS:
        raise FrameError("block base timestamp is outside 1970 to 2116")
    deltas = np.array(block.ts_delta_ns, dtype=np.int64)
    if not 0 <= block.ts_step_ns <= MAX_DELTA_NS:
        raise FrameError(f"block timestamp step is negative or above {MAX_DELTA_NS} ns")
    if n and (deltas[0] < 0 or deltas.max() > MAX_DELTA_NS):
        raise FrameError(f"a timestamp delta is negative or above {MAX_DELTA_NS} ns")
    if n > 1 and block.ts_step_ns:
        deltas[1:] += block.ts_step_ns  # both bounded above: cannot overflow
        if deltas.max() > MAX_DELTA_NS:
            raise FrameError(f"a timestamp delta is above {MAX_DELTA_NS} ns")
    if n > 1 and np.any(deltas[1:] <= 0):
        raise FrameError("block timestamps do not strictly increase")
    ts: Int64Array = np.cumsum(deltas) + np.int64(block.base_ts_ns)  # bounded: no overflow
    return ts


def _float_rows(block: pb.DeviceBlock, n: int) -> Float32Array:
    """The float32 rows (`values`), a view of the message's bytes."""
    need = 4 * n * len(block.metrics)
    if len(block.values) != need:
        raise FrameError(f"block values hold {len(block.values)} bytes; "
                         f"{n} samples x {len(block.metrics)} metrics need {need}")
    values = np.frombuffer(block.values, dtype=F32).reshape(len(block.metrics), n)
    if np.isinf(values).any():
        raise FrameError("block holds an infinite value")
    return values


def _int_rows(block: pb.DeviceBlock, n: int) -> Float64Array:
    """The exact rows (`int_values`, `int_present`), in wire units, NaN where absent."""
    k = len(block.int_metrics)
    mask = _presence(block, k, n)
    present = k * n if mask is None else int(np.count_nonzero(mask))
    if len(block.int_values) != present:
        raise FrameError(f"block int_values holds {len(block.int_values)} values; "
                         f"its presence bits say {present}")
    deltas = np.array(block.int_values, dtype=np.int64)  # twice as fast as np.fromiter
    if present and (deltas.max() > MAX_INT_DELTA or deltas.min() < -MAX_INT_DELTA):
        raise FrameError("an integer delta is beyond +-2^54")
    if mask is None:
        sums = deltas.reshape(k, n)
    else:
        sums = np.zeros((k, n), dtype=np.int64)
        sums[mask] = deltas
    np.cumsum(sums, axis=1, out=sums)  # absent samples carry the previous value
    if present and (sums.max() > MAX_EXACT or sums.min() < -MAX_EXACT):
        raise FrameError("an integer value is beyond +-2^53")
    values = sums.astype(np.float64)
    if mask is not None:
        values[~mask] = np.nan
    return values


def _presence(block: pb.DeviceBlock, k: int, n: int) -> npt.NDArray[np.bool_] | None:
    """The (k, n) presence bits of the exact rows; None when every sample is present."""
    if not block.int_present:
        return None
    if len(block.int_present) != (k * n + 7) // 8:
        raise FrameError(f"block int_present holds {len(block.int_present)} bytes; "
                         f"{k} metrics x {n} samples need {(k * n + 7) // 8}")
    bits = np.frombuffer(block.int_present, dtype=np.uint8)
    mask: npt.NDArray[np.bool_] = np.unpackbits(bits, count=k * n, bitorder="little").view(
        bool).reshape(k, n)
    return mask


def decode_frame(frame: pb.Frame, n_devices: int, metric_ids: Sequence[str]) -> list[Block]:
    """Decode every block of a frame against its Hello's devices count and metric ids;
    all or nothing. Values come out in the catalogue's API units. Raises FrameError."""
    if frame.seq == 0:
        raise FrameError("frame has no sequence number (seq 0)")
    per_unit = catalogue.wire_per_unit(metric_ids)
    return _decode_alike(frame, n_devices, per_unit) or _decode_each(frame, n_devices, per_unit)


def _decode_each(frame: pb.Frame, n_devices: int, per_unit: Sequence[int]) -> list[Block]:
    """Every block on its own, each checked on its own. Raises FrameError."""
    decoded: list[Block] = []
    for position, block in enumerate(frame.blocks, start=1):
        decoded.append(decode_block(block, n_devices, per_unit,
                                    _shared_timestamps(block, position, frame, decoded)))
    return decoded


def _decode_alike(frame: pb.Frame, n_devices: int, per_unit: Sequence[int]
                  ) -> list[Block] | None:
    """The frame an agent sends every second, at once: the first block with its timestamps
    and exact rows, every other block the same metrics at the first block's ticks, all
    present. The first block is decoded and checked as `decode_block` does; the others'
    values in one array (per-block numpy calls were a fifth of a frame's ingest cost).
    None when the frame is not of that form or a check fails: `_decode_each` then decodes
    it, and names the problem. Raises FrameError (from the first block)."""
    blocks = frame.blocks
    if len(blocks) < 2:
        return None
    first = blocks[0]
    ints = first.int_metrics
    if first.metrics or first.int_present or first.ts_of_block or not ints:
        return None
    for b in blocks[1:]:
        if (b.ts_of_block != 1 or b.device >= n_devices or b.metrics or b.values
                or b.int_present or b.base_ts_ns or b.ts_step_ns or b.ts_delta_ns
                or b.int_metrics != ints):
            return None
    head = decode_block(first, n_devices, per_unit)
    k, n = len(ints), head.ts_ns.size
    rows = [b.int_values for b in blocks[1:]]  # each access builds a container: once
    if any(len(r) != k * n for r in rows):
        return None
    deltas = np.fromiter(itertools.chain.from_iterable(rows), np.int64, len(rows) * k * n)
    if deltas.size and (deltas.max() > MAX_INT_DELTA or deltas.min() < -MAX_INT_DELTA):
        return None
    sums = deltas.reshape(len(blocks) - 1, k, n)
    np.cumsum(sums, axis=2, out=sums)
    if sums.size and (sums.max() > MAX_EXACT or sums.min() < -MAX_EXACT):
        return None
    values = sums.astype(np.float64)
    divisors = np.array([per_unit[m] for m in ints], dtype=np.float64)
    if (divisors != 1).any():
        values /= divisors[None, :, None]
    stamps = np.tile(head.ts_ns, (len(rows), 1))  # a row each: blocks own their timestamps
    return [head, *(Block(device=b.device, metrics=head.metrics, ts_ns=stamps[i],
                          values=values[i]) for i, b in enumerate(blocks[1:]))]


def _shared_timestamps(block: pb.DeviceBlock, position: int, frame: pb.Frame,
                       decoded: list[Block]) -> Int64Array | None:
    """The timestamps block `position` (1-based) shares with an earlier block of the
    frame, None when it has its own. Raises FrameError."""
    k = block.ts_of_block
    if not k:
        return None
    if k >= position:
        raise FrameError(f"block {position} shares the timestamps of block {k}, "
                         "which is not an earlier block")
    if block.base_ts_ns or block.ts_step_ns or block.ts_delta_ns:
        raise FrameError(f"block {position} shares timestamps and has its own")
    if frame.blocks[k - 1].ts_of_block:
        raise FrameError(f"block {position} shares the timestamps of block {k}, "
                         "which shares another's")
    return decoded[k - 1].ts_ns.copy()  # the block owns its timestamps
