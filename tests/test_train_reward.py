"""The training reward: same judge path as the eval scorer, the composite, failures."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time

import pytest
from inspect_ai.model import ChatMessageUser, ModelOutput, ModelUsage, get_model
from judge_helpers import valid_reply

from polaris_bench.judging.judge import JudgeConfig
from polaris_bench.metrics.length import band_penalty, count_words, is_blank
from polaris_bench.metrics.repetition import self_repetition
from polaris_bench.train.config import (
    JudgeSection,
    OverlongPenalty,
    RewardSection,
    ThinkingPenalty,
)
from polaris_bench.train.reward import (
    StoryReward,
    overlong_penalty,
    thinking_penalty,
)

PROMPT = "Write a story about a harbor at night. Your story should be approximately 200 words long."
BASE = (
    "The lantern swung over the harbor while Mara counted the boats. The ferryman was wrong about "
    "the hour, and she folded the letter twice before the tide came in. "
)


def story(n: int, tag: str) -> str:
    """A story of about ``n`` sentences; ``tag`` is a word that tells the fake judge what to do."""
    return BASE + " ".join(f"Sentence {i} of the {tag} tale kept moving the night along." for i in range(n))


def _reply(text: str, usage: int = 10) -> ModelOutput:
    out = ModelOutput.from_content(model="mockllm", content=text)
    out.usage = ModelUsage(input_tokens=usage, output_tokens=usage, total_tokens=2 * usage)
    return out


def fake_judge(rubric, *, seen: list[str] | None = None, delay: float = 0.0, in_flight: list[int] | None = None):
    """A grader whose reply depends on the story: P1 score from 'pN' in the story,
    'boom' stories make the call raise (every attempt)."""

    async def respond(input, tools, tool_choice, config):  # noqa: A002
        text = input[0].text
        if seen is not None:
            seen.append(text)
        if in_flight is not None:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        try:
            if delay:
                await asyncio.sleep(delay)
            if "boom" in text:
                raise RuntimeError("judge down")
            match = re.search(r"\bp(\d+)\b", text)
            p1 = int(match.group(1)) if match else 5
            return _reply(valid_reply(rubric, {"P1": p1}))
        finally:
            if in_flight is not None:
                in_flight[0] -= 1

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def make_reward(rubric, grader, **kw) -> StoryReward:
    return StoryReward(rubric=rubric, grader=grader, judge_config=JudgeConfig(max_attempts=2), **kw)


def sq_of(rubric, p1: int) -> float:
    scores = {c.id: c.min for c in rubric.criteria} | {"P1": p1}
    return rubric.aggregate(scores)["reward"]


def test_composite_follows_the_paper_formula(sq_rubric):
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    s = story(12, "p9")
    logged: dict[str, list[float]] = {}
    totals = asyncio.run(
        reward(
            prompts=[PROMPT],
            completions=[s],
            target_words=[200],
            log_metric=lambda k, v: logged.setdefault(k, []).append(v),
        )
    )
    words = count_words(s)
    raw = 1.0 * sq_of(sq_rubric, 9) - 1.5 * self_repetition(s) - 0.8 * band_penalty(words, 200)
    raw -= 1.0 * float(is_blank(s, 200))
    assert totals == [pytest.approx(max(-2.0, min(2.0, raw)))]
    # every component is its own metric
    for name in ("sq", "self_rep", "length_pen", "blank", "composite", "think_pen", "overlong_pen", "total"):
        assert f"reward/{name}" in logged
    assert logged["reward/sq"] == [pytest.approx(sq_of(sq_rubric, 9))]
    assert logged["reward/judge_failures"] == [0.0]


def test_weights_and_clip_are_configurable(sq_rubric):
    cfg = RewardSection(sq_weight=10.0, clip=0.5, self_rep_weight=0, length_weight=0, blank_weight=0)
    reward = make_reward(sq_rubric, fake_judge(sq_rubric), reward=cfg)
    batch = asyncio.run(reward.score_batch([PROMPT, PROMPT], [story(3, "p15"), story(3, "p0")], [200, 200]))
    sq_hi, sq_lo = sq_of(sq_rubric, 15), sq_of(sq_rubric, 0)
    assert [r.composite for r in batch.rows] == [
        pytest.approx(max(-0.5, min(0.5, 10 * sq_hi))),
        pytest.approx(max(-0.5, min(0.5, 10 * sq_lo))),
    ]
    assert batch.rows[0].composite == pytest.approx(0.5)  # 10 * 0.15 clipped to 0.5


def test_training_reward_equals_eval_scorer_reward(sq_rubric):
    """One (prompt, story, judge reply): the story_quality scorer's reward and the
    training reward's SQ are the same number, through the same judge code."""
    from inspect_ai.scorer import Target
    from inspect_ai.solver import TaskState

    from polaris_bench.judging.scorers import story_quality

    grader = fake_judge(sq_rubric)
    s = story(6, "p11")
    state = TaskState(
        model="offline/writer",
        sample_id="x@200",
        epoch=1,
        input=PROMPT,
        messages=[ChatMessageUser(content=PROMPT)],
        output=ModelOutput.from_content(model="offline/writer", content=s),
        metadata={"prompt": PROMPT, "target_words": 200},
    )
    from polaris_bench.judging.scorers import make_rubric_scorer

    # the scorer body behind story_quality(), with our scripted judge
    scorer = make_rubric_scorer(sq_rubric, judge=JudgeConfig(max_attempts=2), grader=grader)
    score = asyncio.run(scorer(state, Target("")))
    reward = make_reward(sq_rubric, grader)
    batch = asyncio.run(reward.score_batch([PROMPT], [s], [200]))
    assert batch.rows[0].sq == score.value["reward"] == pytest.approx(sq_of(sq_rubric, 11))

    # and with the offline judge through the registered scorer, by model name
    offline = "offline/judge"
    scorer = story_quality(grader=offline)
    score = asyncio.run(scorer(state, Target("")))
    reward = StoryReward(rubric="story_quality", grader=offline)
    batch = asyncio.run(reward.score_batch([PROMPT], [s], [200]))
    assert batch.rows[0].sq == score.value["reward"]


