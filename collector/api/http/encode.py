"""The query core's dataclasses as the HTTP API's JSON (camelCase, RFC 3339 times)."""

from __future__ import annotations

import math
from typing import Any

from gputel.collector.query.cluster import Heatmap, Overview, Top, UtilizationHistory
from gputel.collector.query.core import DeviceView, NodeSummary, RangeResult, Series
from gputel.collector.query.costs import CostLine, CostReport
from gputel.collector.query.health import HealthReport
from gputel.collector.query.statistics import UsageStatistics, UsageStats
from gputel.collector.query.workloads import (
    Hierarchy,
    NamespaceSummary,
    NodeWorkload,
    WorkloadSummary,
)
from gputel.collector.registry.workloads import Usage
from gputel.collector.timefmt import format_time


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def health_json(h: HealthReport) -> dict[str, Any]:
    """The collector's health."""
    s = h.store
    store = {"kind": s.kind, "status": s.status, "samples": s.samples,
             "retentionSeconds": s.retention_seconds, "path": s.path, "bytes": s.size_bytes,
             "writeFailures": s.write_failures,
             "tiers": [{"stepSeconds": a, "retentionSeconds": b} for a, b in s.tiers]
             if s.kind != "memory" else None}
    return {"status": h.status, "version": h.version, "store": store,
            "connectedAgents": h.connected_agents, "nodes": h.nodes,
            "activeAlerts": h.active_alerts, "uptimeSeconds": h.uptime_seconds,
            "compat": list(h.compat)}


def overview_json(o: Overview) -> dict[str, Any]:
    """The cluster now."""
    return {"totalNodes": o.nodes_total, "healthyNodes": o.nodes_healthy,
            "faultyNodes": o.nodes_faulty, "fullyIdleNodes": o.nodes_fully_idle,
            "partiallyIdleNodes": o.nodes_partially_idle, "busyNodes": o.nodes_busy,
            "totalGpus": o.gpus_total, "allocatedGpus": o.gpus_allocated,
            "lostGpus": o.gpus_lost, "allocationRate": o.allocation_rate,
            "gpuUtilization": o.gpu_utilization, "powerWatts": o.power_watts,
            "activeAlerts": o.active_alerts, "busyThresholdPercent": o.busy_threshold_percent}


def _usage_json(u: Usage) -> dict[str, float]:
    return {"energyJoules": u.energy_joules, "gpuSecondsAllocated": u.gpu_seconds_allocated,
            "gpuSecondsBusy": u.gpu_seconds_busy}


def workload_json(w: WorkloadSummary) -> dict[str, Any]:
    """A workload as the API shows it."""
    i = w.info
    return {"uid": i.uid, "kind": i.kind, "namespace": i.namespace, "pod": i.pod,
            "container": i.container, "podUid": i.pod_uid or None, "labels": i.labels,
            "owners": [{"kind": k, "name": n} for k, n in i.owners],
            "status": "running" if w.running else "ended",
            "firstSeen": format_time(i.first_ns), "lastSeen": format_time(i.last_ns),
            "gpus": w.gpus, "gpuUuids": w.gpu_uuids,
            "held": [{"node": h.node, "gpu": h.uuid, "fraction": h.fraction} for h in w.held],
            "powerWatts": w.power_watts, "memoryUsedBytes": w.memory_used_bytes,
            "utilizationPercent": w.utilization_percent, **_usage_json(w.usage),
            "gpuHours": w.gpu_hours, "energyKilowattHours": w.energy_kwh}


def node_workload_json(n: NodeWorkload) -> dict[str, Any]:
    """A workload seen on a node."""
    return {**workload_json(n.workload), "nodeGpus": n.gpus}


def hierarchy_json(h: Hierarchy) -> dict[str, Any]:
    """A workload's owners and children."""
    return {"workload": workload_json(h.workload),
            "owners": [{"kind": o.kind, "name": o.name, "workloads": o.workloads}
                       for o in h.owners], "children": h.children}


def namespace_json(n: NamespaceSummary) -> dict[str, Any]:
    """A namespace's usage."""
    return {"namespace": n.namespace, "workloads": n.workloads, "running": n.running,
            "gpus": n.gpus, "utilizationPercent": n.utilization_percent,
            **_usage_json(n.usage), "gpuHours": n.gpu_hours, "busyGpuHours": n.busy_gpu_hours,
            "energyKilowattHours": n.energy_kwh}


def node_json(n: NodeSummary) -> dict[str, Any]:
    """A node as the API shows it."""
    s = n.state
    return {"name": s.name, "connected": n.connected, "backend": s.backend,
            "agentInstance": s.agent_instance, "agentVersion": s.agent_version,
            "sampleRateHz": s.sample_rate_hz, "gpuCount": len(s.devices),
            "gpuModels": n.gpu_models, "gpuUtilization": n.gpu_utilization,
            "powerWatts": n.power_watts, "attribution": n.attribution,
            "firstSeen": format_time(s.first_seen_ns),
            "lastSeen": format_time(s.last_seen_ns), "framesIngested": s.frames,
            "samplesIngested": s.samples, "status": n.status,
            "gpusAllocated": n.gpus_allocated, "gpusLost": n.gpus_lost,
            "gpusBusy": n.gpus_busy, "idleClass": n.idle_class}


