"""/statistics/usage covers its whole window: rollups before the full-rate head, raw samples
in it, so neither a fresh collector nor the newest minutes are left out."""

from __future__ import annotations

import time
from pathlib import Path

import grpc

from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.held_frames import PERIOD, held_frame, open_node, send
from tests.harness.servers import CollectorThread, get_json


def _samples(server: CollectorThread, **params: object) -> int:
    status, body = get_json(f"{server.http_base}/api/v1/statistics/usage", **params)
    assert status == 200, body
    (device,) = body["data"]["devices"]
    with grpc.insecure_channel(server.grpc_target) as channel:
        answer = pb_grpc.QueryServiceStub(channel).UsageStatistics(pb.UsageStatisticsRequest(
            hours=float(params.get("hours", 0))))
    assert answer.devices[0].stats.samples == device["samples"]
    return int(device["samples"])


def test_the_window_joins_rollups_and_raw_samples(tmp_path: Path) -> None:
    server = CollectorThread(data_dir=tmp_path, retention_seconds=60.0,
                             maintenance_seconds=3600.0, rate_limit_per_second=0.0).start()
    try:
        now = time.time_ns() - 3 * 10**9
        stream = open_node(server.grpc_target, "n1")  # frames in time order, as agents send
        send(stream, held_frame(1, now - 300 * 10**9, range(10), {}, []))  # before the head
        server.run(server.collector.maintain_now())  # rolled up
        assert _samples(server) == 10  # the 24 h default, from the rollups
        send(stream, held_frame(2, now, range(10), {}, []))  # in the head, not rolled yet
        assert _samples(server) == 20  # a fresh head counts too
        server.run(server.collector.maintain_now())  # rolled up as well: counted once
        send(stream, held_frame(3, now + 10 * PERIOD, range(10), {}, []))  # not rolled yet
        assert _samples(server, hours=1) == 30
        assert _samples(server, hours=24) == 30
        stream.close()
    finally:
        server.stop()
