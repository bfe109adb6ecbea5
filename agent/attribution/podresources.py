"""The kubelet PodResources v1 API: a client over its unix socket and a rate-respecting poller.

The kubelet rate-limits this endpoint (qps=100, burst 10, shared by every client on
the node: device plugins, exporters, topology updaters). The poller therefore calls
`List` at most every `interval_ns` (default 2 s), plus at once when the caller says
the GPU process set changed, but never twice within `min_gap_ns` (default 0.2 s):
at most 5 calls a second in the worst case, 0.5 a second when nothing happens.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from gputel.agent.attribution.device_ids import DeviceIdMap
from gputel.agent.attribution.model import Allocation, DeviceLike
from gputel.agent.errors import AgentError
from gputel.proto.k8s.podresources.v1 import api_pb2, api_pb2_grpc

log = logging.getLogger(__name__)

DEFAULT_SOCKET_PATH = "/var/lib/kubelet/pod-resources/kubelet.sock"
DEFAULT_INTERVAL_NS = 2_000_000_000
DEFAULT_MIN_GAP_NS = 200_000_000
DEFAULT_BACKOFF_NS = (1_000_000_000, 5_000_000_000)
GPU_RESOURCE_NAMES = frozenset({"nvidia.com/gpu", "nvidia.com/gpu.shared", "amd.com/gpu"})
GPU_RESOURCE_PREFIXES = ("nvidia.com/mig-", "amd.com/")
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class PodResourcesError(AgentError):
    """The kubelet PodResources API could not be reached or refused a call."""


class PodResourcesClient:
    """Blocking calls to the kubelet's PodResourcesLister, each bounded by `timeout_s` seconds.

    Every failure is raised as PodResourcesError (the gRPC error kept as __cause__);
    after one, the next call dials a fresh channel, so a restarted kubelet is found
    again without waiting out gRPC's own reconnect backoff.
    """

    def __init__(self, socket_path: str = DEFAULT_SOCKET_PATH, timeout_s: float = 1.0) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self.get_supported = True
        self._channel: grpc.Channel | None = None
        self._stub: api_pb2_grpc.PodResourcesListerStub | None = None

    def list_pods(self) -> list[api_pb2.PodResources]:
        """Every active pod on the node with its containers' devices."""
        reply = self._call("List", api_pb2.ListPodResourcesRequest())
        return list(reply.pod_resources)

    def allocatable(self) -> list[api_pb2.ContainerDevices]:
        """Every device the kubelet can hand out (capacity, not what is free)."""
        reply = self._call("GetAllocatableResources", api_pb2.AllocatableResourcesRequest())
        return list(reply.devices)

    def get_pod(self, namespace: str, name: str) -> api_pb2.PodResources | None:
        """One pod's resources, None if the kubelet does not know it.

        Uses `Get` where the kubelet has it (gate KubeletPodResourcesGet, beta from
        1.34); an older kubelet answers UNIMPLEMENTED, a gated one "method disabled",
        and from then on this falls back to `List`.
        """
        if self.get_supported:
            request = api_pb2.GetPodResourcesRequest(pod_name=name, pod_namespace=namespace)
            try:
                reply: api_pb2.GetPodResourcesResponse = self._call("Get", request)
                return reply.pod_resources
            except PodResourcesError as exc:
                if not _get_unsupported(exc.__cause__):
                    if "not found" in str(exc):
                        return None
                    raise
                self.get_supported = False
                log.info("kubelet PodResources has no Get method; using List instead")
        wanted = (namespace, name)
        return next((p for p in self.list_pods() if (p.namespace, p.name) == wanted), None)

    def close(self) -> None:
        """Close the channel; idempotent. The next call opens a new one."""
        if self._channel is not None:
            self._channel.close()
        self._channel = None
        self._stub = None

    def _call(self, method: str, request: Message) -> Any:
        if not os.path.exists(self.socket_path):
            raise PodResourcesError(f"kubelet socket {self.socket_path} does not exist "
                                    "(is <kubelet root-dir>/pod-resources mounted?)")
        stub = self._stub or self._connect()
        try:
            return getattr(stub, method)(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNKNOWN:  # UNKNOWN: the kubelet answered
                self.close()
            raise PodResourcesError(f"{method} on {self.socket_path}: {exc.code().name}: "
                                    f"{exc.details()}") from exc

    def _connect(self) -> api_pb2_grpc.PodResourcesListerStub:
        target = f"unix://{os.path.abspath(self.socket_path)}"
        self._channel = grpc.insecure_channel(target, options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),
        ])
        stub = api_pb2_grpc.PodResourcesListerStub  # generated, untyped
        self._stub = stub(self._channel)
        return self._stub


def _get_unsupported(cause: BaseException | None) -> bool:
    """Whether a failed Get means "this kubelet has no Get" rather than a real error."""
    if not isinstance(cause, grpc.RpcError):
        return False
    code, details = cause.code(), cause.details() or ""
    return code == grpc.StatusCode.UNIMPLEMENTED or (
        code == grpc.StatusCode.UNKNOWN and "disabled" in details)


