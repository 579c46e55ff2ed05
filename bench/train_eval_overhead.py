"""Checkpoint evaluation's cost: the smoke_eval recipe's wall time with its eval:
section over the same recipe without it, and the share of the run spent evaluating.

    .venv/bin/python bench/train_eval_overhead.py              # the recipe as shipped
    .venv/bin/python bench/train_eval_overhead.py --repeats 2 --set eval.max_tokens=16

Both arms train the same steps with the same seed; the eval arm also evaluates steps
0, 2 and 4 (``length_gen`` on the checkpoint through Inspect's hf provider, judged by
the training judge and two held-out offline judges, ingested into a store). The arms
alternate; each number is the fastest of ``--repeats`` (a shared machine only ever
adds time). The evaluation share is the sum of ``eval_seconds`` (what the training
loop waited for, ``training_evals.jsonl``) over the eval arm's wall time; the
overhead ratio should be about 1 / (1 - share): the loop waits for nothing else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RECIPE = ROOT / "train" / "configs" / "smoke_eval.yaml"


def run(with_eval: bool, out: Path, extra: dict) -> tuple[float, float]:
    from polaris_bench.train.config import load_train_config
    from polaris_bench.train.run import train

    overrides = {"grpo.output_dir": str(out), "store": str(out / "db.duckdb"), **extra}
    if not with_eval:
        overrides = {k: v for k, v in overrides.items() if not k.startswith("eval.")} | {"eval": None}
    cfg = load_train_config(RECIPE, overrides)
    started = time.perf_counter()
    summary = train(cfg)
    wall = time.perf_counter() - started
    evals = summary.get("checkpoint_evals", {}).get("eval_seconds", 0.0)
    return wall, float(evals)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="recipe overrides for both arms")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = yaml.safe_load(value)
    plain, watched = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            plain.append(run(False, Path(tmp) / f"plain{i}", extra))
            watched.append(run(True, Path(tmp) / f"eval{i}", extra))
    wall_plain = min(w for w, _ in plain)
    wall_eval, eval_s = min(watched)
    share = eval_s / wall_eval
    print(f"recipe: {RECIPE.relative_to(ROOT)} ({args.repeats} repeat(s), fastest of each)")
    print(f"wall without checkpoint evaluation: {wall_plain:7.1f} s")
    print(f"wall with checkpoint evaluation:    {wall_eval:7.1f} s   (evaluations: {eval_s:.1f} s)")
    print(f"ratio with / without:               {wall_eval / wall_plain:7.2f}")
    print(f"share of the run spent evaluating:  {share:7.1%}")
    print(f"1 / (1 - share):                    {1 / (1 - share):7.2f}   (the ratio if the loop waits for nothing else)")


if __name__ == "__main__":
    main()
