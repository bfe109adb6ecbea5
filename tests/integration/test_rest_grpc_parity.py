"""REST and gRPC answer the same questions with the same numbers (one query core): range
queries, and the Kubernetes answers (workloads with their status, pod context and children,
queues, nodes, the watch's state, namespaces, cost and top with owner workloads)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from gputel.collector.timefmt import format_time
from gputel.proto.gputel.v1 import telemetry_pb2 as pb
from gputel.proto.gputel.v1 import telemetry_pb2_grpc as pb_grpc
from tests.harness.certs import TestCA
from tests.harness.kubeapi import KubeApiStandIn, load_manifests
from tests.harness.kubecluster import DATA, PYTORCHJOB_UID, kube_cluster
from tests.harness.servers import (
    CollectorThread,
    get_json,
    running_agent,
    wait_sampled,
    wait_until,
)


@pytest.fixture(scope="module")
def fed() -> tuple[CollectorThread, int, int]:
    server = CollectorThread().start()
    with running_agent(server.grpc_target, gpus=4, rate_hz=20, max_ticks=60,
                       flush_seconds=0.5) as agent:
        assert wait_sampled(agent, timeout=30)
        assert agent.stop(drain_timeout=10)
    ticks = agent.backend.ticks  # type: ignore[attr-defined]
    yield server, ticks[0][0], ticks[-1][0]
    server.stop()


def _points(series: pb.Series) -> list[list[object]]:
    return [[format_time(t), v] for t, v in zip(series.ts_ns, series.values, strict=True)]


@pytest.mark.parametrize("agg", ["avg", "min", "max", "sum", "last", "count"])
@pytest.mark.parametrize("metric", ["power", "gpu_util", "temperature", "mem_used"])
def test_same_numbers_over_rest_and_grpc(fed: tuple[CollectorThread, int, int], agg: str,
                                         metric: str) -> None:
    server, first, last = fed
    step_ns = 350_000_000  # not a multiple of the 50 ms period: windows hold 6 or 7 samples
    status, body = get_json(f"{server.http_base}/api/v1/nodes/node-a/metrics", metric=metric,
                            start=format_time(first), end=format_time(last), step="350ms",
                            agg=agg)
    assert status == 200
    with grpc.insecure_channel(server.grpc_target) as channel:
        answer = pb_grpc.QueryServiceStub(channel).QueryRange(pb.QueryRangeRequest(
            node="node-a", metric=metric, start_ns=first, end_ns=last, step_ns=step_ns, agg=agg))
    rest = body["data"]
    assert rest["unit"] == answer.unit
    assert [g["gpu"] for g in rest["gpus"]] == [s.gpu for s in answer.gpus]
    for rest_series, grpc_series in zip(rest["gpus"], answer.gpus, strict=True):
        assert rest_series["points"] == _points(grpc_series)
        assert len(grpc_series.values) > 5
    assert rest["nodeTotal"]["points"] == _points(answer.node_total)
    assert body["meta"]["points"] == sum(len(s.values) for s in answer.gpus)


# --------------------------------------------------------------- the Kubernetes answers
@pytest.fixture(scope="module")
def kube_fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorThread]:
    """A collector watching a stand-in API server, two agents that sampled and stopped (so
    the numbers hold still), and a pod waiting for GPUs."""
    where = tmp_path_factory.mktemp("kubeapi")
    api = KubeApiStandIn(where, TestCA(where)).start()
    api.apply(*load_manifests(DATA / "cluster.yaml"), *load_manifests(DATA / "pending.yaml"))
    try:
        with kube_cluster(api, max_ticks=60) as cluster:
            base = cluster.collector.http_base
            for agent in cluster.agents.values():
                assert wait_sampled(agent, timeout=30)
                assert agent.stop(drain_timeout=10)
            wait_until(lambda: _kube_ready(base), what="the PyTorchJob and the pending pod")
            yield cluster.collector
    finally:
        api.stop()


def _kube_ready(base: str) -> bool:
    _, body = get_json(f"{base}/api/v1/workloads", pageSize=500)
    found = {w["uid"]: w for w in body["data"]}
    job = found.get(PYTORCHJOB_UID)
    return job is not None and job["energyJoules"] > 0 and any(
        w["status"] == "pending" for w in found.values())


def _plain(value: object) -> object:
    """Both transports' "nothing" alike: None, "", [] and {} (proto3 has no null)."""
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None} or None
    if isinstance(value, list):
        return [_plain(v) for v in value] or None
    return None if value in ("", None) else value


