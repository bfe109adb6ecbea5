"""PID -> pod/container or Slurm job, over /proc files captured from real nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gputel.agent.attribution import CgroupResolver
from gputel.agent.attribution.cgroups import match_path, parse_cgroup_file, parse_environ

# pid -> (pod UID, container id prefix, runtime); see tests/data/proc/README.txt
PODS = {
    1001: ("019c1fe8-0d92-4aa0-b61c-4df58bdde71c", "9e073649debe", "containerd"),
    1002: ("0125ec2f-b64a-4868-8f5b-94b56cbab864", "ee4b20e90ac7", "containerd"),
    1003: ("40934a46-d409-4f4a-bb8b-1ec0b0436320", "afc114c69e71", "containerd"),
    1004: ("1e597579-417e-482f-bf65-5fe170c3aebd", "a09bc17f5aa2", "containerd"),
    2001: ("a5c1f8d5-1919-434d-add7-4afaafdaef89", "5eed91756358", "crio"),
    2002: ("ae7a96fb-2bdc-46b0-96e2-78e4af94847b", "89e8f450417b", "crio"),
    3001: ("7d4424e6-bb13-42f4-a47a-45a4828bf54d", "d0b3604b67ac", "docker"),
    3002: ("a91e6913-ec33-478f-a1b7-7e06fd239097", "66c9bbe20a40", "docker"),
    4001: ("85401dd3-38cd-47b6-a90a-e16c0e1c06e6", "dbc9f149296c", ""),
    4002: ("31dd0274-bb43-4975-bdbc-7e10047a23f8", "851c75dad6ad", ""),
}


@pytest.mark.parametrize("pid", sorted(PODS))
def test_pod_processes_on_every_runtime_and_cgroup_version(resolver: CgroupResolver,
                                                           pid: int) -> None:
    pod_uid, container, runtime = PODS[pid]
    origin = resolver.resolve(pid)
    assert origin.kind == "pod"
    assert origin.pod_uid == pod_uid
    assert origin.container_id.startswith(container)
    assert len(origin.container_id) == 64
    assert origin.runtime == runtime


def test_crio_conmon_belongs_to_the_pod_but_is_no_container(resolver: CgroupResolver) -> None:
    origin = resolver.resolve(2003)
    assert (origin.kind, origin.pod_uid, origin.container_id) == (
        "pod", "207aaad1-659f-4db8-88e0-46e0cdcc3004", "")


@pytest.mark.parametrize(("pid", "container", "runtime"), [
    (3003, "2403ccfe427f", "docker"),   # /docker/<id>, hybrid host with a 0:: line
    (3004, "898b44c4a066", "docker"),   # /system.slice/docker-<id>.scope
])
def test_docker_outside_kubernetes_is_a_plain_container(resolver: CgroupResolver, pid: int,
                                                        container: str, runtime: str) -> None:
    origin = resolver.resolve(pid)
    assert (origin.kind, origin.pod_uid) == ("process", "")
    assert origin.container_id.startswith(container)
    assert origin.runtime == runtime


@pytest.mark.parametrize(("pid", "job", "user", "name"), [
    (5001, "4242", "alice", "train-llm"),   # cgroup v1 /slurm/uid_1000/job_4242/...
    (5002, "4243", "bob", "eval"),          # cgroup v2 slurmstepd.scope/job_4243/...
    (5003, "4244", "carol", "sweep"),       # environment only (proctrack/linuxproc)
])
def test_slurm_jobs(resolver: CgroupResolver, pid: int, job: str, user: str,
                    name: str) -> None:
    origin = resolver.resolve(pid)
    assert (origin.kind, origin.slurm_job_id) == ("slurm", job)
    assert origin.slurm["SLURM_JOB_USER"] == user
    assert origin.slurm["SLURM_JOB_NAME"] == name
    assert "PATH" not in origin.slurm


def test_the_cgroup_wins_over_a_job_id_the_user_set(tmp_path: Path) -> None:
    proc = tmp_path / "77"
    proc.mkdir()
    (proc / "cgroup").write_text("0::/system.slice/slurmstepd.scope/job_10/step_0/user/task_0\n")
    (proc / "environ").write_bytes(b"SLURM_JOB_ID=99\0SLURM_JOB_USER=mallory\0")
    origin = CgroupResolver(tmp_path).resolve(77)
    assert origin.slurm_job_id == "10"
    assert dict(origin.slurm) == {"SLURM_JOB_ID": "10"}


def test_host_process(resolver: CgroupResolver) -> None:
    origin = resolver.resolve(6001)
    assert (origin.kind, origin.pod_uid, origin.container_id) == ("process", "", "")
    assert origin.comm == "nvidia-smi"


def test_a_process_that_is_gone_is_a_plain_process(resolver: CgroupResolver) -> None:
    origin = resolver.resolve(999_999)
    assert (origin.kind, origin.comm) == ("process", "")
    assert resolver.read_errors == 3


def test_hostname_for_the_join(resolver: CgroupResolver) -> None:
    assert resolver.hostname(1003) == "trainer-0"
    assert resolver.hostname(2002) == ""


def test_a_pod_line_wins_over_a_runtime_service_line() -> None:
    text = ("1:name=systemd:/system.slice/containerd.service\n"
            "0::/kubepods/besteffort/pod85401dd3-38cd-47b6-a90a-e16c0e1c06e6/"
            + "ab" * 32 + "\n")
    assert parse_cgroup_file(text).pod_uid == "85401dd3-38cd-47b6-a90a-e16c0e1c06e6"


def test_nested_leaf_below_the_container_scope() -> None:
    found = match_path("/kubepods.slice/kubepods-pod019c1fe8_0d92_4aa0_b61c_4df58bdde71c.slice/"
                       "cri-containerd-" + "cd" * 32 + ".scope/init")
    assert (found.pod_uid, found.container_id) == ("019c1fe8-0d92-4aa0-b61c-4df58bdde71c",
                                                   "cd" * 32)


def test_kubepods_without_a_pod_names_nothing() -> None:
    assert match_path("/kubepods.slice/kubepods-burstable.slice").pod_uid == ""


def test_environ_parsing_skips_junk() -> None:
    data = b"SLURM_JOB_ID=5\0garbage\0SLURM_JOB_NAME=a=b\0\0"
    assert parse_environ(data) == {"SLURM_JOB_ID": "5", "SLURM_JOB_NAME": "a=b"}
