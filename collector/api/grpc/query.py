"""gRPC QueryService: parses requests, calls the query services, encodes their answers.

Proto3 has no "unset" for strings and numbers, so "" and 0 mean "not given" (the same
default the HTTP route applies). Questions run in worker threads, so a slow one never holds
up the event loop that also acknowledges ingest. Errors from the core map to status codes in
one place (api.grpc.ingest.status_of).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeAlias, TypeVar

import grpc

from gputel.collector.api.grpc import encode as enc
from gputel.collector.api.grpc.ingest import status_of
from gputel.collector.errors import GputelError, InvalidParameterError
from gputel.collector.query.forecast import HOUR_NS
from gputel.collector.query.kubeview import STATUSES
from gputel.collector.query.labels import parse_selector
from gputel.collector.query.paging import DEFAULT_PAGE_SIZE, paginate
from gputel.collector.query.services import QueryServices
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc

T = TypeVar("T")
Context: TypeAlias = grpc.aio.ServicerContext
MIN_WATCH_MS = 10


def _opt(value: str) -> str | None:
    return value or None


def _required(name: str, value: str) -> str:
    """A required id field. Raises InvalidParameterError naming it when empty."""
    if not value:
        raise InvalidParameterError(name, "is required and was empty")
    return value


def _page(request_page: pb.PageRequest) -> tuple[int, int]:
    return request_page.page or 1, request_page.page_size or DEFAULT_PAGE_SIZE


class QueryServicer(pb_grpc.QueryServiceServicer):
    """Every QueryService RPC over the same services the HTTP API uses."""

    def __init__(self, services: QueryServices) -> None:
        self._s = services
        self._core = services.query

    async def GetHealth(self, request: pb.GetHealthRequest, context: Context) -> pb.Health:
        """The collector's health."""
        return await _answer(context, lambda: enc.health_pb(self._s.health()))

    async def GetOverview(self, request: pb.GetOverviewRequest, context: Context) -> pb.Overview:
        """The cluster now."""
        return await _answer(context, lambda: enc.overview_pb(self._s.cluster.overview()))

    async def ListNodes(self, request: pb.ListNodesRequest,
                        context: Context) -> pb.ListNodesResponse:
        """Nodes, filtered and paged."""
        def run() -> pb.ListNodesResponse:
            found = self._core.list_nodes(_opt(request.model), _opt(request.status))
            cut = paginate(found, *_page(request.page))
            return pb.ListNodesResponse(nodes=[enc.node_pb(n) for n in cut.items],
                                        page=enc.page_pb(cut))
        return await _answer(context, run)

    async def GetNode(self, request: pb.GetNodeRequest, context: Context) -> pb.NodeInfo:
        """One node, or NOT_FOUND."""
        return await _answer(context, lambda: enc.node_pb(
            self._core.get_node(_required("node", request.node))))

    async def ListDevices(self, request: pb.ListDevicesRequest,
                          context: Context) -> pb.ListDevicesResponse:
        """The GPUs of a node, or NOT_FOUND."""
        def run() -> pb.ListDevicesResponse:
            cut = paginate(self._core.list_devices(_required("node", request.node)),
                           *_page(request.page))
            return pb.ListDevicesResponse(devices=[enc.device_pb(v) for v in cut.items],
                                          page=enc.page_pb(cut))
        return await _answer(context, run)

    async def ListNodeWorkloads(self, request: pb.ListNodeWorkloadsRequest,
                                context: Context) -> pb.ListWorkloadsResponse:
        """Workloads on a node now, or over [start_ns, end_ns] when both are set."""
        def run() -> pb.ListWorkloadsResponse:
            uuids = [v.device.uuid for v in self._core.list_devices(
                _required("node", request.node))]
            start, end = request.start_ns or None, request.end_ns or None
            if (start is None) != (end is None):
                raise InvalidParameterError("start_ns", "give start_ns and end_ns, or neither")
            if start is not None and end is not None and end < start:
                raise InvalidParameterError("end_ns", "end is before start")
            found = self._core.workloads.on_node(request.node, uuids, start, end)
            cut = paginate(found, *_page(request.page))
            return pb.ListWorkloadsResponse(
                workloads=[enc.workload_pb(w.workload, w.gpus) for w in cut.items],
                page=enc.page_pb(cut))
        return await _answer(context, run)

    async def ListGpus(self, request: pb.ListGpusRequest,
                       context: Context) -> pb.ListDevicesResponse:
        """Every GPU, filtered and paged."""
        def run() -> pb.ListDevicesResponse:
            allocated = request.allocated if request.HasField("allocated") else None
            found = self._core.list_gpus(_opt(request.node), _opt(request.model),
                                         _opt(request.status), allocated)
            cut = paginate(found, *_page(request.page))
            return pb.ListDevicesResponse(devices=[enc.device_pb(v) for v in cut.items],
                                          page=enc.page_pb(cut))
        return await _answer(context, run)

    async def GetGpu(self, request: pb.GetGpuRequest, context: Context) -> pb.DeviceInfo:
        """One GPU, or NOT_FOUND."""
        return await _answer(context, lambda: enc.device_pb(
            self._core.find_device(_required("uuid", request.uuid), _opt(request.node))))

    async def ListGpuProcesses(self, request: pb.GetGpuRequest,
                               context: Context) -> pb.GpuProcessesResponse:
        """The processes on one GPU, or NOT_FOUND."""
        return await _answer(context, lambda: enc.processes_pb(
            self._core.gpu_processes(_required("uuid", request.uuid), _opt(request.node))))

    async def QueryRange(self, request: pb.QueryRangeRequest,
                         context: Context) -> pb.QueryRangeResponse:
        """Range series; NOT_FOUND or INVALID_ARGUMENT on bad input."""
        def run() -> pb.QueryRangeResponse:
            if not request.gpu:
                _required("node", request.node)
            return enc.range_pb(self._core.query_range(
                request.node, request.metric, request.start_ns or None, request.end_ns or None,
                request.step_ns or None, request.agg or "avg", request.gpu or None))
        return await _answer(context, run)

    async def ListWorkloads(self, request: pb.ListWorkloadsRequest,
                            context: Context) -> pb.ListWorkloadsResponse:
        """Workloads, filtered and paged."""
        def run() -> pb.ListWorkloadsResponse:
            status = _opt(request.status)
            if status is not None and status not in STATUSES:
                raise InvalidParameterError("status", f"{status!r} is not one of "
                                            f"{', '.join(STATUSES)}")
            found = self._core.workloads.summaries(
                _opt(request.namespace), _opt(request.kind), None, _opt(request.name),
                parse_selector(request.labels), status)
            cut = paginate(found, *_page(request.page))
            return pb.ListWorkloadsResponse(workloads=[enc.workload_pb(w) for w in cut.items],
                                            page=enc.page_pb(cut))
        return await _answer(context, run)

    async def GetWorkload(self, request: pb.GetWorkloadRequest,
                          context: Context) -> pb.WorkloadInfo:
        """One workload, or NOT_FOUND."""
        return await _answer(context, lambda: enc.workload_pb(
            self._core.workloads.summary(_required("uid", request.uid))))

    async def QueryWorkloadRange(self, request: pb.QueryWorkloadRangeRequest,
                                 context: Context) -> pb.QueryRangeResponse:
        """A workload's range series."""
        return await _answer(context, lambda: enc.range_pb(self._core.workload_range(
            _required("uid", request.uid), request.metric, request.start_ns or None,
            request.end_ns or None, request.step_ns or None, request.agg or "avg")))

    async def GetWorkloadHierarchy(self, request: pb.GetWorkloadRequest,
                                   context: Context) -> pb.WorkloadHierarchy:
        """A workload's owners and children."""
        return await _answer(context, lambda: enc.hierarchy_pb(
            self._core.workloads.hierarchy(_required("uid", request.uid))))

    async def ListNamespaces(self, request: pb.ListNamespacesRequest,
                             context: Context) -> pb.ListNamespacesResponse:
        """Use per namespace."""
        def run() -> pb.ListNamespacesResponse:
            cut = paginate(self._core.workloads.namespaces(), *_page(request.page))
            return pb.ListNamespacesResponse(
                namespaces=[enc.namespace_pb(n) for n in cut.items], page=enc.page_pb(cut))
        return await _answer(context, run)

    async def UtilizationHistory(self, request: pb.UtilizationHistoryRequest,
                                 context: Context) -> pb.UtilizationHistoryResponse:
        """Cluster utilization and allocation over time."""
        return await _answer(context, lambda: enc.utilization_pb(
            self._s.cluster.utilization_history(request.start_ns or None,
                                                request.end_ns or None,
                                                request.step_ns or None)))

    async def Heatmap(self, request: pb.HeatmapRequest,
                      context: Context) -> pb.HeatmapResponse:
        """Top-K GPUs by a metric over time."""
        return await _answer(context, lambda: enc.heatmap_pb(self._s.cluster.heatmap(
            request.metric or "power", request.start_ns or None, request.end_ns or None,
            request.step_ns or None, request.k or 10, request.agg or "avg")))

    async def Top(self, request: pb.TopRequest, context: Context) -> pb.TopResponse:
        """Top consumers."""
        return await _answer(context, lambda: enc.top_pb(self._s.cluster.top(
            request.by or "workloads", request.metric or "energy", request.limit or 10)))

    async def ListAlerts(self, request: pb.ListAlertsRequest,
                         context: Context) -> pb.ListAlertsResponse:
        """Alerts by state, optionally filtered."""
        def run() -> pb.ListAlertsResponse:
            found = self._s.alerts.alerts(request.state or "firing", _opt(request.rule),
                                          _opt(request.node), _opt(request.severity),
                                          _opt(request.gpu))
            cut = paginate(found, *_page(request.page))
            return pb.ListAlertsResponse(alerts=[enc.alert_pb(a) for a in cut.items],
                                         page=enc.page_pb(cut))
        return await _answer(context, run)

    async def AcknowledgeAlert(self, request: pb.AcknowledgeAlertRequest,
                               context: Context) -> pb.AlertInfo:
        """Acknowledge a firing alert (admin)."""
        return await _answer(context, lambda: enc.alert_pb(
            self._s.alerts.acknowledge(_required("id", request.id), "grpc")))

    async def UsageStatistics(self, request: pb.UsageStatisticsRequest,
                              context: Context) -> pb.UsageStatisticsResponse:
        """Statistics per GPU and model."""
        return await _answer(context, lambda: enc.statistics_pb(
            self._s.statistics.usage(request.hours or 24.0)))

    async def Cost(self, request: pb.CostRequest, context: Context) -> pb.CostResponse:
        """Cost by namespace, workload and label."""
        return await _answer(context, lambda: enc.cost_pb(
            self._s.costs.cost(request.days or 7.0)))

    async def Forecast(self, request: pb.ForecastRequest,
                       context: Context) -> pb.ForecastResponse:
        """Utilization and allocated GPUs for the next hours."""
        return await _answer(context, lambda: enc.forecast_pb(self._s.forecasts.forecast(
            request.hours or 24.0, request.history_hours or 168.0,
            request.step_ns or HOUR_NS, _opt(request.node), request.end_ns or None)))

    async def ListQueues(self, request: pb.ListQueuesRequest,
                         context: Context) -> pb.ListQueuesResponse:
        """KAI-Scheduler queues, paged."""
        def run() -> pb.ListQueuesResponse:
            cut = paginate(self._core.workloads.queues(), *_page(request.page))
            return pb.ListQueuesResponse(queues=[enc.queue_pb(q) for q in cut.items],
                                         page=enc.page_pb(cut))
        return await _answer(context, run)

    async def ListKubernetesNodes(self, request: pb.ListKubernetesNodesRequest,
                                  context: Context) -> pb.ListKubernetesNodesResponse:
        """Nodes as the Kubernetes API sees them, paged."""
        def run() -> pb.ListKubernetesNodesResponse:
            cut = paginate(self._core.kube_nodes(), *_page(request.page))
            return pb.ListKubernetesNodesResponse(
                nodes=[enc.kube_node_pb(n) for n in cut.items], page=enc.page_pb(cut))
        return await _answer(context, run)

    async def GetKubernetesState(self, request: pb.GetKubernetesStateRequest,
                                 context: Context) -> pb.KubernetesState:
        """The Kubernetes API watch, per kind."""
        kube = self._core.kube
        return await _answer(context, lambda: enc.kube_state_pb(
            kube.kinds() if kube is not None else None))

    async def Watch(self, request: pb.WatchRequest,
                    context: Context) -> AsyncIterator[pb.WatchUpdate]:
        """The selection's live windows every interval until the client cancels."""
        interval_ms = request.interval_ms or round(self._s.watch_interval_seconds * 1000)
        if interval_ms < MIN_WATCH_MS:
            await _refuse(context, InvalidParameterError(
                "interval_ms", f"at least {MIN_WATCH_MS} ms"))
        live = self._s.live
        selection = await _answer(context, lambda: live.select(
            request.node, request.gpu, request.workload, tuple(request.metrics)))
        window = interval_ms * 1_000_000
        while True:
            yield await _answer(context, lambda: enc.snapshot_pb(live.snapshot(selection,
                                                                               window)))
            await asyncio.sleep(interval_ms / 1000)


async def _refuse(context: Context, exc: GputelError) -> None:
    await context.abort(status_of(exc), exc.message)


async def _answer(context: Context, run: Callable[[], T]) -> T:
    """Run the question off the event loop (which also serves ingest); map core errors."""
    try:
        return await asyncio.to_thread(run)
    except GputelError as exc:
        await _refuse(context, exc)
        raise  # abort raises; this line keeps type checkers content
