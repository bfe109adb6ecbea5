"""--compat as a flag and a variable; seed 004's tokens and rate limit (X-RateLimit-Reset as
epoch seconds) over gputel's own access policy; the routers on a collector fed by a
simulated agent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest

from gputel.cli.commands import _api_config
from gputel.cli.main import build_parser
from gputel.collector.api.compat import NAMES
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.compat.schemas import gpu_monitoring as gpu
from tests.compat.schemas import k8s_gpu as k8s
from tests.compat.schemas import kai_visualizer as kai
from tests.compat.schemas import primus_lens as lens
from tests.harness.servers import CollectorThread, running_agent, wait_until

P = "/k8s-monitor/api/v1"


def test_the_flag_and_its_variable_reach_the_config() -> None:
    flag = build_parser({}).parse_args(["collector", "--compat", "k8s-gpu, primus-lens"])
    assert _api_config(flag)["compat"] == ("k8s-gpu", "primus-lens")
    env = build_parser({"GPUTEL_COMPAT": "gpu-monitoring"}).parse_args(["up"])
    assert _api_config(env)["compat"] == ("gpu-monitoring",)
    assert build_parser({}).parse_args(["collector"]).compat == ()


def test_an_unknown_name_is_one_line_and_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "gputel.cli", "collector", "--compat",
                           "primus-lens,dcluster"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "--compat" in done.stderr
    assert "dcluster" in done.stderr


@pytest.fixture(scope="module")
def guarded() -> Iterator[CollectorThread]:
    server = CollectorThread(compat=NAMES,
                             api_tokens="reader:read,viewer:read,clerk:read,boss:admin",
                             rate_limit_per_second=0.5, rate_limit_burst=3).start()
    yield server
    server.stop()


def _get(server: CollectorThread, path: str, token: str, method: str = "GET") -> httpx.Response:
    return httpx.request(method, server.http_base + path,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_rate_limit_headers_and_refusal_in_the_seeds_form(guarded: CollectorThread) -> None:
    before = time.time()
    answers = [_get(guarded, f"{P}/gpu/overview", "reader") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    first = answers[0].headers
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("3", "2")
    reset = int(first["X-RateLimit-Reset"])  # an epoch time, not a count of seconds
    assert before <= reset <= time.time() + 3 / 0.5 + 1
    refused = k8s.Failure.model_validate(answers[3].json())
    assert refused.error.code == "RATE_LIMIT_EXCEEDED"
    assert refused.error.model_extra is not None
    assert refused.error.model_extra["retryAfter"] == int(answers[3].headers["Retry-After"]) > 0


def test_tokens_and_roles_in_the_seeds_form(guarded: CollectorThread) -> None:
    anonymous = httpx.get(f"{guarded.http_base}{P}/gpu/devices", timeout=10)
    assert anonymous.status_code == 401
    assert k8s.Failure.model_validate(anonymous.json()).error.code == "UNAUTHORIZED"
    reader = _get(guarded, f"{P}/gpu/allocations", "viewer", "POST")  # its own bucket
    assert reader.status_code == 403
    assert k8s.Failure.model_validate(reader.json()).error.code == "FORBIDDEN"
    admin = _get(guarded, f"{P}/gpu/allocations", "boss", "POST")
    assert admin.status_code == 501
    assert "does not allocate" in k8s.Failure.model_validate(admin.json()).error.message


def test_health_lists_the_compat_apis(guarded: CollectorThread) -> None:
    body = _get(guarded, "/api/v1/health", "boss").json()
    assert body["data"]["compat"] == list(NAMES)
    with grpc.insecure_channel(guarded.grpc_target) as channel:
        health = pb_grpc.QueryServiceStub(channel).GetHealth(
            pb.GetHealthRequest(), metadata=(("authorization", "Bearer boss"),))
    assert list(health.compat) == list(NAMES)  # REST = gRPC


def test_registering_a_webhook_in_the_seeds_form_needs_admin(guarded: CollectorThread) -> None:
    response = httpx.post(f"{guarded.http_base}{P}/webhooks", timeout=10,
                          headers={"Authorization": "Bearer clerk"},  # its own bucket
                          json={"name": "n", "url": "http://127.0.0.1:9/"})
    assert response.status_code == 403
    assert k8s.Failure.model_validate(response.json()).error.code == "FORBIDDEN"


def test_routers_over_a_simulated_agent() -> None:
    server = CollectorThread(compat=("primus-lens", "k8s-gpu"),
                             rate_limit_per_second=0.0).start()
    try:
        with running_agent(server.grpc_target, node="sim-a", gpus=4, attribution="sim"):
            api = f"{server.http_base}/api/v1"
            wait_until(lambda: httpx.get(f"{api}/workloads").json()["meta"]["total"] >= 3,
                       what="the simulated pods")
            devices = httpx.get(f"{server.http_base}{P}/gpu/devices", timeout=10).json()
            k8s.Success[list[k8s.Device]].model_validate(devices)
            assert [d["deviceId"] for d in devices["data"]] == [
                g["uuid"] for g in httpx.get(f"{api}/gpus").json()["data"]]
            nodes = httpx.get(f"{server.http_base}/api/nodes", timeout=10).json()
            lens.Lens[lens.Page[lens.NodeDetail]].model_validate(nodes)
            assert [(n["name"], n["gpuCount"]) for n in nodes["data"]["data"]] == [("sim-a", 4)]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def locked() -> Iterator[CollectorThread]:
    server = CollectorThread(compat=NAMES, api_tokens="reader:read",
                             rate_limit_per_second=0.0).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("path", "shape", "code"), [
    ("/api/clusters/overview", lens.LensError, 40004),
    ("/api/v1/visualizer/summary", kai.VisualizerError, None),
    ("/api/v1/gpu/metrics", gpu.Failure, None),
])
def test_refusals_on_the_other_seeds_are_in_their_form(locked: CollectorThread, path: str,
                                                       shape: type, code: int | None) -> None:
    anonymous = httpx.get(locked.http_base + path, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    body = shape.model_validate(anonymous.json())
    if code is not None:
        assert body.code == code
    allowed = _get(locked, path, "reader")
    assert allowed.status_code == 200, allowed.text
    own = httpx.get(f"{locked.http_base}/api/v1/overview", timeout=10)
    assert set(own.json()) == {"error"}  # gputel's own routes keep gputel's envelope
