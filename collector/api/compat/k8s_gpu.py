"""`--compat k8s-gpu`: the Kubernetes GPU Management API's read routes (seed 004) under
/k8s-monitor/api/v1, in its envelope (k8s_envelope), from the same query services as /api/v1.

Mapping: a device's `deviceId` is its UUID; `deviceStatus` FAILED when gputel counts it
lost, MIG_ENABLED when MIG instances of it report, else ACTIVE; `memoryGb` GiB; an
allocation is one workload holding (a share of) one GPU now, `allocationId`
"<workload uid>@<GPU UUID>", `userId` / `teamId` filters match the pod labels `user` /
`team`; a pod is a workload, `modelType` vllm / sglang when its name or `app` label says
so. Usage in percent, temperature degrees C, power watts, costs in the configured
currency; `architecture`, `migSupport` and MIG `profileId` from the device inventory (null
for a GPU whose agent reported none); cost projections and savings are /api/v1/cost's
`projection`, forecasts /api/v1/forecast's (utilization as `gpuUtilization`, GPUs held as
`allocatedGpus`, each with its interval bounds), the overview's hourly and monthly cost the
projection over /api/v1/cost's default window (7 days). With the Kubernetes watch, a node's
role, CPU and memory capacity and allocatable (the API's quantities: "96", "1056291804Ki")
and, in /resources/health, every node's conditions come from the API (kube_nodes). CPU and
memory use of pods and nodes and planned release times are not known to gputel: null, named
in `missing`, or (a whole route) 501.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gputel.collector.api.compat.common import error_route, gib, holder_names
from gputel.collector.api.compat.k8s_envelope import (
    PREFIX,
    NotImplementedByGputelError,
    add_control_plane,
    not_yet,
    ok,
    render_error,
)
from gputel.collector.api.compat.kube_nodes import (
    CPU,
    MEMORY,
    bytes_text,
    condition,
    cores_text,
    kube_nodes,
    resource,
    role,
    under_pressure,
)
from gputel.collector.errors import InvalidParameterError, NotFoundError
from gputel.collector.outbound.hooks import (
    EVENTS,
    MAX_NAME,
    MAX_SECRET,
    MAX_URL,
    HookRegistry,
    HookSpec,
)
from gputel.collector.query.alerts import Alert
from gputel.collector.query.core import DeviceView, NodeSummary, QueryCore
from gputel.collector.query.costs import PROJECTION_METHOD, CostReport
from gputel.collector.query.forecast import Forecast
from gputel.collector.query.services import QueryServices
from gputel.collector.query.workloads import WorkloadSummary
from gputel.collector.registry.cluster import NodeRecord
from gputel.collector.timefmt import format_time

NAME = "k8s-gpu"
MODEL_TYPES = ("vllm", "sglang")
DEVICE_FILTERS = {"available": ("available",), "active": ("available", "allocated"),
                  "allocated": ("allocated",), "failed": ("lost",), "maintenance": (),
                  "inactive": ()}
POD_MISSING = "cpuUsagePercent, memoryUsagePercent: gputel measures GPUs, not pods' CPU/memory"
NODE_MISSING = ("cpuUsagePercent, memoryUsagePercent: gputel measures GPUs, not CPU/memory; "
                "pod counts count pods holding GPUs")
NODE_UNWATCHED = ("role, cpuCapacity, memoryCapacity: the Kubernetes API does not list the "
                  "node (or is not watched)")
CONDITIONS_MISSING = "nodeConditions: the Kubernetes API is not watched (--kube)"
COST_DAYS = 7.0  # /api/v1/cost's default window
FORECAST_MISSING = "cpu, memory: gputel forecasts GPUs only"
Hours = Annotated[float, Query(gt=0, le=24 * 366)]


def router(services: QueryServices) -> APIRouter:
    """Every read route of seed 004, and its control-plane writes (501)."""
    r = APIRouter(prefix=PREFIX, route_class=error_route(render_error),
                  tags=["compat: k8s-gpu"])
    _resource_routes(r, services)
    _device_routes(r, services)
    _allocation_routes(r, services)
    _metric_routes(r, services)
    _cluster_routes(r, services)
    add_control_plane(r)

    @r.post("/webhooks", summary="K8s GPU: register a webhook (501: use /api/v1/webhooks)",
            status_code=501)
    def register_webhook() -> JSONResponse:
        raise NotImplementedByGputelError(
            "register webhooks through /api/v1/webhooks (admin token) with "
            "\"format\": \"k8s-gpu\" for this API's event names and payload")

    @r.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"],
                 include_in_schema=False)
    def unknown(rest: str) -> JSONResponse:
        raise NotFoundError("route", f"{PREFIX}/{rest}")

    return r


class WebhookIn(BaseModel):
    """004's webhook registration body (section 5.1); any other key is refused."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL)]
    events: Annotated[list[str], Field(max_length=len(EVENTS))] = []
    secret: Annotated[str, Field(max_length=MAX_SECRET)] = ""
    active: bool = True


