"""The training reward: same judge path as the eval scorer, the composite, failures."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from pathlib import Path

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
    ThinkCounter,
    overlong_penalty,
    row_overlong_penalty,
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
    assert logged["reward/judge_failure_rate"] == [0.5]
    assert logged["reward/sq_filled"] == [2.0]  # the fill-in is counted, not silent
    assert reward.total_failures == 2 and reward.total_filled == 2
    # one warning from the reward, with the count, the fill value and the reason
    ours = [r for r in caplog.records if r.name == "polaris_bench.train.reward" and r.levelno == logging.WARNING]
    assert len(ours) == 1
    message = ours[0].getMessage()
    assert "2 of 4 judgments failed" in message and f"batch mean {mean:.4f}" in message
    assert "2 x attempt 1: judge call failed: RuntimeError: judge down" in message


def raising_grader(exc: BaseException):
    async def respond(input, tools, tool_choice, config):
        raise exc

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), asyncio.CancelledError()])
def test_interrupts_are_not_failed_judgments(sq_rubric, exc):
    """Ctrl-C (or a cancellation, or an exit) inside a judge call stops the reward; it is
    never counted as a failed judgment and filled with the batch mean."""
    reward = make_reward(sq_rubric, raising_grader(exc))
    with pytest.raises(type(exc)):
        asyncio.run(reward.score_batch([PROMPT] * 2, [story(2, "p3")] * 2, [200] * 2))
    assert reward.total_failures == 0


def test_a_bug_in_the_judging_code_is_not_a_failed_judgment(sq_rubric, monkeypatch):
    from polaris_bench.train import reward as reward_mod

    async def broken(*args, **kwargs):
        raise TypeError("judge_story() got an unexpected keyword argument")

    monkeypatch.setattr(reward_mod, "judge_story", broken)
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    with pytest.raises(TypeError, match="unexpected keyword"):
        asyncio.run(reward.score_batch([PROMPT], [story(2, "p3")], [200]))


def test_all_judgments_failing_gives_no_reward(sq_rubric, caplog):
    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    with caplog.at_level(logging.WARNING):
        totals = asyncio.run(reward(prompts=[PROMPT] * 3, completions=[story(2, "boom")] * 3, target_words=[200] * 3))
    assert totals == [None, None, None]  # TRL: unscorable, never a zero reward
    assert reward.last.all_failed and reward.total_skipped_batches == 1
    assert "skipped" in caplog.text


def test_judge_calls_overlap_and_respect_the_limit(sq_rubric):
    # Concurrency is counted, not timed (the wall-clock ratio is bench/train_step.py's):
    # with calls that overlap, all 16 are in flight at once; serial calls would peak at 1.
    in_flight = [0, 0]
    reward = make_reward(sq_rubric, fake_judge(sq_rubric, delay=0.3, in_flight=in_flight), concurrency=64)
    asyncio.run(reward.score_batch([PROMPT] * 16, [story(2, f"p{i}") for i in range(16)], [200] * 16))
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


def test_thinking_penalty_defaults_are_the_authors_code():
    """0.05 per thinking token beyond 3,072, the </think> token one of them, no bound:
    4,001 tokens of thinking + </think> = 4,002 counted; (4,002 - 3,072) x 0.05 = 46.5."""
    cfg = ThinkingPenalty()
    assert (cfg.cap_tokens, cfg.per_token, cfg.max_penalty, cfg.count_close_tag) == (3072, 0.05, None, True)
    assert thinking_penalty(4001 + 1, cfg) == pytest.approx(46.5)
    assert thinking_penalty(3072, cfg) == 0.0
    # the close tag alone takes a 3,072-token thought over the cap
    assert thinking_penalty(3072 + 1, cfg) == pytest.approx(0.05)
    # the bound stays available
    assert thinking_penalty(4002, cfg.model_copy(update={"max_penalty": 1.0})) == 1.0


def test_think_counter_counts_the_close_tag_and_not_an_unclosed_block():
    counter = ThinkCounter(None, ThinkingPenalty())
    closed = "<think>" + "plan " * 10 + "</think>The story."
    assert counter.count(closed, None) == 10 + 1  # no tokenizer: words, plus the tag
    ids = [7] * 10 + [99] + [5, 5, 2]
    counter.close_id = 99
    assert counter.count(closed, ids) == 11  # index of </think> (10) + the tag itself
    no_tag = ThinkCounter(None, ThinkingPenalty(count_close_tag=False))
    no_tag.close_id = 99
    assert no_tag.count(closed, ids) == 10
    # a think block that is never closed: no thinking tokens (the authors' code) ...
    unclosed = "<think>" + "plan " * 10
    assert counter.count(unclosed, [7] * 11) == 0
    # ... or every token, when asked
    every = ThinkCounter(None, ThinkingPenalty(count_unclosed=True))
    every.close_id = 99
    assert every.count(unclosed, [7] * 11) == 11
    assert counter.count("No thinking here.", [5, 5]) == 0


def test_overlong_penalty_only_for_completions_cut_off():
    """The authors' code charges the soft overlong penalty only to a response that never
    emitted EOS; DAPO's rule (apply_to: all) charges by length alone."""
    paper = OverlongPenalty()
    assert paper.apply_to == "truncated"
    # a finished 7,900-token response: nothing (DAPO's rule: (7,900 - 7,680) / 512 = 0.4296875)
    assert row_overlong_penalty(7900, True, 8192, paper) == 0.0
    dapo = paper.model_copy(update={"apply_to": "all"})
    assert row_overlong_penalty(7900, True, 8192, dapo) == pytest.approx(220 / 512)
    # cut at the 8,192-token limit without EOS: the full factor under both rules
    assert row_overlong_penalty(8192, False, 8192, paper) == pytest.approx(1.0)
    assert row_overlong_penalty(8192, False, 8192, dapo) == pytest.approx(1.0)
    # no EOS but inside the ramp (a stop string, say): the ramp value
    assert row_overlong_penalty(7936, False, 8192, paper) == pytest.approx(0.5)
    assert row_overlong_penalty(8192, False, 8192, paper.model_copy(update={"enabled": False})) == 0.0


