"""What attribution takes in and gives out: process samples, shares, workloads, change records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

WorkloadKind = Literal["pod", "slurm", "process"]


class DeviceLike(Protocol):
    """The parts of an agent device that attribution needs (`backends.base.DeviceInfo` fits)."""

    @property
    def index(self) -> int: ...
    @property
    def uuid(self) -> str: ...
    @property
    def pci_bus_id(self) -> str: ...
    @property
    def mig_parent_uuid(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Share:
    """One workload's part of one device, a fraction in [0, 1].

    The shares of a device sum to 1 whenever anyone holds it (MIG parents excepted,
    see Attributor). A pod that holds a shared GPU but used none of it has 0.0.
    """

    workload_uid: str
    fraction: float


@dataclass(frozen=True, slots=True)
class Workload:
    """Who a share belongs to, with what an operator filters on.

    kind "pod": uid is the pod UID when the agent could learn it (cgroup path or
    /var/log/pods), else "namespace/name"; container lists the containers that were
    given devices, comma-separated. kind "slurm": uid "slurm/<job id>", namespace is
    the job's user, pod the job name, labels the SLURM_* facts. kind "process":
    anything else on a GPU, uid "process/<pid>" (container = process name) or
    "container/<12-hex id>" for a container outside Kubernetes.
    `labels` and `owners` ((kind, name) from the pod up) stay empty unless a
    metadata source was given.
    """

    uid: str
    kind: WorkloadKind
    namespace: str = ""
    pod: str = ""
    container: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    owners: tuple[tuple[str, str], ...] = ()
    pod_uid: str = ""


@dataclass(frozen=True, slots=True)
class Allocation:
    """One container's claim on one agent device, as the kubelet reported it."""

    namespace: str
    pod: str
    container: str
    resource_name: str
    device_id: str


class AllocationSource(Protocol):
    """Where kubelet allocations come from (`PodResourcesPoller`; a fake in tests)."""

    available: bool
    generation: int  # +1 whenever allocations() changes

    def poll(self, now_ns: int, urgent: bool = False) -> bool:
        """Refresh if due (urgent: the GPU process set changed); True if the view changed."""

    def allocations(self) -> Mapping[int, tuple[Allocation, ...]]:
        """Device index -> allocations."""

    def close(self) -> None:
        """Release the connection; idempotent."""


@dataclass(slots=True)
class AttributionStats:
    """Counters for the agent's /metrics."""

    observes: int = 0
    recomputes: int = 0
    changes: int = 0
    pids_resolved: int = 0
    pods_unjoined: int = 0
    # Pending for the frame writer beyond their bounds (it stalled): oldest dropped.
    changes_dropped: int = 0
    workload_updates_dropped: int = 0


class Change(NamedTuple):
    """From tick `ts_ns` (Unix ns) on, device `device_index` is held by `shares` (empty: nobody)."""

    ts_ns: int
    device_index: int
    shares: tuple[Share, ...]
