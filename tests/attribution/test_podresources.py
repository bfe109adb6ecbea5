"""The PodResources client and poller against a real gRPC server on a unix socket."""

from __future__ import annotations

import itertools
import logging
import os

import pytest

from gputel.agent.attribution import PodResourcesClient, PodResourcesError, PodResourcesPoller
from tests.attribution.conftest import MIG_0, MS, UUID_A, UUID_B, devices
from tests.harness.kubelet import FakePod, KubeletStandIn, gpu_pod, refusing_socket

S = 1_000 * MS


def poller_for(server: KubeletStandIn, **kwargs: object) -> PodResourcesPoller:
    return PodResourcesPoller(PodResourcesClient(server.socket_path), devices(),
                              **kwargs)  # type: ignore[arg-type]


def test_list_over_the_kubelet_method_path(kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([gpu_pod("ml", "trainer-0", UUID_A)])
    pods = PodResourcesClient(kubelet.socket_path).list_pods()
    assert [(p.namespace, p.name) for p in pods] == [("ml", "trainer-0")]
    assert list(pods[0].containers[0].devices[0].device_ids) == [UUID_A]


@pytest.mark.parametrize("mode", ["unimplemented", "disabled"])
def test_get_falls_back_to_list_where_the_kubelet_lacks_it(mode: str) -> None:
    server = KubeletStandIn([gpu_pod("ml", "a", UUID_A)], get_mode=mode).start()  # type: ignore[arg-type]
    try:
        client = PodResourcesClient(server.socket_path)
        assert client.get_pod("ml", "a") is not None
        assert client.get_pod("ml", "a") is not None
        assert not client.get_supported
        assert server.calls["Get"] == 1
        assert server.calls["List"] == 2
    finally:
        server.close()


def test_get_where_supported(kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([gpu_pod("ml", "a", UUID_A)])
    client = PodResourcesClient(kubelet.socket_path)
    found = client.get_pod("ml", "a")
    assert found is not None
    assert found.name == "a"
    assert client.get_pod("ml", "missing") is None
    assert client.get_supported
    assert kubelet.calls["List"] == 0


def test_allocations_cover_gpu_resources_and_replicas(kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([
        gpu_pod("ml", "a", f"{UUID_A}::0"),
        gpu_pod("ml", "b", f"{UUID_A}::1"),
        gpu_pod("ml", "mig", MIG_0, resource="nvidia.com/mig-3g.20gb"),
        gpu_pod("hpc", "amd", "0000:C1:00.0", resource="amd.com/gpu"),
        gpu_pod("net", "nic", "0000:19:00.0", resource="intel.com/sriov"),  # not a GPU
        FakePod("ml", "cpu-only"),
    ])
    poller = poller_for(kubelet)
    assert poller.poll(0)
    allocs = poller.allocations()
    assert sorted(allocs) == [0, 3, 5]
    assert [(a.pod, a.device_id) for a in allocs[0]] == [("a", f"{UUID_A}::0"),
                                                         ("b", f"{UUID_A}::1")]
    assert allocs[5][0].resource_name == "amd.com/gpu"
    assert ("ml", "cpu-only") in poller.pods()


def test_extra_resource_names(kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([gpu_pod("ml", "a", UUID_B, resource="example.com/gpu")])
    plain = poller_for(kubelet)
    plain.poll(0)
    assert plain.allocations() == {}
    poller = poller_for(kubelet, extra_resource_names=["example.com/gpu"])
    assert poller.poll(0)
    assert list(poller.allocations()) == [1]


def test_poll_respects_interval_and_min_gap(kubelet: KubeletStandIn) -> None:
    poller = poller_for(kubelet, interval_ns=2 * S, min_gap_ns=200 * MS)
    poller.poll(0)
    for now in range(10 * MS, 2 * S, 10 * MS):  # 100 Hz ticks with nothing new
        poller.poll(now)
    assert kubelet.calls["List"] == 1
    poller.poll(2 * S)
    assert kubelet.calls["List"] == 2
    poller.poll(2 * S + 50 * MS, urgent=True)  # too soon after the last call: deferred
    assert kubelet.calls["List"] == 2
    poller.poll(2 * S + 150 * MS)
    assert kubelet.calls["List"] == 2
    poller.poll(2 * S + 200 * MS)  # the deferred urgent poll, before the interval
    assert kubelet.calls["List"] == 3


def test_generation_moves_only_when_the_view_changes(kubelet: KubeletStandIn) -> None:
    poller = poller_for(kubelet)
    kubelet.set_pods([gpu_pod("ml", "a", UUID_A)])
    assert poller.poll(0)
    assert not poller.poll(3 * S)
    assert poller.generation == 1
    kubelet.set_pods([])
    assert poller.poll(6 * S)
    assert poller.generation == 2
    assert poller.allocations() == {}


def test_unmatched_kubelet_ids_are_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    server = KubeletStandIn(allocatable={"nvidia.com/gpu": ("nvidia0", UUID_A)}).start()
    try:
        poller = poller_for(server)
        with caplog.at_level(logging.WARNING):
            poller.poll(0)
            poller.poll(3 * S)
        assert poller.unmatched_ids == ("nvidia0",)
        assert sum("match no GPU" in r.getMessage() for r in caplog.records) == 1
        assert server.calls["GetAllocatableResources"] == 1
    finally:
        server.close()


def test_missing_socket_is_unavailable_without_an_exception(
        tmp_path: os.PathLike[str], caplog: pytest.LogCaptureFixture) -> None:
    poller = PodResourcesPoller(PodResourcesClient(os.path.join(tmp_path, "none.sock")),
                                devices(), backoff_ns=(1 * S, 4 * S))
    with caplog.at_level(logging.WARNING):
        for now in range(0, 20 * S, 10 * MS):
            poller.poll(now, urgent=True)
    assert not poller.available
    # retries at 0, 1, 3, 7, 11, 15, 19 s: backoff doubles to its 4 s cap, never per tick
    assert poller.failures == 7
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "does not exist" in warnings[0]


def test_refusing_socket_is_unavailable(kubelet: KubeletStandIn) -> None:
    path = os.path.join(kubelet.dir, "refusing.sock")
    with refusing_socket(path):
        poller = PodResourcesPoller(PodResourcesClient(path), devices())
        assert not poller.poll(0)
        assert not poller.available
        assert poller.failures == 1
        with pytest.raises(PodResourcesError, match="UNAVAILABLE"):
            poller.client.list_pods()


def test_recovers_when_the_kubelet_comes_back(kubelet: KubeletStandIn,
                                              caplog: pytest.LogCaptureFixture) -> None:
    kubelet.set_pods([gpu_pod("ml", "a", UUID_A)])
    poller = poller_for(kubelet, backoff_ns=(1 * S, 8 * S))
    assert poller.poll(0)
    assert poller.available
    kubelet.stop()
    assert not poller.poll(2 * S)
    assert not poller.available
    assert list(poller.allocations()) == [0]  # the last good view is kept meanwhile
    poller.poll(3 * S)
    assert poller.failures == 2
    kubelet.set_pods([gpu_pod("ml", "b", UUID_B)])
    kubelet.start()
    with caplog.at_level(logging.INFO):
        poller.poll(4 * S)  # still backing off (2 s after the second failure)
        assert not poller.available
        assert poller.poll(5 * S)
    assert poller.available
    assert list(poller.allocations()) == [1]
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_a_kubelet_back_after_a_long_outage_is_noticed_within_five_seconds(
        tmp_path: os.PathLike[str]) -> None:
    poller = PodResourcesPoller(PodResourcesClient(os.path.join(tmp_path, "none.sock")),
                                devices())  # the default backoff
    calls = []
    for now in range(0, 300 * S, 100 * MS):  # five minutes of kubelet outage
        if poller.due(now, urgent=True):
            calls.append(now)
        poller.poll(now, urgent=True)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert max(gaps) <= 5 * S  # a kubelet back at any moment is polled within 5 s
    assert len(calls) <= 300 // 5 + 10  # ...and still backed off, never once per tick
