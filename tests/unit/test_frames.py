"""The columnar frame codec round-trips and refuses malformed blocks."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gputel.proto import frames
from gputel.proto import metrics as catalogue
from gputel.proto.gputel.v1 import telemetry_pb2 as pb


def test_block_round_trips_through_the_wire() -> None:
    ts = np.array([1_000, 1_100, 1_250, 2_000], dtype=np.int64) + 1_700_000_000 * 10**9
    values = np.array([[1, 2, np.nan, 4], [5.5, 6.5, 7.5, 8.5]], dtype=np.float32)
    block = frames.encode_block(3, (0, 2), ts, values)
    wire = pb.Frame(seq=9, blocks=[block]).SerializeToString()
    (decoded,) = frames.decode_frame(pb.Frame.FromString(wire), n_devices=4,
                                       metric_ids=("a", "b", "c"))
    assert decoded.device == 3
    assert decoded.metrics == (0, 2)
    np.testing.assert_array_equal(decoded.ts_ns, ts)
    np.testing.assert_array_equal(decoded.values, values)
    assert decoded.samples == 7
    assert block.ts_step_ns == 100  # the least step, then each delta beyond it
    assert list(block.ts_delta_ns) == [0, 0, 50, 650]


def test_a_thousand_samples_cost_few_bytes_per_sample() -> None:
    ts = 1_700_000_000 * 10**9 + 100_000_000 * np.arange(1000, dtype=np.int64)
    block = frames.encode_block(0, (0,), ts, np.zeros((1, 1000), dtype=np.float32))
    assert len(block.SerializeToString()) < 1000 * (4 + 5)


def _changed(good: pb.DeviceBlock, change: dict[str, object]) -> pb.DeviceBlock:
    """A copy of `good` with the fields in `change` replaced."""
    bad = pb.DeviceBlock()
    bad.CopyFrom(good)
    for field, value in change.items():
        bad.ClearField(field)
        if isinstance(value, list):
            getattr(bad, field).extend(value)
        else:
            setattr(bad, field, value)
    return bad


@pytest.mark.parametrize(("change", "words"), [
    ({"device": 4}, "device 4"),
    ({"metrics": []}, "no metrics"),
    ({"metrics": [0, 0]}, "twice"),
    ({"values": b"\x00" * 7}, "bytes"),
    ({"ts_delta_ns": [0, 5, -5]}, "increase"),
    ({"ts_step_ns": -1}, "step is negative"),
    ({"ts_step_ns": 2**41}, "step is negative or above"),
    ({"ts_delta_ns": [0, 2**40, 0]}, "above"),
])
def test_malformed_blocks_raise_frame_error(change: dict[str, object], words: str) -> None:
    good = frames.encode_block(0, (0, 1), np.array([1, 2, 3], dtype=np.int64),
                               np.ones((2, 3), dtype=np.float32))
    bad = _changed(good, change)
    with pytest.raises(frames.FrameError, match=words):
        frames.decode_block(bad, n_devices=4, per_unit=(1, 1, 1))


def test_int64_overflow_in_deltas_is_refused() -> None:
    block = pb.DeviceBlock(device=0, metrics=[0], base_ts_ns=2**61,
                           ts_delta_ns=[0, 2**62, 2**62], values=b"\x00" * 12)
    with pytest.raises(frames.FrameError, match="delta"):
        frames.decode_block(block, 1, (1,))


# ---------------------------------------------------------------- exact integer rows
T0 = 1_800_000_000 * 10**9


def _wire(block: pb.DeviceBlock) -> pb.Frame:
    return pb.Frame.FromString(pb.Frame(seq=1, blocks=[block]).SerializeToString())


def test_exact_rows_round_trip_as_integers_divided_once_into_api_units() -> None:
    ts = T0 + 100_000_000 * np.arange(4, dtype=np.int64)
    mem = [140_000_000_001.0, 140_000_000_003.0, np.nan, 2**53]  # bytes; 2**53 still exact
    energy = [30_000_000_123.0, 30_000_070_124.0, 30_000_140_999.0, 30_000_211_000.0]  # mJ
    block = frames.encode_block(1, (0, 1), ts, np.array([mem, energy]), (True, True))
    assert not block.values
    assert list(block.int_metrics) == [0, 1]
    assert list(block.int_values)[:3] == [140_000_000_001, 2, 2**53 - 140_000_000_003]
    (decoded,) = frames.decode_frame(_wire(block), 2, ("mem_used", "energy"))
    assert decoded.values.dtype == np.float64
    np.testing.assert_array_equal(decoded.values[0], mem)
    assert decoded.values[1].tolist() == [v / 1000 for v in energy]  # joules, rounded once
    assert [round(v * 1000) for v in decoded.values[1]] == energy  # every mJ is still there


def test_absent_samples_cost_a_bit_and_empty_ticks_nothing() -> None:
    ts = T0 + 10_000_000 * np.arange(10, dtype=np.int64)
    row = np.full(10, np.nan)
    row[::5] = [70_000, 71_000]  # a field read at a fifth of the tick rate
    other = np.full(10, np.nan)
    other[5] = 40
    block = frames.encode_block(0, (2, 3), ts, np.array([row, other]), (True, True))
    assert len(block.ts_delta_ns) == 2  # the eight ticks with no value are left out
    assert list(block.int_values) == [70_000, 1_000, 40]
    assert len(block.int_present) == 1
    (decoded,) = frames.decode_frame(_wire(block), 1, ("a", "b", "power", "temperature"))
    assert decoded.ts_ns.tolist() == [int(ts[0]), int(ts[5])]
    np.testing.assert_array_equal(decoded.values, [[70.0, 71.0], [np.nan, 40.0]])


def test_an_old_float32_frame_still_decodes_in_api_units() -> None:
    ts = T0 + np.arange(2, dtype=np.int64)
    old = pb.DeviceBlock(device=0, metrics=[0, 1], base_ts_ns=int(ts[0]), ts_delta_ns=[0, 1],
                         values=np.array([[650.5, 651.25], [3.0e7, 3.0e7]], "<f4").tobytes())
    (decoded,) = frames.decode_frame(_wire(old), 1, ("power", "energy"))
    assert decoded.values.dtype == np.float32  # a view of the bytes: as precise, no copy
    np.testing.assert_array_equal(decoded.values, [[650.5, 651.25], [3.0e7, 3.0e7]])  # watts


def test_float_and_exact_rows_share_a_block() -> None:
    ts = T0 + np.arange(2, dtype=np.int64)
    block = frames.encode_block(0, (0, 1), ts, np.array([[0.25, 0.5], [1000, 2000]]),
                                (False, True))
    (decoded,) = frames.decode_frame(_wire(block), 1, ("uncatalogued", "power"))
    assert decoded.metrics == (0, 1)
    np.testing.assert_array_equal(decoded.values, [[0.25, 0.5], [1.0, 2.0]])


def test_a_value_that_cannot_be_exact_is_not_sent() -> None:
    ts = T0 + np.arange(3, dtype=np.int64)
    block = frames.encode_block(0, (0,), ts, np.array([[1.0, 2.0**60, np.inf]]), (True,))
    (decoded,) = frames.decode_frame(_wire(block), 1, ("mem_used",))
    assert decoded.values.tolist() == [[1.0]]


@pytest.mark.parametrize(("change", "words"), [
    ({"int_values": [1, 2]}, "presence bits say 3"),
    ({"int_present": b"\x07\x00"}, "int_present holds 2 bytes"),
    ({"int_values": [1, 2**55, 0]}, "beyond +-2^54"),
    ({"int_values": [2**53, 2**53, 0]}, "beyond +-2^53"),
    ({"int_values": [-(2**54), -(2**54), 0]}, "beyond +-2^53"),
    ({"metrics": [0]}, "twice"),
    ({"int_metrics": [5]}, "metric 5"),
])
def test_malformed_exact_rows_raise_frame_error(change: dict[str, object], words: str) -> None:
    good = frames.encode_block(0, (0,), T0 + np.arange(3, dtype=np.int64),
                               np.array([[1.0, 2.0, 3.0]]), (True,))
    bad = _changed(good, change)
    if "metrics" in change:
        bad.values = b"\x00" * 12
    with pytest.raises(frames.FrameError, match=re.escape(words)):
        frames.decode_block(bad, 1, (1, 1))


# ------------------------------------------------ a frame's alike blocks decoded at once
ALIKE_IDS = ("gpu_util", "mem_used", "power", "energy")  # percent, bytes, mW -> W, mJ -> J


def _alike_frame(devices: int, rng: np.random.Generator) -> pb.Frame:
    """An agent's usual frame: every device the same exact metrics at the same ticks."""
    ts = T0 + 100_000_000 * np.arange(10, dtype=np.int64)
    blocks = []
    for d in range(devices):
        util = rng.integers(0, 101, 10).astype(float)
        mem = 2.0**53 - rng.integers(0, 2**40, 10)  # near the exact limit
        power = rng.integers(50_000, 700_000, 10).astype(float)
        energy = 3e10 + np.cumsum(rng.integers(0, 70_000, 10)).astype(float)
        blocks.append(frames.encode_block(d, (0, 1, 2, 3), ts,
                                          np.array([util, mem, power, energy]), (True,) * 4))
    frames.share_timestamps(blocks)
    return pb.Frame.FromString(pb.Frame(seq=5, blocks=blocks).SerializeToString())


