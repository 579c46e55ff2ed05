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
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inspect_ai.model import Model

from .paths import resolve_user_path
from .judge import JudgeConfig, Judgement, judge_story
from .length import strip_thinking
from .rubric import Rubric

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


def position_bias(outcomes: Iterable[PairOutcome]) -> dict[str, float]:
    """``flip_rate``: share of pairs whose winner changes with the order;
    ``slot_a_win_rate``: share of decisive single-order verdicts won by slot A
    (0.5 = no position preference)."""
    done = [o for o in outcomes if o.ok]
    if not done:
        return {"flip_rate": float("nan"), "slot_a_win_rate": float("nan")}
    a = sum(o.slot_a_wins for o in done)
    b = sum(o.slot_b_wins for o in done)
    return {
        "flip_rate": sum(o.flipped for o in done) / len(done),
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


class PairingError(ValueError):
    """Logs or generations that cannot be paired (the message says which and why)."""


@dataclass(frozen=True)
class StoryRecord:
    model: str
    sample_id: str
    epoch: int
    prompt: str
    story: str
    source: str


@dataclass
class StoryPool:
    """Stories per model, keyed by (sample id, epoch); ``skipped`` counts samples left
    out per model with the reason (an errored sample has no story)."""

    stories: dict[str, dict[tuple[str, int], StoryRecord]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, record: StoryRecord) -> None:
        by_key = self.stories.setdefault(record.model, {})
        key = (record.sample_id, record.epoch)
        if key in by_key:
            raise PairingError(
                f"{record.source}: model {record.model!r} already has a story for sample "
                f"{record.sample_id!r} epoch {record.epoch} (from {by_key[key].source})"
            )
        by_key[key] = record

    def skip(self, model: str, reason: str) -> None:
        per = self.skipped.setdefault(model, {})
        per[reason] = per.get(reason, 0) + 1

    @property
    def models(self) -> list[str]:
        return sorted(self.stories)


def log_paths(spec: str | Sequence[str]) -> list[Path]:
    """``a.eval,b.eval`` or a list of paths; a folder stands for every log inside it."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    paths: list[Path] = []
    for item in items:
        if not item:
            continue
        p = resolve_user_path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.suffix in (".eval", ".json") and q.is_file())
            if not found:
                raise PairingError(f"{p}: no Inspect logs (.eval/.json) in this folder")
            paths.extend(found)
        elif p.exists():
            paths.append(p)
        else:
            raise PairingError(f"{p}: log file not found")
    if not paths:
        raise PairingError("no logs given (use -T logs=a.eval,b.eval or a folder)")
    return paths


def _input_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    users = [m for m in value if getattr(m, "role", None) == "user"]
    return users[0].text if users else ""


def stories_from_logs(spec: str | Sequence[str]) -> StoryPool:
    """Read the writers' stories from Inspect logs (no regeneration)."""
    from inspect_ai.log import read_eval_log

    pool = StoryPool()
    for path in log_paths(spec):
        try:
            log = read_eval_log(str(path))
        except Exception as exc:
            raise PairingError(f"{path}: not a readable Inspect log ({exc})") from exc
        if log.eval.task.split("/")[-1] == "story_elo":
            continue  # a folder may hold earlier comparison runs: they hold no stories
        if not log.samples:
            raise PairingError(f"{path}: the log has no samples (status {log.status})")
        for sample in log.samples:
            # a run that judged a generations file names the writer in each row
            model = (sample.metadata or {}).get("generation_model") or log.eval.model
            if sample.error is not None:
                pool.skip(model, "sample error")
                continue
            story = sample.output.completion if sample.output else ""
            prompt = (sample.metadata or {}).get("prompt") or _input_text(sample.input)
            pool.add(
                StoryRecord(
                    model=model,
                    sample_id=str(sample.id),
                    epoch=int(sample.epoch or 1),
                    prompt=prompt,
                    story=story,
                    source=str(path),
                )
            )
    return pool


def stories_from_generations(path: str | Path) -> StoryPool:
    """Rows with ``model``, an id, ``prompt`` and the story (see datasets.generations)."""
    from .datasets._common import DatasetError, as_id, existing_path, read_jsonl
    from .datasets.generations import ID_FIELDS, STORY_FIELDS

    p = existing_path(path, "generations", override="-T generations=")
    pool = StoryPool()
    for line, row in read_jsonl(p):
        model = row.get("model")
        if not isinstance(model, str) or not model.strip():
            raise DatasetError(p, "story_elo generations need a 'model' field on every row", line)
        id_key = next((k for k in ID_FIELDS if k in row), None)
        story_key = next((k for k in STORY_FIELDS if k in row), None)
        if id_key is None or story_key is None:
            raise DatasetError(p, "a row needs an id (id/sample_id/uid/prompt_id) and a story (story/output/completion/response)", line)
        prompt, story = row.get("prompt"), row[story_key]
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetError(p, "story_elo generations need the 'prompt' text on every row", line)
        if not isinstance(story, str):
            raise DatasetError(p, f"field {story_key!r} must be a string", line)
        epoch = row.get("epoch", 1)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
            raise DatasetError(p, "field 'epoch' must be a positive integer", line)
        try:
            pool.add(StoryRecord(model, as_id(row[id_key], id_key, p, line), epoch, prompt, story, f"{p}:{line}"))
        except PairingError as exc:
            raise DatasetError(p, str(exc), line) from exc
    return pool


@dataclass(frozen=True)
class Pair:
    """Two models' stories for the same sample (X sorts before Y)."""

    sample_id: str
    epoch: int
    prompt: str
    x: StoryRecord
    y: StoryRecord

    @property
    def id(self) -> str:
        suffix = f"#{self.epoch}" if self.epoch != 1 else ""
        return f"{self.sample_id}{suffix}|{self.x.model}|{self.y.model}"


def round_robin(pool: StoryPool, models: Sequence[str] | None = None) -> list[Pair]:
    """Every pair of models on every sample both have a story for."""
    names = sorted(models) if models else pool.models
    missing = [m for m in names if m not in pool.stories]
    if missing:
        raise PairingError(f"no stories for model(s) {missing}; models in the logs: {pool.models}")
    if len(names) < 2:
        raise PairingError(f"story_elo needs stories of at least two models; found {names}")
    pairs: list[Pair] = []
    for mx, my in itertools.combinations(names, 2):
        sx, sy = pool.stories[mx], pool.stories[my]
        common = sorted(set(sx) & set(sy))
        for key in common:
            a, b = sx[key], sy[key]
            if a.prompt.strip() != b.prompt.strip():
                raise PairingError(
                    f"sample {key[0]!r}: the prompts of {mx!r} ({a.source}) and {my!r} ({b.source}) "
                    "differ; pair logs of the same task and dataset"
                )
            pairs.append(Pair(sample_id=key[0], epoch=key[1], prompt=a.prompt, x=a, y=b))
    if not pairs:
        raise PairingError(f"the models {names} share no sample id; pair logs of the same task and dataset")
    return pairs
