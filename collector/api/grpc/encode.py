"""The query core's dataclasses as gputel.v1 messages (times Unix ns, units as in the core)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from gputel.collector.query.alerts import Alert
from gputel.collector.query.cluster import Heatmap, Overview, Top, UtilizationHistory
from gputel.collector.query.core import DeviceView, NodeSummary, RangeResult, Series
from gputel.collector.query.costs import PROJECTION_METHOD, CostLine, CostProjection, CostReport
from gputel.collector.query.forecast import Forecast, SeriesForecast
from gputel.collector.query.health import HealthReport
from gputel.collector.query.inventory import GpuProcesses, MigStatistics
from gputel.collector.query.kubeview import KindView, KubeNode, PodContext, QueueView
from gputel.collector.query.live import LiveSnapshot
from gputel.collector.query.paging import Page
from gputel.collector.query.statistics import UsageStatistics, UsageStats
from gputel.collector.query.workloads import Hierarchy, NamespaceSummary, WorkloadSummary
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.inventory import inventory_pb


def page_pb(page: Page[Any]) -> pb.PageInfo:
    """Page -> PageInfo."""
    return pb.PageInfo(total=page.total, page=page.page, page_size=page.page_size)


def health_pb(h: HealthReport) -> pb.Health:
    """HealthReport -> Health."""
    s = h.store
    store = pb.StoreHealth(kind=s.kind, status=s.status, samples=s.samples,
                           retention_seconds=s.retention_seconds, path=s.path or "",
                           size_bytes=s.size_bytes, write_failures=s.write_failures,
                           tiers=[pb.TierInfo(step_seconds=a, retention_seconds=b)
                                  for a, b in s.tiers])
    return pb.Health(status=h.status, version=h.version, store=store,
                     connected_agents=h.connected_agents, nodes=h.nodes,
                     active_alerts=h.active_alerts, uptime_seconds=h.uptime_seconds,
                     compat=list(h.compat))


def overview_pb(o: Overview) -> pb.Overview:
    """Overview -> Overview."""
    return pb.Overview(
        total_nodes=o.nodes_total, healthy_nodes=o.nodes_healthy, faulty_nodes=o.nodes_faulty,
        fully_idle_nodes=o.nodes_fully_idle, partially_idle_nodes=o.nodes_partially_idle,
        busy_nodes=o.nodes_busy, total_gpus=o.gpus_total, allocated_gpus=o.gpus_allocated,
        lost_gpus=o.gpus_lost, allocation_rate=o.allocation_rate,
        gpu_utilization=o.gpu_utilization, power_watts=o.power_watts,
        active_alerts=o.active_alerts, busy_threshold_percent=o.busy_threshold_percent)


def node_pb(n: NodeSummary) -> pb.NodeInfo:
    """NodeSummary -> NodeInfo."""
    s = n.state
    return pb.NodeInfo(name=s.name, connected=n.connected, backend=s.backend,
                       agent_instance=s.agent_instance, agent_version=s.agent_version,
                       sample_rate_hz=s.sample_rate_hz, gpu_count=len(s.devices),
                       gpu_models=n.gpu_models, first_seen_ns=s.first_seen_ns,
                       last_seen_ns=s.last_seen_ns, frames_ingested=s.frames,
                       samples_ingested=s.samples, gpu_utilization=n.gpu_utilization,
                       power_watts=n.power_watts, attribution=n.attribution, status=n.status,
                       gpus_allocated=n.gpus_allocated, gpus_lost=n.gpus_lost,
                       gpus_busy=n.gpus_busy, idle_class=n.idle_class or "")


def device_pb(v: DeviceView) -> pb.DeviceInfo:
    """DeviceView -> DeviceInfo."""
    d = v.device
    return pb.DeviceInfo(node=d.node, device=pb.Device(
        index=d.index, uuid=d.uuid, vendor=d.vendor, model=d.model,
        memory_total_bytes=d.memory_total_bytes, mig_parent_uuid=d.mig_parent_uuid,
        pci_bus_id=d.pci_bus_id), latest=v.latest, latest_ts_ns=v.latest_ts_ns,
        status=v.status, held_by=[pb.Holder(workload=u, fraction=f) for u, f in v.holders],
        energy_joules=v.energy_joules, unattributed_energy_joules=v.unattributed_joules,
        inventory=inventory_pb(d.index, v.inventory, v.inventory.read_ts_ns)
        if v.inventory else None,
        memory_free_bytes=v.memory_free_bytes, mig=mig_pb(v.mig) if v.mig else None)


def mig_pb(m: MigStatistics) -> pb.MigStatistics:
    """MigStatistics -> its message."""
    msg = pb.MigStatistics(
        count=m.count, profiles=m.profiles, allocated=m.allocated,
        memory_used_bytes=m.memory_used_bytes, gpu_utilization=m.gpu_utilization,
        instances=[pb.MigInstance(uuid=x.uuid, profile=x.profile or "", status=x.status,
                                  memory_used_bytes=x.memory_used_bytes,
                                  memory_total_bytes=x.memory_total_bytes,
                                  gpu_utilization=x.gpu_utilization) for x in m.instances])
    if m.enabled is not None:
        msg.enabled = m.enabled
    return msg


def processes_pb(g: GpuProcesses) -> pb.GpuProcessesResponse:
    """GpuProcesses -> GpuProcessesResponse (read_ts_ns 0: never reported)."""
    return pb.GpuProcessesResponse(
        node=g.node, uuid=g.uuid, read_ts_ns=g.read_ts_ns or 0,
        processes=[pb.GpuProcess(**dataclasses.asdict(p)) for p in g.processes])


def series_pb(s: Series) -> pb.Series:
    """Series -> pb.Series."""
    return pb.Series(gpu=s.gpu, index=s.index, ts_ns=s.ts_ns.tolist(),
                     values=np.asarray(s.values, dtype=np.float64).tolist())


def range_pb(r: RangeResult) -> pb.QueryRangeResponse:
    """RangeResult -> QueryRangeResponse."""
    return pb.QueryRangeResponse(
        node=r.node, metric=r.metric, unit=r.unit, agg=r.agg, start_ns=r.start_ns,
        end_ns=r.end_ns, step_ns=r.step_ns, gpus=[series_pb(s) for s in r.gpus],
        node_total=series_pb(r.node_total))


def kube_pod_pb(ctx: PodContext | None) -> pb.KubernetesPod | None:
    """PodContext -> KubernetesPod (None stays unset)."""
    if ctx is None:
        return None
    p = ctx.pod
    return pb.KubernetesPod(phase=p.phase, node=p.node, annotations=p.annotations,
                            created_ns=p.created_ns, started_ns=p.started_ns,
                            gpus_requested=p.gpus_requested,
                            waiting_seconds=ctx.waiting_seconds, queue=p.queue)


def workload_pb(w: WorkloadSummary, node_gpus: list[str] | None = None) -> pb.WorkloadInfo:
    """WorkloadSummary -> WorkloadInfo."""
    i, u = w.info, w.usage
    return pb.WorkloadInfo(
        uid=i.uid, kind=i.kind, namespace=i.namespace, pod=i.pod, container=i.container,
        pod_uid=i.pod_uid, labels=i.labels, api_version=w.api_version,
        owners=[pb.Owner(kind=o.kind, name=o.name, uid=o.uid, api_version=o.api_version)
                for o in w.owner_refs],
        status=w.status or ("running" if w.running else "ended"), first_seen_ns=i.first_ns,
        last_seen_ns=i.last_ns, gpus=w.gpus, gpu_uuids=w.gpu_uuids,
        power_watts=w.power_watts, memory_used_bytes=w.memory_used_bytes,
        utilization_percent=w.utilization_percent, energy_joules=u.energy_joules,
        gpu_seconds_allocated=u.gpu_seconds_allocated, gpu_seconds_busy=u.gpu_seconds_busy,
        held=[pb.HeldGpu(node=h.node, gpu=h.uuid, fraction=h.fraction) for h in w.held],
        node_gpus=node_gpus or [], kubernetes=kube_pod_pb(w.context), children=w.children)


def hierarchy_pb(h: Hierarchy) -> pb.WorkloadHierarchy:
    """Hierarchy -> WorkloadHierarchy."""
    return pb.WorkloadHierarchy(
        workload=workload_pb(h.workload), children=h.children,
        owners=[pb.OwnerGroup(kind=o.kind, name=o.name, workloads=o.workloads, uid=o.uid,
                              api_version=o.api_version) for o in h.owners])


def namespace_pb(n: NamespaceSummary) -> pb.NamespaceInfo:
    """NamespaceSummary -> NamespaceInfo."""
    u = n.usage
    return pb.NamespaceInfo(
        namespace=n.namespace, workloads=n.workloads, running=n.running, pending=n.pending,
        owners=n.owners, gpus=n.gpus,
        utilization_percent=n.utilization_percent, energy_joules=u.energy_joules,
        gpu_seconds_allocated=u.gpu_seconds_allocated, gpu_seconds_busy=u.gpu_seconds_busy,
        gpu_hours=n.gpu_hours, busy_gpu_hours=n.busy_gpu_hours,
        energy_kilowatt_hours=n.energy_kwh)


def utilization_pb(u: UtilizationHistory) -> pb.UtilizationHistoryResponse:
    """UtilizationHistory -> UtilizationHistoryResponse (utilization unset where NaN)."""
    points = [pb.UtilizationPoint(ts_ns=int(t), gpu_utilization=None if np.isnan(v) else float(v),
                                  gpus_reporting=int(n), allocated_gpus=int(a),
                                  memory_used_percent=None if np.isnan(m) else float(m))
              for t, v, n, a, m in zip(u.times, u.utilization, u.reporting, u.allocated,
                                       u.memory_used, strict=True)]
    return pb.UtilizationHistoryResponse(start_ns=u.grid.start, end_ns=u.grid.end,
                                         step_ns=u.grid.step, total_gpus=u.gpus_total,
                                         points=points)


def heatmap_pb(h: Heatmap) -> pb.HeatmapResponse:
    """Heatmap -> HeatmapResponse (NaN where a column is empty)."""
    return pb.HeatmapResponse(
        metric=h.metric, unit=h.unit, agg=h.agg, start_ns=h.grid.start, end_ns=h.grid.end,
        step_ns=h.grid.step, ts_ns=h.times.tolist(), min=h.min_value, max=h.max_value,
        rows=[pb.HeatmapRow(node=r.node, gpu=r.uuid, index=r.index, model=r.model, mean=r.mean,
                            values=r.values.tolist()) for r in h.rows])


def top_pb(t: Top) -> pb.TopResponse:
    """Top -> TopResponse."""
    return pb.TopResponse(by=t.by, metric=t.metric, unit=t.unit, entries=[
        pb.TopEntry(rank=e.rank, kind=e.kind, id=e.id, namespace=e.namespace, name=e.name,
                    value=e.value) for e in t.entries])


def alert_pb(a: Alert) -> pb.AlertInfo:
    """Alert -> AlertInfo."""
    return pb.AlertInfo(
        id=a.id, rule=a.rule, severity=a.severity, state=a.state, node=a.node, gpu=a.gpu,
        gpu_index=a.gpu_index, workloads=a.workloads, message=a.message, value=a.value,
        threshold=a.threshold, since_ns=a.since_ns, updated_ns=a.updated_ns,
        resolved_ns=a.resolved_ns or 0, acknowledged_by=a.acknowledged_by or "",
        acknowledged_ns=a.acknowledged_ns or 0)


def _stats_pb(s: UsageStats) -> pb.UsageStats:
    return pb.UsageStats(samples=s.samples, gpu_utilization=s.gpu_utilization,
                         memory_utilization=s.memory_utilization,
                         memory_used_bytes=s.memory_used_bytes,
                         temperature_celsius=s.temperature,
                         temperature_max_celsius=s.temperature_max)


def statistics_pb(u: UsageStatistics) -> pb.UsageStatisticsResponse:
    """UsageStatistics -> UsageStatisticsResponse."""
    return pb.UsageStatisticsResponse(
        hours=u.hours, start_ns=u.start_ns, end_ns=u.end_ns,
        devices=[pb.DeviceUsageStats(node=d.node, gpu=d.uuid, index=d.index, model=d.model,
                                     stats=_stats_pb(d.stats)) for d in u.devices],
        models=[pb.ModelUsageStats(model=m.model, gpus=m.gpus, stats=_stats_pb(m.stats))
                for m in u.models])


def _cost_line_pb(c: CostLine) -> pb.CostLine:
    return pb.CostLine(key=c.key, kind=c.kind, name=c.name, gpu_hours=c.gpu_hours,
                       busy_gpu_hours=c.busy_gpu_hours, energy_kilowatt_hours=c.energy_kwh,
                       gpu_cost=c.gpu_cost, energy_cost=c.energy_cost,
                       total_cost=c.total_cost, idle_gpu_hours=c.idle_gpu_hours,
                       idle_cost=c.idle_cost)


def _projection_pb(p: CostProjection) -> pb.CostProjection:
    return pb.CostProjection(method=PROJECTION_METHOD, covered_seconds=p.covered_seconds,
                             hourly=p.hourly, daily=p.per_day, weekly=p.weekly,
                             monthly=p.monthly, idle_percent=p.idle_percent,
                             potential_monthly_savings=p.potential_monthly_savings)


def cost_pb(c: CostReport) -> pb.CostResponse:
    """CostReport -> CostResponse."""
    p = c.pricing
    return pb.CostResponse(
        days=c.days, start_ns=c.start_ns, end_ns=c.end_ns, currency=p.currency,
        gpu_hour_price=p.gpu_hour, energy_price_per_kilowatt_hour=p.energy_kwh,
        gpu_hour_price_by_model=[pb.ModelPrice(model=m, price=v) for m, v in p.gpu_hour_by_model],
        total=_cost_line_pb(c.total), by_namespace=[_cost_line_pb(x) for x in c.by_namespace],
        by_workload=[_cost_line_pb(x) for x in c.by_workload],
        by_label=[_cost_line_pb(x) for x in c.by_label], projection=_projection_pb(c.projection))


def _series_forecast_pb(s: SeriesForecast) -> pb.SeriesForecast:
    m = s.method
    return pb.SeriesForecast(
        unit=s.unit, history_points=s.history_points, filled_points=s.filled_points,
        mean=s.mean.tolist(), lower=s.lower.tolist(), upper=s.upper.tolist(),
        method=pb.ForecastMethod(model=m.model, library=m.library,
                                 seasonal_periods=m.seasonal_periods, params=dict(m.params),
                                 converged=m.converged, clipped=m.clipped))


def forecast_pb(f: Forecast) -> pb.ForecastResponse:
    """Forecast -> ForecastResponse."""
    return pb.ForecastResponse(
        hours=f.hours, step_ns=f.step_ns, node=f.node or "", history_start_ns=f.history_start_ns,
        history_end_ns=f.history_end_ns, interval_level=f.interval_level,
        total_gpus=f.gpus_total, ts_ns=f.times.tolist(),
        utilization=_series_forecast_pb(f.utilization),
        allocated_gpus=_series_forecast_pb(f.allocated_gpus))


def snapshot_pb(s: LiveSnapshot) -> pb.WatchUpdate:
    """LiveSnapshot -> WatchUpdate."""
    return pb.WatchUpdate(ts_ns=s.ts_ns, window_ns=s.window_ns, devices=[
        pb.LiveDevice(node=d.node, gpu=d.uuid, index=d.index, fraction=d.fraction,
                      end_ns=d.end_ns, metrics={
                          m: pb.WindowStats(avg=w.avg, min=w.min, max=w.max, last=w.last,
                                            count=w.count) for m, w in d.metrics.items()})
        for d in s.devices])


def queue_pb(v: QueueView) -> pb.QueueInfo:
    """QueueView -> QueueInfo."""
    q, u = v.queue, v.usage
    return pb.QueueInfo(
        name=q.name, parent=q.parent, children=v.children, gpu_quota=q.gpu_quota,
        gpu_limit=q.gpu_limit, gpu_over_quota_weight=q.gpu_over_quota_weight, pods=v.pods,
        allocated_gpus=v.allocated_gpus, held_gpus=v.held_gpus, pending_pods=v.pending_pods,
        pending_gpus=v.pending_gpus, energy_joules=u.energy_joules,
        gpu_seconds_allocated=u.gpu_seconds_allocated, gpu_seconds_busy=u.gpu_seconds_busy)


def kube_node_pb(v: KubeNode) -> pb.KubernetesNode:
    """KubeNode -> KubernetesNode."""
    n = v.node
    out = pb.KubernetesNode(
        name=n.name, addresses=n.addresses, roles=n.roles,
        kubelet_version=n.kubelet_version, labels=n.labels, capacity=n.capacity,
        allocatable=n.allocatable, gpus=n.gpus, agent=v.agent, agent_missing=v.agent_missing,
        address=n.address or "",
        conditions=[pb.NodeCondition(type=c.type, status=c.status, reason=c.reason,
                                     message=c.message, last_transition_ns=c.last_transition_ns)
                    for c in n.conditions])
    if n.ready is not None:  # unset: no Ready condition yet
        out.ready = n.ready
    return out


def kube_state_pb(kinds: list[KindView] | None) -> pb.KubernetesState:
    """The watch's kinds -> KubernetesState (None: the collector does not watch the API)."""
    found = kinds or []
    return pb.KubernetesState(enabled=kinds is not None, stale=any(k.stale for k in found),
                              kinds=[pb.KubernetesKind(
                                  kind=k.kind, objects=k.objects, synced_ns=k.state.synced_ns,
                                  stale=k.stale, stale_since_ns=k.state.stale_since_ns,
                                  error=k.state.error) for k in found])
