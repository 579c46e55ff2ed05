"""Benchmark: the results store on 10,000 samples of Inspect logs.

1. Makes a real log with the offline providers (tasks/length_gen.py, 2 prompts x the
   six default lengths, 1k-12k words, full judge replies) and clones its samples into
   ``--logs`` logs of ``--samples`` samples in all: one model per log, new sample ids,
   scores shifted per model, written with Inspect's ``write_eval_log``. The clones keep
   everything a real sample holds (story, judge transcript, events), so the logs are
   as heavy to read as real ones. ``--light`` drops events and messages instead.
2. Times Inspect reading those logs (``read_eval_log``, the baseline: the faster of a
   pass before and one after the ingest) and ``ingest`` into a fresh DuckDB file
   (split into the time its own ``read_eval_log`` calls took and the rest), and prints
   ingest / read. Target <= 2.
3. Times the leaderboard query (every benchmark, 2,000 bootstrap resamples per row),
   median of 5 after one warm-up on a fresh read-only connection. Target < 0.5 s.

    .venv/bin/python bench/store_bench.py [--samples 10000] [--logs 8] [--light] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log
from inspect_ai.model import get_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tasks"))

import importlib  # noqa: E402

from length_gen import length_gen  # noqa: E402

from polaris_bench.store import connect, counts, ingest, leaderboard  # noqa: E402

ingest_module = importlib.import_module("polaris_bench.store.ingest")


def template_log(workdir: Path) -> EvalLog:
    [log] = inspect_eval(
        length_gen(prompts="2"),
        model="offline/writer-a",
        model_roles={"grader": get_model("offline/judge")},
        log_dir=str(workdir / "template"),
        display="none",
        score_display=False,
    )
    assert log.status == "success", log.error
    return read_eval_log(log.location)


def clone_logs(template: EvalLog, out: Path, samples: int, logs: int, light: bool, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    base = sorted(template.samples, key=lambda s: (s.metadata["target_words"], str(s.id)))
    targets = sorted({s.metadata["target_words"] for s in base})
    by_target = {t: [s for s in base if s.metadata["target_words"] == t] for t in targets}
    per_log = [samples // logs + (1 if i < samples % logs else 0) for i in range(logs)]
    paths = []
    for m, n in enumerate(per_log):
        offset = rng.uniform(-15, 15)
        model = f"offline/writer-{m:02d}"
        ev = template.eval.model_copy(
            update={"eval_id": uuid.uuid4().hex[:22], "run_id": uuid.uuid4().hex[:22],
                    "task_id": uuid.uuid4().hex[:22], "model": model}
        )
        cloned = []
        for k in range(n):
            target = targets[k % len(targets)]
            t = by_target[target][(k // len(targets)) % len(by_target[target])]
            pid = f"p{k // len(targets):05d}"
            scores = {}
            for name, sc in t.scores.items():
                value = sc.value
                if name == "story_quality" and isinstance(value, dict):
                    overall = round(value["overall"] + offset - 0.6 * targets.index(target) + rng.gauss(0, 8), 1)
                    value = {**value, "overall": overall, "reward": overall / 100}
                elif name == "length_adherence" and isinstance(value, dict):
                    ratio = max(0.05, value["length_ratio"] * (1 + offset / 100) + rng.gauss(0, 0.03))
                    value = {**value, "length_ratio": round(ratio, 4)}
                scores[name] = sc.model_copy(update={"value": value})
            update = {
                "id": f"{pid}@{target}",
                "uuid": uuid.uuid4().hex[:22],
                "metadata": {**t.metadata, "prompt_id": pid},
                "scores": scores,
            }
            if light:
                update.update({"events": [], "messages": [], "attachments": {}})
            cloned.append(t.model_copy(update=update))
        log = template.model_copy(update={"eval": ev, "samples": cloned})
        if log.results is not None:
            log.results = log.results.model_copy(update={"total_samples": n, "completed_samples": n})
        path = out / f"2026-01-01T00-00-{m:02d}+00-00_length-gen_{ev.eval_id}.eval"
        write_eval_log(log, str(path))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--logs", type=int, default=8)
    ap.add_argument("--light", action="store_true", help="clone without events and messages")
    ap.add_argument("--keep", help="keep the logs and the database in this folder")
    args = ap.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="polaris-store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs_dir = work / "logs"
    if logs_dir.exists():
        shutil.rmtree(logs_dir)
    logs_dir.mkdir()
    try:
        t = time.perf_counter()
        template = template_log(work)
        paths = clone_logs(template, logs_dir, args.samples, args.logs, args.light)
        size = sum(p.stat().st_size for p in paths)
        print(f"logs: {len(paths)} files, {args.samples} samples, {size / 1e6:.0f} MB "
              f"({'light' if args.light else 'full samples'}); made in {time.perf_counter() - t:.0f} s")

        def read_all() -> float:
            total = 0.0
            for p in paths:  # the baseline: Inspect reading every log, one at a time
                t = time.perf_counter()
                log = read_eval_log(str(p))
                total += time.perf_counter() - t
                assert len(log.samples) > 0
                del log
            return total

        read_first = read_all()

        db = work / "bench.duckdb"
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        con = connect(db)
        inner = {"read": 0.0}
        real_read = ingest_module._read_log

        def timed_read(path: str):
            t = time.perf_counter()
            try:
                return real_read(path)
            finally:
                inner["read"] += time.perf_counter() - t

        ingest_module._read_log = timed_read
        try:
            report = ingest(con, [logs_dir])
        finally:
            ingest_module._read_log = real_read
        assert report.counts() == {"ingested": len(paths)}, report.counts()
        rows = counts(con)
        t = time.perf_counter()
        again = ingest(con, [logs_dir])
        reingest = time.perf_counter() - t
        assert counts(con) == rows and set(again.counts()) == {"unchanged"}
        con.close()

        con = connect(db, read_only=True)
        leaderboard(con)  # warm-up
        times = []
        for _ in range(5):
            t = time.perf_counter()
            board = leaderboard(con)
            times.append(time.perf_counter() - t)
        con.close()
        cold_con = connect(db, read_only=True)
        t = time.perf_counter()
        leaderboard(cold_con)
        cold = time.perf_counter() - t
        cold_con.close()

        read = min(read_first, read_all())  # the faster of two passes, before and after the ingest
        ratio = report.seconds / read
        query = statistics.median(times)
        print(f"rows: {rows['samples']} samples, {rows['scores']} scores, {rows['criteria']} criteria; "
              f"{len(board.rows)} leaderboard rows")
        print(f"Inspect read_eval_log:     {read:7.2f} s  (faster of two passes: {read_first:.2f} s before "
              "the ingest, the other after)")
        print(f"polaris ingest:            {report.seconds:7.2f} s  (reading {inner['read']:.2f} s, "
              f"rows and DuckDB {report.seconds - inner['read']:.2f} s)")
        print(f"ingest / read:             {ratio:7.2f}   (target <= 2)  {'OK' if ratio <= 2 else 'MISSED'}")
        print(f"re-ingest (all unchanged): {reingest:7.3f} s")
        print(f"leaderboard query:         {query:7.3f} s median of 5 (first on a new connection "
              f"{cold:.3f} s)   (target < 0.5 s)  {'OK' if query < 0.5 else 'MISSED'}")
        return 0 if ratio <= 2 and query < 0.5 else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
