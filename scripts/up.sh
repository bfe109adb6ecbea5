#!/usr/bin/env bash
# Install gputel into .venv and run the main job: a collector plus a local agent
# (simulated GPUs when this machine has no NVIDIA or AMD library). Ctrl-C stops it.
# Extra arguments go to `gputel up`, e.g. scripts/up.sh --gpus 8 --rate 100
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/gputel up "$@"
