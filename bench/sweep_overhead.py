"""Benchmark: harness overhead of the length sweep, and the cost of scoring one story.

1. Runs tasks/length_gen.py on 200 samples (25 prompts x 8 targets) with the offline
   writer and an offline judge of 0.5 s simulated latency at 20 concurrent
   connections, and prints wall time / ideal, where ideal = 200 x 0.5 s / 20 plus
   Inspect's own start-up and bookkeeping, measured by the same sweep at zero latency.
   Target <= 1.2.
2. Times parsing a full judge reply + every length metric for one 12k-word story.
   Target < 20 ms.

    .venv/bin/python bench/sweep_overhead.py [--samples-per-prompt 8] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.model import GenerateConfig, get_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tasks"))

from length_gen import length_gen  # noqa: E402

from polaris_bench.judging.parse import parse_reply  # noqa: E402
from polaris_bench.judging.rubric import load_rubric  # noqa: E402
from polaris_bench.metrics.length import measure  # noqa: E402
from polaris_bench.providers.offline import write_story  # noqa: E402

TARGETS = "1000,2000,3000,4000,5000,6000,7000,8000"


def sweep_seconds(latency: float, connections: int, prompts: int) -> tuple[float, int]:
    judge = get_model(
        "offline/judge", config=GenerateConfig(max_connections=connections), latency=latency, memoize=False
    )
    logs = tempfile.mkdtemp(prefix="polaris-bench-")
    start = time.perf_counter()
    [log] = inspect_eval(
        length_gen(prompts=str(prompts), targets=TARGETS),
        model="offline/writer",
        model_roles={"grader": judge},
        max_samples=connections * 2,
        max_connections=connections,
        log_dir=logs,
        display="none",
    )
    elapsed = time.perf_counter() - start
    assert log.status == "success", log.error
    return elapsed, len(log.samples)


def score_one_story_ms(repeats: int = 20) -> float:
    rubric = load_rubric("story_quality")
    story = write_story("writer", "bench", 12000)
    words = story.split()
    reply = {
        "criteria": {
            c.id: {"justification": "x", "quotes": [" ".join(words[i * 50 : i * 50 + 8])], "score": c.min + 1}
            for i, c in enumerate(rubric.criteria)
        },
        "positive_total": 0, "negative_total": 0, "overall": 0, "label": "fair",
    }
    text = json.dumps(reply)
    start = time.perf_counter()
    for _ in range(repeats):
        parsed = parse_reply(text, rubric, story)
        rubric.aggregate(parsed.scores)
        measure(story, 12000)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--prompts", type=int, default=25)
    args = ap.parse_args()

    sweep_seconds(0.0, args.connections, 2)  # warm-up: imports, registries, first log
    base, n = sweep_seconds(0.0, args.connections, args.prompts)
    slow, n2 = sweep_seconds(args.latency, args.connections, args.prompts)
    ideal = n * args.latency / args.connections + base
    print(f"samples: {n}  zero-latency run: {base:.2f} s  {args.latency} s-latency run: {slow:.2f} s")
    print(f"ideal = {n} x {args.latency} s / {args.connections} + {base:.2f} s = {ideal:.2f} s")
    print(f"sweep overhead ratio (wall / ideal): {slow / ideal:.3f}   target <= 1.2")
    ms = score_one_story_ms()
    print(f"score one 12k-word story (parse + aggregate + length metrics): {ms:.2f} ms   target < 20 ms")


if __name__ == "__main__":
    main()
