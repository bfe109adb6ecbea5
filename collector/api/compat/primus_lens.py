"""`--compat primus-lens`: the read routes of Primus-Lens's API (seed 000) under its paths.

Envelope `{"code": 0, "data": ...}`; an error is its HTTP status plus `{"code": <Lens
error code>, "message": ..., "data": null}` (40001 invalid parameter, 40003 not found,
40004 unauthenticated, 40005 forbidden, 50000 internal). Lists take `pageNum` / `pageSize`
and answer `{"data": [...], "total": N}`. Rates and utilization are fractions (0..1) as in
Lens's overview, except in MetricsGraph answers, whose axis unit says "%". Times in
requests are Unix seconds, in MetricsGraph points Unix seconds. `vramUtilization` is device
memory in use over memory in all (/api/v1/utilization/history's `memoryUsedPercent`).
With the Kubernetes watch a node's `address` is the API's (InternalIP first) and owners
carry their uid; a workload's `apiVersion` is v1 for a pod, its ownerReference's for an
owner workload.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from gputel.collector.api.compat.common import (
    PageNum,
    PageSize,
    envelope_missing,
    error_route,
    fraction,
    missing_header,
    page_of,
    seconds,
    seconds_ns,
)
from gputel.collector.api.compat.kube_nodes import kube_nodes
from gputel.collector.errors import GputelError
from gputel.collector.query.aggregate import FloatArray
from gputel.collector.query.core import NodeSummary, QueryCore, RangeResult
from gputel.collector.query.labels import parse_selector
from gputel.collector.query.services import QueryServices
from gputel.collector.query.workloads import Hierarchy, WorkloadSummary
from gputel.collector.timefmt import format_time

NAME = "primus-lens"
PREFIXES = ("/api/clusters/", "/api/nodes", "/api/workloads", "/api/workloadMetadata",
            "/api/storage/")
CODES = {400: 40001, 401: 40004, 403: 40005, 404: 40003}
HEATMAP_K = 5  # Lens's heatmap is a top 5
DEFAULT_STEP_S = 60
HIERARCHY_DEPTH = 8
HEATMAP = (("utilization", "gpu_util", 1, "%"), ("power", "power", 2, "W"),
           ("temperature", "temperature", 3, "℃"))
WORKLOAD_GRAPHS = (("GPU Utilization", "gpu_util", 1, "%"),
                   ("GPU Memory Utilization", "mem_util", 2, "%"),
                   ("GPU Power", "power", 3, "W"))
NO_ADDRESS = "address: the Kubernetes API does not list the node (or is not watched)"
NO_API_VERSION = "apiVersion: not a Kubernetes object"
NO_OWNER_UID = "owner uids: known from the Kubernetes watch only"
Start = Annotated[int | None, Query(description="Unix seconds; default end - 1 h")]
End = Annotated[int | None, Query(description="Unix seconds; default now")]
Step = Annotated[int, Query(ge=1, description="seconds between points")]


def render_error(status: int, exc: GputelError) -> JSONResponse:
    """Lens's error answer."""
    return JSONResponse({"code": CODES.get(status, 50000), "message": exc.message,
                         "data": None}, status_code=status)


def ok(data: Any, *missing: str) -> JSONResponse:
    """Lens's success answer; what gputel lacks is named in `missing` and the header."""
    return JSONResponse(envelope_missing({"code": 0, "data": data}, missing),
                        headers=missing_header(missing))


def router(services: QueryServices) -> APIRouter:
    """Every read route of seed 000."""
    r = APIRouter(prefix="/api", route_class=error_route(render_error),
                  tags=["compat: primus-lens"])
    _cluster_routes(r, services)
    _node_routes(r, services)
    _workload_routes(r, services)
    return r