def _same(rest: dict, message: Message, renamed: dict[str, str] | None = None) -> int:
    """Assert every field both answers carry agrees (`renamed`: REST key -> proto JSON key,
    a time as ns); returns how many fields were compared."""
    proto = MessageToDict(message, always_print_fields_with_no_presence=True)
    names = {f.json_name for f in message.DESCRIPTOR.fields}
    compared = 0
    for key, value in rest.items():
        other = (renamed or {}).get(key, key)
        if other not in names:
            continue
        theirs = proto.get(other)  # absent: an optional or a message left unset
        if other.endswith("Ns"):  # int64 as a string; REST says RFC 3339
            theirs = format_time(int(theirs)) if int(theirs) else None
        mine = _plain(value)
        if key == "waitingSeconds" and mine is not None:  # the clock moved between the asks
            assert theirs == pytest.approx(mine, abs=5.0)
        elif isinstance(mine, dict) and _is_message(message, other) and theirs is not None:
            compared += _same(value, getattr(message, _field(message, other).name), renamed)
        elif _is_message_list(message, other) and value:  # each item field by field
            items = getattr(message, _field(message, other).name)
            assert len(items) == len(value), (key, value, theirs)
            for item, their_item in zip(value, items, strict=True):
                _same(item, their_item, renamed)
        else:
            assert mine == _plain(theirs), (key, value, theirs)
        compared += 1
    return compared


def _field(message: Message, json_name: str) -> FieldDescriptor:
    return next(f for f in message.DESCRIPTOR.fields if f.json_name == json_name)


def _is_message_list(message: Message, json_name: str) -> bool:
    """A repeated nested message (not a map)."""
    f = _field(message, json_name)
    return (f.message_type is not None and not f.message_type.GetOptions().map_entry
            and f.label == FieldDescriptor.LABEL_REPEATED)


def _is_message(message: Message, json_name: str) -> bool:
    """A nested message (not a map, not a list)."""
    f = _field(message, json_name)
    return (f.message_type is not None and not f.message_type.GetOptions().map_entry
            and f.label != FieldDescriptor.LABEL_REPEATED)


TIMES = {"firstSeen": "firstSeenNs", "lastSeen": "lastSeenNs", "createdAt": "createdNs",
         "startedAt": "startedNs", "syncedAt": "syncedNs", "staleSince": "staleSinceNs",
         "lastTransitionTime": "lastTransitionNs"}


