"""Benchmark: a 12k-word story judged in windows over the same story judged whole.

The offline writer's 12,000-word story is judged once whole with the Story Quality
rubric (one ``judge_story`` call) and once in windows of 2,000 words with the
story_segment rubric (``judge_windows``, what the ``story_segments`` scorer runs: six
``judge_story`` calls with the digest of the story so far, plus repetition, 4-gram
overlap and the cliché rate of every window), by ``offline/judge`` with 0.5 s latency
per call. The windows are judged concurrently, so the target is windows / whole
<= 1.3. The same runs without latency show the harness's own CPU time.

    .venv/bin/python bench/segments.py [--words 12000] [--segment 2000] [--latency 0.5] [--repeats 3] [--compact]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from inspect_ai.model import get_model

from polaris_bench.judging.judge import JudgeConfig, judge_story
from polaris_bench.judging.panel import Member, Panel
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.judging.segments import judge_windows
from polaris_bench.metrics.cliche import load_lexicon
from polaris_bench.metrics.length import count_words, length_instruction
from polaris_bench.providers.offline import write_story

PROMPT = "Write a story about a ferry pilot who keeps a ledger of every crossing. "


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=12000)
    ap.add_argument("--segment", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each setting; the fastest counts")
    ap.add_argument("--compact", action="store_true", help="scores-only judging (default: full, with quotes)")
    args = ap.parse_args()

    prompt = PROMPT + length_instruction(args.words)
    story = write_story("writer", prompt, args.words)
    whole_rubric, window_rubric = load_rubric("story_quality"), load_rubric("story_segment")
    config = JudgeConfig(compact=args.compact)
    lexicon = load_lexicon()

    async def whole(latency: float) -> float:
        judge = get_model("offline/judge", latency=latency, memoize=False)
        start = time.perf_counter()
        judgement = await judge_story(whole_rubric, prompt, story, judge, config)
        assert judgement.ok, judgement.unscored_reason
        return time.perf_counter() - start

    async def windows(latency: float) -> tuple[float, int]:
        judge = get_model("offline/judge", latency=latency, memoize=False)
        start = time.perf_counter()
        results = await judge_windows(window_rubric, prompt, story, args.segment, panel=Panel(),
                                      members=[Member("grader", judge)], config=config, lexicon=lexicon)
        assert all(r.value is not None for r in results), [r.judged.unscored_reason for r in results]
        return time.perf_counter() - start, len(results)

    async def fastest(run, latency: float):
        runs = [await run(latency) for _ in range(args.repeats)]
        return min(runs, key=lambda r: r[0] if isinstance(r, tuple) else r)

    async def measure() -> None:
        await windows(0.0)  # warm-up: imports (scipy), registries, the lexicon's regex
        t_whole = await fastest(whole, args.latency)
        t_windows, n = await fastest(windows, args.latency)
        c_whole = await fastest(whole, 0.0)
        c_windows, _ = await fastest(windows, 0.0)
        print(f"story: {count_words(story)} words (offline writer); judge: offline/judge, "
              f"{args.latency} s latency per call; {'compact' if args.compact else 'full'} replies")
        print(f"{'':>28} {'whole':>8} {f'{n} windows':>10}")
        print(f"{'judge calls':>28} {1:>8} {n:>10}")
        print(f"{'wall time, s':>28} {t_whole:>8.3f} {t_windows:>10.3f}")
        print(f"{'wall time without latency, s':>28} {c_whole:>8.3f} {c_windows:>10.3f}")
        print(f"windows / whole: {t_windows / t_whole:.3f}   target <= 1.3")

    asyncio.run(measure())


if __name__ == "__main__":
    main()
