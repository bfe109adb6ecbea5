"""Render daemonset/ with `kubectl kustomize` and read what the code must agree with.

A rendered overlay is a list of plain dicts (the YAML documents). The gputel workloads
are found by what they run: the container whose `args` start with a `gputel` subcommand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gputel.cli.main import build_parser
from gputel.cli.options import env_name

ROOT = Path(__file__).resolve().parents[2]
DAEMONSET = ROOT / "daemonset"
OVERLAYS = ("nvidia", "amd", "sim", "scale-out")
# In the order an overlay lists them (tls patches the ServiceMonitor, so it comes after).
OPTIONAL_COMPONENTS = ("prometheus-operator", "tls", "ingest-token", "host-pid")
# What the tls and ingest-token components set. They need Secrets the user creates, so no
# default overlay may use them. While a subcommand has none of these flags (TLS and tokens
# not in the code yet) they are let through as pending; once it has any, all must be real.
SECURITY_ENV = frozenset({"GPUTEL_TLS_CERT", "GPUTEL_TLS_KEY", "GPUTEL_TLS_CA",
                          "GPUTEL_TLS_CLIENT_CA", "GPUTEL_TOKEN_FILE"})
# Variables the manifests set that are not GPUTEL_* flags, and who reads each.
OTHER_ENV = {
    "NODE_NAME": "gputel agent: the default of --node",
    "NVIDIA_VISIBLE_DEVICES": "the NVIDIA container toolkit: which GPUs to inject",
    "NVIDIA_DRIVER_CAPABILITIES": "the NVIDIA container toolkit: which driver libraries",
}
# The HTTP server of each subcommand (probes, /metrics) and the flag of its listen address.
HTTP_PORT_DEST = {"agent": "agent_port", "collector": "http_port"}
HOST_DEST = {"agent": "http_host", "collector": "host"}
GRPC_PORT_DEST = "grpc_port"
# Routes each HTTP server serves (DESIGN.md, "The outside"); tests/deploy/test_run_sim.py
# checks the ones the manifests use answer 200 on real processes.
ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
PROBE_PATHS = {"startupProbe": "/healthz", "livenessProbe": "/healthz",
               "readinessProbe": "/readyz"}

Obj = dict[str, Any]


def kubectl() -> str:
    """Path of kubectl; fails (never skips) without it, because CI installs it."""
    found = shutil.which("kubectl")
    if found is None:
        raise AssertionError(
            "kubectl is not on PATH: tests/deploy render daemonset/ with `kubectl kustomize` "
            "(kubectl 1.27 or newer, for kustomize v5 components). Install kubectl and rerun.")
    return found


def render(directory: Path) -> list[Obj]:
    """The documents `kubectl kustomize directory` prints. Raises AssertionError on failure."""
    proc = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True,
                          text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def compose(workdir: Path, overlay: str, components: tuple[str, ...] = (),
            namespace: str | None = None) -> list[Obj]:
    """An overlay as a user would extend it: optional components, another namespace."""
    def rel(path: Path) -> str:
        return os.path.relpath(path, workdir)  # kustomize refuses absolute paths

    kustomization: Obj = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [rel(DAEMONSET / "overlays" / overlay)],
        "components": [rel(DAEMONSET / "components" / c) for c in components]}
    if namespace is not None:
        kustomization["namespace"] = namespace
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(workdir)


@dataclass(frozen=True)
class Workload:
    """A DaemonSet or StatefulSet running one gputel subcommand."""

    obj: Obj
    container: Obj

    @property
    def subcommand(self) -> str:
        return str(self.container["args"][0])

    @property
    def pod(self) -> Obj:
        spec: Obj = self.obj["spec"]["template"]["spec"]
        return spec

    @property
    def pod_labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.obj["spec"]["template"]["metadata"]["labels"]
        return labels

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.obj["spec"]["template"]["metadata"].get("annotations", {}))

    def port(self, ref: int | str) -> int:
        """A containerPort by number or name. Raises AssertionError if there is none."""
        for p in self.container.get("ports", []):
            if ref in (p["containerPort"], p.get("name")):
                return int(p["containerPort"])
        raise AssertionError(f"{self.subcommand}: no container port {ref!r}")

    def mounts(self) -> list[Obj]:
        return list(self.container.get("volumeMounts", []))


@dataclass(frozen=True)
class Manifests:
    """One rendered kustomization."""

    name: str
    objects: tuple[Obj, ...]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> Iterator[Workload]:
        for obj in self.objects:
            if obj["kind"] in ("DaemonSet", "StatefulSet", "Deployment"):
                for c in obj["spec"]["template"]["spec"]["containers"]:
                    yield Workload(obj, c)

    def workload(self, subcommand: str) -> Workload:
        found = [w for w in self.workloads() if w.container.get("args", [None])[0] == subcommand]
        assert len(found) == 1, f"{self.name}: expected one `gputel {subcommand}` container"
        return found[0]


def matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether matchLabels `selector` selects `labels` (an empty selector selects all)."""
    return all(labels.get(k) == v for k, v in selector.items())


def subparser(subcommand: str) -> argparse.ArgumentParser:
    """The CLI's parser of one subcommand."""
    parser = build_parser({})
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            choice: argparse.ArgumentParser = action.choices[subcommand]
            return choice
    raise AssertionError("gputel has no subcommands")


def flag_envs(subcommand: str) -> dict[str, argparse.Action]:
    """GPUTEL_<FLAG> -> its argparse action, for every flag of the subcommand."""
    return {env_name(opt): action for action in subparser(subcommand)._actions
            for opt in action.option_strings if opt.startswith("--") and opt != "--help"}


def pending_env(subcommand: str) -> frozenset[str]:
    """SECURITY_ENV names let through for a subcommand that reads none of them yet."""
    return frozenset() if SECURITY_ENV & set(flag_envs(subcommand)) else SECURITY_ENV


def dests(subcommand: str, suffix: str) -> set[str]:
    """Flag destinations of a subcommand ending with `suffix` (_port, _dir)."""
    return {a.dest for a in flag_envs(subcommand).values() if a.dest.endswith(suffix)}


def literal_env(container: Obj) -> dict[str, str]:
    """The container's env entries that have a literal value."""
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def field_env(container: Obj) -> dict[str, str]:
    """The container's env entries from the downward API: name -> fieldPath."""
    return {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
            for e in container.get("env", []) if "fieldRef" in e.get("valueFrom", {})}


def parse(workload: Workload, env: Mapping[str, str]) -> argparse.Namespace:
    """What `gputel <args>` makes of the container's args under `env`, as the CLI parses it.

    Raises AssertionError with the CLI's own one-line error when it would exit 2.
    """
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            settings = build_parser(env).parse_args(workload.container["args"])
        except SystemExit:
            settings = None
    command = f"`gputel {' '.join(workload.container['args'])}` with the manifest's env"
    if settings is None:
        raise AssertionError(f"{command} exits: {err.getvalue().strip()}")
    # argparse checks `choices` on the command line only, not on defaults from GPUTEL_*.
    for var, action in flag_envs(workload.subcommand).items():
        value = getattr(settings, action.dest)
        if action.choices is not None and value not in action.choices:
            raise AssertionError(f"{command}: {var}={value!r} is not one of "
                                 f"{', '.join(map(str, action.choices))}")
    return settings
