"""Inspect scorers: the rubric judge (``story_quality``, ``rubric_scorer``) and the
LLM-free ``length_adherence``.

The judge scorers call ``polaris_bench.judge.judge_story``, the same code path as the
training reward. An unparseable judge reply ends as ``Score.unscored`` with the reason
in ``Score.reason`` and ``metadata["unscored_reason"]``: excluded from metrics, never 0.
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai.model import ModelOutput
from inspect_ai.scorer import (
    Metric,
    Score,
    Scorer,
    Target,
    grouped,
    mean,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState

from .judge import JudgeConfig, judge_story
from .length import WordCountMethod, measure, parse_target, strip_thinking
from .rubric import Rubric, load_rubric

LENGTH_KEYS = (
    "words",
    "target_words",
    "length_ratio",
    "length_score",
    "length_penalty",
    "self_repetition",
    "blank",
    "truncated",
)


def story_text(state: TaskState) -> str:
    """The story a writer produced: the completion without its thinking part
    (Inspect keeps structured reasoning out of ``completion``; inline
    ``<think>`` blocks are removed here)."""
    return strip_thinking(state.output.completion if state.output else "")


def prompt_text(state: TaskState) -> str:
    """The writing prompt as the writer saw it (the first user message)."""
    return state.metadata.get("prompt") or state.input_text


def target_of(state: TaskState) -> int | None:
    """The requested length: the loader's ``target_words``, else parsed from the prompt."""
    target = state.metadata.get("target_words")
    if target is not None:
        return int(target)
    return parse_target(prompt_text(state))


def was_truncated(output: ModelOutput | None, budget: int | None) -> bool:
    """The writer stopped at its token limit. Some providers (Inspect's ``hf/``) report
    no ``max_tokens`` stop reason, so a completion that used the whole budget counts."""
    if output is None:
        return False
    if output.stop_reason == "max_tokens":
        return True
    return bool(budget and output.usage and output.usage.output_tokens >= budget)


def _key_metrics(keys: list[str], group_key: str | None) -> list[dict[str, list[Metric]]]:
    metrics: list[dict[str, list[Metric]]] = []
    for key in keys:
        ms: list[Metric] = [mean(), stderr()]
        if group_key:
            ms.append(grouped(mean(), group_key, all=False, name_template=f"{key}_{{group_name}}"))
        metrics.append({key: ms})
    return metrics


def _judge_score(rubric: Rubric, prompt: str, story: str, judgement: Any, main_key: str) -> Score:
    meta = judgement.metadata()
    if not judgement.ok:
        return Score.unscored(
            reason=judgement.unscored_reason,
            answer=story[:200],
            explanation="judge reply could not be used",
            metadata=meta,
        )
    value = {k: v for k, v in judgement.result.items()}
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
        return _judge_score(rubric, prompt, story, judgement, main_key)

    return score


@scorer(
    metrics=_key_metrics(
        ["overall", "reward", "positive_total", "negative_total", "bonus", "penalty"], "bucket"
    )
)
def story_quality(
    rubric: str = "story_quality",
    compact: bool = False,
    max_attempts: int = 3,
    grader: str | None = None,
) -> Scorer:
    """POLARIS Story Quality: ``overall`` on the native scale [-159, 108] and
    ``reward`` = overall / 100, from the ``grader`` model role."""
    loaded = load_rubric(rubric)
    if loaded.aggregation.kind != "polaris_sq":
        raise ValueError(f"story_quality needs a polaris_sq rubric; {rubric!r} is {loaded.aggregation.kind}")
    return make_rubric_scorer(
        loaded, judge=JudgeConfig(max_attempts=max_attempts, compact=compact), grader=grader
    )


@scorer(metrics=_key_metrics(list(LENGTH_KEYS), "bucket"))
def length_adherence(method: WordCountMethod = "paper") -> Scorer:
    """Length metrics without an LLM. Keys that need a target are NaN (no value) when
    the sample has none: never an invented target."""

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        wanted = target_of(state)
        truncated = was_truncated(state.output, state.metadata.get("max_tokens"))
        report = measure(story, wanted, truncated=truncated, method=method)
        values = report.as_dict()
        # NaN, Inspect's "no value" sentinel, where a key needs a target the sample
        # lacks: metrics skip it (None would be averaged as 0) and the store keeps NULL.
        value = {k: math.nan if values[k] is None else values[k] for k in LENGTH_KEYS}
        return Score(
            value=value,
            answer=f"{report.words} words" + (f" / {wanted}" if wanted else ""),
            metadata={"bucket": report.bucket, "bucket_2k": report.bucket_2k, "method": method},
        )

    return score
