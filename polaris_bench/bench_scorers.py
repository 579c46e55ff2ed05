"""Scorers and metrics specific to the OOD benchmarks and story_elo. All judging goes
through ``polaris_bench.judge.judge_story`` (the one judge code path); these scorers
only decide which rubric is judged, how often, and how the results combine.

Score keys (per sample) and benchmark-level metrics:

* ``eqbench_creative_score``: ``eqbench`` (0-100 = piece score x 5) and ``piece_score``
  (0-20, mean of the 22 criteria after inverting the negatives); metrics mean, stderr
  and a bootstrap 95% CI that resamples prompts (iterations of a prompt together).
* ``eqbench_longform_score``: ``eqbench_longform`` (0-100), ``criteria_mean`` (0-20);
  mean, stderr, mean per length bucket.
* ``writingbench_score``: ``score`` (1-10, mean over the query's criteria, one judge
  call each); mean, stderr, mean per ``domain2``.
* ``longbench_write_score``: ``S_q`` (0-100), ``S_l`` (0-100), ``S`` = S_q*S_l/100
  and ``S_avg`` = (S_q+S_l)/2; means (S_l also per LongWriter length range).
* ``pairwise_score``: ``score_x`` (X's mean score over both orders), ``plus_diff_xy``,
  ``plus_diff_yx``, ``flipped`` (0/1); the ``pairwise_ratings`` metric reports Glicko-2
  and Bradley-Terry ratings (with bootstrap CIs), win rates and the position bias.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from inspect_ai.scorer import (
    Metric,
    SampleScore,
    Score,
    Scorer,
    Target,
    grouped,
    mean,
    metric,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState

from .judge import JudgeConfig, judge_story
from .length import count_words, longwriter_length_score
from .pairwise import PAIRWISE_RUBRIC, judge_pair, position_bias
from .ratings import Match, bootstrap_bradley_terry, bootstrap_mean_ci, glicko2_ratings, win_rates
from .rubric import Criterion, Rubric, load_rubric
from .scorers import make_rubric_scorer, prompt_text, story_text
from .datasets.writingbench import BANDS

NAN = float("nan")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# -- metrics ------------------------------------------------------------------------------


@metric
def bootstrap_ci(cluster_key: str = "prompt_id", samples: int = 2000, level: float = 0.95, seed: int = 0) -> Metric:
    """Percentile bootstrap CI of the mean, resampling clusters (the sample metadata
    ``cluster_key``, e.g. EQ-Bench's prompt id) with replacement."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        clusters: dict[str, list[float]] = {}
        for s in scores:
            meta = s.sample_metadata or {}
            key = str(meta.get(cluster_key, s.sample_id))
            value = s.score.as_float()
            if not math.isnan(value):
                clusters.setdefault(key, []).append(value)
        _, low, high = bootstrap_mean_ci(clusters, samples=samples, level=level, seed=seed)
        return {"low": low, "high": high}

    return compute


@metric
def pairwise_ratings(
    glicko_periods: int = 1,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Metric:
    """Ratings over all judged pairs: ``glicko:<model>`` (Glicko-2, the paper's),
    ``bt:<model>`` with ``bt_low:``/``bt_high:`` (Bradley-Terry, bootstrap over
    prompts), ``win_rate:<model>``, ``flip_rate`` and ``slot_a_win_rate``."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        matches: list[Match] = []
        flips: list[float] = []
        a_wins = b_wins = 0
        for s in scores:
            value = s.score.value
            meta = s.sample_metadata or {}
            if not isinstance(value, dict) or _is_nan(value.get("score_x")):
                continue
            matches.append(
                Match(meta["model_x"], meta["model_y"], float(value["score_x"]), cluster=str(meta.get("sample_id")))
            )
            flips.append(float(value["flipped"]))
            a_wins += int(value.get("slot_a_wins", 0))
            b_wins += int(value.get("slot_b_wins", 0))
        out: dict[str, float] = {}
        if not matches:
            return out
        for model, r in glicko2_ratings(matches, periods=glicko_periods).items():
            out[f"glicko:{model}"] = r.rating
            out[f"glicko_rd:{model}"] = r.rd
        for model, ci in bootstrap_bradley_terry(matches, samples=bootstrap, level=level, seed=seed).items():
            out[f"bt:{model}"] = ci.rating
            out[f"bt_low:{model}"] = ci.low
            out[f"bt_high:{model}"] = ci.high
        for model, rate in win_rates(matches).items():
            out[f"win_rate:{model}"] = rate
        out["flip_rate"] = sum(flips) / len(flips)
        out["slot_a_win_rate"] = a_wins / (a_wins + b_wins) if a_wins + b_wins else NAN
        out["pairs"] = float(len(matches))
        return out

    return compute


# -- EQ-Bench --------------------------------------------------------------------------------


def _judge_config(compact: bool, max_attempts: int) -> JudgeConfig:
    return JudgeConfig(max_attempts=max_attempts, compact=compact)


def _renamed(inner: Scorer, rename: dict[str, str]) -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        result = await inner(state, target)
        if isinstance(result.value, dict):
            result.value = {rename.get(k, k): v for k, v in result.value.items()}
        return result

    return score


@scorer(
    metrics={
        "eqbench": [mean(), stderr(), bootstrap_ci("prompt_id")],
        "piece_score": [mean()],
    }
)
def eqbench_creative_score(
    rubric: str = "eqbench_creative", compact: bool = False, max_attempts: int = 3, grader: str | None = None
) -> Scorer:
    """EQ-Bench Creative Writing v3: ``eqbench`` 0-100 and ``piece_score`` 0-20."""
    loaded = load_rubric(rubric)
    inner = make_rubric_scorer(loaded, judge=_judge_config(compact, max_attempts), grader=grader)
    return _renamed(inner, {"criteria_mean": "piece_score"})


@scorer(
    metrics={
        "eqbench_longform": [
            mean(),
            stderr(),
            grouped(mean(), "bucket", all=False, name_template="eqbench_longform_{group_name}"),
        ],
        "criteria_mean": [mean()],
    }
)
def eqbench_longform_score(
    rubric: str = "eqbench_longform", compact: bool = False, max_attempts: int = 3, grader: str | None = None
) -> Scorer:
    """EQ-Bench Longform (POLARIS's 12 dimensions): ``eqbench_longform`` 0-100."""
    loaded = load_rubric(rubric)
    return make_rubric_scorer(loaded, judge=_judge_config(compact, max_attempts), grader=grader)


# -- WritingBench -----------------------------------------------------------------------------


def checklist_criterion(item: dict[str, Any], position: int) -> Criterion:
    """A WritingBench checklist item as a one-criterion rubric entry (1-10) whose
    description carries the item's description and its five band descriptions."""
    bands = "\n".join(f"  Score {band}: {item[band]}" for band in BANDS)
    return Criterion(
        id=f"c{position}",
        name=item["name"],
        polarity="positive",
        min=1,
        max=10,
        description=f"{item['criteria_description']}\n{bands}",
    )


async def judge_checklist(
    base: Rubric,
    prompt: str,
    story: str,
    checklist: list[dict[str, Any]],
    grader: str | None,
    config: JudgeConfig,
) -> Score:
    rubrics = [base.with_criteria([checklist_criterion(item, i)]) for i, item in enumerate(checklist, start=1)]
    judgements = await asyncio.gather(*(judge_story(r, prompt, story, grader, config) for r in rubrics))
    per_criterion = []
    for item, r, j in zip(checklist, rubrics, judgements):
        cid = r.criteria[0].id
        per_criterion.append(
            {
                "name": item["name"],
                "score": (j.scores or {}).get(cid),
                "attempts": j.attempts,
                "evidence": j.evidence.get(cid),
                "unscored_reason": j.unscored_reason,
            }
        )
    meta = {
        "rubric": base.id,
        "rubric_sha256": base.sha256,
        "judge_model": judgements[0].judge_model if judgements else None,
        "judge_calls": len(judgements),
        "criteria": per_criterion,
    }
    failed = [c for c in per_criterion if c["score"] is None]
    if failed:
        reasons = "; ".join(f"{c['name']}: {c['unscored_reason']}" for c in failed)
        return Score.unscored(
            reason=f"{len(failed)} of {len(per_criterion)} criteria unscored: {reasons}",
            answer=story[:200],
            metadata=meta,
        )
    values = [float(c["score"]) for c in per_criterion]
    score = sum(values) / len(values)
    return Score(
        value={"score": score},
        answer=story[:200],
        explanation="; ".join(f"{c['name']}: {c['score']}" for c in per_criterion),
        metadata=meta,
    )


@scorer(metrics={"score": [mean(), stderr(), grouped(mean(), "domain2", all=False, name_template="score_{group_name}")]})
def writingbench_score(
    rubric: str = "writingbench", compact: bool = False, max_attempts: int = 3, grader: str | None = None
) -> Scorer:
    """WritingBench: one judge call per checklist criterion (1-10); ``score`` = mean."""
    base = load_rubric(rubric)
    config = _judge_config(compact, max_attempts)

    async def score(state: TaskState, target: Target) -> Score:
        checklist = state.metadata.get("checklist")
        if not checklist:
            raise ValueError(f"sample {state.sample_id!r} has no WritingBench checklist in its metadata")
        return await judge_checklist(base, prompt_text(state), story_text(state), checklist, grader, config)

    return score


# -- LongBench-Write ---------------------------------------------------------------------------


def longbench_values(s_q: float | None, required: int, produced_text: str) -> dict[str, float]:
    """S_q (None when the judge failed), S_l from LongWriter's counting, and S, S_avg."""
    produced = count_words(produced_text, "longwriter")
    s_l = longwriter_length_score(required, produced)
    if s_q is None:
        return {"S": NAN, "S_q": NAN, "S_l": s_l, "S_avg": NAN, "words": float(produced)}
    return {"S": s_q * s_l / 100.0, "S_q": s_q, "S_l": s_l, "S_avg": (s_q + s_l) / 2.0, "words": float(produced)}


@scorer(
    metrics={
        "S": [mean(), stderr()],
        "S_q": [mean(), stderr()],
        "S_l": [mean(), stderr(), grouped(mean(), "length_range", all=False, name_template="S_l_{group_name}")],
        "S_avg": [mean()],
        "words": [mean()],
    }
)
def longbench_write_score(
    rubric: str = "longbench_write", compact: bool = False, max_attempts: int = 3, grader: str | None = None
) -> Scorer:
    """LongBench-Write: quality S_q (judge, length ignored), length S_l, S = S_q*S_l/100."""
    loaded = load_rubric(rubric)
    config = _judge_config(compact, max_attempts)
    key = loaded.aggregation.name if loaded.aggregation.kind == "weighted_mean" else "overall"

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        required = state.metadata.get("target_words")
        if not required:
            raise ValueError(f"sample {state.sample_id!r} has no required length (target_words)")
        judgement = await judge_story(loaded, prompt_text(state), story, grader, config)
        s_q = judgement.result[key] if judgement.ok and judgement.result else None
        value = longbench_values(s_q, int(required), story)
        meta = judgement.metadata()
        return Score(
            value=value,
            answer=story[:200],
            reason=None if judgement.ok else f"S_q unscored: {judgement.unscored_reason}",
            explanation=f"S_q={value['S_q']:.1f} S_l={value['S_l']:.1f} S={value['S']:.1f}",
            metadata=meta,
        )

    return score


# -- story_elo ----------------------------------------------------------------------------------


def _order_meta(result: Any) -> dict[str, Any]:
    j = result.judgement
    return {
        "order": result.order,
        "margins": result.margins,
        "plus_a": result.plus_a if result.ok else None,
        "plus_b": result.plus_b if result.ok else None,
        "verdict": result.verdict if result.ok else None,
        "draws": result.draws if result.ok else None,
        "attempts": j.attempts if j else None,
        "evidence": j.evidence if j else None,
        "unscored_reason": j.unscored_reason if j else "not judged",
    }


@scorer(metrics=[pairwise_ratings()])
def pairwise_score(
    rubric: str = PAIRWISE_RUBRIC,
    max_words: int | None = None,
    compact: bool = False,
    max_attempts: int = 3,
    grader: str | None = None,
    glicko_periods: int = 1,
    bootstrap: int = 1000,
) -> Scorer:
    """Judge the sample's two stories in both A/B orders (see polaris_bench.pairwise)."""
    loaded = load_rubric(rubric)
    config = _judge_config(compact, max_attempts)

    async def score(state: TaskState, target: Target) -> Score:
        meta = state.metadata
        outcome = await judge_pair(
            loaded, meta["prompt"], meta["story_x"], meta["story_y"], grader, config, max_words=max_words
        )
        record = {
            "model_x": meta["model_x"],
            "model_y": meta["model_y"],
            "xy": _order_meta(outcome.xy),
            "yx": _order_meta(outcome.yx),
            "judge_model": outcome.xy.judgement.judge_model if outcome.xy.judgement else None,
            "rubric": loaded.id,
            "rubric_sha256": loaded.sha256,
        }
        if not outcome.ok:
            reasons = "; ".join(
                f"order {r.order}: {r.judgement.unscored_reason if r.judgement else 'not judged'}"
                for r in (outcome.xy, outcome.yx)
                if not r.ok
            )
            return Score.unscored(reason=reasons, metadata=record)
        value = {
            "score_x": outcome.score_x,
            "plus_diff_xy": float(outcome.xy.plus_diff),
            "plus_diff_yx": float(outcome.yx.plus_diff),
            "flipped": float(outcome.flipped),
            "slot_a_wins": float(outcome.slot_a_wins),
            "slot_b_wins": float(outcome.slot_b_wins),
        }
        return Score(
            value=value,
            answer=f"X as A: {outcome.xy.verdict}; X as B: {outcome.yx.verdict}",
            explanation=f"score for {meta['model_x']}: {outcome.score_x:.3f}"
            + (" (verdict flips with the order)" if outcome.flipped else ""),
            metadata=record,
        )

    return score


__all__ = [
    "bootstrap_ci",
    "checklist_criterion",
    "eqbench_creative_score",
    "eqbench_longform_score",
    "judge_checklist",
    "longbench_values",
    "longbench_write_score",
    "pairwise_ratings",
    "pairwise_score",
    "position_bias",
    "writingbench_score",
]
