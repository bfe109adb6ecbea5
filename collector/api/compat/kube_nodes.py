"""What the seeds ask of a node that only the Kubernetes API knows: its address, roles, CPU
and memory capacity and allocatable, and its conditions (from the collector's watch,
`--kube`; without it, or for a node the API does not list, every such field is null and
the answer names it missing).

Quantities keep the API's own spelling where a seed shows it as a string ("32", "95500m",
"128Gi"); counted resources are numbers (cores, bytes) elsewhere.
"""

from __future__ import annotations

from typing import Any

from gputel.collector.query.core import QueryCore
from gputel.collector.registry.cluster import NodeCondition, NodeRecord
from gputel.collector.timefmt import format_time

CPU, MEMORY = "cpu", "memory"
# A node is under pressure while one of these is True (kubelet's node conditions).
PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20),
           ("Ki", 2**10))


def kube_nodes(core: QueryCore) -> dict[str, NodeRecord]:
    """Every node the Kubernetes API lists, by name ({} without the watch)."""
    return {k.node.name: k.node for k in core.kube_nodes()}


def cores_text(cores: float | None) -> str | None:
    """Cores as a Kubernetes quantity: "32", "95500m"; None kept."""
    if cores is None:
        return None
    return str(int(cores)) if cores == int(cores) else f"{round(cores * 1000)}m"


def bytes_text(value: float | None) -> str | None:
    """Bytes as a Kubernetes quantity in the largest binary unit that divides them
    ("128Gi", "1056291804Ki"), else plain bytes; None kept."""
    if value is None:
        return None
    whole = int(value)
    for suffix, size in _BINARY:
        if whole and whole % size == 0:
            return f"{whole // size}{suffix}"
    return str(whole)


def role(node: NodeRecord | None) -> str | None:
    """The node's roles (its node-role.kubernetes.io/ labels) joined by commas; None when it
    has none (kubectl's <none>) or is unknown."""
    return ",".join(node.roles) or None if node is not None else None


def resource(node: NodeRecord | None, name: str) -> tuple[float | None, float | None]:
    """(capacity, allocatable) of one resource (cores, bytes); None where not listed."""
    if node is None:
        return None, None
    return node.capacity.get(name), node.allocatable.get(name)


def under_pressure(node: NodeRecord) -> list[str]:
    """The PRESSURE conditions that are True on the node."""
    return [c.type for c in node.conditions if c.type in PRESSURE and c.status == "True"]


def condition(c: NodeCondition) -> dict[str, Any]:
    """One condition as the Kubernetes API words it."""
    return {"type": c.type, "status": c.status, "reason": c.reason or None,
            "message": c.message or None,
            "lastTransitionTime": format_time(c.last_transition_ns)
            if c.last_transition_ns else None}