def device_json(v: DeviceView) -> dict[str, Any]:
    """A GPU with its latest values."""
    d = v.device
    return {"node": d.node, "index": d.index, "uuid": d.uuid, "vendor": d.vendor,
            "model": d.model, "memoryTotalBytes": d.memory_total_bytes,
            "migParentUuid": d.mig_parent_uuid or None, "pciBusId": d.pci_bus_id or None,
            "latest": v.latest, "latestTime": format_time(v.latest_ts_ns) if v.latest else None,
            "heldBy": [{"workload": uid, "fraction": f} for uid, f in v.holders],
            "energyJoules": v.energy_joules, "unattributedEnergyJoules": v.unattributed_joules,
            "status": v.status}


def points_json(s: Series) -> list[list[Any]]:
    """A series as [[time, value], ...] pairs."""
    return [[format_time(int(t)), float(v)] for t, v in zip(s.ts_ns, s.values, strict=True)]


def series_json(s: Series) -> dict[str, Any]:
    """A series with its GPU (none for a combined series)."""
    body: dict[str, Any] = {"points": points_json(s)}
    if s.gpu:
        body = {"gpu": s.gpu, "index": s.index, **body}
    return body


def range_head(r: RangeResult) -> dict[str, Any]:
    """What every range answer states: metric, unit, aggregation, range and step."""
    return {"metric": r.metric, "unit": r.unit, "agg": r.agg, "start": format_time(r.start_ns),
            "end": format_time(r.end_ns), "stepSeconds": r.step_ns / 1e9}


def utilization_json(u: UtilizationHistory) -> dict[str, Any]:
    """Cluster utilization over time."""
    total = u.gpus_total
    points = [{"time": format_time(int(t)), "gpuUtilization": _finite(float(v)),
               "gpusReporting": int(n), "allocatedGpus": int(a),
               "allocationRate": int(a) / total if total else None}
              for t, v, n, a in zip(u.times, u.utilization, u.reporting, u.allocated,
                                    strict=True)]
    return {"start": format_time(u.grid.start), "end": format_time(u.grid.end),
            "stepSeconds": u.grid.step / 1e9, "unit": "percent", "totalGpus": total,
            "points": points}


def heatmap_json(h: Heatmap) -> dict[str, Any]:
    """A heatmap: times, rows of values (null where empty)."""
    return {"metric": h.metric, "unit": h.unit, "agg": h.agg,
            "start": format_time(h.grid.start), "end": format_time(h.grid.end),
            "stepSeconds": h.grid.step / 1e9, "times": [format_time(int(t)) for t in h.times],
            "min": h.min_value, "max": h.max_value,
            "rows": [{"node": r.node, "gpu": r.uuid, "index": r.index, "model": r.model,
                      "mean": r.mean, "values": [_finite(float(v)) for v in r.values]}
                     for r in h.rows]}


def top_json(t: Top) -> dict[str, Any]:
    """Top consumers."""
    return {"by": t.by, "metric": t.metric, "unit": t.unit,
            "entries": [{"rank": e.rank, "kind": e.kind, "id": e.id, "namespace": e.namespace,
                         "name": e.name, "value": e.value} for e in t.entries]}


def _stats_json(s: UsageStats) -> dict[str, Any]:
    return {"samples": s.samples, "gpuUtilization": s.gpu_utilization,
            "memoryUtilization": s.memory_utilization, "memoryUsedBytes": s.memory_used_bytes,
            "temperatureCelsius": s.temperature, "temperatureMaxCelsius": s.temperature_max}


def statistics_json(u: UsageStatistics) -> dict[str, Any]:
    """Usage statistics per GPU and per model."""
    return {"hours": u.hours, "start": format_time(u.start_ns), "end": format_time(u.end_ns),
            "devices": [{"node": d.node, "gpu": d.uuid, "index": d.index, "model": d.model,
                         **_stats_json(d.stats)} for d in u.devices],
            "models": [{"model": m.model, "gpus": m.gpus, **_stats_json(m.stats)}
                       for m in u.models]}


def _cost_line(c: CostLine) -> dict[str, Any]:
    return {"key": c.key, "gpuHours": c.gpu_hours, "busyGpuHours": c.busy_gpu_hours,
            "energyKilowattHours": c.energy_kwh, "gpuCost": c.gpu_cost,
            "energyCost": c.energy_cost, "totalCost": c.total_cost}


def cost_json(c: CostReport) -> dict[str, Any]:
    """Cost by namespace, workload and label."""
    p = c.pricing
    return {"days": c.days, "start": format_time(c.start_ns), "end": format_time(c.end_ns),
            "prices": {"currency": p.currency, "gpuHour": p.gpu_hour,
                       "gpuHourByModel": dict(p.gpu_hour_by_model),
                       "energyPerKilowattHour": p.energy_kwh},
            "total": _cost_line(c.total),
            "byNamespace": [_cost_line(x) for x in c.by_namespace],
            "byWorkload": [_cost_line(x) for x in c.by_workload],
            "byLabel": [_cost_line(x) for x in c.by_label]}

