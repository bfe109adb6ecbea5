"""Attribution over time: a scripted kubelet, /proc fixtures and per-tick process lists."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from gputel.agent.attribution import (
    Attributor,
    CgroupResolver,
    Change,
    PodLogDirectory,
    PodResourcesClient,
    PodResourcesPoller,
    ProcessSample,
    Share,
)
from tests.attribution.conftest import MIG_0, MIG_1, MS, UUID_A, UUID_B, devices
from tests.harness.kubelet import FakePod, KubeletStandIn, gpu_pod, refusing_socket

S = 1_000 * MS
TICK = 10 * MS  # 100 Hz
TRAINER_UID = "40934a46-d409-4f4a-bb8b-1ec0b0436320"  # pid 1003, HOSTNAME trainer-0
INFER_UID = "ae7a96fb-2bdc-46b0-96e2-78e4af94847b"    # pid 2002
Procs = Mapping[int, Sequence[ProcessSample]]


def attributor(server: KubeletStandIn | None, resolver: CgroupResolver | None = None,
               **kwargs: object) -> Attributor:
    poller = None
    if server is not None:
        poller = PodResourcesPoller(PodResourcesClient(server.socket_path), devices(),
                                    backoff_ns=(1 * S, 4 * S))
    return Attributor(devices(), poller, resolver, **kwargs)  # type: ignore[arg-type]


def shared_pods() -> list[FakePod]:
    return [gpu_pod("ml", "trainer-0", f"{UUID_A}::0"), gpu_pod("ml", "infer-1", f"{UUID_A}::1")]


def run(att: Attributor, start_ns: int, end_ns: int, procs: Procs | None = None) -> None:
    """Observe every tick in [start, end); `procs` on the first tick only."""
    for ts in range(start_ns, end_ns, TICK):
        att.observe(ts, procs if ts == start_ns else None)


def test_follows_the_kubelet_script_within_one_poll(kubelet: KubeletStandIn) -> None:
    script = {
        0: [gpu_pod("ml", "a", UUID_A)],
        500 * MS: [gpu_pod("ml", "a", f"{UUID_A}::0"), gpu_pod("ml", "c", f"{UUID_A}::1"),
                   gpu_pod("web", "b", UUID_B)],                       # b arrives, A shared
        2_700 * MS: [gpu_pod("ml", "c", f"{UUID_A}::1"), gpu_pod("web", "b", UUID_B)],  # a leaves
        4_100 * MS: [],                                                 # everyone leaves
    }
    att = attributor(kubelet)
    for ts in range(0, 6 * S + TICK, TICK):
        if ts in script:
            kubelet.set_pods(script[ts])
        att.observe(ts)
    assert att.drain_changes() == [
        Change(0, 0, (Share("ml/a", 1.0),)),
        Change(2 * S, 0, (Share("ml/a", 0.5), Share("ml/c", 0.5))),   # split, never copied
        Change(2 * S, 1, (Share("web/b", 1.0),)),
        Change(4 * S, 0, (Share("ml/c", 1.0),)),
        Change(6 * S, 0, ()),
        Change(6 * S, 1, ()),
    ]
    assert kubelet.calls["List"] == 4  # every 2 s, not every tick
    assert att.workloads() == {}


def test_shared_gpu_is_split_by_use(kubelet: KubeletStandIn, resolver: CgroupResolver) -> None:
    kubelet.set_pods(shared_pods())
    att = attributor(kubelet, resolver)
    att.observe(0, {0: [ProcessSample(1003, 3 << 30, 60.0), ProcessSample(2002, 1 << 30, 20.0)]})
    assert att.drain_changes() == [
        Change(0, 0, (Share(TRAINER_UID, 0.75), Share(INFER_UID, 0.25)))]
    trainer = att.workload(TRAINER_UID)
    assert trainer is not None
    assert (trainer.kind, trainer.namespace, trainer.pod, trainer.container, trainer.pod_uid) == (
        "pod", "ml", "trainer-0", "main", TRAINER_UID)
    infer = att.workload(INFER_UID)
    assert infer is not None
    assert (infer.namespace, infer.pod) == ("ml", "infer-1")  # joined by elimination
    # no per-process utilization (MIG, AMD): memory splits it
    att.observe(TICK, {0: [ProcessSample(1003, 1 << 30), ProcessSample(2002, 3 << 30)]})
    assert att.drain_changes() == [
        Change(TICK, 0, (Share(TRAINER_UID, 0.25), Share(INFER_UID, 0.75)))]
    # the pod that stops using it keeps its allocation at 0.0
    att.observe(2 * TICK, {0: [ProcessSample(1003, 1 << 30)]})
    assert att.drain_changes() == [
        Change(2 * TICK, 0, (Share(TRAINER_UID, 1.0), Share(INFER_UID, 0.0)))]


def test_a_workload_starting_mid_run_changes_at_that_tick(kubelet: KubeletStandIn,
                                                          resolver: CgroupResolver) -> None:
    att = attributor(kubelet, resolver)
    run(att, 0, 500 * MS, {0: []})
    kubelet.set_pods([gpu_pod("ml", "trainer-0", UUID_A)])  # allocated between two polls
    run(att, 500 * MS, 730 * MS)
    assert att.drain_changes() == []  # the kubelet is not asked before the next poll...
    run(att, 730 * MS, 3 * S, {0: [ProcessSample(1003, 1 << 30, 50.0)]})
    # ...unless the process set changes: then attribution starts at that very tick
    assert att.drain_changes() == [Change(730 * MS, 0, (Share(TRAINER_UID, 1.0),))]
    assert kubelet.calls["List"] == 3  # 0 s, 0.73 s (process arrived), 2.73 s (interval)
    assert att.stats.pids_resolved == 1  # /proc read once for the PID, not per tick


def test_a_workload_ending_mid_run_changes_at_that_tick(kubelet: KubeletStandIn,
                                                        resolver: CgroupResolver) -> None:
    kubelet.set_pods(shared_pods())
    att = attributor(kubelet, resolver)
    both = {0: [ProcessSample(1003, 1 << 30, 50.0), ProcessSample(2002, 1 << 30, 50.0)]}
    run(att, 0, 1_370 * MS, both)
    assert att.drain_changes() == [
        Change(0, 0, (Share(TRAINER_UID, 0.5), Share(INFER_UID, 0.5)))]
    kubelet.set_pods(shared_pods()[:1])  # infer-1 is deleted as its process exits
    run(att, 1_370 * MS, 1_500 * MS, {0: [ProcessSample(1003, 1 << 30, 50.0)]})
    assert att.drain_changes() == [Change(1_370 * MS, 0, (Share(TRAINER_UID, 1.0),))]
    assert att.workload(INFER_UID) is None  # gone with its last share


def test_bare_metal_processes_and_slurm_jobs(resolver: CgroupResolver) -> None:
    att = attributor(None, resolver)
    assert not att.available
    run(att, 0, 100 * MS, {0: [], 1: []})
    run(att, 100 * MS, 250 * MS, {0: [ProcessSample(6001, 1 << 20)],
                                  1: [ProcessSample(5001, 8 << 30, 90.0)]})
    run(att, 250 * MS, 300 * MS, {0: []})
    assert att.drain_changes() == [
        Change(100 * MS, 0, (Share("process/6001", 1.0),)),
        Change(100 * MS, 1, (Share("slurm/4242", 1.0),)),
        Change(250 * MS, 0, ()),
    ]
    job = att.workload("slurm/4242")
    assert job is not None
    assert (job.kind, job.namespace, job.pod) == ("slurm", "alice", "train-llm")
    assert job.labels["slurm_job_partition"] == "gpu"
    updates = {w.uid: w for w in att.drain_workload_updates()}
    assert updates["process/6001"].container == "nvidia-smi"  # still delivered though gone


def test_kubelet_missing_then_refusing_then_back(kubelet: KubeletStandIn,
                                                 resolver: CgroupResolver) -> None:
    kubelet.set_pods([gpu_pod("ml", "trainer-0", UUID_A)])
    kubelet.stop()  # socket missing from the start
    att = attributor(kubelet, resolver)
    run(att, 0, 1 * S, {0: [ProcessSample(1003, 1 << 30)]})
    assert not att.available
    # cgroups still name the pod, by UID, though the kubelet cannot name it yet
    assert att.drain_changes() == [Change(0, 0, (Share(TRAINER_UID, 1.0),))]
    unnamed = att.workload(TRAINER_UID)
    assert unnamed is not None
    assert (unnamed.kind, unnamed.pod) == ("pod", "")
    kubelet.start()
    run(att, 1 * S, 2 * S)  # the retry at 1 s finds it
    assert att.available
    named = att.workload(TRAINER_UID)
    assert named is not None
    assert (named.namespace, named.pod) == ("ml", "trainer-0")
    assert att.drain_changes() == []  # same workload, same share: no churn
    kubelet.stop()
    with refusing_socket(kubelet.socket_path):  # a socket file nobody answers on
        run(att, 2 * S, 3_500 * MS)  # the interval poll at 3 s fails
    assert not att.available
    assert att.current() == {0: (Share(TRAINER_UID, 1.0),)}  # last view kept meanwhile
    kubelet.start()
    run(att, 3_500 * MS, 4_500 * MS)  # retried after 1 s of backoff
    assert att.available


def test_fluctuating_use_is_not_a_change_per_tick(kubelet: KubeletStandIn,
                                                  resolver: CgroupResolver) -> None:
    kubelet.set_pods(shared_pods())
    att = attributor(kubelet, resolver)

    def tick(ts: int, trainer: float, infer: float) -> None:
        att.observe(ts, {0: [ProcessSample(1003, 0, trainer), ProcessSample(2002, 0, infer)]})

    tick(0, 60.0, 40.0)
    tick(TICK, 62.0, 38.0)
    tick(2 * TICK, 58.0, 42.0)
    tick(3 * TICK, 70.0, 30.0)
    changes = att.drain_changes()
    assert [c.ts_ns for c in changes] == [0, 3 * TICK]
    assert changes[1].shares == (Share(TRAINER_UID, 0.7), Share(INFER_UID, 0.3))


def test_mig_parent_gets_the_mean_of_its_slices(kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([gpu_pod("ml", "x", MIG_0, resource="nvidia.com/mig-3g.20gb"),
                      gpu_pod("ml", "y", MIG_1, resource="nvidia.com/mig-3g.20gb")])
    att = attributor(kubelet)
    att.observe(0)
    assert att.current() == {
        2: (Share("ml/x", 0.5), Share("ml/y", 0.5)),
        3: (Share("ml/x", 1.0),),
        4: (Share("ml/y", 1.0),),
    }


def test_a_pod_keeps_its_first_id(kubelet: KubeletStandIn, resolver: CgroupResolver) -> None:
    kubelet.set_pods([gpu_pod("ml", "trainer-0", UUID_A)])
    att = attributor(kubelet, resolver)
    att.observe(0, {0: []})  # allocated, idle: only namespace/name is known
    att.observe(TICK, {0: [ProcessSample(1003, 1 << 30)]})
    assert att.drain_changes() == [Change(0, 0, (Share("ml/trainer-0", 1.0),))]
    workload = att.workload("ml/trainer-0")
    assert workload is not None
    assert workload.pod_uid == TRAINER_UID  # learned later, added without a rename


def test_pod_log_folder_gives_uids_before_any_process(kubelet: KubeletStandIn,
                                                      tmp_path: Path) -> None:
    os.mkdir(tmp_path / f"ml_trainer-0_{TRAINER_UID}")
    os.mkdir(tmp_path / "not-a-pod-folder")
    kubelet.set_pods([gpu_pod("ml", "trainer-0", UUID_A)])
    att = attributor(kubelet, pod_logs=PodLogDirectory(tmp_path))
    att.observe(0)
    assert att.current() == {0: (Share(TRAINER_UID, 1.0),)}


def test_without_proc_a_process_counts_for_the_one_pod_given_its_gpu(
        kubelet: KubeletStandIn) -> None:
    kubelet.set_pods([gpu_pod("ml", "a", UUID_A), *shared_pods()[1:]])
    att = attributor(kubelet)
    att.observe(0, {0: [ProcessSample(1003, 1 << 30)], 1: [ProcessSample(77, 1 << 30)]})
    assert att.current() == {  # two pods given GPU A: the process cannot be placed
        0: (Share("ml/a", 0.0), Share("ml/infer-1", 0.0), Share("process/1003", 1.0)),
        1: (Share("process/77", 1.0),),
    }
    kubelet.set_pods([gpu_pod("ml", "a", UUID_A), gpu_pod("ml", "b", UUID_B)])
    att.observe(3 * S, {0: [ProcessSample(1003, 1 << 30)], 1: [ProcessSample(77, 1 << 30)]})
    assert att.current()[1] == (Share("ml/b", 1.0),)


def test_a_quiet_tick_is_cheap(kubelet: KubeletStandIn, resolver: CgroupResolver) -> None:
    kubelet.set_pods(shared_pods())
    att = attributor(kubelet, resolver)
    procs = {0: [ProcessSample(1003, 1 << 30, 50.0), ProcessSample(2002, 1 << 30, 50.0)]}
    att.observe(0, procs)
    start = time.perf_counter()
    for ts in range(TICK, 1 * S, TICK // 10):  # 1,000 ticks, nothing new, no poll due
        att.observe(ts)
    per_tick = (time.perf_counter() - start) / 1_000
    assert per_tick < 200e-6, f"{per_tick * 1e6:.1f} µs per quiet tick"
    assert kubelet.calls["List"] == 1
