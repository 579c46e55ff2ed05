"""Inspect logs with judge panels, built by hand (no model calls) for the store tests.

Each log is one writer on ``length_gen``: one sample per prompt, scored by
``story_quality`` with ``metadata["panel"]`` in the panel contract (one entry per
member: role, model, value, criteria, attempts, unscored_reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROLES = ("grader", "grader_b", "grader_c")
JUDGES = ("offline/judge-a", "offline/judge-b", "offline/judge-c")


def member(role: str, model: str, overall: float | None, criteria: dict[str, int] | None = None,
           reason: str | None = None) -> dict:
    value = None if overall is None else {"overall": overall, "reward": overall / 100}
    return {"role": role, "model": model, "value": value, "criteria": criteria if overall is not None else None,
            "attempts": 1 if overall is not None else 2, "unscored_reason": reason if overall is None else None}


def _length():
    from inspect_ai.scorer import Score

    return Score(value={"words": 900.0, "length_ratio": 0.9, "truncated": False, "blank": False})


def _aggregate(values: list[float], how: str) -> float:
    v = sorted(values)
    if how == "median":
        return float(np.median(v))
    if how == "trimmed" and len(v) >= 3:
        return float(np.mean(v[1:-1]))
    return float(np.mean(v))


def panel_log(path: Path, writer: str, panels: Sequence[list[dict] | None], *, aggregate: str = "mean",
              panel_min: int = 1, eval_id: str | None = None, legacy: Sequence[tuple[float | None, dict]] = ()) -> Path:
    """Write a log: sample i (prompt p{i}) judged by ``panels[i]`` (a list of member
    entries). ``legacy``: samples scored the pre-panel way (value, criteria), no panel."""
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalSample,
        EvalSpec,
        write_eval_log,
    )
    from inspect_ai.log._log import EvalResults, EvalStats
    from inspect_ai.model import ModelConfig
    from inspect_ai.scorer import Score

    samples = []
    judge = "+".join(m["model"] for m in panels[0] if isinstance(m, dict)) if panels else JUDGES[0]
    base_meta = {"rubric": "story_quality", "rubric_sha256": "r" * 64, "template_sha256": "t" * 64,
                 "judge_mode": "full", "judge_model": judge}
    for i, panel in enumerate(panels):
        ok = [m["value"]["overall"] for m in panel if isinstance(m, dict) and isinstance(m["value"], dict)]
        meta = {**base_meta, "panel": panel, "panel_aggregate": aggregate, "panel_min": panel_min,
                "panel_size": len(panel), "panel_failed": len(panel) - len(ok)}
        if len(ok) >= panel_min:
            agg = _aggregate(ok, aggregate)
            score = Score(value={"overall": agg, "reward": agg / 100}, metadata=meta)
        else:
            reasons = "; ".join(f"{m['role']}: {m['unscored_reason']}" for m in panel if m["value"] is None)
            score = Score(value=math.nan, reason=reasons, metadata={**meta, "unscored_reason": reasons})
        samples.append(EvalSample(id=f"p{i}@1000", epoch=1, input=f"prompt {i}", target="",
                                  metadata={"prompt_id": f"p{i}", "target_words": 1000},
                                  scores={"story_quality": score, "length_adherence": _length()}))
    for j, (value, criteria) in enumerate(legacy):
        meta = {**base_meta, "judge_model": JUDGES[0], "criteria": criteria, "attempts": 1}
        score = (Score(value={"overall": value, "reward": value / 100}, metadata=meta) if value is not None else
                 Score(value=math.nan, reason="no JSON", metadata={**meta, "unscored_reason": "attempt 1: no JSON"}))
        samples.append(EvalSample(id=f"q{j}@1000", epoch=1, input=f"old prompt {j}", target="",
                                  metadata={"prompt_id": f"q{j}", "target_words": 1000},
                                  scores={"story_quality": score, "length_adherence": _length()}))
    spec = EvalSpec(created="2026-01-01T00:00:00+00:00", task="length_gen", dataset=EvalDataset(name="length_gen"),
                    model=writer, config=EvalConfig(), model_roles={"grader": ModelConfig(model=JUDGES[0])},
                    **({"eval_id": eval_id} if eval_id else {}))
    log = EvalLog(eval=spec, status="success", samples=samples,
                  results=EvalResults(total_samples=len(samples), completed_samples=len(samples)),
                  stats=EvalStats(started_at="2026-01-01T00:00:00+00:00", completed_at="2026-01-01T00:01:00+00:00"))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, str(path))
    return path


def pairwise_panel_log(path: Path, verdicts: Sequence[Sequence[float]]) -> Path:
    """A story_elo log: pair i (writer-a vs writer-b on prompt p{i}) judged by three
    members whose ``score_x`` are ``verdicts[i]``; the score is their mean."""
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalSample,
        EvalSpec,
        write_eval_log,
    )
    from inspect_ai.log._log import EvalResults, EvalStats
    from inspect_ai.scorer import Score

    samples = []
    for i, row in enumerate(verdicts):
        panel = [{"role": r, "model": m, "value": {"score_x": v}, "criteria": None, "attempts": 1,
                  "unscored_reason": None} for r, m, v in zip(ROLES, JUDGES, row)]
        meta = {"judge_model": "+".join(JUDGES), "rubric_sha256": "p" * 64, "model_x": "offline/writer-a",
                "model_y": "offline/writer-b", "panel": panel, "panel_aggregate": "mean", "panel_size": 3,
                "panel_failed": 0}
        samples.append(EvalSample(id=f"p{i}", epoch=1, input=f"pair {i}", target="",
                                  metadata={"prompt_id": f"p{i}", "sample_id": f"p{i}@1000"},
                                  scores={"pairwise_score": Score(value={"score_x": float(np.mean(row))},
                                                                  metadata=meta)}))
    spec = EvalSpec(created="2026-01-01T00:00:00+00:00", task="story_elo", dataset=EvalDataset(name="story_elo"),
                    model="none/none", config=EvalConfig())
    log = EvalLog(eval=spec, status="success", samples=samples,
                  results=EvalResults(total_samples=len(samples), completed_samples=len(samples)),
                  stats=EvalStats(started_at="2026-01-01T00:00:00+00:00", completed_at="2026-01-01T00:01:00+00:00"))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, str(path))
    return path
