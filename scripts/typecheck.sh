#!/usr/bin/env bash
# mypy --strict over the hand-written code (config: [tool.mypy] in pyproject.toml).
# The packages are installed as gputel.agent, gputel.collector, ... from top-level folders,
# so mypy checks them through a throwaway tree of links laid out as the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/gputel"
for pkg in agent collector cli proto; do
    ln -s "$root/$pkg" "$tree/gputel/$pkg"
done
cd "$tree"
"$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" \
    -p gputel.agent -p gputel.collector -p gputel.cli -p gputel.proto