def webhook_router(hooks: HookRegistry) -> APIRouter:
    """POST /webhooks: 004's registration, kept as a gputel hook in 004's payload format
    (the same registry as /api/v1/webhooks; an admin token where tokens are on). Mounted
    before `router`, whose 501 answers it where no registry is given."""
    r = APIRouter(prefix=PREFIX, route_class=error_route(render_error),
                  tags=["compat: k8s-gpu"])

    @r.post("/webhooks", summary="K8s GPU: register a webhook (its events, payload, secret)")
    def register_webhook(body: WebhookIn) -> JSONResponse:
        hook = hooks.create(HookSpec(body.name, body.url, tuple(body.events), body.secret,
                                     body.active, NAME))
        return ok({"id": hook.id, "name": hook.name, "url": hook.url,
                   "events": list(hook.events), "active": hook.active,
                   "secretSet": bool(hook.secret), "format": hook.format,
                   "createdAt": format_time(hook.created_ns)})

    return r


# ------------------------------------------------------------------ resources
def _model_type(w: WorkloadSummary) -> str | None:
    names = (w.info.pod.lower(), w.info.labels.get("app", "").lower())
    return next((t for t in MODEL_TYPES if any(t in n for n in names)), None)


def _pod(w: WorkloadSummary) -> dict[str, Any]:
    i = w.info
    nodes = sorted({h.node for h in w.held} or {n for n, _ in i.devices})
    return {"name": i.pod, "namespace": i.namespace, "uid": i.uid,
            "nodeName": nodes[0] if nodes else None,
            "phase": "Running" if w.running else "Unknown",
            "modelType": _model_type(w), "modelName": i.labels.get("model"),
            "cpuUsagePercent": None, "memoryUsagePercent": None,
            "gpuUsagePercent": w.utilization_percent, "gpuCount": w.gpus,
            "creationTime": format_time(i.first_ns)}


def _node(n: NodeSummary, pods: list[WorkloadSummary],
          record: NodeRecord | None) -> dict[str, Any]:
    here = [p for p in pods if any(h.node == n.state.name for h in p.held)]
    types = Counter(_model_type(p) for p in here)
    cpu, memory = resource(record, CPU), resource(record, MEMORY)
    return {"name": n.state.name, "role": role(record),
            "status": "Ready" if n.connected else "NotReady",
            "cpuCapacity": cores_text(cpu[0]), "memoryCapacity": bytes_text(memory[0]),
            "cpuAllocatable": cores_text(cpu[1]), "memoryAllocatable": bytes_text(memory[1]),
            "gpuCapacity": str(len(n.state.devices)), "gpuAllocated": n.gpus_allocated,
            "cpuUsagePercent": None, "memoryUsagePercent": None,
            "gpuUsagePercent": n.gpu_utilization, "totalPodCount": len(here),
            "runningPodCount": sum(p.running for p in here), "vllmPodCount": types["vllm"],
            "sglangPodCount": types["sglang"]}


