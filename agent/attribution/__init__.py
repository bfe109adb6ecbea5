"""Who used the GPU: kubelet PodResources allocations joined with the GPU's processes.

Public surface: `Attributor` (observe per tick, drain changes), its inputs
(`ProcessSample`, `PodResourcesClient`/`PodResourcesPoller`, `CgroupResolver`,
`PodLogDirectory`) and outputs (`Share`, `Workload`, `Change`).
"""

from gputel.agent.attribution.attributor import AttributionView, Attributor
from gputel.agent.attribution.cgroups import CgroupResolver, ProcessOrigin
from gputel.agent.attribution.model import (
    Allocation,
    AllocationSource,
    AttributionStats,
    Change,
    Share,
    Workload,
)
from gputel.agent.attribution.podlogs import DEFAULT_POD_LOG_DIR, PodLogDirectory
from gputel.agent.attribution.podresources import (
    DEFAULT_SOCKET_PATH,
    PodResourcesClient,
    PodResourcesError,
    PodResourcesPoller,
)
from gputel.agent.backends.base import ProcessSample

__all__ = [
    "DEFAULT_POD_LOG_DIR",
    "DEFAULT_SOCKET_PATH",
    "Allocation",
    "AllocationSource",
    "AttributionStats",
    "AttributionView",
    "Attributor",
    "CgroupResolver",
    "Change",
    "PodLogDirectory",
    "PodResourcesClient",
    "PodResourcesError",
    "PodResourcesPoller",
    "ProcessOrigin",
    "ProcessSample",
    "Share",
    "Workload",
]
