"""gRPC transport (grpc.aio): the ingest stream and the query service over the cores."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import grpc
import numpy as np

from gputel.collector.errors import GputelError, InvalidFrameError, NotFoundError
from gputel.collector.ingest import IngestCore, Session
from gputel.collector.query import DeviceView, NodeSummary, QueryCore, Series
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
VERSION = "0.1.0"
T = TypeVar("T")
BAD_SEQ_KEY = "gputel-bad-seq"
_STATUS = {
    "INVALID_PARAMETER": grpc.StatusCode.INVALID_ARGUMENT,
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "UNAUTHORIZED": grpc.StatusCode.UNAUTHENTICATED,
    "FORBIDDEN": grpc.StatusCode.PERMISSION_DENIED,
    "RATE_LIMITED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: GputelError) -> grpc.StatusCode:
    """The one mapping from gputel's error tree to gRPC status codes."""
    return _STATUS.get(error.code, grpc.StatusCode.INTERNAL)


class IngestServicer(pb_grpc.IngestServiceServicer):
    """One coroutine per agent stream; bad input ends that stream only."""

    def __init__(self, core: IngestCore) -> None:
        self._core = core

    async def Stream(self, request_iterator: AsyncIterator[pb.AgentMessage],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.CollectorMessage]:
        """Hello -> Welcome, then Frame -> Ack until the agent goes away."""
        session: Session | None = None
        try:
            async for message in request_iterator:
                kind = message.WhichOneof("kind")
                if kind == "hello" and session is None:
                    session, acked = self._core.open(message.hello)
                    yield pb.CollectorMessage(welcome=pb.Welcome(collector_version=VERSION,
                                                                 acked_through=acked))
                elif kind == "frame" and session is not None:
                    duplicate = self._core.apply(session, message.frame)
                    yield pb.CollectorMessage(ack=pb.Ack(seq=message.frame.seq,
                                                         duplicate=duplicate))
                else:
                    self._core.reject("protocol")
                    raise InvalidFrameError(_out_of_order(kind, session is not None))
        except InvalidFrameError as exc:
            log.warning("ingest from %s refused: %s", context.peer(), exc.message)
            context.set_trailing_metadata(((BAD_SEQ_KEY, str(exc.seq)),) if exc.seq else ())
            await context.abort(status_of(exc), exc.message)
        finally:
            if session is not None:
                self._core.close(session)


def _out_of_order(kind: str | None, after_hello: bool) -> str:
    if kind is None:
        return "empty message: set hello or frame"
    if after_hello:
        return "a second hello on one stream"
    return "the first message of a stream must be a hello"


class QueryServicer(pb_grpc.QueryServiceServicer):
    """Parses requests, calls the query core, encodes its answers."""

    def __init__(self, core: QueryCore) -> None:
        self._core = core

    async def ListNodes(self, request: pb.ListNodesRequest,
                        context: grpc.aio.ServicerContext) -> pb.ListNodesResponse:
        """Every node."""
        return pb.ListNodesResponse(nodes=[node_pb(n) for n in self._core.list_nodes()])

    async def GetNode(self, request: pb.GetNodeRequest,
                      context: grpc.aio.ServicerContext) -> pb.NodeInfo:
        """One node, or NOT_FOUND."""
        return await _answer(context, lambda: node_pb(self._core.get_node(request.node)))

    async def ListDevices(self, request: pb.ListDevicesRequest,
                          context: grpc.aio.ServicerContext) -> pb.ListDevicesResponse:
        """The GPUs of a node, or NOT_FOUND."""
        return await _answer(context, lambda: pb.ListDevicesResponse(
            devices=[device_pb(v) for v in self._core.list_devices(request.node)]))

    async def QueryRange(self, request: pb.QueryRangeRequest,
                         context: grpc.aio.ServicerContext) -> pb.QueryRangeResponse:
        """Range series; NOT_FOUND or INVALID_ARGUMENT on bad input."""
        def run() -> pb.QueryRangeResponse:
            if not request.node:
                raise NotFoundError("node", "")
            r = self._core.query_range(
                request.node, request.metric, request.start_ns or None, request.end_ns or None,
                request.step_ns or None, request.agg or "avg", request.gpu or None)
            return pb.QueryRangeResponse(
                node=r.node, metric=r.metric, unit=r.unit, agg=r.agg, start_ns=r.start_ns,
                end_ns=r.end_ns, step_ns=r.step_ns, gpus=[series_pb(s) for s in r.gpus],
                node_total=series_pb(r.node_total))
        return await _answer(context, run)


async def _answer(context: grpc.aio.ServicerContext, run: Callable[[], T]) -> T:
    try:
        return run()
    except GputelError as exc:
        await context.abort(status_of(exc), exc.message)
        raise  # abort raises; this line keeps type checkers content


def node_pb(n: NodeSummary) -> pb.NodeInfo:
    """NodeSummary -> NodeInfo."""
    s = n.state
    return pb.NodeInfo(name=s.name, connected=n.connected, backend=s.backend,
                       agent_instance=s.agent_instance, agent_version=s.agent_version,
                       sample_rate_hz=s.sample_rate_hz, gpu_count=len(s.devices),
                       gpu_models=n.gpu_models, first_seen_ns=s.first_seen_ns,
                       last_seen_ns=s.last_seen_ns, frames_ingested=s.frames,
                       samples_ingested=s.samples)


def device_pb(v: DeviceView) -> pb.DeviceInfo:
    """DeviceView -> DeviceInfo."""
    d = v.device
    return pb.DeviceInfo(node=d.node, device=pb.Device(
        index=d.index, uuid=d.uuid, vendor=d.vendor, model=d.model,
        memory_total_bytes=d.memory_total_bytes, mig_parent_uuid=d.mig_parent_uuid,
        pci_bus_id=d.pci_bus_id), latest=v.latest, latest_ts_ns=v.latest_ts_ns)


def series_pb(s: Series) -> pb.Series:
    """Series -> pb.Series."""
    return pb.Series(gpu=s.gpu, index=s.index, ts_ns=s.ts_ns.tolist(),
                     values=np.asarray(s.values, dtype=np.float64).tolist())