def _cluster_routes(r: APIRouter, services: QueryServices) -> None:
    cluster = services.cluster

    @r.get("/clusters/overview", summary="Lens: cluster overview")
    def overview() -> JSONResponse:
        o = cluster.overview()
        return ok({"totalNodes": o.nodes_total, "healthyNodes": o.nodes_healthy,
                   "faultyNodes": o.nodes_faulty, "fullyIdleNodes": o.nodes_fully_idle,
                   "partiallyIdleNodes": o.nodes_partially_idle, "busyNodes": o.nodes_busy,
                   "allocationRate": o.allocation_rate,
                   "utilization": fraction(o.gpu_utilization),
                   "storageStat": None, "rdmaClusterStat": None},
                  "storageStat: gputel does not watch storage",
                  "rdmaClusterStat: gputel does not watch RDMA networks")

    @r.get("/clusters/consumers", summary="Lens: GPU consumers (running workloads)")
    def consumers(page_num: PageNum = 1, page_size: PageSize = 10) -> JSONResponse:
        items, total = page_of(services.query.workloads.summaries(running=True), page_num,
                               page_size)
        return ok({"data": [_consumer(w) for w in items], "total": total})

    @r.get("/clusters/gpuHeatmap", summary="Lens: top-5 GPUs by power, utilization, temperature")
    def heatmap() -> JSONResponse:
        out = {}
        for key, metric, serial, unit in HEATMAP:
            h = cluster.heatmap(metric, k=HEATMAP_K)
            out[key] = {"serial": serial, "unit": unit, "yAxisMax": h.max_value,
                        "yAxisMin": h.min_value,
                        "data": [{"nodeName": row.node, "deviceId": row.index,
                                  "gpuUuid": row.uuid, "value": row.mean,
                                  "gpuModel": row.model} for row in h.rows]}
        return ok(out)


def _consumer(w: WorkloadSummary) -> dict[str, Any]:
    i = w.info
    return {"kind": i.kind, "name": i.pod, "namespace": i.namespace, "uid": i.uid,
            "stat": {"gpuRequest": w.gpus, "gpuUtilization": fraction(w.utilization_percent)}}


def _node_routes(r: APIRouter, services: QueryServices) -> None:
    core = services.query

    @r.get("/nodes", summary="Lens: GPU nodes")
    def nodes(page_num: PageNum = 1, page_size: PageSize = 10) -> JSONResponse:
        items, total = page_of(core.list_nodes(), page_num, page_size)
        shown = [_node(n, _addresses(core)) for n in items]
        return ok({"data": shown, "total": total},
                  NO_ADDRESS if any(n["address"] is None for n in shown) else "")

    @r.get("/nodes/gpuAllocation", summary="Lens: GPU allocation per node")
    def allocation() -> JSONResponse:
        return ok([{"nodeName": n.state.name, "capacity": len(n.state.devices),
                    "allocated": n.gpus_allocated,
                    "allocationRate": n.gpus_allocated / len(n.state.devices)
                    if n.state.devices else None} for n in core.list_nodes()])

    @r.get("/nodes/gpuUtilization", summary="Lens: cluster GPU utilization now")
    def utilization() -> JSONResponse:
        o = services.cluster.overview()
        return ok({"allocationRate": o.allocation_rate,
                   "utilization": fraction(o.gpu_utilization)})

    @r.get("/nodes/gpuUtilizationHistory", summary="Lens: cluster utilization over time")
    def history(start: Start = None, end: End = None,
                step: Step = DEFAULT_STEP_S) -> JSONResponse:
        h = services.cluster.utilization_history(*_range(core.time_ns(), start, end, step))
        times = [seconds(int(t)) for t in h.times]
        rate = [int(a) / h.gpus_total if h.gpus_total else None for a in h.allocated]
        return ok({"allocationRate": _points(times, rate),
                   "utilization": _points(times, _fractions(h.utilization)),
                   "vramUtilization": _points(times, _fractions(h.memory_used))})

    @r.get("/nodes/{name}", summary="Lens: one node")
    def node(name: str) -> JSONResponse:
        shown = _node(core.get_node(name), _addresses(core))
        return ok(shown, NO_ADDRESS if shown["address"] is None else "")

    @r.get("/nodes/{name}/gpuDevices", summary="Lens: the GPUs of a node")
    def devices(name: str) -> JSONResponse:
        return ok([{"deviceId": v.device.index, "gpuUuid": v.device.uuid,
                    "model": v.device.model, "memory": v.device.memory_total_bytes,
                    "utilization": v.latest.get("gpu_util"),
                    "temperature": v.latest.get("temperature"),
                    "power": v.latest.get("power")} for v in core.list_devices(name)])

    @r.get("/nodes/{name}/gpuMetrics", summary="Lens: a node's GPU utilization and allocation")
    def gpu_metrics(name: str, start: Start = None, end: End = None,
                    step: Step = DEFAULT_STEP_S) -> JSONResponse:
        window = _range(core.time_ns(), start, end, step)
        util = core.query_range(name, "gpu_util", *window)
        alloc = services.cluster.utilization_history(*window, node=name)
        rate = [{"timestamp": seconds(int(t)), "value": 100.0 * int(a) / alloc.gpus_total}
                for t, a in zip(alloc.times, alloc.allocated, strict=True) if alloc.gpus_total]
        return ok({"gpu_utilization": _graph(util, 1, "%", "gpu_utilization"),
                   "gpu_allocation_rate": {
                       "serial": 2, "config": {"y_axis_unit": "%"},
                       "series": [{"labels": {"__name__": "gpu_allocation_rate",
                                              "node": name}, "values": rate}]}})

    @r.get("/nodes/{name}/workloads", summary="Lens: workloads on a node now")
    def node_workloads(name: str, page_num: PageNum = 1,
                       page_size: PageSize = 10) -> JSONResponse:
        uuids = [v.device.uuid for v in core.list_devices(name)]
        items, total = page_of(core.workloads.on_node(name, uuids), page_num, page_size)
        return ok({"data": [_workload_item(w.workload) for w in items], "total": total})

    @r.get("/nodes/{name}/workloadsHistory", summary="Lens: workloads a node ran")
    def node_history(name: str, start: Start = None, end: End = None, page_num: PageNum = 1,
                     page_size: PageSize = 10) -> JSONResponse:
        uuids = [v.device.uuid for v in core.list_devices(name)]
        start_ns, end_ns, _ = _range(core.time_ns(), start, end, 1)
        found = core.workloads.on_node(name, uuids, start_ns, end_ns)
        items, total = page_of(found, page_num, page_size)
        return ok({"data": [_workload_item(w.workload) for w in items], "total": total})