def test_a_frame_of_alike_blocks_decodes_at_once_to_what_each_block_gives() -> None:
    rng = np.random.default_rng(7)
    for devices in (2, 3, 8):
        frame = _alike_frame(devices, rng)
        per_unit = catalogue.wire_per_unit(ALIKE_IDS)
        at_once = frames._decode_alike(frame, devices, per_unit)
        assert at_once is not None  # the usual frame takes the one-array path
        each = frames._decode_each(frame, devices, per_unit)
        assert [b.device for b in at_once] == [b.device for b in each] == list(range(devices))
        for got, want in zip(at_once, each, strict=True):
            assert got.metrics == want.metrics
            assert got.values.dtype == want.values.dtype == np.float64
            np.testing.assert_array_equal(got.ts_ns, want.ts_ns)
            assert got.values.tobytes() == want.values.tobytes()  # to the bit
        at_once[-1].ts_ns[:] = 0  # each block owns its timestamps (ms truncation edits them)
        assert all(b.ts_ns[0] == T0 for b in at_once[:-1])


@pytest.mark.parametrize(("change", "words"), [
    ({"int_values": [1] * 39}, "presence bits say 40"),
    ({"int_values": [2**55] + [0] * 39}, "beyond +-2^54"),
    ({"int_values": [2**53, 2**53] + [0] * 38}, "beyond +-2^53"),
    ({"device": 9}, "device 9"),
])
def test_a_bad_block_among_alike_ones_is_named_as_block_by_block(change: dict[str, object],
                                                                  words: str) -> None:
    frame = _alike_frame(4, np.random.default_rng(1))
    bad = _changed(frame.blocks[2], change)
    frame.blocks[2].CopyFrom(bad)
    per_unit = catalogue.wire_per_unit(ALIKE_IDS)
    assert frames._decode_alike(frame, 4, per_unit) is None
    with pytest.raises(frames.FrameError, match=re.escape(words)):
        frames.decode_frame(frame, 4, ALIKE_IDS)
