"""Inspect scorers: the rubric judge (``story_quality``, ``rubric_scorer``) and the
LLM-free ``length_adherence``.

The judge scorers call ``polaris_bench.judging.judge.judge_story``, the same code path as the
training reward, once per member of the judge panel (``polaris_bench.judging.panel``,
which states the metadata contract). A sample whose panel has fewer than ``panel_min``
usable replies ends as ``Score.unscored`` with the reasons in ``Score.reason`` and
``metadata["unscored_reason"]``: excluded from metrics, never 0.
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai.model import Model
from inspect_ai.scorer import (
    Score,
    Scorer,
    Target,
    mean,
    scorer,
)
from inspect_ai.solver import TaskState

from polaris_bench.judging.judge import (
    DEFAULT_JUDGE_ATTEMPTS,
    JudgeConfig,
    Judgement,
    judge_story,
)
from polaris_bench.judging.panel import (
    DEFAULT_JUDGES,
    MemberResult,
    Panel,
    PanelResult,
    judge_with_panel,
    panel_members,
)
from polaris_bench.judging.rubric import Rubric, load_rubric
from polaris_bench.metrics.scorer import _key_metrics
from polaris_bench.story import prompt_text, story_text


def make_panel(judges: str | tuple[str, ...] = DEFAULT_JUDGES, panel_aggregate: str = "mean", panel_min: int = 1) -> Panel:
    """A ``Panel`` from a scorer's arguments (``judges``: comma-separated roles)."""
    roles = tuple(r.strip() for r in judges.split(",")) if isinstance(judges, str) else tuple(judges)
    return Panel(judges=roles, aggregate=panel_aggregate, min_ok=panel_min)


def judgement_member(judgement: Judgement, keys: list[str] | None = None) -> MemberResult:
    """One member's panel entry from its ``judge_story`` outcome."""
    value = None
    if judgement.ok and judgement.result is not None:
        value = dict(judgement.result)
        for key in keys or ():  # a declared key this rubric does not produce: no value
            value.setdefault(key, math.nan)
    return MemberResult(
        value=value,
        criteria=dict(judgement.scores) if judgement.ok and judgement.scores else None,
        attempts=judgement.attempts,
        unscored_reason=judgement.unscored_reason,
        source=judgement,
    )


def panel_judgement_metadata(rubric: Rubric, result: PanelResult, value: dict[str, float] | None) -> dict[str, Any]:
    """Top-level metadata of a rubric-judged sample: one judge's own metadata for a
    one-member panel; for several, the shared fields, the panel's criteria and label,
    and each member's detail (with its evidence) in ``panel``."""
    judgements: list[Judgement] = [r.source for r in result.results]
    if result.single:
        return judgements[0].metadata() | result.metadata()
    for r, j in zip(result.results, judgements):
        r.details["evidence"] = j.evidence if j.ok else None
    first = judgements[0]
    main = (value or {}).get("overall")
    meta: dict[str, Any] = {
        "rubric": rubric.id,
        "rubric_sha256": rubric.sha256,
        "template_sha256": first.template_sha256,
        "judge_mode": "compact" if first.compact else "full",
        "attempts": sum(j.attempts for j in judgements),
        "criteria": result.criteria() or None,
        "criterion_names": first.criterion_names,
        "label": rubric.label_for(main) if main is not None and not math.isnan(main) else None,
        "errors": result.member_errors(),
        **{k: v for k, v in (value or {}).items() if k not in ("overall", "reward")},
    }
    return meta | result.metadata()


def _panel_score(rubric: Rubric, story: str, result: PanelResult, main_key: str) -> Score:
    if not result.scored:
        meta = panel_judgement_metadata(rubric, result, None)
        meta["unscored_reason"] = result.unscored_reason
        return Score.unscored(
            reason=result.unscored_reason,
            answer=story[:200],
            explanation="judge reply could not be used",
            metadata=meta,
        )
    value = result.value()
    meta = panel_judgement_metadata(rubric, result, value)
    label = meta.get("label")
    panel_note = "" if result.single else f" (panel of {len(result.results)}, {result.panel.aggregate})"
    return Score(
        value=value,
        answer=story[:200],
        explanation=f"{rubric.title}: {main_key}={value[main_key]:.2f}" + (f" ({label})" if label else "") + panel_note,
        metadata=meta,
    )