def _addresses(core: QueryCore) -> dict[str, str | None]:
    """Each node's address as the Kubernetes API lists it ({} without the watch)."""
    return {name: record.address for name, record in kube_nodes(core).items()}


def _fractions(percent: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else fraction(float(v)) for v in percent]


def _node(n: NodeSummary, addresses: dict[str, str | None]) -> dict[str, Any]:
    return {"name": n.state.name, "address": addresses.get(n.state.name),
            "status": "Ready" if n.connected else "NotReady",
            "gpuModel": ", ".join(n.gpu_models), "gpuCount": len(n.state.devices),
            "allocatedGpus": n.gpus_allocated, "utilizationRate": fraction(n.gpu_utilization)}


def _range(now_ns: int, start: int | None, end: int | None,
           step: int) -> tuple[int, int, int]:
    """Lens's window in ns: end defaults to now (whole seconds), start to end - 1 h."""
    end_ns = seconds_ns(end) if end is not None else seconds(now_ns) * 10**9
    assert end_ns is not None
    start_ns = seconds_ns(start) if start is not None else end_ns - 3600 * 10**9
    assert start_ns is not None
    return start_ns, end_ns, step * 10**9


def _points(times: list[int], values: list[float | None]) -> list[dict[str, Any]]:
    return [{"timestamp": t, "value": v} for t, v in zip(times, values, strict=True)
            if v is not None]


def _graph(r: RangeResult, serial: int, unit: str, name: str) -> dict[str, Any]:
    """A range answer as Lens's MetricsGraph: one series per GPU."""
    return {"serial": serial, "config": {"y_axis_unit": unit},
            "series": [{"labels": {"__name__": name, "gpu_id": str(s.index), "gpu_uuid": s.gpu},
                        "values": [{"timestamp": seconds(int(t)), "value": float(v)}
                                   for t, v in zip(s.ts_ns, s.values, strict=True)]}
                       for s in r.gpus]}


