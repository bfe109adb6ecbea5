#!/usr/bin/env bash
# Install gputel and its test tools into .venv (and Prometheus from Debian), then run every check:
# lint (ruff), import boundaries (import-linter), types (mypy --strict), and the whole
# test suite (pytest).
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,proto]'
# The tests run a real Prometheus and promtool (Debian package `prometheus`).
bash scripts/install-test-deps.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== import boundaries"
.venv/bin/lint-imports --no-cache
echo "== types (mypy --strict)"
bash scripts/typecheck.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
