"""Encoding of remote write 1.0 request bodies: a `prometheus.WriteRequest`, snappy-compressed.

Pure and fast: a series' labels are encoded once (`series_header`), and its samples are
written with numpy, 18 bytes each (a `Sample` is a tag, an 8-byte double, a tag and a
6-byte varint of the Unix-millisecond timestamp, which holds for 1971 to 2109), instead of
one protobuf object per sample. Timestamps outside that range take the protobuf path.
The bytes are the protobuf wire format of remote_pb2.WriteRequest (a test decodes them
with the generated stubs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cramjam
import numpy as np
import numpy.typing as npt

from gputel.proto.prometheus import remote_pb2

# 6-byte varints cover [2**35, 2**42) ms: 1971-02 to 2109-05.
_MIN_MS, _MAX_MS = 2**35, 2**42
_SAMPLE = 18  # 0x12 len=16 | 0x09 double | 0x10 varint(6)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def series_header(labels: Sequence[tuple[str, str]]) -> bytes:
    """The encoded `labels` of a TimeSeries (field 1, one Label each), names sorted."""
    return b"".join(_field(1, _field(1, name.encode()) + _field(2, value.encode()))
                    for name, value in sorted(labels))


def _samples(ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """Samples as repeated field 2 of a TimeSeries."""
    n = ts_ms.size
    if n and (int(ts_ms.min()) < _MIN_MS or int(ts_ms.max()) >= _MAX_MS):
        series = remote_pb2.TimeSeries(samples=[
            remote_pb2.Sample(value=v, timestamp=t)
            for v, t in zip(values.tolist(), ts_ms.tolist(), strict=True)])
        return series.SerializeToString()
    out = np.empty((n, _SAMPLE), dtype=np.uint8)
    out[:, 0], out[:, 1], out[:, 2], out[:, 11] = 0x12, 16, 0x09, 0x10
    out[:, 3:11] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8).reshape(n, 8)
    ts = np.asarray(ts_ms, dtype=np.uint64)
    for i in range(6):
        byte = (ts >> np.uint64(7 * i)) & np.uint64(0x7F)
        out[:, 12 + i] = byte | np.uint64(0x80 if i < 5 else 0)
    return out.tobytes()


def encode(series: Iterable[tuple[bytes, npt.NDArray[np.int64], npt.NDArray[np.float64]]]
           ) -> bytes:
    """A WriteRequest of (series_header, ts_ms, values) triples, snappy block-compressed."""
    parts = [_field(1, header + _samples(ts, vals)) for header, ts, vals in series]
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


def encode_grouped(headers: Sequence[bytes], series: npt.NDArray[np.int64],
                   ts_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """A WriteRequest from flat arrays whose samples are grouped by series id (ascending
    time within each), `headers[id]` being each series' encoded labels; snappy-compressed.

    Every sample is encoded in one numpy pass; Python only frames each series.
    """
    if not series.size:
        return bytes(cramjam.snappy.compress_raw(b""))
    body = _samples(ts_ms, values)
    if len(body) != _SAMPLE * series.size:  # timestamps outside 1971-2109: one by one
        return encode((headers[int(series[s])], ts_ms[s:e], values[s:e])
                      for s, e in _groups(series))
    return bytes(cramjam.snappy.compress_raw(b"".join(
        _field(1, headers[int(series[s])] + body[s * _SAMPLE:e * _SAMPLE])
        for s, e in _groups(series))))


def _groups(series: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """[start, end) of each run of one series id."""
    starts = np.flatnonzero(np.concatenate(([True], series[1:] != series[:-1])))
    ends = np.append(starts[1:], series.size)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def in_order(series: npt.NDArray[np.int64], ts_ms: npt.NDArray[np.int64],
             values: npt.NDArray[np.float64], last_sent: npt.NDArray[np.int64]
             ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64],
                        int]:
    """What a receiver accepts of these samples, grouped by series id, in time order.

    NaN values go; one sample per series and millisecond stays (the later one in the
    input); a sample not newer than `last_sent[id]` (the newest already sent) goes and
    is counted as late. `last_sent` is updated in place. Returns the arrays and the count.
    """
    have = ~np.isnan(values)
    series, ts_ms, values = series[have], ts_ms[have], values[have]
    order = np.lexsort((ts_ms, series))  # stable: equal keys keep their input order
    series, ts_ms, values = series[order], ts_ms[order], values[order]
    last_of_ms = np.ones(series.size, dtype=bool)
    last_of_ms[:-1] = (series[1:] != series[:-1]) | (ts_ms[1:] != ts_ms[:-1])
    keep = last_of_ms & (ts_ms > last_sent[series])
    late = int(series.size - np.count_nonzero(keep))
    series, ts_ms, values = series[keep], ts_ms[keep], values[keep]
    if series.size:  # each run's last sample is its newest
        ends = np.append(np.flatnonzero(series[1:] != series[:-1]), series.size - 1)
        last_sent[series[ends]] = ts_ms[ends]
    return series, ts_ms, values, late


def decode(body: bytes) -> remote_pb2.WriteRequest:
    """A request body back into its message (for tests and debugging)."""
    return remote_pb2.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
