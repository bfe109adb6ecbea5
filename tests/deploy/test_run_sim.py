"""The sim overlay's collector and agent containers, run here as real processes.

Each container's `args` and `env` are taken from the rendered manifests and run as
`python -m gputel.cli <args>` (the image's ENTRYPOINT is `gputel`), with only what a laptop
must change remapped: listen ports to 0 (free ports, read back from the processes), listen
addresses to loopback, paths on the pod's volumes to tmp_path, the downward-API node name to
a stand-in, and the collector's Service name to its loopback address. So a flag renamed in the
code but not in the manifests, a bad value or a probe path the server does not serve fails
here as it would fail in the cluster. Each process runs in an empty working directory that
must stay empty: the pods' root filesystems are read-only.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx
import pytest

from tests.deploy.manifests import (
    HOST_DEST,
    HTTP_PORT_DEST,
    PROBE_PATHS,
    Manifests,
    Workload,
    dests,
    field_env,
    flag_envs,
    literal_env,
    parse,
)
from tests.harness.servers import wait_until

NODE = "kind-worker"
COLLECTOR_LINE = re.compile(r"gRPC on [^:]+:(\d+), HTTP on https?://[^:]+:(\d+)")
AGENT_LINE = re.compile(r"metrics on http://[^:]+:(\d+)/metrics")


@dataclass
class Running:
    """A started container process, its output collected by a thread."""

    name: str
    proc: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 30.0) -> re.Match[str]:
        """The first output line matching `pattern`; fails if the process exits first."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if (found := pattern.search(line)) is not None:
                return found
            if line == "":  # end of output: the process exited
                break
        pytest.fail(f"{self.name} never printed /{pattern.pattern}/ (exit status "
                    f"{self.proc.poll()}):\n{''.join(self.output)}")

    def stop(self, grace: float) -> int:
        """SIGTERM as the kubelet sends it; SIGKILL after the pod's grace period."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not stop within its {grace:g} s grace period")


@contextmanager
def run(w: Workload, env: dict[str, str], cwd: Path) -> Iterator[Running]:
    """Start the container's args as a process; always stopped (and killed if need be)."""
    argv = [sys.executable, "-m", "gputel.cli", *w.container["args"]]
    outer = {k: v for k, v in os.environ.items()
             if not k.startswith("GPUTEL_") and k != "NODE_NAME"}
    proc = subprocess.Popen(argv, cwd=cwd, env={**outer, **env, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    running = Running(w.subcommand, proc)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            running.output.append(line)
            running.lines.put(line)
        running.lines.put("")

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()


def remapped_env(w: Workload, tmp_path: Path) -> dict[str, str]:
    """The container's env with ports, addresses, volume paths and downward-API values remapped."""
    env = literal_env(w.container)
    for var, field_path in field_env(w.container).items():
        assert field_path == "spec.nodeName", f"no stand-in for {var} from {field_path}"
        env[var] = NODE
    envs = {action.dest: var for var, action in flag_envs(w.subcommand).items()}
    for dest in dests(w.subcommand, "_port"):
        env[envs[dest]] = "0"
    env[envs[HOST_DEST[w.subcommand]]] = "127.0.0.1"
    for mount in w.mounts():  # in the pod a volume's mount point exists: here too
        volume = tmp_path / w.subcommand / mount["name"]
        volume.mkdir(parents=True, exist_ok=True)
        root = PurePosixPath(mount["mountPath"])
        for var, value in env.items():
            if value.startswith("/") and PurePosixPath(value).is_relative_to(root):
                env[var] = str(volume / PurePosixPath(value).relative_to(root))
    return env


def manifest_ports(w: Workload) -> dict[str, int]:
    """Flag destination -> the port the manifest has the process listen on."""
    env = literal_env(w.container) | dict.fromkeys(field_env(w.container), NODE)
    settings = parse(w, env)
    return {dest: getattr(settings, dest) for dest in dests(w.subcommand, "_port")}


def probe_urls(w: Workload, configured: dict[int, int]) -> dict[str, str]:
    """Each httpGet probe of the container as a URL on the port it was remapped to."""
    urls = {}
    for probe in PROBE_PATHS:
        get = w.container[probe]["httpGet"]
        port = configured[w.port(get["port"])]
        urls[probe] = f"{get.get('scheme', 'HTTP').lower()}://127.0.0.1:{port}{get['path']}"
    return urls


def status(url: str) -> int | None:
    """The HTTP status of GET url; None while nothing answers."""
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def wait_for_200(url: str, what: str) -> None:
    """Until url answers; 503 (not ready yet) is waited out, any other answer is final."""
    wait_until(lambda: status(url) not in (None, 503), timeout=20, interval=0.05,
               what=f"{what} {url} to answer")
    assert status(url) == 200, f"{what} {url} answers {status(url)}"


def node_reporting(base: str, gpus: int) -> bool:
    try:
        nodes = httpx.get(f"{base}/api/v1/nodes", timeout=2).json()["data"]
    except httpx.TransportError:
        return False
    return any(n["name"] == NODE and n["gpuCount"] == gpus and n["samplesIngested"] > 0
               for n in nodes)


@pytest.mark.slow
def test_sim_overlay_containers_run_probe_and_stream(rendered: dict[str, Manifests],
                                                     tmp_path: Path) -> None:
    m = rendered["sim"]
    collector, agent = m.workload("collector"), m.workload("agent")
    for w in (collector, agent):
        assert "command" not in w.container  # the image's ENTRYPOINT, gputel, runs the args
    rootfs = {w.subcommand: tmp_path / w.subcommand / "rootfs" for w in (collector, agent)}
    for path in rootfs.values():
        path.mkdir(parents=True)

    collector_env = remapped_env(collector, tmp_path)
    with run(collector, collector_env, rootfs["collector"]) as c:
        grpc_port, http_port = map(int, c.wait_for(COLLECTOR_LINE).groups())
        configured = manifest_ports(collector)  # manifest port -> the one it listens on here
        collector_ports = {configured["grpc_port"]: grpc_port, configured["http_port"]: http_port}
        agent_env = remapped_env(agent, tmp_path)
        assert "GPUTEL_COLLECTOR" in agent_env  # the Service name, remapped to loopback:
        agent_env["GPUTEL_COLLECTOR"] = f"127.0.0.1:{grpc_port}"
        with run(agent, agent_env, rootfs["agent"]) as a:
            agent_port = manifest_ports(agent)[HTTP_PORT_DEST["agent"]]
            agent_ports = {agent_port: int(a.wait_for(AGENT_LINE).group(1))}
            for w, ports in ((collector, collector_ports), (agent, agent_ports)):
                for probe, url in probe_urls(w, ports).items():
                    wait_for_200(url, f"{w.subcommand} {probe}")
                notes = w.annotations
                wait_for_200(f"http://127.0.0.1:{ports[int(notes['prometheus.io/port'])]}"
                             f"{notes['prometheus.io/path']}", f"{w.subcommand} scrape")
            gpus = int(agent_env["GPUTEL_GPUS"])
            wait_until(lambda: node_reporting(f"http://127.0.0.1:{http_port}", gpus),
                       timeout=30, interval=0.1,
                       what=f"node {NODE} with {gpus} GPUs and samples in /api/v1/nodes")
            assert a.stop(agent.pod["terminationGracePeriodSeconds"]) == 0, "".join(a.output)
        assert c.stop(collector.pod["terminationGracePeriodSeconds"]) == 0, "".join(c.output)

    data_dir = Path(collector_env["GPUTEL_DATA_DIR"])
    assert (data_dir / "gputel.duckdb").is_file(), "the store is not on the data volume"
    for w, path in rootfs.items():
        assert not any(path.iterdir()), f"{w} wrote {sorted(path.iterdir())} outside its volumes"
    for out in (c.output, a.output):
        assert "Traceback" not in "".join(out)
