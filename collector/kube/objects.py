"""Kubernetes object JSON (as the API serves it) to the registry's records.

Only what gputel shows is kept: a pod's annotations are filtered by the allow-list here,
before anything is stored, so an annotation not on it (a token a tool left there) never
reaches memory, an answer or a log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from gputel.collector.registry.cluster import (
    NodeCondition,
    NodeRecord,
    OwnerRecord,
    OwnerRef,
    PodRecord,
    QueueRecord,
    is_gpu_resource,
)

Json = Mapping[str, Any]
QUEUE_LABELS = ("kai.scheduler/queue", "runai/queue")  # KAI-Scheduler's, Run:ai's older one
ROLE_PREFIX = "node-role.kubernetes.io/"
_SUFFIX = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "K": 1e3, "M": 1e6,
           "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20,
           "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]{0,2})$")


def quantity(text: object) -> float:
    """A Kubernetes quantity ("500m", "16Gi", "8", 2) as a number; NaN when malformed."""
    match = _QUANTITY.match(str(text).strip())
    if match is None or match[2] not in _SUFFIX:
        return float("nan")
    return float(match[1]) * _SUFFIX[match[2]]


def time_ns(text: object) -> int:
    """An RFC 3339 timestamp from the API as Unix ns; 0 when absent or malformed."""
    if not isinstance(text, str) or not text:
        return 0
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        return 0


def _map(obj: Json, *path: str) -> Json:
    for key in path:
        value = obj.get(key) if isinstance(obj, Mapping) else None
        obj = value if isinstance(value, Mapping) else {}
    return obj


def _list(obj: Json, key: str) -> list[Json]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _str_map(obj: Json) -> dict[str, str]:
    return {str(k): str(v) for k, v in obj.items()}


def owners(meta: Json) -> tuple[OwnerRef, ...]:
    """ownerReferences, the controller first."""
    refs = sorted(_list(meta, "ownerReferences"), key=lambda r: not r.get("controller"))
    return tuple(OwnerRef(str(r.get("kind", "")), str(r.get("name", "")), str(r.get("uid", "")),
                          str(r.get("apiVersion", ""))) for r in refs)


def pod(obj: Json, annotations_allowed: Collection[str]) -> PodRecord:
    """A Pod; `annotations_allowed` are the annotation keys that may be kept."""
    meta, spec, status = _map(obj, "metadata"), _map(obj, "spec"), _map(obj, "status")
    labels = _str_map(_map(meta, "labels"))
    kept = {k: str(v) for k, v in _map(meta, "annotations").items() if k in annotations_allowed}
    scheduled = bool(spec.get("nodeName")) or any(
        c.get("type") == "PodScheduled" and c.get("status") == "True"
        for c in _list(status, "conditions"))
    return PodRecord(
        str(meta.get("uid", "")), str(meta.get("namespace", "")), str(meta.get("name", "")),
        str(spec.get("nodeName", "")), str(status.get("phase", "")), labels, kept,
        owners(meta), gpus_requested(spec), time_ns(meta.get("creationTimestamp")),
        time_ns(status.get("startTime")), scheduled,
        next((labels[k] for k in QUEUE_LABELS if k in labels), ""),
        str(meta.get("resourceVersion", "")))


def gpus_requested(spec: Json) -> float:
    """GPUs the pod asks for: its containers' sum, or its largest init container's if more."""
    def of(container: Json) -> float:
        resources = _map(container, "resources")
        asked = {**_map(resources, "limits"), **_map(resources, "requests")}
        values = [quantity(v) for k, v in asked.items() if is_gpu_resource(str(k))]
        return sum(v for v in values if not math.isnan(v))

    main = sum(of(c) for c in _list(spec, "containers"))
    return max([main, *(of(c) for c in _list(spec, "initContainers"))])


def owner(obj: Json, kind: str) -> OwnerRecord:
    """A controller of `kind` (a ReplicaSet, a Deployment, a PyTorchJob...): its labels and
    where its own chain leads. Its annotations are never kept. (`kind` is passed in: the
    items of a list of built-in kinds carry none.)"""
    meta = _map(obj, "metadata")
    return OwnerRecord(kind, str(meta.get("uid", "")),
                       str(meta.get("namespace", "")), str(meta.get("name", "")), owners(meta),
                       str(meta.get("resourceVersion", "")), _str_map(_map(meta, "labels")))


def node(obj: Json) -> NodeRecord:
    """A Node: Ready, addresses, roles, kubelet version, labels, capacity, allocatable and
    its conditions."""
    meta, status = _map(obj, "metadata"), _map(obj, "status")
    ready = next((c.get("status") == "True" for c in _list(status, "conditions")
                  if c.get("type") == "Ready"), None)
    labels = _str_map(_map(meta, "labels"))
    roles = tuple(sorted(k.removeprefix(ROLE_PREFIX) for k in labels
                         if k.startswith(ROLE_PREFIX) and k != ROLE_PREFIX))
    return NodeRecord(
        str(meta.get("name", "")), str(meta.get("uid", "")), ready,
        {str(a.get("type", "")): str(a.get("address", "")) for a in _list(status, "addresses")},
        roles, str(_map(status, "nodeInfo").get("kubeletVersion", "")), labels,
        _quantities(_map(status, "capacity")), _quantities(_map(status, "allocatable")),
        str(meta.get("resourceVersion", "")),
        tuple(NodeCondition(str(c.get("type", "")), str(c.get("status", "")),
                            str(c.get("reason", "")), str(c.get("message", "")),
                            time_ns(c.get("lastTransitionTime")))
              for c in _list(status, "conditions")))


def _quantities(obj: Json) -> dict[str, float]:
    out = {str(k): quantity(v) for k, v in obj.items()}
    return {k: v for k, v in out.items() if not math.isnan(v)}


def queue(obj: Json) -> QueueRecord:
    """A KAI-Scheduler Queue (scheduling.run.ai/v2)."""
    meta, spec = _map(obj, "metadata"), _map(obj, "spec")
    gpu = _map(spec, "resources", "gpu")

    def number(key: str, default: float) -> float:
        value = quantity(gpu.get(key, default))
        return default if math.isnan(value) else value

    return QueueRecord(str(meta.get("name", "")), str(meta.get("uid", "")),
                       str(spec.get("parentQueue", "")), number("quota", 0.0),
                       number("limit", -1.0), number("overQuotaWeight", 1.0),
                       str(meta.get("resourceVersion", "")))
