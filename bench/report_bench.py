"""Benchmark: ``polaris report`` on a store of 10,000 samples.

1. Makes the logs as ``bench/store_bench.py`` does (a real offline length_gen log,
   2 prompts x the six default lengths, 1k-12k-word stories with full judge replies,
   cloned into ``--logs`` logs of ``--samples`` samples; ``--full`` keeps each
   sample's events and messages, by default they are dropped: the report reads only
   the stories and scores) and ingests them.
2. Times Inspect reading the samples of those logs (``read_eval_log_samples``, the
   floor of any report that shows the stories), then ``build_report`` without the
   viewer and with it (``inspect view bundle`` copies the logs), and prints the time,
   the number of pages and the size of the site. Target: < 10 s without the viewer.

    .venv/bin/python bench/report_bench.py [--samples 10000] [--logs 8] [--full] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from store_bench import clone_logs, template_log

from polaris_bench.report.site import ReportOptions, build_report
from polaris_bench.store import connect, ingest

TARGET_S = 10.0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--logs", type=int, default=8)
    ap.add_argument("--full", action="store_true", help="clone with events and messages (heavier logs)")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the report's CIs")
    ap.add_argument("--keep", help="keep the logs, the database and the sites in this folder")
    args = ap.parse_args(argv)
    from inspect_ai.log import read_eval_log

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="polaris-report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        logs_dir = work / "logs"
        shutil.rmtree(logs_dir, ignore_errors=True)
        logs_dir.mkdir()
        t = time.perf_counter()
        paths = clone_logs(template_log(work), logs_dir, args.samples, args.logs, light=not args.full)
        db = work / "bench.duckdb"
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        con = connect(db)
        ingest(con, [logs_dir])
        con.close()
        print(f"store: {args.samples} samples in {len(paths)} logs ({_size(logs_dir) / 1e6:.0f} MB, "
              f"{'full' if args.full else 'light'} samples); made and ingested in {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        n = sum(len(read_eval_log(str(p)).samples) for p in paths)
        read = time.perf_counter() - t
        assert n == args.samples
        results, stages = {}, {}
        for viewer in (False, True):
            out = work / ("site-viewer" if viewer else "site")
            shutil.rmtree(out, ignore_errors=True)
            marks: list[tuple[str, float]] = []
            summary = build_report(ReportOptions(db=db, out=out, viewer=viewer, n_resamples=args.resamples),
                                   progress=lambda stage, marks=marks: marks.append((stage, time.perf_counter())))
            marks.append(("end", time.perf_counter()))
            stages[viewer] = [(a, t2 - t1) for (a, t1), (_, t2) in itertools.pairwise(marks)]
            results[viewer] = summary
            assert summary.samples == args.samples, summary.samples
        plain, bundled = results[False], results[True]
        print(f"Inspect reading the samples:  {read:6.2f} s (the floor for pages that show the stories)")
        print(f"polaris report:               {plain.seconds:6.2f} s  {plain.pages} pages, "
              f"{plain.bytes / 1e6:.0f} MB   (target < {TARGET_S:.0f} s)  {'OK' if plain.seconds < TARGET_S else 'MISSED'}")
        print(f"polaris report with viewer:   {bundled.seconds:6.2f} s  {bundled.pages} pages, "
              f"{bundled.bytes / 1e6:.0f} MB (the viewer and copies of the logs)")
        print(f"report / reading the samples: {plain.seconds / read:6.2f}")
        print("stages (no viewer): " + ", ".join(f"{stage} {sec:.1f} s" for stage, sec in stages[False]))
        return 0 if plain.seconds < TARGET_S else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
