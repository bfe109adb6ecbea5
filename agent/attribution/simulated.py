"""A simulated cluster for simulated GPUs: pods that hold the sim backend's GPUs, for demos.

Stands where the kubelet's PodResources poller stands (an AllocationSource), so the whole
attribution path runs: a training job holds GPUs 0 and 1, an inference service GPU 2, and a
notebook holds the idle GPU 3 for 15 minutes of every 20 (allocated but idle: the alert the
collector raises for it is part of the demo); larger sims repeat the pattern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gputel.agent.attribution.model import Allocation, DeviceLike

CYCLE_NS = 20 * 60 * 10**9
NOTEBOOK_NS = 15 * 60 * 10**9
# (namespace, pod) by GPU index modulo 4; the notebook comes and goes.
PODS = (("ml-research", "llm-pretrain-{n}"), ("ml-research", "llm-pretrain-{n}"),
        ("inference", "chat-api-{n}"), ("ml-research", "notebook-alice-{n}"))


class SimulatedCluster:
    """Allocations of simulated pods to the agent's devices, as a function of time."""

    def __init__(self, devices: Sequence[DeviceLike]) -> None:
        self._devices = list(devices)
        self._start_ns: int | None = None
        self._current: dict[int, tuple[Allocation, ...]] = {}
        self.available = True
        self.generation = 0

    def poll(self, now_ns: int, urgent: bool = False) -> bool:
        """Recompute who holds what at now_ns; True if it changed."""
        del urgent  # nothing to rate-limit: no kubelet behind it
        if self._start_ns is None:
            self._start_ns = now_ns
        notebook = (now_ns - self._start_ns) % CYCLE_NS < NOTEBOOK_NS
        current: dict[int, tuple[Allocation, ...]] = {}
        for device in self._devices:
            namespace, pod = PODS[device.index % len(PODS)]
            if device.index % len(PODS) == 3 and not notebook:
                continue
            name = pod.format(n=device.index // len(PODS))
            current[device.index] = (Allocation(namespace, name, "main", "nvidia.com/gpu",
                                                device.uuid),)
        if current == self._current:
            return False
        self._current = current
        self.generation += 1
        return True

    def allocations(self) -> Mapping[int, tuple[Allocation, ...]]:
        """Device index -> allocations."""
        return dict(self._current)

    def close(self) -> None:
        """Nothing to release."""