def _workload_item(w: WorkloadSummary) -> dict[str, Any]:
    i = w.info
    return {"kind": i.kind, "name": i.pod, "namespace": i.namespace, "uid": i.uid,
            "status": "Running" if w.running else "Done", "gpuAllocated": w.gpus,
            "startTime": seconds(i.first_ns), "endTime": None if w.running else seconds(i.last_ns),
            "labels": i.labels}


def _workload_routes(r: APIRouter, services: QueryServices) -> None:
    core = services.query

    @r.get("/workloads", summary="Lens: workloads, filtered and paged")
    def workloads(page_num: PageNum = 1, page_size: PageSize = 10, name: str | None = None,
                  kind: str | None = None, namespace: str | None = None,
                  status: Annotated[str | None, Query(description="Running or Done")] = None,
                  labels: str | None = None) -> JSONResponse:
        running = None if not status else status.lower() == "running"
        found = core.workloads.summaries(namespace or None, kind or None, running, name or None,
                                         parse_selector(labels))
        items, total = page_of(found, page_num, page_size)
        return ok({"data": [_workload_item(w) for w in items], "total": total})

    @r.get("/workloadMetadata", summary="Lens: namespaces and kinds of every workload")
    def metadata() -> JSONResponse:
        found = core.workloads.summaries()
        return ok({"namespaces": sorted({w.info.namespace for w in found}),
                   "kinds": sorted({w.info.kind for w in found})})

    @r.get("/workloads/{uid:path}/hierarchy", summary="Lens: a workload and its children")
    def hierarchy(uid: str) -> JSONResponse:
        tree = _tree(core.workloads.hierarchy(uid), core.workloads.hierarchy, HIERARCHY_DEPTH)
        return ok(tree, NO_OWNER_UID if _owner_uid_missing(tree) else "")

    @r.get("/workloads/{uid:path}/metrics", summary="Lens: a workload's GPU series")
    def metrics(uid: str, start: Start = None, end: End = None,
                step: Step = DEFAULT_STEP_S) -> JSONResponse:
        window = _range(core.time_ns(), start, end, step)
        return ok({title: _graph(core.workload_range(uid, metric, *window), serial, unit,
                                 metric) for title, metric, serial, unit in WORKLOAD_GRAPHS})

    @r.get("/workloads/{uid:path}/trainingPerformance", summary="Lens: training performance")
    def training(uid: str) -> JSONResponse:
        core.workloads.summary(uid)  # 404 for an unknown workload
        return ok([], "trainingPerformance: gputel reads GPU counters, not training logs")

    @r.get("/workloads/{uid:path}", summary="Lens: one workload")
    def workload(uid: str) -> JSONResponse:
        w = core.workloads.summary(uid)
        i = w.info
        return ok({"apiVersion": w.api_version or None, "kind": i.kind, "name": i.pod,
                   "namespace": i.namespace,
                   "uid": i.uid, "gpuAllocation": w.gpus,
                   "gpuAllocationDetail": [{"nodeName": h.node, "gpuUuid": h.uuid,
                                            "fraction": h.fraction} for h in w.held],
                   "pods": [i.pod], "activePods": [i.pod] if w.running else [],
                   "startTime": format_time(i.first_ns),
                   "endTime": None if w.running else format_time(i.last_ns),
                   "source": "gputel"},
                  "" if w.api_version else NO_API_VERSION)

    @r.get("/storage/stat", summary="Lens: storage (not watched by gputel)")
    def storage() -> JSONResponse:
        return ok(None, "storage: gputel watches GPUs, not storage")


def _tree(h: Hierarchy, lookup: Callable[[str], Hierarchy], depth: int) -> dict[str, Any]:
    i = h.workload.info
    children = [_tree(lookup(c), lookup, depth - 1) for c in h.children] if depth > 0 else []
    return {"kind": i.kind, "name": i.pod, "namespace": i.namespace, "uid": i.uid,
            "owners": [{"kind": o.kind, "name": o.name, "uid": o.uid or None}
                       for o in h.owners],
            "children": children}


def _owner_uid_missing(tree: dict[str, Any]) -> bool:
    """Whether an owner anywhere in a `_tree` answer lacks its uid."""
    return (any(o["uid"] is None for o in tree["owners"])
            or any(_owner_uid_missing(c) for c in tree["children"]))

