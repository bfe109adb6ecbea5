"""A long range over a remote TSDB reads buckets the TSDB computes, not every raw sample:
a day of 1 Hz history answers under a read budget far below its sample count, with the
numbers the raw samples give."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from gputel.collector.ingest.remote import encode_series
from gputel.collector.query.limits import QueryLimits
from gputel.collector.storage.tsdb import TsdbClient, TsdbEndpoints, TsdbSettings
from gputel.collector.timefmt import format_time
from tests.harness.held_frames import open_node, send
from tests.harness.raw_stream import good_frame
from tests.harness.servers import CollectorThread, get_json, wait_until
from tests.harness.tsdb import searchable
from tests.prometheus.promserver import TsdbServer

HOUR = 3600
BUDGET = 20_000  # raw samples a query may read; the history holds 82,800


def test_a_day_long_range_reads_buckets_not_raw_samples(
        tsdb: TsdbServer, remote_collectors: Callable[..., CollectorThread]) -> None:
    end = int(time.time()) // 300 * 300 - HOUR  # before the raw head (the last hour)
    start = end - 22 * HOUR
    # One sample a second, half a second off the grid (no sample on a window's edge).
    ts_ms = (np.arange(start - HOUR, end, dtype=np.int64) * 1000) + 500
    values = (100.0 + (np.arange(ts_ms.size) % 37)).astype(np.float64)
    client = TsdbClient(TsdbSettings(TsdbEndpoints.build("prometheus", tsdb.base)))
    labels = (("__name__", "gputel_store_power"), ("node", "old-node"), ("uuid", "GPU-old-node-0"))
    client.write_once(encode_series([(labels, ts_ms, values)]))
    client.close()
    collector = remote_collectors(retention_seconds=HOUR,
                                  query_limits=QueryLimits(max_samples=BUDGET))
    stream = open_node(collector.grpc_target, "old-node")
    send(stream, good_frame(1, devices=1))
    stream.close()
    base = f"{collector.http_base}/api/v1/nodes/old-node/metrics"
    points = np.arange(start, end + 1, HOUR, dtype=np.int64)
    # Point t covers the samples in (t - 1 h, t].
    k = -((start * 1000 - ts_ms) // (HOUR * 1000))
    keep = (k >= 0) & (k < points.size)
    want = {"count": np.bincount(k[keep], minlength=points.size).astype(np.float64)}
    want["avg"] = np.bincount(k[keep], values[keep], points.size) / want["count"]
    want["max"] = np.array([values[keep][k[keep] == i].max() for i in range(points.size)])

    def answer(agg: str) -> tuple[int, list[float]]:
        status, body = get_json(base, metric="power", agg=agg, start=format_time(start * 10**9),
                                end=format_time(end * 10**9), step="1h")
        got = body["data"]["gpus"][0]["points"] if status == 200 else []
        return status, [v for _, v in got]

    wait_until(lambda: searchable(tsdb) and answer("count")[1] == list(want["count"]),
               timeout=30, what="the day's buckets")
    for agg in ("avg", "max"):
        status, got = answer(agg)
        assert status == 200
        np.testing.assert_allclose(got, want[agg], rtol=1e-9)  # VictoriaMetrics: 12 digits
    # The same window from raw samples is over the budget: refused, not read.
    status, body = get_json(base, metric="power", agg="p50", start=format_time(start * 10**9),
                            end=format_time(end * 10**9), step="1h")
    assert status == 400
    assert body["error"]["details"]["parameter"] == "agg"