def _resource_routes(r: APIRouter, services: QueryServices) -> None:
    core = services.query

    @r.get("/resources/pods", summary="K8s GPU: model-serving pods (vLLM, SGLang)")
    def serving_pods(namespace: str | None = None) -> JSONResponse:
        pods = core.workloads.summaries(namespace or None)
        return ok([_pod(w) for w in pods if _model_type(w)], POD_MISSING)

    @r.get("/resources/pods/all", summary="K8s GPU: every pod that held a GPU")
    def all_pods(namespace: str | None = None) -> JSONResponse:
        return ok([_pod(w) for w in core.workloads.summaries(namespace or None)], POD_MISSING)

    @r.get("/resources/pods/top", summary="K8s GPU: top pods by GPU utilization")
    def top_pods(resource_type: Annotated[str, Query(alias="resourceType")] = "gpu",
                 limit: Annotated[int, Query(ge=1, le=100)] = 10) -> JSONResponse:
        if resource_type.lower() != "gpu":
            if resource_type.lower() in ("cpu", "memory"):
                return ok([], f"resourceType {resource_type}: gputel measures GPUs only")
            raise InvalidParameterError("resourceType", f"{resource_type!r} is not one of "
                                        "cpu, memory, gpu")
        top = services.cluster.top("workloads", "utilization", limit)
        return ok([{**_pod(core.workloads.summary(e.id)), "rank": e.rank}
                   for e in top.entries], POD_MISSING)

    @r.get("/resources/pods/{namespace}/{pod_name}", summary="K8s GPU: one pod")
    def pod(namespace: str, pod_name: str) -> JSONResponse:
        found = core.workloads.summaries(namespace, name=pod_name)
        if not found:
            raise NotFoundError("pod", f"{namespace}/{pod_name}")
        return ok(_pod(found[0]), POD_MISSING)

    @r.get("/resources/nodes", summary="K8s GPU: nodes")
    def nodes() -> JSONResponse:
        shown = _nodes(core, core.list_nodes(), core.workloads.summaries(running=True))
        return ok(shown, *_node_missing(shown))

    @r.get("/resources/nodes/{node_name}", summary="K8s GPU: one node")
    def node(node_name: str) -> JSONResponse:
        shown = _nodes(core, [core.get_node(node_name)], core.workloads.summaries(running=True))
        return ok(shown[0], *_node_missing(shown))

    @r.get("/resources/usage", summary="K8s GPU: pods, nodes and a cluster summary")
    def usage(namespace: str | None = None) -> JSONResponse:
        pods = core.workloads.summaries(namespace or None)
        running = [p for p in pods if p.running]
        nodes = _nodes(core, core.list_nodes(), running)
        o = services.cluster.overview()
        summary = {"totalNodes": o.nodes_total, "readyNodes": sum(n["status"] == "Ready"
                                                                  for n in nodes),
                   "totalPods": len(pods), "runningPods": len(running),
                   "vllmPods": sum(_model_type(p) == "vllm" for p in running),
                   "sglangPods": sum(_model_type(p) == "sglang" for p in running),
                   "avgCpuUsage": None, "avgMemoryUsage": None,
                   "avgGpuUsage": o.gpu_utilization}
        return ok({"pods": [_pod(p) for p in pods], "nodes": nodes, "clusterSummary": summary,
                   "timestamp": format_time(core.time_ns())}, POD_MISSING,
                  *_node_missing(nodes))

    @r.get("/resources/namespaces", summary="K8s GPU: GPU use per namespace")
    def namespaces() -> JSONResponse:
        return ok([{"namespace": n.namespace, "podCount": n.workloads,
                    "runningPodCount": n.running, "gpuCount": n.gpus,
                    "gpuUsagePercent": n.utilization_percent, "gpuHours": n.gpu_hours,
                    "energyKwh": n.energy_kwh, "cpuUsage": None, "memoryUsage": None}
                   for n in core.workloads.namespaces()],
                  "cpuUsage, memoryUsage: gputel measures GPUs only")


