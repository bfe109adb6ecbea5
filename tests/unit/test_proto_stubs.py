"""The committed stubs are exactly what the pinned generator makes from the .proto file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_stubs_have_not_drifted(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    generated = gen.generate(tmp_path)
    assert {p.name for p in generated} == {"telemetry_pb2.py", "telemetry_pb2.pyi",
                                           "telemetry_pb2_grpc.py"}
    for path in generated:
        committed = ROOT / "proto" / "gputel" / "v1" / path.name
        assert committed.read_text() == path.read_text(), f"{path.name} drifted: regenerate"
