"""A rack's worth of GPUs falls silent at once over a real TSDB: the collector still lists
them with their newest values (read over the retention), and its alert pass still runs."""

from __future__ import annotations

import time
import uuid as uuidlib

import numpy as np

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.metrics import CORE_METRICS
from tests.harness.raw_stream import RawStream, good_frame, hello
from tests.harness.servers import CollectorThread, get_json, wait_until
from tests.harness.tsdb import remote_config, searchable
from tests.prometheus.promserver import TsdbServer

GPUS, TICKS = 160, 3  # more than one query's worth of UUIDs, as NVML writes them (40 chars)


def test_many_gpus_silent_beyond_the_lookback_are_listed_with_their_newest_values(
        vm: TsdbServer) -> None:
    collector = CollectorThread(**remote_config(vm, alert_interval_seconds=0.1)).start()
    uuids = [f"GPU-{uuidlib.UUID(int=i + 1)}" for i in range(GPUS)]
    old = time.time_ns() - 20 * 60 * 10**9  # 20 minutes ago: beyond the 5-minute lookback
    try:
        stream = RawStream(collector.grpc_target)
        stream.send_hello(hello(node="rack-7", n_devices=GPUS, devices=[
            pb.Device(index=i, uuid=u, vendor="sim", model="Raw") for i, u in enumerate(uuids)]))
        assert stream.answer().HasField("welcome")
        stream.send_frame(good_frame(1, ticks=TICKS, devices=GPUS, t0_ns=old))
        assert stream.answer().ack.seq == 1
        stream.close()
        # good_frame: metric m at tick t is m * TICKS + t, on every GPU
        want = {m: float(i * TICKS + TICKS - 1) for i, m in enumerate(CORE_METRICS)}

        def listed() -> list[dict[str, object]] | None:
            status, got = get_json(f"{collector.http_base}/api/v1/nodes/rack-7/gpus",
                                   pageSize=1000)
            assert status == 200, got  # not 500: the silent GPUs' read must go through
            data: list[dict[str, object]] = got["data"]
            return data if all(g["latest"] for g in data) else None

        wait_until(lambda: searchable(vm) and listed() is not None,
                   what="every silent GPU's newest values")
        gpus = listed()
        assert gpus is not None
        assert sorted(str(g["uuid"]) for g in gpus) == sorted(uuids)
        for g in gpus:
            latest = g["latest"]
            assert isinstance(latest, dict)
            for metric, value in want.items():
                assert np.isclose(latest[metric], value), (g["uuid"], metric)
        status, alerts = get_json(f"{collector.http_base}/api/v1/alerts")
        assert status == 200, alerts
    finally:
        collector.stop()
