"""Bad HTTP requests get a status and the error envelope that names what was wrong."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.harness.servers import CollectorThread, running_agent, wait_sampled


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = CollectorThread().start()
    with running_agent(server.grpc_target, node="n1", gpus=2, max_ticks=3) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    yield f"{server.http_base}/api/v1"
    server.stop()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/nodes/nope", "/nodes/nope/gpus",
                                  "/nodes/nope/metrics?metric=power"])
def test_unknown_node_is_404(base: str, path: str) -> None:
    err = _error(httpx.get(base + path), 404, "NOT_FOUND")
    assert "nope" in str(err["message"])


def test_unknown_metric_is_400_naming_the_parameter(base: str) -> None:
    err = _error(httpx.get(f"{base}/nodes/n1/metrics", params={"metric": "flux"}), 400,
                 "INVALID_PARAMETER")
    assert err["details"] == {"parameter": "metric"}
    assert "power" in str(err["message"])  # it lists the metrics there are


def test_unknown_gpu_is_404(base: str) -> None:
    _error(httpx.get(f"{base}/nodes/n1/metrics", params={"metric": "power", "gpu": "GPU-x"}),
           404, "NOT_FOUND")


def test_unknown_route_is_404_with_the_envelope(base: str) -> None:
    _error(httpx.get(f"{base}/nonsense"), 404, "NOT_FOUND")


@pytest.mark.parametrize(("params", "parameter"), [
    ({"start": "yesterday"}, "start"),
    ({"end": "2026-13-45T00:00:00Z"}, "end"),
    ({"start": "2026-01-01T00:00:00"}, "start"),  # no zone
    ({"start": "1e400"}, "start"),
    ({"start": "nan"}, "start"),
    ({"step": "abc"}, "step"),
    ({"step": "0"}, "step"),
    ({"step": "-5s"}, "step"),
    ({"start": "2000", "end": "1000"}, "end"),
    ({"agg": "median"}, "agg"),
    ({"start": "0", "end": "100000000", "step": "1ms"}, "step"),  # far too many points
    ({"start": "-5"}, "start"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(base: str, params: dict[str, str],
                                                           parameter: str) -> None:
    response = httpx.get(f"{base}/nodes/n1/metrics", params={"metric": "power", **params})
    err = _error(response, 400, "INVALID_PARAMETER")
    assert err["details"] == {"parameter": parameter}
    assert str(err["message"]).startswith(parameter)


def test_a_missing_required_parameter_is_400(base: str) -> None:
    err = _error(httpx.get(f"{base}/nodes/n1/metrics"), 400, "INVALID_PARAMETER")
    assert err["details"] == {"parameter": "metric"}
