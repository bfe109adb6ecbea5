"""A stand-in Kubernetes API server over HTTPS, loaded with real manifests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.certs import TestCA
from tests.harness.kubeapi import KubeApiStandIn, load_manifests

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"


@pytest.fixture
def manifests() -> list[dict]:
    return load_manifests(DATA / "cluster.yaml")


@pytest.fixture
def pending_pod() -> dict:
    return load_manifests(DATA / "pending.yaml")[0]


@pytest.fixture
def kubeapi(tmp_path: Path, manifests: list[dict]) -> Iterator[KubeApiStandIn]:
    api = KubeApiStandIn(tmp_path, TestCA(tmp_path)).start()
    api.apply(*manifests)
    yield api
    api.stop()