def test_kubernetes_answers_are_the_same_over_rest_and_grpc(kube_fed: CollectorThread) -> None:
    base = kube_fed.http_base
    with grpc.insecure_channel(kube_fed.grpc_target) as channel:
        stub = pb_grpc.QueryServiceStub(channel)
        everything = pb.PageRequest(page_size=500)
        _, rest = get_json(f"{base}/api/v1/workloads", pageSize=500)
        answer = stub.ListWorkloads(pb.ListWorkloadsRequest(page=everything))
        assert [w["uid"] for w in rest["data"]] == [w.uid for w in answer.workloads]
        kinds = {w.kind for w in answer.workloads}
        assert {"pod", "PyTorchJob", "Deployment", "Job", "CronJob"} <= kinds
        for mine, theirs in zip(rest["data"], answer.workloads, strict=True):
            assert _same(mine, theirs, TIMES) >= 22  # + the pod context's 8
        job = next(w for w in answer.workloads if w.uid == PYTORCHJOB_UID)
        assert list(job.children) == ["ml-research/llama-ft-master-0",
                                      "ml-research/llama-ft-worker-0"]
        master = next(w for w in answer.workloads if w.uid == job.children[0])
        assert master.kubernetes.queue == "team-a"
        assert not master.kubernetes.HasField("waiting_seconds")

        for status in ("pending", "running", "succeeded", "failed", "ended"):
            _, rest = get_json(f"{base}/api/v1/workloads", pageSize=500, status=status)
            answer = stub.ListWorkloads(pb.ListWorkloadsRequest(status=status, page=everything))
            assert [w["uid"] for w in rest["data"]] == [w.uid for w in answer.workloads]
        assert len(answer.workloads) == 0 or all(
            w.status in ("succeeded", "failed", "ended") for w in answer.workloads)

        _, rest = get_json(f"{base}/api/v1/queues")
        queues = stub.ListQueues(pb.ListQueuesRequest()).queues
        assert [q["name"] for q in rest["data"]] == [q.name for q in queues] == [
            "research", "team-a", "team-b"]
        for mine, theirs in zip(rest["data"], queues, strict=True):
            assert _same(mine, theirs) == 14
        assert queues[2].pending_gpus == 2

        _, rest = get_json(f"{base}/api/v1/kubernetes/nodes")
        nodes = stub.ListKubernetesNodes(pb.ListKubernetesNodesRequest()).nodes
        assert [n["name"] for n in rest["data"]] == [n.name for n in nodes]
        for mine, theirs in zip(rest["data"], nodes, strict=True):
            assert _same(mine, theirs, TIMES) == 13  # conditions item by item
        assert next(n for n in nodes if n.name == "gpu-a").address == "10.0.1.11"
        assert next(n for n in nodes if n.name == "gpu-c").agent_missing

        _, rest = get_json(f"{base}/api/v1/kubernetes")
        state = stub.GetKubernetesState(pb.GetKubernetesStateRequest())
        assert state.enabled
        assert not state.stale
        assert [k["kind"] for k in rest["data"]["kinds"]] == [k.kind for k in state.kinds]
        for mine, theirs in zip(rest["data"]["kinds"], state.kinds, strict=True):
            assert _same(mine, theirs, TIMES) == 6

        _, rest = get_json(f"{base}/api/v1/namespaces")
        spaces = stub.ListNamespaces(pb.ListNamespacesRequest()).namespaces
        for mine, theirs in zip(rest["data"], spaces, strict=True):
            assert _same(mine, theirs) == 13
        research = next(n for n in spaces if n.namespace == "ml-research")
        assert (research.pending, research.owners) == (1, 3)

        _, rest = get_json(f"{base}/api/v1/cost", days=1)
        cost = stub.Cost(pb.CostRequest(days=1))
        assert [c["key"] for c in rest["data"]["byWorkload"]] == [c.key for c in
                                                                  cost.by_workload]
        for mine, theirs in zip(rest["data"]["byWorkload"], cost.by_workload, strict=True):
            assert _same(mine, theirs) == 11  # with idle GPU-hours and their cost
        assert next(c for c in cost.by_workload if c.key == PYTORCHJOB_UID).kind == "PyTorchJob"

        _, rest = get_json(f"{base}/api/v1/top", by="workloads", metric="energy", limit=100)
        top = stub.Top(pb.TopRequest(by="workloads", metric="energy", limit=100))
        assert [e["id"] for e in rest["data"]["entries"]] == [e.id for e in top.entries]
        assert PYTORCHJOB_UID in [e.id for e in top.entries]


def test_grpc_refuses_an_unknown_status(kube_fed: CollectorThread) -> None:
    with grpc.insecure_channel(kube_fed.grpc_target) as channel, \
            pytest.raises(grpc.RpcError) as refused:
        pb_grpc.QueryServiceStub(channel).ListWorkloads(pb.ListWorkloadsRequest(status="done"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "status" in (refused.value.details() or "")
