"""Pairwise comparison: the plus-margin verdict rule, dual-order scoring, position
bias, judging through the core judge with a scripted grader, and pairing stories from
Inspect logs and generations files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    get_model,
    modelapi,
)

from polaris_bench.benchmarks.common import DatasetError
from polaris_bench.benchmarks.story_elo import (
    PairingError,
    StoryPool,
    StoryRecord,
    round_robin,
    stories_from_generations,
)
from polaris_bench.judging.judge import JudgeConfig
from polaris_bench.judging.pairwise import (
    OrderResult,
    PairOutcome,
    judge_pair,
    pair_text,
    position_bias,
    score_for_a,
    truncate_words,
    verdict_for,
)
from polaris_bench.judging.rubric import load_rubric

_A = re.compile(r"=== Story A ===\n(.*?)\n=== End of Story A ===", re.DOTALL)
_B = re.compile(r"=== Story B ===\n(.*?)\n=== End of Story B ===", re.DOTALL)


@modelapi(name="pairjudge")
class PairJudge(ModelAPI):
    """Scripted pairwise grader. ``pairjudge/fair``: the story containing GOOD wins every
    criterion by 2 pluses; ``/biased``: slot A always wins by 1; ``/draw``: all zeros;
    ``/broken``: not JSON."""

    def __init__(self, model_name: str, base_url=None, api_key=None, config: GenerateConfig = GenerateConfig(), **kw):
        super().__init__(model_name, base_url, api_key, [], config)
        self.calls: list[str] = []

    async def count_text_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    async def generate(self, input: list[ChatMessage], tools, tool_choice, config: GenerateConfig) -> ModelOutput:
        text = input[-1].text
        self.calls.append(text)
        story_a, story_b = _A.search(text).group(1), _B.search(text).group(1)
        ids = list(config.response_schema.json_schema.properties["criteria"].properties)
        if self.model_name == "broken":
            reply = "I prefer story A."
        else:
            if self.model_name == "fair":
                margin = 2 if "GOOD" in story_a else -2
            elif self.model_name == "biased":
                margin = 1
            else:
                margin = 0
            quote = " ".join(story_a.split()[:3])
            reply = json.dumps(
                {"criteria": {i: {"justification": "scripted", "quotes": [quote], "score": margin} for i in ids}}
            )
        out = ModelOutput.from_content(model=self.model_name, content=reply)
        out.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
        return out


# -- the verdict rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    "diff, verdict, score",
    [(18, "A>>B", 1.0), (10, "A>>B", 1.0), (9, "A>B", 0.75), (1, "A>B", 0.75), (0, "tie", 0.5),
     (-1, "B>A", 0.25), (-9, "B>A", 0.25), (-10, "B>>A", 0.0), (-45, "B>>A", 0.0)],
)
def test_verdict_rule(diff, verdict, score):
    assert verdict_for(diff) == verdict
    assert score_for_a(diff) == score


def test_order_result_counts_pluses():
    r = OrderResult("XY", {"c1": 3, "c2": -1, "c3": 2, "c4": 0})
    assert (r.plus_a, r.plus_b, r.plus_diff, r.draws) == (5, 1, 4, 1)
    assert r.verdict == "A>B" and r.score_a == 0.75 and r.score_x == 0.75
    swapped = OrderResult("YX", {"c1": 3, "c2": -1, "c3": 2, "c4": 0})
    assert swapped.score_x == 0.25  # X sat in slot B


def test_pair_outcome_combines_orders_and_detects_flips():
    # X wins strongly as A (1.0), loses as B (slot A won 0.75 -> X 0.25): mean 0.625, flipped
    outcome = PairOutcome(OrderResult("XY", {"c": 12}), OrderResult("YX", {"c": 4}))
    assert outcome.score_x == pytest.approx(0.625)
    assert outcome.flipped and outcome.slot_a_wins == 2 and outcome.slot_b_wins == 0
    steady = PairOutcome(OrderResult("XY", {"c": 4}), OrderResult("YX", {"c": -12}))
    assert steady.score_x == pytest.approx((0.75 + 1.0) / 2) and not steady.flipped
    tie_vs_win = PairOutcome(OrderResult("XY", {"c": 0}), OrderResult("YX", {"c": -3}))
    assert tie_vs_win.flipped  # tie in one order, X wins in the other
    bias = position_bias([outcome, steady, tie_vs_win])
    assert bias["flip_rate"] == pytest.approx(2 / 3)
    # decisive single-order verdicts: outcome A,A; steady A,B; tie_vs_win -,B -> 3 of 5 for slot A
    assert bias["slot_a_win_rate"] == pytest.approx(3 / 5)
    broken = PairOutcome(OrderResult("XY", None), OrderResult("YX", {"c": 1}))
    assert not broken.ok
    with pytest.raises(ValueError):
        broken.score_x


def test_truncate_words_and_pair_text():
    assert truncate_words("one two  three four", 2) == "one two [...]"
    assert truncate_words("one two", 5) == "one two"
    assert truncate_words("one two", None) == "one two"
    with pytest.raises(ValueError):
        truncate_words("x", 0)
    text = pair_text(" first story ", "second story")
    assert _A.search(text).group(1) == "first story" and _B.search(text).group(1) == "second story"


# -- judging through judge_story -------------------------------------------------------------


RUBRIC = load_rubric("story_elo")
GOOD = "GOOD story: the ferry leaves at dawn and nobody is aboard."
PLAIN = "<think>plan the plot</think>A plain story about a ferry and a dock."


async def test_judge_pair_fair_judge_sees_both_orders():
    grader = get_model("pairjudge/fair", memoize=False)
    outcome = await judge_pair(RUBRIC, "Write about a ferry.", GOOD, PLAIN, grader, JudgeConfig(max_attempts=1))
    assert outcome.ok
    assert outcome.xy.plus_diff == 18 and outcome.yx.plus_diff == -18
    assert outcome.score_x == 1.0 and not outcome.flipped
    calls = grader.api.calls
    assert len(calls) == 2
    # anonymised: the judge sees only the labels, thinking stripped
    assert all("plan the plot" not in c and "<think>" not in c for c in calls)
    assert _A.search(calls[0]).group(1) == GOOD or _A.search(calls[1]).group(1) == GOOD


async def test_judge_pair_position_biased_judge_flips():
    outcome = await judge_pair(RUBRIC, "Write.", GOOD, PLAIN, get_model("pairjudge/biased", memoize=False), JudgeConfig(max_attempts=1))
    assert outcome.xy.verdict == "A>B" and outcome.yx.verdict == "A>B"
    assert outcome.score_x == 0.5 and outcome.flipped
    assert position_bias([outcome])["slot_a_win_rate"] == 1.0


async def test_judge_pair_draws_and_failures():
    drawn = await judge_pair(RUBRIC, "Write.", GOOD, PLAIN, get_model("pairjudge/draw", memoize=False), JudgeConfig(max_attempts=1))
    assert drawn.xy.draws == 9 and drawn.xy.verdict == "tie" and drawn.score_x == 0.5
    broken = await judge_pair(RUBRIC, "Write.", GOOD, PLAIN, get_model("pairjudge/broken", memoize=False), JudgeConfig(max_attempts=2))
    assert not broken.ok and broken.xy.margins is None
    assert broken.xy.judgement.attempts == 2 and "not a bare JSON object" in broken.xy.judgement.unscored_reason


async def test_judge_pair_truncates():
    grader = get_model("pairjudge/fair", memoize=False)
    long_story = "GOOD " + "word " * 50
    await judge_pair(RUBRIC, "Write.", long_story, PLAIN, grader, JudgeConfig(max_attempts=1), max_words=5)
    story_a = _A.search(grader.api.calls[0]).group(1)
    assert story_a.endswith("[...]") and len(story_a.split()) == 6


# -- pairing -----------------------------------------------------------------------------------


def _record(model: str, sid: str, prompt: str = "Write.", epoch: int = 1) -> StoryRecord:
    return StoryRecord(model, sid, epoch, prompt, f"{model} story {sid}", f"{model}.eval")


def test_round_robin_pairs_every_model_pair_on_common_ids():
    pool = StoryPool()
    for m in ("c", "a", "b"):
        for sid in ("1", "2"):
            pool.add(_record(m, sid))
    pool.add(_record("a", "3"))  # only one model has sample 3: no pair
    pairs = round_robin(pool)
    assert len(pairs) == 6
    assert {(p.x.model, p.y.model) for p in pairs} == {("a", "b"), ("a", "c"), ("b", "c")}
    assert pairs[0].id == "1|a|b"
    assert len(round_robin(pool, ["a", "c"])) == 2


def test_round_robin_errors():
    pool = StoryPool()
    pool.add(_record("a", "1"))
    with pytest.raises(PairingError, match="at least two models"):
        round_robin(pool)
    with pytest.raises(PairingError, match="already has a story"):
        pool.add(_record("a", "1"))
    pool.add(_record("b", "1", prompt="Something else."))
    with pytest.raises(PairingError, match="prompts of 'a'.*differ"):
        round_robin(pool)
    other = StoryPool()
    other.add(_record("a", "1"))
    other.add(_record("b", "2"))
    with pytest.raises(PairingError, match="share no sample id"):
        round_robin(other)
    with pytest.raises(PairingError, match="no stories for model"):
        round_robin(other, ["a", "zzz"])


def test_stories_from_generations(tmp_path: Path):
    rows = [
        {"model": "m1", "id": "p1", "prompt": "Write.", "story": "one"},
        {"model": "m2", "id": "p1", "prompt": "Write.", "story": "two"},
    ]
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    pool = stories_from_generations(path)
    assert pool.models == ["m1", "m2"] and len(round_robin(pool)) == 1
    path.write_text(json.dumps({"id": "p1", "prompt": "Write.", "story": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="'model' field"):
        stories_from_generations(path)
    path.write_text("\n".join(json.dumps(r) for r in rows + rows[:1]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"g\.jsonl:3: .*already has a story"):
        stories_from_generations(path)


def test_log_paths_errors(tmp_path: Path):
    from polaris_bench.benchmarks.story_elo import log_paths

    with pytest.raises(PairingError, match="not found"):
        log_paths(str(tmp_path / "missing.eval"))
    with pytest.raises(PairingError, match="no Inspect logs"):
        log_paths(str(tmp_path))
    with pytest.raises(PairingError, match="no logs given"):
        log_paths(" , ")


def test_position_bias_from_score_values_matches_outcomes():
    # story_elo's metric reads the counts back from each pair's score value
    from polaris_bench.judging.pairwise import PairCounts

    counts = [PairCounts(True, 2, 0), PairCounts(False, 1, 1), PairCounts(False, 1, 0)]
    assert position_bias(counts) == {"flip_rate": 1 / 3, "slot_a_win_rate": 4 / 5}
