"""Inspect scorers: the rubric judge (``story_quality``, ``rubric_scorer``) and the
LLM-free ``length_adherence``.

The judge scorers call ``polaris_bench.judging.judge.judge_story``, the same code path as the
training reward. An unparseable judge reply ends as ``Score.unscored`` with the reason
in ``Score.reason`` and ``metadata["unscored_reason"]``: excluded from metrics, never 0.
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai.scorer import (
    Score,
    Scorer,
    Target,
    scorer,
)
from inspect_ai.solver import TaskState

from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, JudgeConfig, judge_story
from polaris_bench.judging.rubric import Rubric, load_rubric
from polaris_bench.metrics.scorer import _key_metrics
from polaris_bench.story import prompt_text, story_text


def _judge_score(
    rubric: Rubric, prompt: str, story: str, judgement: Any, main_key: str, keys: list[str] | None = None
) -> Score:
    meta = judgement.metadata()
    if not judgement.ok:
        return Score.unscored(
            reason=judgement.unscored_reason,
            answer=story[:200],
            explanation="judge reply could not be used",
            metadata=meta,
        )
    value = {k: v for k, v in judgement.result.items()}
    for key in keys or ():  # a declared key this rubric does not produce: no value
        value.setdefault(key, math.nan)
    return Score(
        value=value,
        answer=story[:200],
        explanation=f"{rubric.title}: {main_key}={value[main_key]:.2f}"
        + (f" ({judgement.label})" if judgement.label else ""),
        metadata=meta,
    )


def make_rubric_scorer(
    rubric: Rubric,
    *,
    judge: JudgeConfig,
    grader: str | None = None,
    keys: list[str] | None = None,
    group_key: str | None = "bucket",
) -> Scorer:
    """A scorer body for ``rubric``; the registered scorers below wrap it."""

    main_key = "overall" if rubric.aggregation.kind == "polaris_sq" else rubric.aggregation.name

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        prompt = prompt_text(state)
        judgement = await judge_story(rubric, prompt, story, grader, judge)
        return _judge_score(rubric, prompt, story, judgement, main_key, keys)

    return score


SQ_KEYS = [
    "overall", "reward", "published_overall", "published_overall_recomputed", "totals_mismatch",
    "positive_total", "negative_total", "bonus", "penalty",
]


@scorer(metrics=_key_metrics(SQ_KEYS, "bucket"))
def story_quality(
    rubric: str = "story_quality",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
) -> Scorer:
    """POLARIS Story Quality from the ``grader`` model role: ``overall`` (the training
    formula, [-159, 108]) and ``reward`` = overall / 100; ``published_overall`` (the
    formula of the paper's published table, from the judge's reported totals),
    ``published_overall_recomputed`` (the same from the dimension sums) and
    ``totals_mismatch`` (1 where reported totals and dimensions disagree).
    ``partial_replies``: score replies that leave dimensions out, as the POLARIS
    evaluation code does (``published_overall`` from the reported totals; ``overall``
    no value); by default such a reply is retried, then left unscored."""
    loaded = load_rubric(rubric)
    if loaded.aggregation.kind != "polaris_sq":
        raise ValueError(f"story_quality needs a polaris_sq rubric; {rubric!r} is {loaded.aggregation.kind}")
    return make_rubric_scorer(
        loaded,
        judge=JudgeConfig(max_attempts=max_attempts, compact=compact, partial_replies=partial_replies),
        grader=grader,
        keys=SQ_KEYS,
    )




def _judge_config(compact: bool, max_attempts: int, partial_replies: bool = False) -> JudgeConfig:
    return JudgeConfig(max_attempts=max_attempts, compact=compact, partial_replies=partial_replies)


def _renamed(inner: Scorer, rename: dict[str, str]) -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        result = await inner(state, target)
        if isinstance(result.value, dict):
            result.value = {rename.get(k, k): v for k, v in result.value.items()}
        return result

    return score