def test_thinking_is_stripped_before_judging_and_counting(sq_rubric):
    seen: list[str] = []
    reward = make_reward(sq_rubric, fake_judge(sq_rubric, seen=seen))
    thinking = "<think>SECRET PLAN " + "plan " * 300 + "</think>"
    s = story(4, "p7")
    batch = asyncio.run(reward.score_batch([PROMPT], [thinking + s], [200]))
    assert seen and all("SECRET PLAN" not in text for text in seen)
    assert batch.rows[0].words == count_words(s)
    assert batch.rows[0].sq == pytest.approx(sq_of(sq_rubric, 7))
    assert batch.rows[0].think_tokens > 300  # counted (no tokenizer: words stand in)


def test_failed_judgments_get_the_batch_mean(sq_rubric, caplog):
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    stories = [story(3, "p3"), story(3, "boom"), story(3, "p13"), story(3, "boom")]
    logged: dict[str, list[float]] = {}
    with caplog.at_level(logging.WARNING):
        totals = asyncio.run(
            reward(
                prompts=[PROMPT] * 4,
                completions=stories,
                target_words=[200] * 4,
                log_metric=lambda k, v: logged.setdefault(k, []).append(v),
            )
        )
    rows = reward.last.rows
    mean = (sq_of(sq_rubric, 3) + sq_of(sq_rubric, 13)) / 2
    assert [r.judge_ok for r in rows] == [True, False, True, False]
    assert rows[1].sq == rows[3].sq == pytest.approx(mean)
    assert rows[1].sq_filled and not rows[0].sq_filled
    assert "judge down" in rows[1].judge_error
    assert all(t is not None for t in totals)
    assert logged["reward/judge_failures"] == [2.0]
    assert reward.total_failures == 2
    assert "batch mean" in caplog.text


def test_all_judgments_failing_gives_no_reward(sq_rubric, caplog):
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    with caplog.at_level(logging.WARNING):
        totals = asyncio.run(reward(prompts=[PROMPT] * 3, completions=[story(2, "boom")] * 3, target_words=[200] * 3))
    assert totals == [None, None, None]  # TRL: unscorable, never a zero reward
    assert reward.last.all_failed and reward.total_skipped_batches == 1
    assert "skipped" in caplog.text