def make_rubric_scorer(
    rubric: Rubric,
    *,
    judge: JudgeConfig,
    grader: Model | str | None = None,
    keys: list[str] | None = None,
    group_key: str | None = "bucket",
    panel: Panel = Panel(),
) -> Scorer:
    """A scorer body for ``rubric`` judged by ``panel`` (an explicit ``grader`` model
    replaces it with that one judge); the registered scorers below wrap it."""

    main_key = "overall" if rubric.aggregation.kind == "polaris_sq" else rubric.aggregation.name

    async def score(state: TaskState, target: Target) -> Score:
        story = story_text(state)
        prompt = prompt_text(state)

        async def one(model: Model) -> MemberResult:
            return judgement_member(await judge_story(rubric, prompt, story, model, judge), keys)

        result = await judge_with_panel(panel, panel_members(panel, grader), one)
        return _panel_score(rubric, story, result, main_key)

    return score


SQ_KEYS = [
    "overall", "reward", "published_overall", "published_overall_recomputed", "totals_mismatch",
    "positive_total", "negative_total", "bonus", "penalty",
]
# The keys the log's summary aggregates. The others are per-sample values (in the log
# and the store, where `polaris leaderboard --score` ranks by any of them): Inspect
# copies every sample's score once per aggregated key, which a judge panel's metadata
# makes the main cost of scoring (bench/panel_overhead.py).
SQ_SUMMARY_KEYS = ["overall", "reward", "published_overall"]


@scorer(metrics=[*_key_metrics(SQ_SUMMARY_KEYS, "bucket"), {"totals_mismatch": [mean()]}])
def story_quality(
    rubric: str = "story_quality",
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    partial_replies: bool = False,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
) -> Scorer:
    """POLARIS Story Quality from the ``grader`` model role: ``overall`` (the training
    formula, [-159, 108]) and ``reward`` = overall / 100; ``published_overall`` (the
    formula of the paper's published table, from the judge's reported totals),
    ``published_overall_recomputed`` (the same from the dimension sums) and
    ``totals_mismatch`` (1 where reported totals and dimensions disagree).
    ``partial_replies``: score replies that leave dimensions out, as the POLARIS
    evaluation code does (``published_overall`` from the reported totals; ``overall``
    no value); by default such a reply is retried, then left unscored. ``judges``,
    ``panel_aggregate``, ``panel_min``: the judge panel (``polaris_bench.judging.panel``)."""
    loaded = load_rubric(rubric)
    if loaded.aggregation.kind != "polaris_sq":
        raise ValueError(f"story_quality needs a polaris_sq rubric; {rubric!r} is {loaded.aggregation.kind}")
    return make_rubric_scorer(
        loaded,
        judge=JudgeConfig(max_attempts=max_attempts, compact=compact, partial_replies=partial_replies),
        grader=grader,
        keys=SQ_KEYS,
        panel=make_panel(judges, panel_aggregate, panel_min),
    )




def _judge_config(compact: bool, max_attempts: int, partial_replies: bool = False) -> JudgeConfig:
    return JudgeConfig(max_attempts=max_attempts, compact=compact, partial_replies=partial_replies)


def _renamed(inner: Scorer, rename: dict[str, str]) -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        result = await inner(state, target)
        if isinstance(result.value, dict):
            result.value = {rename.get(k, k): v for k, v in result.value.items()}
        for entry in (result.metadata or {}).get("panel") or ():  # members' values keep the same keys
            if isinstance(entry.get("value"), dict):
                entry["value"] = {rename.get(k, k): v for k, v in entry["value"].items()}
        return result

    return score

