"""A small GPU cluster on loopback: a stand-in Kubernetes API server (tests/data/kube
manifests), one collector watching it, two agents on simulated GPUs whose kubelet stand-ins
give the manifests' pods their devices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from gputel.agent.runtime import Agent
from gputel.collector.kube.settings import RESOURCES, KubeSettings
from tests.harness.kubeapi import KubeApiStandIn
from tests.harness.kubelet import KubeletStandIn, gpu_pod
from tests.harness.servers import CollectorThread, running_agent, wait_until

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
PYTORCHJOB_UID = "9a1b2c3d-0000-4e5f-8a9b-111111111100"
ANNOTATIONS = frozenset({"prometheus.io/scrape"})


@dataclass
class KubeCluster:
    """The collector, the kubelet stand-in of each node, and each node's GPU UUIDs."""

    collector: CollectorThread
    kubelets: dict[str, KubeletStandIn]
    uuids: dict[str, list[str]]
    agents: dict[str, Agent]


@contextmanager
def kube_cluster(api: KubeApiStandIn, rate_hz: float = 20, max_ticks: int | None = None,
                 compat: tuple[str, ...] = ()) -> Iterator[KubeCluster]:
    """gpu-a runs the PyTorchJob's master, the Deployment's pod and the CronJob's pod;
    gpu-b the PyTorchJob's worker. Yields once every kind is listed and the pods are given
    their GPUs (`max_ticks`: the agents stop sampling after that many ticks; `compat`: the
    compatibility APIs the collector mounts)."""
    settings = KubeSettings(api.kubeconfig, ANNOTATIONS, backoff_max_seconds=0.5)
    collector = CollectorThread(kube=settings, compat=compat).start()
    registry = collector.collector.cluster
    assert registry is not None
    kubelets = {n: KubeletStandIn().start() for n in ("gpu-a", "gpu-b")}
    try:
        wait_until(lambda: len(registry.states()) == len(RESOURCES) and not registry.stale(),
                   what="every kind listed")
        with _agent(collector, kubelets, "gpu-a", rate_hz, max_ticks) as a, \
             _agent(collector, kubelets, "gpu-b", rate_hz, max_ticks) as b:
            ua = [d.uuid for d in a.backend.devices()]
            ub = [d.uuid for d in b.backend.devices()]
            kubelets["gpu-a"].set_pods([
                gpu_pod("ml-research", "llama-ft-master-0", ua[0], ua[1]),
                gpu_pod("inference", "chat-api-6d9f7c8b5-x2x9q", ua[2]),
                gpu_pod("ml-research", "nightly-eval-29010240-8kq2z", ua[3])])
            kubelets["gpu-b"].set_pods([gpu_pod("ml-research", "llama-ft-worker-0",
                                                ub[0], ub[1])])
            yield KubeCluster(collector, kubelets, {"gpu-a": ua, "gpu-b": ub},
                              {"gpu-a": a, "gpu-b": b})
    finally:
        collector.stop()
        for kubelet in kubelets.values():
            kubelet.close()


def _agent(collector: CollectorThread, kubelets: dict[str, KubeletStandIn], node: str,
           rate_hz: float, max_ticks: int | None) -> AbstractContextManager[Agent]:
    return running_agent(collector.grpc_target, node=node, gpus=4, rate_hz=rate_hz,
                         max_ticks=max_ticks, flush_seconds=0.1, attribution="kubelet",
                         kubelet_socket=kubelets[node].socket_path, kubelet_poll_seconds=0.2)
