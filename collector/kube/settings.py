"""What the Kubernetes watch is told: the kinds it watches (RESOURCES) and its settings.

Apart from the watcher (watcher.py), which imports lightkube: a collector started without
`--kube` never loads the Kubernetes client (about 12 MiB and half a second of start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gputel.collector.kube import objects
from gputel.collector.registry.cluster import NODE, POD, QUEUE, Record

__all__ = ["RESOURCES", "KubeConfigError", "KubeSettings", "Resource"]

Convert = Callable[[Mapping[str, Any], Collection[str]], Record]


@dataclass(frozen=True, slots=True)
class Resource:
    """One watched kind: its API group, version and plural, and how its JSON becomes a record."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    convert: Convert


def _owner(kind: str, group: str, version: str) -> Resource:
    """A namespaced controller kind, kept as OwnerRecords (labels and ownerReferences)."""
    def convert(obj: Mapping[str, Any], _: Collection[str]) -> Record:
        return objects.owner(obj, kind)

    plural = kind.lower() + ("es" if kind.endswith("s") else "s")
    return Resource(kind, group, version, plural, True, convert)


RESOURCES = (
    Resource(POD, "", "v1", "pods", True, objects.pod),
    Resource(NODE, "", "v1", "nodes", False, lambda obj, _: objects.node(obj)),
    Resource(QUEUE, "scheduling.run.ai", "v2", "queues", False, lambda obj, _: objects.queue(obj)),
    # Owners: the middle of chains (ReplicaSet -> Deployment, Job -> CronJob or JobSet,
    # StatefulSet -> LeaderWorkerSet, RayCluster -> RayJob) and their tops, whose own labels
    # become the owner workload's. A CRD that is not installed answers 404: listed as empty.
    _owner("ReplicaSet", "apps", "v1"),
    _owner("Deployment", "apps", "v1"),
    _owner("StatefulSet", "apps", "v1"),
    _owner("DaemonSet", "apps", "v1"),
    _owner("Job", "batch", "v1"),
    _owner("CronJob", "batch", "v1"),
    _owner("PyTorchJob", "kubeflow.org", "v1"),
    _owner("TFJob", "kubeflow.org", "v1"),
    _owner("MPIJob", "kubeflow.org", "v2beta1"),
    _owner("JobSet", "jobset.x-k8s.io", "v1alpha2"),
    _owner("LeaderWorkerSet", "leaderworkerset.x-k8s.io", "v1"),
    _owner("RayCluster", "ray.io", "v1"),
    _owner("RayJob", "ray.io", "v1"),
)


class KubeConfigError(Exception):
    """The Kubernetes client cannot be configured (no kubeconfig, no service account)."""


@dataclass(frozen=True, slots=True)
class KubeSettings:
    """Where the API server is (a kubeconfig file, else the in-cluster service account),
    which pod annotations may be kept, and the watch's timings (seconds)."""

    kubeconfig: Path | None = None
    annotations: frozenset[str] = frozenset()
    page_size: int = 500
    watch_timeout_seconds: int = 300
    backoff_max_seconds: float = 30.0
    request_timeout_seconds: float = 30.0
    max_objects: int = 200_000
    resources: tuple[Resource, ...] = RESOURCES
