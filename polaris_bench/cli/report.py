"""``polaris report``: the results store as a static HTML site (``report.site``).

Exit status: 0 written; 2 the report could not be built (the message says why)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polaris_bench.paths import DEFAULT_DB
from polaris_bench.stats import N_RESAMPLES


def cmd_report(args: argparse.Namespace) -> int:
    from polaris_bench.costs.prices import PriceError
    from polaris_bench.report.site import ReportError, ReportOptions, build_report

    if args.resamples < 1:
        print(f"error: --resamples {args.resamples}: must be 1 or more", file=sys.stderr)
        return 2
    opts = ReportOptions(db=Path(args.db), out=Path(args.out), logs=Path(args.logs) if args.logs else None,
                         force=args.force, viewer=not args.no_viewer, n_resamples=args.resamples, seed=args.seed,
                         prices=Path(args.prices) if args.prices else None)
    try:
        summary = build_report(opts, progress=(lambda msg: print(f"report: {msg}", file=sys.stderr))
                               if args.verbose else None)
    except (ReportError, PriceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in summary.missing_logs:
        print(f"warning: {line}", file=sys.stderr)
    if summary.viewer:
        print(f"note: Inspect log viewer: {summary.viewer}", file=sys.stderr)
    print(f"wrote {summary.pages} pages ({summary.samples} samples, {summary.bytes / 1e6:.1f} MB) in "
          f"{summary.seconds:.1f} s; open {summary.out / 'index.html'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("report", help="a static HTML site of the results store: leaderboards, length curves, "
                              "judges, one page per model and per sample")
    p.add_argument("--out", required=True, help="folder to write the site into (replaced only with --force)")
    p.add_argument("--db", default=str(DEFAULT_DB), help=f"DuckDB results file (default {DEFAULT_DB})")
    p.add_argument("--logs", help="folder holding the runs' logs, if they are no longer where they were ingested "
                   "from (stories and panel members' reasons are read from the logs)")
    p.add_argument("--force", action="store_true", help="replace an earlier report in --out")
    p.add_argument("--no-viewer", action="store_true", help="do not bundle the Inspect log viewer (inspect view bundle)")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES, help=f"bootstrap resamples (default {N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--prices", metavar="FILE", help="price table (YAML, USD per million tokens) for the cost "
                   "columns; default: the bundled one")
    p.add_argument("--verbose", "-v", action="store_true", help="print each stage")
    p.set_defaults(func=cmd_report)
