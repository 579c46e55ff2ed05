"""Pairwise story comparison for ``story_elo``: the plus-margin verdict rule, dual-order
judging, position bias, and pairing stories of several models from Inspect logs.

One comparison of story X and story Y for the same prompt is judged twice, once with X
as "Story A" and once with X as "Story B"; the labels are the only names the judge
sees. In each order the judge gives every one of the nine criteria a signed margin of
1-5 pluses (rubric ``story_elo``); ``plus_diff`` = pluses for A - pluses for B maps to a
verdict and a score for A:

    plus_diff >= 10: A>>B 1.0 | > 0: A>B 0.75 | 0: tie 0.5 | > -10: B>A 0.25 | else B>>A 0.0

X's score for the pair is the mean of its two single-order scores. A *position flip*
is a pair whose winner (X, Y or tie) differs between the two orders.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from inspect_ai.model import Model

from polaris_bench.judging.judge import JudgeConfig, Judgement, judge_story
from polaris_bench.judging.rubric import Rubric
from polaris_bench.story import strip_thinking

Verdict = Literal["A>>B", "A>B", "tie", "B>A", "B>>A"]
STRONG_MARGIN = 10
VERDICT_SCORE: dict[str, float] = {"A>>B": 1.0, "A>B": 0.75, "tie": 0.5, "B>A": 0.25, "B>>A": 0.0}
PAIRWISE_RUBRIC = "story_elo"


def verdict_for(plus_diff: int | float) -> Verdict:
    """The POLARIS verdict for pluses(A) - pluses(B)."""
    if plus_diff >= STRONG_MARGIN:
        return "A>>B"
    if plus_diff > 0:
        return "A>B"
    if plus_diff == 0:
        return "tie"
    if plus_diff > -STRONG_MARGIN:
        return "B>A"
    return "B>>A"


def score_for_a(plus_diff: int | float) -> float:
    return VERDICT_SCORE[verdict_for(plus_diff)]


def _direction(score: float) -> int:
    """+1 the scored side won, -1 it lost, 0 tie."""
    return (score > 0.5) - (score < 0.5)


# -- one comparison in one order -------------------------------------------------------


@dataclass(frozen=True)
class OrderResult:
    """One judge call: who sat in slot A, the signed margins and the verdict."""

    order: Literal["XY", "YX"]  # XY: X is Story A
    margins: dict[str, int] | None  # criterion id -> signed margin (+ = A)
    judgement: Judgement | None = None

    @property
    def ok(self) -> bool:
        return self.margins is not None

    @property
    def plus_a(self) -> int:
        return sum(m for m in (self.margins or {}).values() if m > 0)

    @property
    def plus_b(self) -> int:
        return -sum(m for m in (self.margins or {}).values() if m < 0)

    @property
    def plus_diff(self) -> int:
        return self.plus_a - self.plus_b

    @property
    def draws(self) -> int:
        """Criteria the judge left at 0 despite the no-draw rule (they add no pluses)."""
        return sum(1 for m in (self.margins or {}).values() if m == 0)

    @property
    def verdict(self) -> Verdict:
        return verdict_for(self.plus_diff)

    @property
    def score_a(self) -> float:
        return score_for_a(self.plus_diff)

    @property
    def score_x(self) -> float:
        """X's score in this order (X is A in order XY, B in order YX)."""
        return self.score_a if self.order == "XY" else 1.0 - self.score_a


@dataclass(frozen=True)
class PairOutcome:
    """Both orders of one X-vs-Y comparison."""

    xy: OrderResult
    yx: OrderResult

    @property
    def ok(self) -> bool:
        return self.xy.ok and self.yx.ok

    @property
    def score_x(self) -> float:
        if not self.ok:
            raise ValueError("pair not fully judged")
        return (self.xy.score_x + self.yx.score_x) / 2

    @property
    def flipped(self) -> bool:
        """The winner changes with the order (X in one, Y or a tie in the other, ...)."""
        return _direction(self.xy.score_x) != _direction(self.yx.score_x)

    @property
    def slot_a_wins(self) -> int:
        """How many of the two orders the story in slot A won (0-2)."""
        return sum(1 for r in (self.xy, self.yx) if r.score_a > 0.5)

    @property
    def slot_b_wins(self) -> int:
        return sum(1 for r in (self.xy, self.yx) if r.score_a < 0.5)