def is_gpu_resource(name: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether a device-plugin resource name is one of the GPU resources gputel attributes."""
    return name in GPU_RESOURCE_NAMES or name in extra or name.startswith(GPU_RESOURCE_PREFIXES)


def map_allocations(pods: Iterable[api_pb2.PodResources], ids: DeviceIdMap,
                    extra: frozenset[str] = frozenset()) -> dict[int, tuple[Allocation, ...]]:
    """Device index -> the containers the kubelet gave it to (GPU resources only)."""
    found: dict[int, list[Allocation]] = {}
    for pod in pods:
        for ctr in pod.containers:
            for devs in ctr.devices:
                if not is_gpu_resource(devs.resource_name, extra):
                    continue
                for device_id in devs.device_ids:
                    alloc = Allocation(pod.namespace, pod.name, ctr.name, devs.resource_name,
                                       device_id)
                    for index in ids.lookup(device_id):
                        found.setdefault(index, []).append(alloc)
    return {index: tuple(allocs) for index, allocs in found.items()}


class PodResourcesPoller:
    """Keeps the latest device -> allocations view; `poll(now_ns)` decides whether to call.

    Never raises for an absent or failing kubelet: `available` turns False, `failures`
    counts failed calls, one warning is logged per outage, and calls are retried with
    exponential backoff (1 s doubling to 5 s: a List on a unix socket is cheap, and a
    kubelet that is back is noticed within 5 s). The last good view is kept meanwhile:
    running pods keep their devices while the kubelet restarts.
    """

    def __init__(self, client: PodResourcesClient, devices: Iterable[DeviceLike],
                 interval_ns: int = DEFAULT_INTERVAL_NS, min_gap_ns: int = DEFAULT_MIN_GAP_NS,
                 backoff_ns: tuple[int, int] = DEFAULT_BACKOFF_NS,
                 extra_resource_names: Iterable[str] = ()) -> None:
        self.client = client
        self.interval_ns = interval_ns
        self.min_gap_ns = min_gap_ns
        self.backoff_ns = backoff_ns
        self.available = False
        self.polls = 0
        self.failures = 0
        self.generation = 0  # +1 whenever allocations() changes
        self.unmatched_ids: tuple[str, ...] = ()
        self._ids = DeviceIdMap(devices)
        self._extra = frozenset(extra_resource_names)
        self._allocations: dict[int, tuple[Allocation, ...]] = {}
        self._pods: frozenset[tuple[str, str]] = frozenset()
        self._last_call_ns: int | None = None
        self._retry_at_ns = 0
        self._streak = 0  # consecutive failures
        self._pending = False
        self._checked_ids = False

    def close(self) -> None:
        """Close the kubelet channel; idempotent."""
        self.client.close()

    def allocations(self) -> Mapping[int, tuple[Allocation, ...]]:
        """Device index -> allocations, from the last successful List."""
        return self._allocations

    def pods(self) -> frozenset[tuple[str, str]]:
        """(namespace, name) of every pod in the last successful List."""
        return self._pods

    def due(self, now_ns: int, urgent: bool = False) -> bool:
        """Whether poll(now_ns, urgent) would call the kubelet."""
        if self._streak:  # failing: the backoff alone decides
            return now_ns >= self._retry_at_ns
        if self._last_call_ns is None:
            return True
        since = now_ns - self._last_call_ns
        if urgent or self._pending:
            return since >= self.min_gap_ns or since < 0
        return since >= self.interval_ns or since < 0

    def poll(self, now_ns: int, urgent: bool = False) -> bool:
        """Call List if due (urgent: the GPU process set changed); True if the view changed."""
        if not self.due(now_ns, urgent):
            self._pending = self._pending or urgent
            return False
        self._pending = False
        self._last_call_ns = now_ns
        self.polls += 1
        try:
            pods = self.client.list_pods()
        except PodResourcesError as exc:
            self._failed(now_ns, exc)
            return False
        self._recovered()
        if not self._checked_ids:
            self._check_ids()
        return self._apply(pods)

    def _apply(self, pods: list[api_pb2.PodResources]) -> bool:
        allocations = map_allocations(pods, self._ids, self._extra)
        names = frozenset((p.namespace, p.name) for p in pods)
        if allocations == self._allocations and names == self._pods:
            return False
        self._allocations, self._pods = allocations, names
        self.generation += 1
        return True

    def _failed(self, now_ns: int, exc: PodResourcesError) -> None:
        self.failures += 1
        self._streak += 1
        first, cap = self.backoff_ns
        delay = min(cap, first << min(self._streak - 1, 32))
        self._retry_at_ns = now_ns + delay
        if self._streak == 1:  # once per outage, not once per retry
            log.warning("kubelet PodResources API unavailable (%s); GPU pod attribution falls "
                        "back to process cgroups and keeps the last known allocations; "
                        "retrying with backoff up to %d s", exc, cap // 1_000_000_000)
        self.available = False

    def _recovered(self) -> None:
        if self._streak:
            log.info("kubelet PodResources API reachable again at %s after %d failed calls",
                     self.client.socket_path, self._streak)
        self._streak = 0
        self._retry_at_ns = 0
        self.available = True

    def _check_ids(self) -> None:
        """Say once if the kubelet names GPUs in a way no agent device matches."""
        try:
            devices = self.client.allocatable()
        except PodResourcesError as exc:
            log.debug("GetAllocatableResources failed: %s", exc)
            return
        self._checked_ids = True
        self.unmatched_ids = tuple(sorted(
            device_id for devs in devices if is_gpu_resource(devs.resource_name, self._extra)
            for device_id in devs.device_ids if not self._ids.lookup(device_id)))
        if self.unmatched_ids:
            log.warning("kubelet GPU device ids %s match no GPU of this agent (known forms: "
                        "GPU-/MIG- UUID, PCI bus id); pods holding them cannot be attributed "
                        "through PodResources", ", ".join(self.unmatched_ids[:8]))