def test_truncated_rule_needs_to_know_the_end_token(sq_rubric):
    with pytest.raises(ValueError, match="eos_token_ids"):
        make_reward(sq_rubric, fake_judge(sq_rubric), max_completion_length=20)
    make_reward(sq_rubric, fake_judge(sq_rubric), max_completion_length=20, eos_token_ids=[2])


def test_shaping_terms_enter_the_total(sq_rubric):
    cfg = RewardSection(
        thinking=ThinkingPenalty(cap_tokens=2, per_token=0.1, max_penalty=None),
        overlong=OverlongPenalty(buffer_tokens=10, factor=1.0, apply_to="all"),
    )
    reward = make_reward(sq_rubric, fake_judge(sq_rubric), reward=cfg, max_completion_length=20)
    s = "<think>one two three four five</think>" + story(4, "p8")
    ids = list(range(15))  # 15 tokens of 20: half-way into the buffer
    batch = asyncio.run(reward.score_batch([PROMPT], [s], [200], completion_ids=[ids]))
    row = batch.rows[0]
    assert row.overlong_pen == pytest.approx(0.5)
    assert row.think_tokens == 5 + 1  # five words and the closing tag
    assert row.think_pen == pytest.approx(0.1 * (6 - 2))
    assert row.total == pytest.approx(row.composite - row.think_pen - row.overlong_pen)


PAPER_RECIPE = Path(__file__).resolve().parent.parent / "train" / "configs" / "polaris_9b.yaml"


def test_paper_recipe_gives_the_authors_shaping_values(sq_rubric):
    """train/configs/polaris_9b.yaml through the reward TRL calls: 4,001 thinking tokens
    cost 46.5; a finished 7,900-token response has no overlong penalty; one cut at
    8,192 tokens without EOS has the full 1.0."""
    from polaris_bench.train.config import load_train_config
    from polaris_bench.train.tiny_model import build_tokenizer

    cfg = load_train_config(PAPER_RECIPE)
    tok = build_tokenizer([BASE, story(4, "p8"), "plan the harbor scene"], 400)
    limit = cfg.grpo["max_completion_length"]
    reward = StoryReward.from_config(
        cfg.judge, cfg.reward, tokenizer=tok, max_completion_length=limit, grader=fake_judge(sq_rubric)
    )
    close, eos = tok.convert_tokens_to_ids("</think>"), tok.eos_token_id
    word = tok("plan", add_special_tokens=False)["input_ids"][0]
    body = tok(story(4, "p8"), add_special_tokens=False)["input_ids"]
    thinking = [word] * 4001 + [close] + body + [eos]  # 4,001 thinking tokens, then </think>
    finished = body + [word] * (7900 - 1 - len(body)) + [eos]  # 7,900 tokens ending with EOS
    cut = body + [word] * (limit - len(body))  # 8,192 tokens, no EOS
    ids = [thinking, finished, cut]
    assert [len(x) for x in ids] == [4001 + 1 + len(body) + 1, 7900, 8192]
    texts = [tok.decode(x, skip_special_tokens=True) for x in ids]
    totals = asyncio.run(
        reward(prompts=[PROMPT] * 3, completions=texts, completion_ids=ids, target_words=[200] * 3)
    )
    rows = reward.last.rows
    assert [r.think_tokens for r in rows] == [4002, 0, 0]
    assert [r.think_pen for r in rows] == pytest.approx([46.5, 0.0, 0.0])
    assert [r.overlong_pen for r in rows] == pytest.approx([0.0, 0.0, 1.0])
    assert [r.ended for r in rows] == [True, True, False]
    assert totals[0] == pytest.approx(rows[0].composite - 46.5)
    assert totals[1] == pytest.approx(rows[1].composite)
    assert totals[2] == pytest.approx(rows[2].composite - 1.0)

    # the other rules stay available: a bound on the thinking sum, DAPO's length-only ramp
    other = cfg.reward.model_copy(
        update={
            "thinking": cfg.reward.thinking.model_copy(update={"max_penalty": 1.0}),
            "overlong": cfg.reward.overlong.model_copy(update={"apply_to": "all"}),
        }
    )
    reward = StoryReward.from_config(
        cfg.judge, other, tokenizer=tok, max_completion_length=limit, grader=fake_judge(sq_rubric)
    )
    asyncio.run(reward(prompts=[PROMPT] * 3, completions=texts, completion_ids=ids, target_words=[200] * 3))
    assert [r.think_pen for r in reward.last.rows] == pytest.approx([1.0, 0.0, 0.0])
    assert [r.overlong_pen for r in reward.last.rows] == pytest.approx([0.0, 220 / 512, 1.0])


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
