"""Regenerate the committed protobuf/gRPC stubs under proto/.

Usage: python scripts/gen_proto.py [--check]

Covers gputel's own contract (proto/gputel/v1/*.proto), the kubelet
PodResources API the agent calls (proto/k8s/podresources/v1/*.proto) and the
Prometheus remote write 1.0 messages the collector sends (proto/prometheus/*.proto).
Runs protoc from the pinned grpcio-tools (see GRPCIO_TOOLS below and the
`proto` extra in pyproject.toml). With --check it writes nothing and exits 1
when the committed stubs differ from what the generator produces.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
import tempfile
from pathlib import Path

GRPCIO_TOOLS = "1.76.0"
ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
# Proto packages, as folders under proto/ (each is also its import path for protoc).
PACKAGES = ("gputel/v1", "k8s/podresources/v1", "prometheus")


def _relative_import(package: str) -> re.Pattern[str]:
    """Matches protoc's `from gputel.v1 import x_pb2` for one package.

    The stubs live in gputel.proto.<package>, so the cross-module import is made relative.
    """
    dotted = re.escape(package.replace("/", "."))
    return re.compile(rf"^from {dotted} import (\w+_pb2)", re.MULTILINE)


def generate(out_root: Path) -> list[Path]:
    """Run protoc over every .proto file of PACKAGES; return the generated files."""
    from grpc_tools import protoc  # noqa: PLC0415 - only the generator needs it

    installed = importlib.metadata.version("grpcio-tools")
    if installed != GRPCIO_TOOLS:
        raise SystemExit(f"grpcio-tools {installed} installed; stubs are pinned to {GRPCIO_TOOLS}")
    protos = sorted(str(p.relative_to(PROTO_ROOT))
                    for package in PACKAGES for p in (PROTO_ROOT / package).glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_root}",
            f"--pyi_out={out_root}", f"--grpc_python_out={out_root}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = []
    for package in PACKAGES:
        absolute = _relative_import(package)
        for path in sorted((out_root / package).glob("*_pb2*")):
            path.write_text(absolute.sub(r"from . import \1", path.read_text()))
            generated.append(path)
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed stubs drift")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        drift = []
        for path in generate(Path(tmp)):
            relative = path.relative_to(tmp)
            target = PROTO_ROOT / relative
            new = path.read_text()
            if not target.exists() or target.read_text() != new:
                drift.append(str(relative))
                if not opts.check:
                    target.write_text(new)
    if opts.check and drift:
        print(f"generated stubs drifted: {', '.join(drift)}; run python scripts/gen_proto.py")
        return 1
    print("stubs up to date" if not drift else f"regenerated: {', '.join(drift)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
