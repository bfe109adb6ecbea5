#!/usr/bin/env bash
# Run the whole test suite N times in a row (default 20), stopping at the first failure:
# the check that no test is flaky. Each run uses W parallel workers (pytest-xdist, default 4),
# so the tests also run beside each other, under more load than CI's single process.
# Needs the .venv that scripts/test.sh makes. One line per run goes to stdout and to
# REPEAT_LOG (default repeat-suite.txt); each run's pytest output to repeat-suite-<i>.log.
#   bash scripts/repeat-suite.sh [N] [W]
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
workers="${2:-4}"
log="${REPEAT_LOG:-repeat-suite.txt}"
echo "# $(git rev-parse --short HEAD) $(date -u +%FT%TZ) nproc=$(nproc) workers=$workers" | tee -a "$log"
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  .venv/bin/python -m pytest -q -p no:randomly -o timeout=300 -n "$workers" \
    > "repeat-suite-$i.log" 2>&1
  rc=$?
  echo "run $i rc=$rc $(( $(date +%s) - start ))s $(tail -1 "repeat-suite-$i.log")" | tee -a "$log"
  [ "$rc" -ne 0 ] && exit "$rc"
done
echo "all $runs runs passed" | tee -a "$log"
