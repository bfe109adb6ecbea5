"""Host PID -> pod UID and container ID, or Slurm job, from /proc/<pid>/cgroup and environ.

NVML reports host PIDs, so the agent needs `hostPID: true` and the host's /proc
(passed in as `proc_root`). Path forms recognised, cgroup v1 and v2 alike:

- systemd driver: `/kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<UID with _>.slice/
  <rt>-<64 hex>.scope`, rt = `cri-containerd`, `crio` or `docker`; Guaranteed pods have
  no QoS level; containerd on cgroup v1 may write `<pod slice>:cri-containerd:<id>`.
- cgroupfs driver: `/kubepods/<qos>/pod<UID>/<64 hex>`.
- docker outside Kubernetes: `/docker/<id>`, `/system.slice/docker-<id>.scope`.
- Slurm: `/slurm[_<node>]/uid_<uid>/job_<id>/step_<n>/...` (v1),
  `/system.slice/[<node>_]slurmstepd.scope/job_<id>/step_<n>/...` (v2), and the job's
  SLURM_* environment where the cgroup does not name a job (proctrack/linuxproc).

Paths are matched on their tail, so the `/../..` prefix of a private cgroup namespace
and nesting (kind's `kubelet.slice/kubelet-kubepods.slice`) do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

_UUID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
_POD = re.compile(rf"(?:^|[/-])pod({_UUID})(?:\.slice)?(?=/|:|$)")
_CONTAINER = re.compile(
    r"(?:(cri-containerd|crio|docker)[-:/]|/)([0-9a-f]{64})(?:\.scope)?(?=/|$)")
_SLURM_JOB = re.compile(r"/job_(\d+)(?:/step_([^/]+))?")
_SLURM_UID = re.compile(r"/uid_(\d+)/")
_RUNTIMES = {"cri-containerd": "containerd", "crio": "crio", "docker": "docker"}
SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_JOB_USER", "SLURM_JOB_NAME", "SLURM_JOB_PARTITION",
                   "SLURM_JOB_ACCOUNT", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ProcessOrigin:
    """Where one host process lives.

    kind "pod": pod_uid set (dashes), container_id and runtime where the path names them.
    kind "slurm": slurm_job_id set, `slurm` holds the job's SLURM_* variables.
    kind "process": neither; container_id is set for a container outside Kubernetes.
    `comm` is the process name, "" if it could not be read.
    """

    kind: str
    pod_uid: str = ""
    container_id: str = ""
    runtime: str = ""
    slurm_job_id: str = ""
    slurm: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    comm: str = ""


@dataclass(frozen=True, slots=True)
class CgroupMatch:
    """What one cgroup path names (empty strings where it names nothing)."""

    pod_uid: str = ""
    container_id: str = ""
    runtime: str = ""
    slurm_job_id: str = ""
    slurm_uid: str = ""


def match_path(path: str) -> CgroupMatch:
    """Pod UID, container ID + runtime and Slurm job named by one cgroup path."""
    pod = _POD.findall(path)
    ctrs = _CONTAINER.findall(path)
    runtime, container = ctrs[-1] if ctrs else ("", "")
    job = _SLURM_JOB.search(path) if "slurm" in path else None
    uid = _SLURM_UID.search(path) if job else None
    return CgroupMatch(pod_uid=pod[-1].replace("_", "-") if pod else "",
                       container_id=container, runtime=_RUNTIMES.get(runtime, ""),
                       slurm_job_id=job.group(1) if job else "",
                       slurm_uid=uid.group(1) if uid else "")


def parse_cgroup_file(text: str) -> CgroupMatch:
    """The most telling match over all lines of a /proc/<pid>/cgroup file (v1, v2 or hybrid).

    A line naming a pod wins over one naming only a container, which wins over a
    Slurm job; v1 controllers usually agree, but a hybrid host's `0::` line often
    names only the runtime's service.
    """
    best = CgroupMatch()
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        found = match_path(parts[2])
        if _rank(found) > _rank(best):
            best = found
    return best


def _rank(found: CgroupMatch) -> int:
    return ((4 if found.pod_uid else 0) + (2 if found.container_id else 0)
            + (1 if found.slurm_job_id else 0))


def parse_environ(data: bytes, names: tuple[str, ...] = SLURM_VARIABLES) -> dict[str, str]:
    """The variables of `names` present in a NUL-separated /proc/<pid>/environ."""
    wanted = set(names)
    found = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        name = key.decode("utf-8", "replace")
        if sep and name in wanted:
            found[name] = value.decode("utf-8", "replace")
    return found


class CgroupResolver:
    """Reads /proc/<pid>/{cgroup,environ,comm} under `proc_root` to place a host PID.

    Nothing is cached here; the Attributor reads each PID once while it stays on a GPU.
    A process that is gone or unreadable comes back as kind "process".
    """

    def __init__(self, proc_root: Path | str = "/proc") -> None:
        self.proc_root = Path(proc_root)
        self.read_errors = 0

    def resolve(self, pid: int) -> ProcessOrigin:
        """Where `pid` lives (one to three small file reads)."""
        base = self.proc_root / str(pid)
        found = parse_cgroup_file(self._read_text(base / "cgroup"))
        comm = self._read_text(base / "comm").strip()
        if found.pod_uid:
            return ProcessOrigin("pod", pod_uid=found.pod_uid, container_id=found.container_id,
                                 runtime=found.runtime, comm=comm)
        env = parse_environ(self._read_bytes(base / "environ"))
        job = found.slurm_job_id or env.get("SLURM_JOB_ID", "")
        if job:
            if env.get("SLURM_JOB_ID", job) != job:  # trust the cgroup over a user's env
                env = {}
            env = {"SLURM_JOB_ID": job, **env}
            return ProcessOrigin("slurm", slurm_job_id=job, slurm=MappingProxyType(env),
                                 comm=comm)
        return ProcessOrigin("process", container_id=found.container_id,
                             runtime=found.runtime, comm=comm)

    def hostname(self, pid: int) -> str:
        """The HOSTNAME a container was started with (the pod name unless spec.hostname)."""
        env = parse_environ(self._read_bytes(self.proc_root / str(pid) / "environ"),
                            ("HOSTNAME",))
        return env.get("HOSTNAME", "")

    def _read_text(self, path: Path) -> str:
        return self._read_bytes(path).decode("utf-8", "replace")

    def _read_bytes(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError:  # gone (ENOENT, ESRCH) or not ours to read (EACCES)
            self.read_errors += 1
            return b""
