"""Reward-hacking alarms over a training run's checkpoint evaluations.

* ``divergence``: over the last K evaluations in a row (K = ``alarm.consecutive``), the
  training judge's mean score on the evaluation stories rose (by more than
  ``alarm.min_rise``) each time while the held-out panel's did not rise (it fell or
  stayed): the policy is learning the judge, not the craft.
* ``length_ratio``: the evaluation's mean length ratio left ``alarm.length_ratio_band``.
* ``repetition``: its mean self-repetition went above ``alarm.repetition_max``.

Pure functions of the evaluation summaries, so a resumed run (which reloads its
summaries) raises exactly the alarms the uninterrupted run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from polaris_bench.train.config import AlarmSection

KINDS = ("divergence", "length_ratio", "repetition")


@dataclass(frozen=True)
class EvalPoint:
    step: int
    train_judge_score: float | None
    heldout_score: float | None
    length_ratio: float | None
    self_repetition: float | None


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def divergence(history: list[EvalPoint], k: int, min_rise: float) -> str | None:
    """The divergence alarm's message for the newest point of ``history`` (by step), or None."""
    if len(history) < k + 1:
        return None
    window = history[-(k + 1):]
    for a, b in pairwise(window):
        if None in (a.train_judge_score, b.train_judge_score, a.heldout_score, b.heldout_score):
            return None
        if not (b.train_judge_score - a.train_judge_score > min_rise and b.heldout_score <= a.heldout_score):
            return None
    first, last = window[0], window[-1]
    return (
        f"divergence: over {k} consecutive evaluations (steps {first.step}->{last.step}) the training judge's score "
        f"rose {_f(first.train_judge_score)} -> {_f(last.train_judge_score)} while the held-out panel's did not rise "
        f"({_f(first.heldout_score)} -> {_f(last.heldout_score)})"
    )


def alarms(history: list[EvalPoint], cfg: AlarmSection) -> list[str]:
    """Every alarm raised at the newest evaluation of ``history`` (sorted by step)."""
    if not history:
        return []
    out: list[str] = []
    diverged = divergence(history, cfg.consecutive, cfg.min_rise)
    if diverged:
        out.append(diverged)
    latest = history[-1]
    low, high = cfg.length_ratio_band
    if latest.length_ratio is not None and not low <= latest.length_ratio <= high:
        out.append(f"length_ratio: mean length ratio {_f(latest.length_ratio)} at step {latest.step} is outside "
                   f"[{low}, {high}]")
    if latest.self_repetition is not None and latest.self_repetition > cfg.repetition_max:
        out.append(f"repetition: mean self-repetition {_f(latest.self_repetition)} at step {latest.step} is above "
                   f"{cfg.repetition_max}")
    return out


def kind(message: str) -> str:
    return message.split(":", 1)[0]
