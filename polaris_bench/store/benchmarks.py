"""Which score is a benchmark's headline number: a small, easy-to-extend table.

A run's benchmark is its task metadata ``benchmark`` when the task sets one, else the
Inspect task name (without a package prefix). ``MAIN_SCORES`` maps a benchmark name
(exact, else the longest entry the name starts with) to the score keys that carry its
headline number, tried in order, and the scorers that produce them. A benchmark that
is not listed falls back to the first scorer that is not a measuring scorer (length,
clichés), and its ``value`` (scalar scores) or ``score`` key, else its first key.

To add a benchmark: add one ``MainScore`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Scorers that measure text without judging it (length, the cliché index); never a
# benchmark's headline.
LENGTH_SCORERS = frozenset({"length_adherence", "cliche_index"})


@dataclass(frozen=True)
class MainScore:
    keys: tuple[str, ...]
    scorers: tuple[str, ...] = ()
    units: str = ""
    reference: str | None = None  # the benchmark whose published rows apply (default: itself)
    digits: int = 1  # decimals shown in tables


MAIN_SCORES: dict[str, MainScore] = {
    "story_quality": MainScore(("overall",), ("story_quality",), "SQ overall (-159..108)"),
    "length_gen": MainScore(("overall",), ("story_quality",), "SQ overall (-159..108)", reference="story_quality"),
    "eqbench_longform": MainScore(("eqbench_longform", "score"), ("eqbench_longform_score",), "0-100"),
    "eqbench_creative": MainScore(("eqbench", "score"), ("eqbench_creative_score",), "0-100"),
    "writingbench": MainScore(("score",), ("writingbench_score",), "1-10", digits=2),
    "longbench_write": MainScore(("S",), ("longbench_write_score",), "S = S_q*S_l/100 (0-100)"),
    "story_elo": MainScore(("score_x",), ("pairwise_score",), "pair score of model X (0-1)", digits=3),
}

GENERIC = MainScore(("value", "score"), (), "", digits=3)

# Score keys whose formula the leaderboard names in place of the benchmark's units.
KEY_FORMULAS: dict[str, str] = {
    "overall": "SQ overall, training formula: P - N + bonus' - penalty' (gated), clamped to -159..108",
    "published_overall": "SQ published_overall, the paper's table formula: min(100, P - N + bonus) "
    "from the judge's reported totals",
}


def units_for(benchmark: str, key: str | None) -> str:
    """What a leaderboard column of ``key`` measures: its formula where known."""
    return KEY_FORMULAS.get(key or "", "") or spec_for(benchmark).units


def benchmark_of(task: str | None, task_metadata: Mapping | None = None) -> str:
    """The benchmark a run belongs to."""
    meta_name = (task_metadata or {}).get("benchmark")
    if isinstance(meta_name, str) and meta_name.strip():
        return meta_name.strip()
    name = (task or "unknown").rsplit("/", 1)[-1]
    return name.replace("-", "_")


def spec_for(benchmark: str) -> MainScore:
    if benchmark in MAIN_SCORES:
        return MAIN_SCORES[benchmark]
    prefixes = [k for k in MAIN_SCORES if benchmark.startswith(k)]
    if prefixes:
        return MAIN_SCORES[max(prefixes, key=len)]
    return GENERIC


def reference_benchmark(benchmark: str) -> str:
    return spec_for(benchmark).reference or benchmark


def main_score(benchmark: str, available: Mapping[str, set[str]]) -> tuple[str, str] | None:
    """(scorer, key) of the headline score among ``available`` {scorer: keys}, or None."""
    spec = spec_for(benchmark)
    scorers = [s for s in spec.scorers if s in available]
    scorers += sorted(s for s in available if s not in scorers and s not in LENGTH_SCORERS)
    for scorer in scorers:
        for key in spec.keys:
            if key in available[scorer]:
                return scorer, key
    # Nothing matched the table: the first non-length scorer's generic key.
    for scorer in scorers:
        keys = available[scorer]
        for key in GENERIC.keys:
            if key in keys:
                return scorer, key
        if keys:
            return scorer, sorted(keys)[0]
    return None