def test_judge_calls_overlap_and_respect_the_limit(sq_rubric):
    in_flight = [0, 0]
    reward = make_reward(sq_rubric, fake_judge(sq_rubric, delay=0.3, in_flight=in_flight), concurrency=64)
    t0 = time.perf_counter()
    asyncio.run(reward.score_batch([PROMPT] * 16, [story(2, f"p{i}") for i in range(16)], [200] * 16))
    assert time.perf_counter() - t0 < 2 * 0.3 + 1.0  # serial would be 4.8 s
    assert in_flight[1] == 16

    in_flight[:] = [0, 0]
    bounded = make_reward(sq_rubric, fake_judge(sq_rubric, delay=0.05, in_flight=in_flight), concurrency=3)
    asyncio.run(bounded.score_batch([PROMPT] * 9, [story(2, f"p{i}") for i in range(9)], [200] * 9))
    assert in_flight[1] == 3


def test_judge_timeout_counts_as_failure(sq_rubric):
    slow = fake_judge(sq_rubric, delay=2.0)
    reward = make_reward(sq_rubric, slow, timeout_s=0.1)
    batch = asyncio.run(reward.score_batch([PROMPT], [story(2, "p4")], [200]))
    assert batch.all_failed and "Timeout" in batch.rows[0].judge_error


def test_shaping_terms():
    cfg = ThinkingPenalty(cap_tokens=100, per_token=0.05, max_penalty=1.0)
    assert thinking_penalty(100, cfg) == 0.0
    assert thinking_penalty(110, cfg) == pytest.approx(0.5)
    assert thinking_penalty(500, cfg) == 1.0
    assert thinking_penalty(500, cfg.model_copy(update={"max_penalty": None})) == pytest.approx(20.0)
    assert thinking_penalty(500, cfg.model_copy(update={"enabled": False})) == 0.0
    # DAPO soft overlong: zero before the buffer, linear inside it, full at the limit
    assert overlong_penalty(7680, 8192, 512, 1.0) == 0.0
    assert overlong_penalty(7936, 8192, 512, 1.0) == pytest.approx(0.5)
    assert overlong_penalty(8192, 8192, 512, 1.0) == pytest.approx(1.0)
    assert overlong_penalty(8192, None, 512, 1.0) == 0.0


def test_shaping_terms_enter_the_total(sq_rubric):
    cfg = RewardSection(
        thinking=ThinkingPenalty(cap_tokens=2, per_token=0.1, max_penalty=None),
        overlong=OverlongPenalty(buffer_tokens=10, factor=1.0),
    )
    reward = make_reward(sq_rubric, fake_judge(sq_rubric), reward=cfg, max_completion_length=20)
    s = "<think>one two three four five</think>" + story(4, "p8")
    ids = list(range(15))  # 15 tokens of 20: half-way into the buffer
    batch = asyncio.run(reward.score_batch([PROMPT], [s], [200], completion_ids=[ids]))
    row = batch.rows[0]
    assert row.overlong_pen == pytest.approx(0.5)
    assert row.think_pen == pytest.approx(0.1 * (row.think_tokens - 2))
    assert row.total == pytest.approx(row.composite - row.think_pen - row.overlong_pen)


def test_grader_from_config_uses_inspect_models():
    from polaris_bench.train.reward import build_grader

    model = build_grader(JudgeSection(model="offline/judge", model_args={"latency": 0.0}, concurrency=7))
    assert "offline/judge" in str(model)
    assert model.config.max_connections == 7


def test_reference_rows_are_logged_apart(sq_rubric):
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    logged: dict[str, list[float]] = {}
    asyncio.run(
        reward(
            prompts=[PROMPT] * 3,
            completions=[story(2, "p1"), story(2, "p2"), story(2, "p14")],
            target_words=[200] * 3,
            hri_reference=[False, False, True],
            log_metric=lambda k, v: logged.setdefault(k, []).append(v),
        )
    )
    assert logged["reward/sq"] == [pytest.approx((sq_of(sq_rubric, 1) + sq_of(sq_rubric, 2)) / 2)]
    assert logged["hri/ref/sq"] == [pytest.approx(sq_of(sq_rubric, 14))]
    assert not math.isnan(logged["hri/ref/total"][0])
