"""The committed stubs are exactly what the pinned generator makes from the .proto files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    f"{package}/{name}"
    for package, stem in (("gputel/v1", "telemetry"), ("k8s/podresources/v1", "api"),
                          ("prometheus", "remote"))
    for name in (f"{stem}_pb2.py", f"{stem}_pb2.pyi", f"{stem}_pb2_grpc.py")
}


def test_generated_stubs_have_not_drifted(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    generated = gen.generate(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in generated} == EXPECTED
    for path in generated:
        relative = path.relative_to(tmp_path)
        committed = ROOT / "proto" / relative
        assert committed.read_text() == path.read_text(), f"{relative} drifted: regenerate"


def test_kubelet_stubs_use_the_kubelet_method_paths() -> None:
    from gputel.proto.k8s.podresources.v1 import api_pb2  # noqa: PLC0415 - after install check

    service = api_pb2.DESCRIPTOR.services_by_name["PodResourcesLister"]
    assert service.full_name == "v1.PodResourcesLister"
    assert [m.name for m in service.methods] == ["List", "GetAllocatableResources", "Get"]
    fields = api_pb2.ContainerResources.DESCRIPTOR.fields_by_name
    assert {name: f.number for name, f in fields.items()} == {
        "name": 1, "devices": 2, "cpu_ids": 3, "memory": 4, "dynamic_resources": 5}
