"""Regenerate the committed protobuf/gRPC stubs under proto/gputel/v1/.

Usage: python scripts/gen_proto.py [--check]

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
PACKAGE_DIR = PROTO_ROOT / "gputel" / "v1"
# protoc writes `from gputel.v1 import x_pb2`; the stubs live in the package
# gputel.proto.gputel.v1, so the cross-module import is made relative.
_ABSOLUTE_IMPORT = re.compile(r"^from gputel\.v1 import (\w+_pb2)", re.MULTILINE)


def generate(out_root: Path) -> list[Path]:
    """Run protoc over every .proto file; return the generated files."""
    from grpc_tools import protoc  # noqa: PLC0415 - only the generator needs it

    installed = importlib.metadata.version("grpcio-tools")
    if installed != GRPCIO_TOOLS:
        raise SystemExit(f"grpcio-tools {installed} installed; stubs are pinned to {GRPCIO_TOOLS}")
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PACKAGE_DIR.glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_root}",
            f"--pyi_out={out_root}", f"--grpc_python_out={out_root}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = sorted((out_root / "gputel" / "v1").glob("*_pb2*"))
    for path in generated:
        path.write_text(_ABSOLUTE_IMPORT.sub(r"from . import \1", path.read_text()))
    return generated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed stubs drift")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        drift = []
        for path in generate(Path(tmp)):
            target = PACKAGE_DIR / path.name
            new = path.read_text()
            if not target.exists() or target.read_text() != new:
                drift.append(path.name)
                if not opts.check:
                    target.write_text(new)
    if opts.check and drift:
        print(f"generated stubs drifted: {', '.join(drift)}; run python scripts/gen_proto.py")
        return 1
    print("stubs up to date" if not drift else f"regenerated: {', '.join(drift)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
