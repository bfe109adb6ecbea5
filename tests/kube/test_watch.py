"""The collector's Kubernetes watch against a stand-in API server speaking the real list/watch
protocol over HTTPS, through the real client library (lightkube) and a kubeconfig."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gputel.collector.kube.settings import RESOURCES, KubeSettings
from gputel.collector.kube.watcher import KubeWatcher, reason_of
from gputel.collector.registry.cluster import (
    ClusterLimits,
    ClusterRegistry,
    KindState,
    PodRecord,
)
from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.servers import wait_until

CHAT = ("inference", "chat-api-6d9f7c8b5-x2x9q")


def _watcher(api: KubeApiStandIn, registry: ClusterRegistry, **settings: object,
             ) -> KubeWatcher:
    config = {"kubeconfig": api.kubeconfig, "annotations": frozenset({"prometheus.io/scrape"}),
              "page_size": 2, "backoff_max_seconds": 0.5, **settings}
    watcher = KubeWatcher(KubeSettings(**config), registry)  # type: ignore[arg-type]
    watcher.start()
    return watcher


@pytest.fixture
def registry() -> ClusterRegistry:
    return ClusterRegistry()


@pytest.fixture
def watching(kubeapi: KubeApiStandIn, registry: ClusterRegistry) -> Iterator[KubeWatcher]:
    watcher = _watcher(kubeapi, registry)
    wait_until(lambda: not registry.stale() and len(registry.states()) == len(RESOURCES),
               what="every kind listed")
    yield watcher
    watcher.stop()


def _pod(registry: ClusterRegistry, namespace: str, name: str) -> PodRecord | None:
    return registry.pod(namespace=namespace, name=name)


def test_list_then_watch_with_bookmarks_fills_the_registry(
        kubeapi: KubeApiStandIn, registry: ClusterRegistry, watching: KubeWatcher) -> None:
    assert registry.count("Pod") == 4
    assert registry.count("Node") == 4
    assert registry.count("Queue") == 3
    assert registry.count("ReplicaSet") == 1
    assert kubeapi.count("list", "pods") == 2  # two pages of 2: the list was paged
    wait_until(lambda: kubeapi.count("watch", "pods") == 1, what="the pod watch")
    query = kubeapi.watch_queries[-1]
    assert query["allowWatchBookmarks"] == "true"
    assert int(query["resourceVersion"]) > 0

    kubeapi.bookmark()
    wait_until(lambda: watching.stats.bookmarks.get("Pod", 0) == 1, what="a bookmark")
    pod = _pod(registry, *CHAT)
    assert pod is not None
    assert pod.phase == "Running"
    assert pod.gpus_requested == 1
    assert pod.annotations == {"prometheus.io/scrape": "true"}  # the secret one never kept
    chain = [(o.kind, o.name) for o in registry.owner_chain(pod)]
    assert chain == [("ReplicaSet", "chat-api-6d9f7c8b5"), ("Deployment", "chat-api")]


def test_events_update_and_delete(kubeapi: KubeApiStandIn, registry: ClusterRegistry,
                                  watching: KubeWatcher, manifests: list[dict]) -> None:
    pod = next(m for m in manifests if m["metadata"].get("name") == CHAT[1])
    pod["metadata"]["labels"]["team"] = "c"
    kubeapi.apply(pod)
    wait_until(lambda: _pod(registry, *CHAT).labels["team"] == "c",  # type: ignore[union-attr]
               what="the label change")
    kubeapi.delete(pod)
    wait_until(lambda: _pod(registry, *CHAT) is None, what="the pod deleted")
    assert kubeapi.count("list", "pods") == 2  # events only, no relist


def test_410_gone_lists_again(kubeapi: KubeApiStandIn, registry: ClusterRegistry,
                              watching: KubeWatcher, pending_pod: dict) -> None:
    lists = kubeapi.count("list", "pods")
    kubeapi.compact()
    wait_until(lambda: watching.stats.gone.get("Pod", 0) >= 1, what="410 Gone seen")
    kubeapi.apply(pending_pod)
    wait_until(lambda: _pod(registry, "ml-research", "sweep-17") is not None,
               what="the pod created after the compaction")
    assert kubeapi.count("list", "pods") > lists
    assert not registry.stale()


def test_a_watch_the_server_ends_is_reopened_from_its_version(
        kubeapi: KubeApiStandIn, registry: ClusterRegistry, watching: KubeWatcher,
        pending_pod: dict) -> None:
    wait_until(lambda: kubeapi.count("watch", "pods") == 1, what="the pod watch")
    lists = kubeapi.count("list", "pods")
    kubeapi.end_watches()
    wait_until(lambda: kubeapi.count("watch", "pods") == 2, what="the watch reopened")
    kubeapi.apply(pending_pod)
    wait_until(lambda: _pod(registry, "ml-research", "sweep-17") is not None,
               what="an event on the reopened watch")
    assert kubeapi.count("list", "pods") == lists  # reopened from its version, no relist
    assert watching.stats.gone.get("Pod", 0) == 0


def test_api_server_away_keeps_records_stale_then_recovers(
        kubeapi: KubeApiStandIn, registry: ClusterRegistry, watching: KubeWatcher,
        pending_pod: dict) -> None:
    kubeapi.stop()
    wait_until(lambda: registry.states()["Pod"].stale_since_ns > 0, what="marked stale")
    assert registry.count("Pod") == 4  # the last known pods stay
    kubeapi.apply(pending_pod)  # a change while the collector cannot see it
    kubeapi.start()
    wait_until(lambda: _pod(registry, "ml-research", "sweep-17") is not None,
               what="the change made while away")
    wait_until(lambda: not registry.stale(), what="every kind fresh again")


def test_forbidden_is_stale_with_the_reason(kubeapi: KubeApiStandIn,
                                            registry: ClusterRegistry) -> None:
    kubeapi.deny("nodes")
    watcher = _watcher(kubeapi, registry)
    try:
        wait_until(lambda: "403" in registry.states().get("Node", _never()).error,
                   what="the 403 recorded")
        wait_until(lambda: registry.count("Pod") == 4, what="the pods listed all the same")
        assert registry.count("Node") == 0
        assert registry.stale()
        assert watcher.stats.failures[("Node", "forbidden")] >= 1
    finally:
        watcher.stop()


def test_a_crd_not_installed_is_retried_quietly(kubeapi: KubeApiStandIn,
                                                registry: ClusterRegistry) -> None:
    kubeapi.absent.add("rayclusters")
    watcher = _watcher(kubeapi, registry)
    try:
        wait_until(lambda: "404" in registry.states().get("RayCluster", _never()).error,
                   what="the 404 recorded")
        wait_until(lambda: registry.count("Pod") == 4, what="the other kinds listed")
        state = registry.states()["RayCluster"]
        assert state.synced_ns > 0  # none exist: known, not stale
        assert state.stale_since_ns == 0
        assert registry.count("RayCluster") == 0
        assert watcher.stats.failures[("RayCluster", "not_found")] >= 1
    finally:
        watcher.stop()


def test_memory_bound_refuses_and_counts(kubeapi: KubeApiStandIn) -> None:
    registry = ClusterRegistry(ClusterLimits(max_objects=3))
    watcher = _watcher(kubeapi, registry)
    try:
        wait_until(lambda: registry.dropped.get("Pod", 0) >= 1
                   and registry.dropped.get("Node", 0) >= 1, what="a pod and a node refused")
        assert registry.count("Pod") == 3
        assert registry.count("Node") == 3
    finally:
        watcher.stop()


def _never() -> KindState:
    return KindState()


@pytest.mark.parametrize(("code", "reason"), [
    (401, "unauthorized"), (403, "forbidden"), (404, "not_found"), (429, "throttled"),
    (503, "server_error"), (418, "http_error")])
def test_a_refused_watch_is_counted_by_its_status(code: int, reason: str) -> None:
    # lightkube raises a refused watch as a bare httpx status error, a refused list as ApiError
    request = httpx.Request("GET", "https://kube.invalid/api/v1/pods?watch=true")
    refused = httpx.HTTPStatusError("refused", request=request,
                                    response=httpx.Response(code, request=request))
    assert reason_of(refused) == reason
    assert reason_of(httpx.ConnectError("refused", request=request)) == "unreachable"
