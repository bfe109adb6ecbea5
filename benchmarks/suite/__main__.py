"""The benchmark suite: every row against Prometheus 2.42 in the same run.

    .venv/bin/python -m benchmarks.suite [--size tiny|small|full] [--runs 5]
                                         [--rows ingest,at_rest,query,scale,restart,
                                                 freshness,wire,scaleout]
                                         [--profile 25] [--collectors 2] [--note TEXT]

Writes results/<date>.md and the table in benchmarks/README.md (or --out, --readme), and
prints the table. Exits 1 when a row could not be measured (its error is in the results).
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks.suite import report
from benchmarks.suite.procs import BenchError, binary
from benchmarks.suite.rows import ROWS, Context, Row
from benchmarks.suite.sizes import SIZES

HERE = Path(__file__).resolve().parents[1]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite",
                                     description="gputel against Prometheus 2.42, row by row")
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--runs", type=int, default=5, help="runs of the repeated rows; "
                        "the recorded result takes medians of at least 5")
    parser.add_argument("--rows", default=",".join(ROWS),
                        help=f"comma list of {', '.join(ROWS)}")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the collector of the ingest row and of the scale row's "
                        "largest sustained count once more each; keep N entries")
    parser.add_argument("--collectors", type=int, default=2,
                        help="the scale-out row's collectors over VictoriaMetrics")
    parser.add_argument("--note", default="", help="a line for the results header")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="directory of the results file")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    unknown = set(args.rows.split(",")) - set(ROWS)
    if unknown or args.runs < 1 or args.collectors < 1:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}" if unknown
                     else "--runs and --collectors must be at least 1")
    return args


def run_rows(ctx: Context, keys: list[str]) -> tuple[list[Row], list[str]]:
    """Each row in order; a row that fails is reported and the others still run."""
    rows, errors = [], []
    for key in keys:
        t0 = time.perf_counter()
        print(f"-- {key} ({ctx.size.name})", file=sys.stderr, flush=True)
        try:
            got = ROWS[key](ctx)
        except Exception as exc:  # noqa: BLE001 - one broken row must not lose the others
            errors.append(f"{key}: {exc}")
            traceback.print_exc()
            continue
        done = got if isinstance(got, list) else [got]
        for row in done:
            row.details.append(f"row took {time.perf_counter() - t0:.0f} s of wall time")
        rows += done
    return rows, errors


def main(argv: list[str] | None = None) -> int:
    """Run the suite; 0 when every row produced its figures."""
    args = parse(argv)
    try:
        binary("prometheus")
        binary("promtool")
    except BenchError as exc:
        print(f"benchmarks.suite: {exc}", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="gputel-suite-"))
    end_ns = (time.time_ns() // 10**9 - 2) * 10**9
    ctx = Context(SIZES[args.size], args.runs, workdir, end_ns, args.profile,
                  collectors=args.collectors)
    try:
        rows, errors = run_rows(ctx, args.rows.split(","))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    date = datetime.datetime.now(datetime.UTC).date().isoformat()
    run = report.Run(date, args.size, args.runs, args.note, f"{date}.md")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / run.results_name).write_text(report.results_file(rows, run, ctx.profiles,
                                                                 errors))
    report.update_readme(args.readme, rows, run)
    print("\n".join(report.table(rows, run)))
    for error in errors:
        print(f"benchmarks.suite: row {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
