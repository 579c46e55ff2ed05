"""Benchmark: the wall time of a 3-member judge panel over a 1-judge run.

Runs tasks/length_gen.py on 100 stories (25 prompts x 4 targets) with the offline
writer, judged once by ``offline/judge-a`` alone and once by the panel
``offline/judge-a``, ``judge-b``, ``judge-c`` (``-T judges=grader,grader_b,grader_c``),
every judge with 0.5 s simulated latency, at ``--max-connections 20``, and prints
panel / single (target <= 1.15), and the same runs without latency, which
separate the harness's own CPU time from the judges' waiting. The members judge each
story at once, and
Inspect keeps one connection pool per judge model (the pool key is the provider
plus the provider's ``connection_key()``: the offline provider's is the model name;
OpenAI, Anthropic and Google key by API key and model), so each of the three
judges gets its own 20 connections and a sample holds one slot of each.

    .venv/bin/python bench/panel_overhead.py [--stories 100] [--latency 0.5] [--connections 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tasks"))

from length_gen import length_gen

TARGETS = "300,600,900,1200"
PANEL = ("grader", "grader_b", "grader_c")


def most_in_flight(log) -> dict[str, int]:
    """The most judge calls of each judge model in flight at once, from the model
    events' start and end times in the log."""
    edges: dict[str, list[tuple[float, int]]] = {}
    for sample in log.samples:
        for ev in sample.events:
            if ev.event == "model" and ev.model.startswith("offline/judge") and ev.completed:
                edges.setdefault(ev.model, []).extend(
                    [(ev.timestamp.timestamp(), 1), (ev.completed.timestamp(), -1)]
                )
    most: dict[str, int] = {}
    for model, points in edges.items():
        now = 0
        for _, step in sorted(points, key=lambda p: (p[0], p[1])):  # an end before a start at a tie
            now += step
            most[model] = max(most.get(model, 0), now)
    return most


def run_seconds(
    members: int, latency: float, connections: int, prompts: int, lean: bool = False
) -> tuple[float, int, int, dict[str, int]]:
    """Wall time, samples, judge calls and the most calls in flight per judge model of
    one length_gen run judged by ``members`` offline judges."""
    roles = {role: get_model(f"offline/judge-{'abc'[i]}", latency=latency, memoize=False)
             for i, role in enumerate(PANEL[:members])}
    logs = tempfile.mkdtemp(prefix="polaris-panel-")
    start = time.perf_counter()
    [log] = inspect_eval(
        length_gen(prompts=str(prompts), targets=TARGETS, compact=True, judges=",".join(roles)),
        model="offline/writer",
        model_roles=roles,
        max_connections=connections,
        log_dir=logs,
        display="none",
        # --lean: Inspect's realtime sample buffer and live metrics off (both cost CPU
        # per judge call and per finished sample; big panel sweeps can do without them)
        **({"log_realtime": False, "score_display": False} if lean else {}),
    )
    elapsed = time.perf_counter() - start
    assert log.status == "success", log.error
    calls = sum(
        entry["attempts"] for s in log.samples for entry in s.scores["story_quality"].metadata["panel"]
    )
    return elapsed, len(log.samples), calls, most_in_flight(log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=100, help="a multiple of 4 (prompts x 4 targets)")
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each setting; the fastest counts")
    ap.add_argument("--lean", action="store_true",
                    help="also measure with --no-log-realtime --no-score-display (Inspect's per-call CPU)")
    args = ap.parse_args()
    prompts = max(1, args.stories // len(TARGETS.split(",")))

    run_seconds(3, 0.0, args.connections, 2)  # warm-up: imports, registries, first log

    def fastest(members: int, latency: float, lean: bool = False) -> tuple[float, int, int, dict[str, int]]:
        # the fastest of the repeats is the one least disturbed by other load
        runs = [run_seconds(members, latency, args.connections, prompts, lean) for _ in range(args.repeats)]
        return min(runs, key=lambda r: r[0])

    single, n, calls1, flight1 = fastest(1, args.latency)
    panel, _, calls3, flight3 = fastest(3, args.latency)
    # the same runs without latency: the harness's own CPU time (Inspect's work per
    # judge call, logging, metrics), which a panel multiplies by its size
    single0 = fastest(1, 0.0)[0]
    panel0 = fastest(3, 0.0)[0]
    ideal = n * args.latency / args.connections
    print(f"stories: {n}  judge latency: {args.latency} s  max connections: {args.connections} per judge model")
    print(f"1 judge : {single:.2f} s for {calls1} judge calls (latency alone: {ideal:.2f} s); no latency: {single0:.2f} s")
    print(f"3 judges: {panel:.2f} s for {calls3} judge calls; no latency: {panel0:.2f} s")
    print(f"most judge calls in flight at once: 1 judge {flight1}; 3 judges {flight3} "
          "(one pool of connections per judge model)")
    print(f"time the latency adds: 1 judge {single - single0:.2f} s, 3 judges {panel - panel0:.2f} s "
          f"(ratio {(panel - panel0) / (single - single0):.3f}: members wait at once)")
    print(f"panel overhead ratio (3-member panel / 1 judge): {panel / single:.3f}   target <= 1.15")
    if args.lean:
        single_lean, panel_lean = fastest(1, args.latency, True)[0], fastest(3, args.latency, True)[0]
        print(f"with --no-log-realtime --no-score-display: 1 judge {single_lean:.2f} s, 3 judges "
              f"{panel_lean:.2f} s, ratio {panel_lean / single_lean:.3f}")

if __name__ == "__main__":
    main()
