"""The columnar frame codec round-trips and refuses malformed blocks."""

from __future__ import annotations

import numpy as np
import pytest

from gputel.proto import frames
from gputel.proto.gputel.v1 import telemetry_pb2 as pb


def test_block_round_trips_through_the_wire() -> None:
    ts = np.array([1_000, 1_100, 1_250, 2_000], dtype=np.int64) + 1_700_000_000 * 10**9
    values = np.array([[1, 2, np.nan, 4], [5.5, 6.5, 7.5, 8.5]], dtype=np.float32)
    block = frames.encode_block(3, (0, 2), ts, values)
    wire = pb.Frame(seq=9, blocks=[block]).SerializeToString()
    (decoded,) = frames.decode_frame(pb.Frame.FromString(wire), n_devices=4, n_metrics=3)
    assert decoded.device == 3
    assert decoded.metrics == (0, 2)
    np.testing.assert_array_equal(decoded.ts_ns, ts)
    np.testing.assert_array_equal(decoded.values, values)
    assert decoded.samples == 7
    assert list(block.ts_delta_ns) == [0, 100, 150, 750]  # delta-encoded


def test_a_thousand_samples_cost_few_bytes_per_sample() -> None:
    ts = 1_700_000_000 * 10**9 + 100_000_000 * np.arange(1000, dtype=np.int64)
    block = frames.encode_block(0, (0,), ts, np.zeros((1, 1000), dtype=np.float32))
    assert len(block.SerializeToString()) < 1000 * (4 + 5)


@pytest.mark.parametrize(("change", "words"), [
    ({"device": 4}, "device 4"),
    ({"metrics": []}, "no metrics"),
    ({"metrics": [0, 0]}, "twice"),
    ({"values": b"\x00" * 7}, "bytes"),
    ({"ts_delta_ns": [0, 5, 0]}, "increase"),
])
def test_malformed_blocks_raise_frame_error(change: dict[str, object], words: str) -> None:
    good = frames.encode_block(0, (0, 1), np.array([1, 2, 3], dtype=np.int64),
                               np.ones((2, 3), dtype=np.float32))
    bad = pb.DeviceBlock()
    bad.CopyFrom(good)
    for field, value in change.items():
        bad.ClearField(field)
        if isinstance(value, list):
            getattr(bad, field).extend(value)
        else:
            setattr(bad, field, value)
    with pytest.raises(frames.FrameError, match=words):
        frames.decode_block(bad, n_devices=4, n_metrics=3)


def test_int64_overflow_in_deltas_is_refused() -> None:
    block = pb.DeviceBlock(device=0, metrics=[0], base_ts_ns=2**61,
                           ts_delta_ns=[0, 2**62, 2**62], values=b"\x00" * 12)
    with pytest.raises(frames.FrameError, match="delta"):
        frames.decode_block(block, 1, 1)