def _nodes(core: QueryCore, summaries: list[NodeSummary],
           pods: list[WorkloadSummary]) -> list[dict[str, Any]]:
    records = kube_nodes(core)
    return [_node(n, pods, records.get(n.state.name)) for n in summaries]


def _node_missing(shown: list[dict[str, Any]]) -> tuple[str, ...]:
    """What node answers lack: CPU and memory use always; capacities where the watch does
    not know the node."""
    unknown = any(n["cpuCapacity"] is None and n["memoryCapacity"] is None for n in shown)
    return (NODE_MISSING, NODE_UNWATCHED) if unknown else (NODE_MISSING,)


# -------------------------------------------------------------------- devices
def _model_id(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_")


def _device(v: DeviceView, mig_parents: set[str]) -> dict[str, Any]:
    d = v.device
    status = ("FAILED" if v.status == "lost" else "MIG_ENABLED" if d.uuid in mig_parents
              else "ACTIVE")
    return {"deviceId": d.uuid, "nodeName": d.node, "modelId": _model_id(d.model),
            "modelName": d.model, "deviceIndex": d.index, "deviceStatus": status,
            "currentTempC": v.latest.get("temperature"),
            "currentPowerW": v.latest.get("power"),
            "currentUtilization": v.latest.get("gpu_util"),
            "memoryGb": gib(d.memory_total_bytes),
            "architecture": v.inventory.architecture or None if v.inventory else None,
            "migSupport": v.inventory.mig_supported if v.inventory else None,
            "migParentDeviceId": d.mig_parent_uuid or None,
            "allocated": bool(holder_names(v.holders))}


def _devices(services: QueryServices, **filters: Any) -> tuple[list[DeviceView], set[str]]:
    views = services.query.list_gpus(**filters)
    parents = {v.device.mig_parent_uuid for v in services.query.all_devices()
               if v.device.mig_parent_uuid}
    return views, parents


def _overheating(services: QueryServices) -> list[Alert]:
    return services.alerts.alerts("firing", "over_temperature")


def _device_routes(r: APIRouter, services: QueryServices) -> None:
    core = services.query

    @r.get("/gpu/devices", summary="K8s GPU: GPU devices")
    def devices(node_name: Annotated[str | None, Query(alias="nodeName")] = None,
                model_id: Annotated[str | None, Query(alias="modelId")] = None,
                status: str | None = None) -> JSONResponse:
        wanted = None
        if status:
            if status.lower() not in DEVICE_FILTERS:
                raise InvalidParameterError("status", f"{status!r} is not one of "
                                            f"{', '.join(DEVICE_FILTERS)}")
            wanted = DEVICE_FILTERS[status.lower()]
        views, parents = _devices(services, node=node_name or None)
        model = _model_id(model_id).lower() if model_id else None
        return ok([_device(v, parents) for v in views
                   if (wanted is None or v.status in wanted)
                   and (model is None or model in _model_id(v.device.model).lower())])

    @r.get("/gpu/devices/statistics", summary="K8s GPU: device counts")
    def statistics() -> JSONResponse:
        views, parents = _devices(services)
        shown = [_device(v, parents) for v in views]
        return ok({"totalDevices": len(shown),
                   "devicesByStatus": dict(Counter(d["deviceStatus"] for d in shown)),
                   "devicesByModel": dict(Counter(d["modelId"] for d in shown)),
                   "allocatedDevices": sum(d["allocated"] for d in shown),
                   "availableDevices": sum(v.status == "available" for v in views)})

    @r.get("/gpu/devices/overheating", summary="K8s GPU: devices above their temperature limit")
    def overheating() -> JSONResponse:
        hot = {a.gpu for a in _overheating(services)}
        views, parents = _devices(services)
        return ok([_device(v, parents) for v in views if v.device.uuid in hot])

    @r.get("/gpu/devices/{device_id}", summary="K8s GPU: one device")
    def device(device_id: str) -> JSONResponse:
        _, parents = _devices(services)
        return ok(_device(core.find_device(device_id), parents))

    @r.get("/gpu/devices/{device_id}/health", summary="K8s GPU: one device's health")
    def device_health(device_id: str) -> JSONResponse:
        view = core.find_device(device_id)
        alerts = services.alerts.alerts("firing", gpu=device_id)
        return ok({"deviceId": device_id, "healthy": view.status != "lost" and not alerts,
                   "status": view.status, "temperature": view.latest.get("temperature"),
                   "lastSeen": format_time(view.latest_ts_ns) if view.latest else None,
                   "issues": [_alert(a) for a in alerts]})

    @r.get("/gpu/mig/available", summary="K8s GPU: MIG instances no workload holds")
    def mig_available() -> JSONResponse:
        return ok([_mig(v) for v in core.all_devices()
                   if v.device.mig_parent_uuid and v.status == "available"])

    @r.get("/gpu/mig/devices/{device_id}", summary="K8s GPU: MIG instances of one device")
    def mig_of(device_id: str) -> JSONResponse:
        core.find_device(device_id)  # 404 for an unknown device
        return ok([_mig(v) for v in core.all_devices()
                   if v.device.mig_parent_uuid == device_id])

    @r.get("/gpu/mig/statistics", summary="K8s GPU: MIG instance counts and use")
    def mig_statistics() -> JSONResponse:
        views = core.all_devices()
        migs = [v for v in views if v.device.mig_parent_uuid]
        parents = {v.device.uuid: v.mig for v in views if v.mig is not None}
        return ok({"totalInstances": len(migs),
                   "allocatedInstances": sum(v.status == "allocated" for v in migs),
                   "availableInstances": sum(v.status == "available" for v in migs),
                   "instancesByDevice": dict(Counter(v.device.mig_parent_uuid for v in migs)),
                   "instancesByProfile": dict(Counter(
                       p for m in parents.values() for i in m.instances if (p := i.profile))),
                   "utilizationByDevice": {u: m.gpu_utilization for u, m in parents.items()},
                   "memoryUsedGbByDevice": {u: gib(m.memory_used_bytes)
                                            for u, m in parents.items()}})


def _mig(v: DeviceView) -> dict[str, Any]:
    return {"instanceId": v.device.uuid, "parentDeviceId": v.device.mig_parent_uuid,
            "nodeName": v.device.node,
            "profileId": v.inventory.mig_profile or None if v.inventory else None,
            "memoryGb": gib(v.device.memory_total_bytes), "allocated": v.status == "allocated",
            "currentUtilization": v.latest.get("gpu_util")}


def _alert(a: Alert) -> dict[str, Any]:
    return {"alertId": a.id, "type": a.rule.upper(), "severity": a.severity.upper(),
            "message": a.message, "nodeName": a.node, "deviceId": a.gpu or None,
            "value": a.value, "threshold": a.threshold, "since": format_time(a.since_ns)}


# ---------------------------------------------------------------- allocations
def _allocations(services: QueryServices) -> list[dict[str, Any]]:
    core = services.query
    pricing = services.costs.pricing
    out = []
    for w in core.workloads.summaries(running=True):
        for h in w.held:
            view = core.find_device(h.uuid, h.node)
            out.append({"allocationId": f"{w.info.uid}@{h.uuid}",
                        "namespace": w.info.namespace, "podName": w.info.pod,
                        "containerName": w.info.container or None,
                        "resourceType": "MIG_INSTANCE" if view.device.mig_parent_uuid
                        else "FULL_GPU" if h.fraction >= 1 else "SHARED_GPU",
                        "allocatedResource": h.uuid, "fraction": h.fraction,
                        "allocatedMemoryGb": None,
                        "allocationTime": format_time(w.info.first_ns),
                        "plannedReleaseTime": None, "status": "ALLOCATED",
                        "costPerHour": pricing.gpu_hour_price(view.device.model) * h.fraction,
                        "labels": w.info.labels})
    return out


def _allocation_routes(r: APIRouter, services: QueryServices) -> None:
    @r.get("/gpu/allocations", summary="K8s GPU: GPUs held by workloads now")
    def allocations(namespace: str | None = None,
                    user_id: Annotated[str | None, Query(alias="userId")] = None,
                    team_id: Annotated[str | None, Query(alias="teamId")] = None,
                    ) -> JSONResponse:
        return ok([a for a in _allocations(services)
                   if namespace in (None, "", a["namespace"])
                   and user_id in (None, "", a["labels"].get("user"))
                   and team_id in (None, "", a["labels"].get("team"))],
                  "allocatedMemoryGb, plannedReleaseTime: gputel sees holdings, not requests")

    @r.get("/gpu/allocations/cost-statistics", summary="K8s GPU: cost of allocations")
    def cost_statistics(days: Annotated[float, Query(gt=0, le=366)] = 30.0) -> JSONResponse:
        c = services.costs.cost(days)
        return ok({"days": days, "currency": c.pricing.currency,
                   "totalCost": c.total.total_cost, "gpuHours": c.total.gpu_hours,
                   "costByNamespace": {x.key: x.total_cost for x in c.by_namespace},
                   "costByWorkload": {x.key: x.total_cost for x in c.by_workload}})

    @r.get("/gpu/allocations/expiring", summary="K8s GPU: expiring allocations (501)")
    def expiring(hours: Hours = 24.0) -> JSONResponse:
        del hours
        raise not_yet("allocations/expiring (gputel sees holdings, not planned release times)")

    @r.get("/gpu/cost/analysis", summary="K8s GPU: cost by namespace and team, projections")
    def cost_analysis(days: Annotated[float, Query(gt=0, le=366)] = 30.0) -> JSONResponse:
        c = services.costs.cost(days)
        p = c.projection
        teams = {x.key.removeprefix("team="): x.total_cost for x in c.by_label
                 if x.key.startswith("team=")}
        return ok({"dailyCost": p.per_day, "weeklyCost": p.weekly, "monthlyCost": p.monthly,
                   "totalCost": c.total.total_cost, "days": days,
                   "currency": c.pricing.currency,
                   "costByNamespace": {x.key: x.total_cost for x in c.by_namespace},
                   "costByTeam": teams,
                   "potentialMonthlySavings": p.potential_monthly_savings,
                   "projectionMethod": PROJECTION_METHOD, "coveredSeconds": p.covered_seconds,
                   "analysisDate": format_time(c.end_ns)})

    @r.get("/gpu/cost/optimization", summary="K8s GPU: idle GPU-hours to release")
    def cost_optimization(days: Annotated[float, Query(gt=0, le=366)] = 30.0) -> JSONResponse:
        return ok(_optimization(services, services.costs.cost(days)))


def _optimization(services: QueryServices, c: CostReport) -> dict[str, Any]:
    """Pods that held GPUs under the idle threshold, by what releasing them would save."""
    p = c.projection
    info = services.query.workloads.info
    per_month = 86400.0 * 30 / p.covered_seconds if p.covered_seconds else 0.0
    pods = [x for x in c.by_workload if x.kind == "pod" and x.idle_gpu_seconds > 0]
    pods.sort(key=lambda x: (-x.idle_cost, x.key))
    return {"currency": c.pricing.currency, "days": c.days, "idlePercent": p.idle_percent,
            "currentMonthlyCost": p.monthly,
            "potentialMonthlySavings": p.potential_monthly_savings,
            "method": PROJECTION_METHOD,
            "recommendations": [
                {"type": "RELEASE_IDLE_GPUS", "workloadUid": x.key, "podName": x.name,
                 "namespace": getattr(info(x.key), "namespace", None),
                 "idleGpuHours": x.idle_gpu_hours, "gpuHours": x.gpu_hours,
                 "idleCost": x.idle_cost, "potentialMonthlySavings": x.idle_cost * per_month,
                 "message": f"{x.name} held GPUs under {p.idle_percent:g} % utilization for "
                            f"{x.idle_gpu_hours:.1f} of its {x.gpu_hours:.1f} GPU-hours: "
                            "release or share them"} for x in pods]}


# -------------------------------------------------------------------- metrics
def _usage_statistics(services: QueryServices, hours: float) -> dict[str, Any]:
    u = services.statistics.usage(hours)
    return {"timeRange": f"{hours:g} hours",
            "deviceStatistics": {d.uuid: {"nodeName": d.node, "modelName": d.model,
                                          "avgGpuUtilization": d.stats.gpu_utilization,
                                          "avgMemoryUtilization": d.stats.memory_utilization,
                                          "avgTemperature": d.stats.temperature}
                                 for d in u.devices},
            "modelStatistics": {_model_id(m.model): {"modelName": m.model, "deviceCount": m.gpus,
                                                     "avgGpuUtilization": m.stats.gpu_utilization,
                                                     "avgMemoryUtilization":
                                                         m.stats.memory_utilization,
                                                     "avgTemperature": m.stats.temperature}
                                for m in u.models}}


def _collection_status(services: QueryServices) -> dict[str, Any]:
    h = services.health()
    states = services.query.node_states()
    last = max((s.last_seen_ns for s in states), default=0)
    return {"status": "RUNNING" if h.status == "ok" else "STARTING",
            "collecting": h.connected_agents > 0, "connectedAgents": h.connected_agents,
            "nodes": h.nodes, "lastCollection": format_time(last) if last else None,
            "sampleRatesHz": {s.name: s.sample_rate_hz for s in states},
            "samplesIngested": sum(s.samples for s in states), "version": h.version}


def _metric_routes(r: APIRouter, services: QueryServices) -> None:
    @r.get("/gpu/metrics/usage-statistics", summary="K8s GPU: usage per device and model")
    def usage_statistics(hours: Hours = 24.0) -> JSONResponse:
        return ok(_usage_statistics(services, hours))

    @r.get("/resources/statistics", summary="K8s GPU: resource usage statistics")
    def resource_statistics(hours: Hours = 24.0) -> JSONResponse:
        return ok({**_usage_statistics(services, hours), "cpu": None, "memory": None},
                  "cpu, memory: gputel measures GPUs only")

    @r.get("/gpu/metrics/overheating-alerts", summary="K8s GPU: over-temperature alerts")
    def overheating_alerts() -> JSONResponse:
        return ok([_alert(a) for a in _overheating(services)])

    @r.get("/resources/alerts", summary="K8s GPU: firing alerts")
    def alerts() -> JSONResponse:
        return ok([_alert(a) for a in services.alerts.alerts("firing")])

    @r.get("/gpu/metrics/collection-status", summary="K8s GPU: metric collection status")
    def collection_status() -> JSONResponse:
        return ok(_collection_status(services))

    @r.get("/resources/metrics/status", summary="K8s GPU: metrics source status")
    def metrics_status() -> JSONResponse:
        return ok(_collection_status(services))

    @r.get("/gpu/forecast", summary="K8s GPU: GPU utilization and demand forecast")
    def gpu_forecast(hours: Hours = 24.0) -> JSONResponse:
        return ok(_forecast(services.forecasts.forecast(hours)))

    @r.get("/resources/forecast", summary="K8s GPU: resource forecast (GPUs only)")
    def resource_forecast(hours: Hours = 24.0) -> JSONResponse:
        return ok({**_forecast(services.forecasts.forecast(hours)), "cpu": None,
                   "memory": None}, FORECAST_MISSING)


def _forecast(f: Forecast) -> dict[str, Any]:
    """The forecast: per hour utilization (%) and GPUs held, each with its interval."""
    u, a = f.utilization, f.allocated_gpus
    return {"hours": f.hours, "intervalLevel": f.interval_level, "totalGpus": f.gpus_total,
            "historyStart": format_time(f.history_start_ns),
            "historyEnd": format_time(f.history_end_ns),
            "method": {"gpuUtilization": u.method.model, "allocatedGpus": a.method.model,
                       "library": u.method.library},
            "forecast": [{"timestamp": format_time(t), "gpuUtilization": u.mean[i],
                          "gpuUtilizationLower": u.lower[i], "gpuUtilizationUpper": u.upper[i],
                          "allocatedGpus": a.mean[i], "allocatedGpusLower": a.lower[i],
                          "allocatedGpusUpper": a.upper[i]}
                         for i, t in enumerate(f.times.tolist())]}


# -------------------------------------------------------------------- cluster
def _health(services: QueryServices) -> dict[str, Any]:
    o = services.cluster.overview()
    firing = services.alerts.alerts("firing")
    severities = Counter(a.severity for a in firing)
    status = ("CRITICAL" if severities["critical"] else
              "WARNING" if severities["warning"] or o.nodes_faulty else "HEALTHY")
    return {"status": status, "totalNodes": o.nodes_total, "healthyNodes": o.nodes_healthy,
            "faultyNodes": o.nodes_faulty, "totalDevices": o.gpus_total,
            "failedDevices": o.gpus_lost, "criticalAlerts": severities["critical"],
            "warningAlerts": severities["warning"], "alerts": [_alert(a) for a in firing]}


def _with_conditions(health: dict[str, Any], nodes: list[NodeRecord]) -> dict[str, Any]:
    """The health answer with every node's conditions from the watch: a node not Ready (or
    with no Ready condition) or under pressure makes a HEALTHY cluster WARNING."""
    not_ready = [n.name for n in nodes if n.ready is not True]
    pressure = {n.name: found for n in nodes if (found := under_pressure(n))}
    status = health["status"]
    if status == "HEALTHY" and (not_ready or pressure):
        status = "WARNING"
    return {**health, "status": status, "notReadyNodes": not_ready, "pressureNodes": pressure,
            "nodeConditions": [{"name": n.name, "ready": n.ready,
                                "conditions": [condition(c) for c in n.conditions]}
                               for n in nodes]}


def _cluster_routes(r: APIRouter, services: QueryServices) -> None:
    @r.get("/gpu/overview", summary="K8s GPU: cluster overview")
    def overview() -> JSONResponse:
        o = services.cluster.overview()
        views = services.query.all_devices()
        firing = Counter(a.severity for a in services.alerts.alerts("firing"))
        cost = services.costs.cost(COST_DAYS).projection
        return ok({"totalNodes": o.nodes_total, "totalGpuDevices": o.gpus_total,
                   "totalMigInstances": sum(bool(v.device.mig_parent_uuid) for v in views),
                   "activeAllocations": len(_allocations(services)),
                   "devicesByModel": dict(Counter(_model_id(v.device.model) for v in views)),
                   "overallGpuUtilization": o.gpu_utilization,
                   "overallMemoryUtilization": o.memory_utilization,
                   "overallTemperature": o.temperature, "allocationRate": o.allocation_rate,
                   "totalHourlyCost": cost.hourly, "totalMonthlyCost": cost.monthly,
                   "costProjection": {"method": PROJECTION_METHOD, "days": COST_DAYS,
                                      "coveredSeconds": cost.covered_seconds},
                   "totalAlerts": sum(firing.values()), "criticalAlerts": firing["critical"],
                   "warningAlerts": firing["warning"]})

    @r.get("/gpu/health", summary="K8s GPU: cluster GPU health")
    def gpu_health() -> JSONResponse:
        return ok(_health(services))

    @r.get("/resources/health", summary="K8s GPU: cluster health, node conditions included")
    def resources_health() -> JSONResponse:
        if services.query.kube is None:
            return ok({**_health(services), "nodeConditions": None}, CONDITIONS_MISSING)
        return ok(_with_conditions(_health(services), list(kube_nodes(services.query).values())))