class PositionCounts(Protocol):
    """What position bias is computed from, per judged pair: a ``PairOutcome``, or the
    pair's score value as a ``PairCounts`` (``story_elo``'s metric)."""

    @property
    def flipped(self) -> float: ...
    @property
    def slot_a_wins(self) -> float: ...
    @property
    def slot_b_wins(self) -> float: ...


@dataclass(frozen=True)
class PairCounts:
    """A judge panel's counts are its aggregate (``flipped`` 1/3: one member of three
    flipped)."""

    flipped: float
    slot_a_wins: float
    slot_b_wins: float


def position_bias(pairs: Iterable[PositionCounts]) -> dict[str, float]:
    """``flip_rate``: share of pairs whose winner changes with the order;
    ``slot_a_win_rate``: share of decisive single-order verdicts won by slot A
    (0.5 = no position preference). Pairs not judged in both orders are left out."""
    done = [p for p in pairs if getattr(p, "ok", True)]
    if not done:
        return {"flip_rate": float("nan"), "slot_a_win_rate": float("nan")}
    a = sum(p.slot_a_wins for p in done)
    b = sum(p.slot_b_wins for p in done)
    return {
        "flip_rate": sum(float(p.flipped) for p in done) / len(done),
        "slot_a_win_rate": a / (a + b) if a + b else float("nan"),
    }


# -- judging ---------------------------------------------------------------------------


def truncate_words(text: str, max_words: int | None) -> str:
    """The first ``max_words`` whitespace-separated words (None: unchanged), keeping
    the original spacing of what is kept."""
    if max_words is None:
        return text
    if max_words < 1:
        raise ValueError("max_words must be positive")
    matches = list(re.finditer(r"\S+", text))
    if len(matches) <= max_words:
        return text
    return text[: matches[max_words - 1].end()] + " [...]"


def pair_text(story_a: str, story_b: str) -> str:
    """What the judge sees as "the story": both stories, labelled A and B only."""
    return f"=== Story A ===\n{story_a.strip()}\n=== End of Story A ===\n\n=== Story B ===\n{story_b.strip()}\n=== End of Story B ==="


def prepare_story(text: str, max_words: int | None = None) -> str:
    return truncate_words(strip_thinking(text), max_words)


async def judge_order(
    rubric: Rubric,
    prompt: str,
    story_a: str,
    story_b: str,
    order: Literal["XY", "YX"],
    grader: Model | str | None = None,
    config: JudgeConfig = JudgeConfig(),
) -> OrderResult:
    judgement = await judge_story(rubric, prompt, pair_text(story_a, story_b), grader, config)
    return OrderResult(order=order, margins=dict(judgement.scores) if judgement.ok and judgement.scores else None, judgement=judgement)


async def judge_pair(
    rubric: Rubric,
    prompt: str,
    story_x: str,
    story_y: str,
    grader: Model | str | None = None,
    config: JudgeConfig = JudgeConfig(),
    max_words: int | None = None,
) -> PairOutcome:
    """Judge X vs Y in both orders (concurrently); thinking stripped, optional truncation."""
    x, y = prepare_story(story_x, max_words), prepare_story(story_y, max_words)
    xy, yx = await asyncio.gather(
        judge_order(rubric, prompt, x, y, "XY", grader, config),
        judge_order(rubric, prompt, y, x, "YX", grader, config),
    )
    return PairOutcome(xy=xy, yx=yx)


# -- stories from Inspect logs -----------------------------------------------------------
