"""Device inventory, GPU processes and MIG statistics, agent to API: a real agent streams
to a real collector over gRPC; the HTTP and gRPC answers say the same; a restarted
collector still knows them; NVML over the fake pynvml: unsupported fields are null."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict

from gputel.agent.backends.nvml import NvmlBackend
from gputel.agent.backends.sim import H100, SimBackend
from gputel.collector.timefmt import format_time
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.fakes.fake_pynvml import FakeGpu, FakeMig, FakeNvml
from tests.harness.servers import CollectorThread, get_json, running_agent, wait_until

INVENTORY_KEYS = ("powerLimitWatts", "memoryReservedBytes", "driverVersion", "firmwareVersion",
                  "vbiosVersion", "serial", "architecture", "migSupported", "migEnabled",
                  "migProfile", "fanSpeedPercent", "memoryClockMhz", "pcieGeneration",
                  "pcieWidth", "pcieMaxGeneration", "pcieMaxWidth", "eccEnabled")


def _gpu(base: str, uuid: str) -> dict[str, Any]:
    status, body = get_json(f"{base}/api/v1/gpus/{uuid}")
    assert status == 200, body
    return body["data"]


def _reported(base: str, uuid: str, key: str) -> Any:
    """`key` of the GPU's processes answer ("processes") or GPU answer (else); None while
    the collector does not know the GPU yet (its agent's Hello is still on its way)."""
    path = f"{base}/api/v1/gpus/{uuid}" + ("/processes" if key == "processes" else "")
    status, body = get_json(path)
    return body["data"][key] if status == 200 else None


def _processes(base: str, uuid: str) -> dict[str, Any]:
    status, body = get_json(f"{base}/api/v1/gpus/{uuid}/processes")
    assert status == 200, body
    return body["data"]


def _grpc(target: str, call: str, uuid: str) -> Any:
    with grpc.insecure_channel(target) as channel:
        return getattr(pb_grpc.QueryServiceStub(channel), call)(pb.GetGpuRequest(uuid=uuid))


def _same_inventory(rest: dict[str, Any], answer: pb.GpuInventory) -> None:
    """The HTTP inventory and the gRPC one are the same values (null = unset)."""
    grpc_view = MessageToDict(answer)
    assert rest["readTime"] == format_time(answer.read_ts_ns)
    for key in INVENTORY_KEYS:
        expected = grpc_view.get(key)
        if key in ("memoryReservedBytes",) and expected is not None:
            expected = int(expected)  # int64 is a string in proto JSON
        assert rest[key] == expected, key


def test_sim_inventory_and_processes_over_http_and_grpc(tmp_path: Path) -> None:
    server = CollectorThread(data_dir=tmp_path).start()
    try:
        with running_agent(server.grpc_target, gpus=4, attribution="sim",
                           flush_seconds=0.2, processes_seconds=0.5,
                           wrap=lambda sim: SimBackend(4, seed=7, salt="node-a",
                                                       processes=True)) as agent:
            sim = agent.backend.inner  # type: ignore[attr-defined]
            uuids = [d.uuid for d in sim.devices()]
            wait_until(lambda: _reported(server.http_base, uuids[0], "processes")
                       and _reported(server.http_base, uuids[0], "memoryFreeBytes") is not None,
                       timeout=30, what="processes and memory reported")
            assert agent.stop(drain_timeout=10)  # the numbers hold still from here on
            gpu = _gpu(server.http_base, uuids[0])
            inv = gpu["inventory"]
            assert inv["serial"] == sim.inventory()[0].serial
            assert (inv["powerLimitWatts"], inv["architecture"], inv["pcieGeneration"],
                    inv["pcieWidth"], inv["eccEnabled"], inv["migSupported"]) == (
                        700.0, "Hopper", 5, 16, True, True)
            assert inv["fanSpeedPercent"] is None
            assert inv["migProfile"] is None
            assert gpu["memoryFreeBytes"] == (gpu["latest"]["mem_total"]
                                              - H100.memory_reserved_bytes
                                              - gpu["latest"]["mem_used"])
            assert gpu["mig"] is None
            answer = _grpc(server.grpc_target, "GetGpu", uuids[0])
            _same_inventory(inv, answer.inventory)
            assert answer.memory_free_bytes == gpu["memoryFreeBytes"]

            procs = _processes(server.http_base, uuids[0])
            (proc,) = procs["processes"]
            assert (proc["pid"], proc["name"], proc["namespace"], proc["pod"]) == (
                10_001, "python3", "ml-research", "llm-pretrain-0")
            assert proc["usedMemoryBytes"] > 0
            assert proc["workload"]
            grpc_procs = _grpc(server.grpc_target, "ListGpuProcesses", uuids[0])
            assert procs["readTime"] == format_time(grpc_procs.read_ts_ns)
            assert [MessageToDict(p, preserving_proto_field_name=False)
                    for p in grpc_procs.processes] == [
                {**{k: v for k, v in proc.items() if v is not None},
                 "usedMemoryBytes": str(proc["usedMemoryBytes"])}]
            assert _processes(server.http_base, uuids[3])["processes"] == []  # idle GPU
            before = {u: _gpu(server.http_base, u)["inventory"] for u in uuids}
            procs_before = _processes(server.http_base, uuids[0])
    finally:
        server.stop()
    again = CollectorThread(data_dir=tmp_path).start()  # no agent: only what it kept
    try:
        assert {u: _gpu(again.http_base, u)["inventory"] for u in uuids} == before
        assert _processes(again.http_base, uuids[0]) == procs_before
    finally:
        again.stop()


def test_unknown_gpu_processes_is_404_on_both() -> None:
    server = CollectorThread().start()
    try:
        status, body = get_json(f"{server.http_base}/api/v1/gpus/GPU-nope/processes")
        assert status == 404
        assert body["error"]["code"] == "NOT_FOUND"
        with pytest.raises(grpc.RpcError) as raised:
            _grpc(server.grpc_target, "ListGpuProcesses", "GPU-nope")
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    finally:
        server.stop()


def _nvml_board() -> FakeNvml:
    mig = FakeGpu("GPU-11111111-aaaa-bbbb-cccc-dddddddddddd", mig=[
        FakeMig("MIG-22222222-0000-0000-0000-000000000001", 1),
        FakeMig("MIG-22222222-0000-0000-0000-000000000002", 2),
        FakeMig("MIG-22222222-0000-0000-0000-000000000003", 3,
                name="NVIDIA H100 80GB HBM3 MIG 3g.40gb")])
    plain = FakeGpu("GPU-33333333-aaaa-bbbb-cccc-dddddddddddd", bus_id="00000000:19:00.0",
                    processes=[(4321, 2 * 2**30)])
    plain.unsupported |= {"nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetEccMode",
                          "nvmlDeviceGetCurrPcieLinkGeneration"}
    return FakeNvml([mig, plain])


def test_nvml_mig_statistics_and_unsupported_fields_are_null() -> None:
    server = CollectorThread().start()
    try:
        fake = _nvml_board()
        with running_agent(server.grpc_target, flush_seconds=0.2,
                           wrap=lambda _: NvmlBackend(nvml=fake)) as agent:
            parent = "GPU-11111111-aaaa-bbbb-cccc-dddddddddddd"
            plain = "GPU-33333333-aaaa-bbbb-cccc-dddddddddddd"
            wait_until(lambda: (_reported(server.http_base, parent, "mig") or {}).get(
                "memoryUsedBytes") is not None and _reported(server.http_base, plain,
                                                             "processes"),
                       timeout=30, what="MIG values and processes")
            assert agent.stop(drain_timeout=10)
            mig = _gpu(server.http_base, parent)["mig"]
            assert (mig["enabled"], mig["count"], mig["profiles"]) == (
                True, 3, {"1g.10gb": 2, "3g.40gb": 1})
            assert mig["memoryUsedBytes"] == 3 * 13 * 2**20  # each instance's own memory
            assert mig["gpuUtilization"] is None  # NVML gives none per MIG instance
            assert [i["profile"] for i in mig["instances"]] == ["1g.10gb", "1g.10gb", "3g.40gb"]
            answer = _grpc(server.grpc_target, "GetGpu", parent)
            assert dict(answer.mig.profiles) == mig["profiles"]
            assert answer.mig.count == 3
            assert not answer.mig.HasField("gpu_utilization")

            inv = _gpu(server.http_base, plain)["inventory"]
            assert inv["powerLimitWatts"] is None
            assert inv["eccEnabled"] is None
            assert inv["pcieGeneration"] is None
            assert inv["pcieWidth"] == 16
            assert inv["fanSpeedPercent"] is None  # an SXM board has no fan
            assert inv["serial"] == "1654922001234"
            _same_inventory(inv, _grpc(server.grpc_target, "GetGpu", plain).inventory)
            (proc,) = _processes(server.http_base, plain)["processes"]
            assert (proc["pid"], proc["usedMemoryBytes"]) == (4321, 2 * 2**30)
    finally:
        server.stop()


def test_sim_backend_keeps_its_inventory_whatever_the_tick() -> None:
    sim = SimBackend(gpus=2, seed=3, salt="n")
    sim.open()
    first = sim.inventory()
    sim.read(10**18)
    assert sim.inventory() == first
    assert first[0].serial != first[1].serial
