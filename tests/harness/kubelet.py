"""A kubelet PodResources stand-in: the real v1 gRPC API on a unix socket in a temp dir.

Tests script pods arriving and leaving with `set_pods`, stop and restart the server
to play a kubelet restart, and count the calls it answered.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import grpc

from gputel.proto.k8s.podresources.v1 import api_pb2, api_pb2_grpc

GetMode = Literal["enabled", "disabled", "unimplemented"]


@dataclass(frozen=True)
class FakePod:
    """A pod as the kubelet lists it: container -> resource name -> device ids."""

    namespace: str
    name: str
    devices: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def to_proto(self) -> api_pb2.PodResources:
        containers = [
            api_pb2.ContainerResources(name=ctr, devices=[
                api_pb2.ContainerDevices(resource_name=res, device_ids=list(ids))
                for res, ids in resources.items()])
            for ctr, resources in self.devices.items()]
        return api_pb2.PodResources(name=self.name, namespace=self.namespace,
                                    containers=containers)


def gpu_pod(namespace: str, name: str, *device_ids: str, container: str = "main",
            resource: str = "nvidia.com/gpu") -> FakePod:
    """A one-container pod given `device_ids` of `resource`."""
    return FakePod(namespace, name, {container: {resource: tuple(device_ids)}})


class _Servicer(api_pb2_grpc.PodResourcesListerServicer):
    def __init__(self, owner: KubeletStandIn) -> None:
        self._owner = owner

    def List(self, request: api_pb2.ListPodResourcesRequest,
             context: grpc.ServicerContext) -> api_pb2.ListPodResourcesResponse:
        self._owner.calls["List"] += 1
        return api_pb2.ListPodResourcesResponse(
            pod_resources=[p.to_proto() for p in self._owner.pods()])

    def GetAllocatableResources(self, request: api_pb2.AllocatableResourcesRequest,
                                context: grpc.ServicerContext,
                                ) -> api_pb2.AllocatableResourcesResponse:
        self._owner.calls["GetAllocatableResources"] += 1
        devices = [api_pb2.ContainerDevices(resource_name=res, device_ids=list(ids))
                   for res, ids in self._owner.allocatable.items()]
        return api_pb2.AllocatableResourcesResponse(devices=devices)

    def Get(self, request: api_pb2.GetPodResourcesRequest,
            context: grpc.ServicerContext) -> api_pb2.GetPodResourcesResponse:
        self._owner.calls["Get"] += 1
        if self._owner.get_mode == "unimplemented":  # what a kubelet older than 1.27 says
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        if self._owner.get_mode == "disabled":  # the kubelet's answer with the gate off
            context.abort(grpc.StatusCode.UNKNOWN, "PodResources API Get method disabled")
        for pod in self._owner.pods():
            if (pod.namespace, pod.name) == (request.pod_namespace, request.pod_name):
                return api_pb2.GetPodResourcesResponse(pod_resources=pod.to_proto())
        context.abort(grpc.StatusCode.UNKNOWN, f"pod {request.pod_name} in namespace "
                                               f"{request.pod_namespace} not found")
        raise AssertionError("abort returned")  # pragma: no cover


class KubeletStandIn:
    """Serves PodResourcesLister on `<temp dir>/kubelet.sock` (short path: sun_path <= 107)."""

    def __init__(self, pods: Iterable[FakePod] = (), get_mode: GetMode = "enabled",
                 allocatable: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="gputel-kl-")
        self.socket_path = os.path.join(self.dir, "kubelet.sock")
        self.get_mode = get_mode
        self.allocatable = dict(allocatable or {})
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pods = list(pods)
        self._server: grpc.Server | None = None

    def pods(self) -> list[FakePod]:
        """The pods List answers with now."""
        with self._lock:
            return list(self._pods)

    def set_pods(self, pods: Iterable[FakePod]) -> None:
        """Replace the node's pods (arrivals and departures in one step of a script)."""
        with self._lock:
            self._pods = list(pods)

    def start(self) -> KubeletStandIn:
        """Bind the socket and serve; also a restart after stop()."""
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        api_pb2_grpc.add_PodResourcesListerServicer_to_server(_Servicer(self), server)
        server.add_insecure_port(f"unix:{self.socket_path}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving (a kubelet restart); the socket file is removed like the kubelet's."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)

    def close(self) -> None:
        """Stop and delete the temp dir; idempotent."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def refusing_socket(path: str) -> Iterator[str]:
    """A unix socket file nobody listens on: connecting gets ECONNREFUSED."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        yield path
    finally:
        sock.close()
        if os.path.exists(path):
            os.unlink(path)
