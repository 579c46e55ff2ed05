"""The training reward: the eval scorer's judge plus the paper's composite.

``StoryReward`` is an async TRL reward function (TRL awaits it on its event loop). For
every completion it

1. drops the thinking (``<think>...</think>``) and keeps the story;
2. judges the story with ``polaris_bench.judging.judge.judge_story`` and the same rubric file
   as the ``story_quality()`` scorer; SQ is ``Judgement.result["reward"]``, exactly the
   scorer's ``Score.value["reward"]``;
3. measures the story with ``polaris_bench.metrics.length`` (self-repetition, band length
   penalty, blank);
4. R = clip(w_sq*SQ - w_rep*self_rep - w_len*length_pen - w_blank*blank, -clip, clip)
   - thinking-length penalty - soft overlong penalty.

All judge calls of a batch run at once, at most ``concurrency`` in flight. A failed
judgment is one the judge could not give: every attempt errored or was unparseable
(``Judgement.ok`` is false) or the story's ``judge.timeout_s`` ran out. It gets the
mean SQ of the batch's successful judgments (the paper's rule), and the fill-in is
counted (``reward/judge_failures``, ``reward/judge_failure_rate``, ``reward/sq_filled``)
and logged as a warning with the reasons. Anything else raised while judging (an
interrupt, a cancellation, a bug) propagates. If every judgment fails the function
returns ``None`` for every row: TRL then gives the batch no advantage and the HRI
trainer skips the optimizer step (see ``hri_trainer``), rather than training on
invented zeros.

Every component is logged as its own metric (``reward/sq``, ``reward/self_rep``, ...)
over the policy rows; the HRI reference row's are logged as ``hri/ref_*``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from inspect_ai.model import GenerateConfig, Model, get_model

from polaris_bench.judging.judge import JudgeConfig, Judgement, judge_story
from polaris_bench.judging.rubric import Rubric, load_rubric
from polaris_bench.metrics.length import (
    band_penalty,
    count_words,
    is_blank,
    parse_target,
)
from polaris_bench.metrics.repetition import self_repetition
from polaris_bench.story import last_user_turn, strip_thinking
from polaris_bench.train.config import (
    JudgeSection,
    OverlongPenalty,
    RewardSection,
    ThinkingPenalty,
)

log = logging.getLogger(__name__)

COMPONENTS = ("sq", "self_rep", "length_pen", "blank", "composite", "think_pen", "overlong_pen", "total")


@dataclass
class RowReward:
    """Every component of one completion's reward."""

    sq: float | None  # None: judgment failed (before the batch-mean fallback)
    self_rep: float
    length_pen: float
    blank: float
    think_tokens: int
    completion_tokens: int | None
    words: int
    ended: bool | None  # ended with an end-of-sequence token (None: no token ids)
    judge_ok: bool
    judge_error: str | None = None
    sq_filled: bool = False  # SQ is the batch mean of the others
    composite: float = math.nan
    think_pen: float = 0.0
    overlong_pen: float = 0.0
    total: float | None = None

    def value(self, name: str) -> float:
        v = getattr(self, name)
        return math.nan if v is None else float(v)


@dataclass
class BatchReward:
    rows: list[RowReward]
    failures: int
    all_failed: bool
    fill_value: float | None
    elapsed_s: float = 0.0
    totals: list[float | None] = field(default_factory=list)


def prompt_text_of(prompt: Any) -> str:
    """The user's text of a prompt given as text or as chat messages."""
    if isinstance(prompt, str):
        return prompt
    return last_user_turn(prompt) or ""


def completion_text_of(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    # TRL gives conversational completions as [{"role": "assistant", "content": ...}]
    parts = [m.get("content") or "" for m in completion if isinstance(m, dict)]
    return "".join(p if isinstance(p, str) else "" for p in parts)


def overlong_penalty(length: int | None, max_length: int | None, buffer: int, factor: float) -> float:
    """DAPO soft overlong punishment as a positive cost in [0, factor]."""
    if length is None or max_length is None or buffer <= 0:
        return 0.0
    start = max_length - buffer
    if length <= start:
        return 0.0
    return factor * min(1.0, (length - start) / buffer)


def row_overlong_penalty(
    length: int | None, ended: bool | None, max_length: int | None, cfg: OverlongPenalty
) -> float:
    """The overlong cost of one completion under ``cfg.apply_to``: ``truncated`` charges
    only a completion that did not end with EOS (the authors' code), ``all`` charges by
    length alone (DAPO's rule)."""
    if not cfg.enabled:
        return 0.0
    if cfg.apply_to == "truncated" and ended is not False:
        return 0.0
    return overlong_penalty(length, max_length, cfg.buffer_tokens, cfg.factor)


def thinking_penalty(think_tokens: int, cfg: ThinkingPenalty) -> float:
    if not cfg.enabled or think_tokens <= cfg.cap_tokens:
        return 0.0
    cost = cfg.per_token * (think_tokens - cfg.cap_tokens)
    return cost if cfg.max_penalty is None else min(cfg.max_penalty, cost)


_THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)


class ThinkCounter:
    """Counts a completion's thinking tokens: the tokens up to ``</think>`` (the closing
    token included when ``count_close_tag``). A completion without ``</think>`` has none,
    unless ``count_unclosed`` and it opened a ``<think>``: then every token counts."""

    def __init__(self, tokenizer: Any | None, cfg: ThinkingPenalty | None = None):
        self.tokenizer = tokenizer
        self.cfg = cfg if cfg is not None else ThinkingPenalty()
        self.close_id: int | None = None
        if tokenizer is not None:
            ids = tokenizer("</think>", add_special_tokens=False)["input_ids"]
            if len(ids) == 1:
                self.close_id = ids[0]

    def count(self, text: str, ids: Sequence[int] | None) -> int:
        lower = text.lower()
        closed = "</think>" in lower
        if not closed and not (self.cfg.count_unclosed and "<think>" in lower):
            return 0
        tag = 1 if closed and self.cfg.count_close_tag else 0
        if ids is not None and self.close_id is not None:
            ids = list(ids)
            return ids.index(self.close_id) + tag if self.close_id in ids else len(ids)
        if closed:
            end = lower.index("</think>")
            thinking = text[: end + len("</think>")] if tag else text[:end]
        else:
            thinking = text
        if self.tokenizer is not None:
            return len(self.tokenizer(thinking, add_special_tokens=False)["input_ids"])
        # no tokenizer: words stand in for tokens (the tags are not words), the closing tag one
        return count_words(_THINK_TAG.sub(" ", thinking)) + tag


def end_token_ids(tokenizer: Any | None) -> set[int]:
    """Ids that end a finished completion: EOS and pad, as TRL's clipped-ratio test has it."""
    if tokenizer is None:
        return set()
    ids = {getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "pad_token_id", None)}
    return {i for i in ids if isinstance(i, int)}


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure_reasons(rows: list[RowReward], limit: int = 3) -> str:
    """The distinct reasons of the failed judgments, most frequent first, with counts."""
    counts = Counter(_short(r.judge_error or "unknown") for r in rows if not r.judge_ok)
    shown = [f"{n} x {reason}" for reason, n in counts.most_common(limit)]
    more = len(counts) - len(shown)
    return "; ".join(shown) + (f"; and {more} other reason(s)" if more else "")


def build_grader(judge: JudgeSection) -> Model:
    """The judge as an Inspect model, with its concurrency and sampling settings."""
    from polaris_bench import _registry  # noqa: F401  (the offline provider, without an installed entry point)

    config = GenerateConfig(
        max_connections=judge.concurrency,
        temperature=judge.temperature,
        top_p=judge.top_p,
    )
    return get_model(
        judge.model, config=config, base_url=judge.base_url, memoize=False, **judge.model_args
    )


class StoryReward:
    """Async TRL reward function; see the module docstring."""

    def __init__(
        self,
        rubric: Rubric | str = "story_quality",
        grader: Model | str | None = None,
        judge_config: JudgeConfig = JudgeConfig(),
        reward: RewardSection = RewardSection(),
        concurrency: int = 64,
        timeout_s: float | None = None,
        tokenizer: Any | None = None,
        max_completion_length: int | None = None,
        eos_token_ids: Sequence[int] | None = None,
    ) -> None:
        self.__name__ = "polaris_reward"  # TRL names the reward metrics after it
        self.rubric = load_rubric(rubric) if isinstance(rubric, str) else rubric
        if self.rubric.aggregation.kind != "polaris_sq":
            raise ValueError(f"the training reward needs a polaris_sq rubric, not {self.rubric.aggregation.kind}")
        self.grader = grader
        self.judge_config = judge_config
        self.cfg = reward
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.think = ThinkCounter(tokenizer, reward.thinking)
        # A completion whose last id is one of these finished; the trainer passes its
        # generation EOS ids (``set_eos_token_ids``).
        self.end_ids = end_token_ids(tokenizer) | set(eos_token_ids or ())
        self.max_length = reward.overlong.max_length or max_completion_length
        o = reward.overlong
        if o.enabled and o.apply_to == "truncated" and self.max_length and not self.end_ids:
            raise ValueError(
                "reward.overlong.apply_to=truncated must tell finished completions from cut ones: "
                "pass tokenizer= or eos_token_ids="
            )
        self.last: BatchReward | None = None
        self.total_failures = 0
        self.total_filled = 0
        self.total_skipped_batches = 0

    @classmethod
    def from_config(
        cls, judge: JudgeSection, reward: RewardSection, tokenizer: Any | None = None,
        max_completion_length: int | None = None, grader: Model | str | None = None,
    ) -> "StoryReward":
        return cls(
            rubric=judge.rubric,
            grader=grader if grader is not None else build_grader(judge),
            judge_config=JudgeConfig(
                max_attempts=judge.max_attempts,
                compact=judge.compact,
                seed=judge.seed,
                temperature=judge.temperature,
                max_tokens=judge.max_tokens,
            ),
            reward=reward,
            concurrency=judge.concurrency,
            timeout_s=judge.timeout_s,
            tokenizer=tokenizer,
            max_completion_length=max_completion_length,
        )

    def set_eos_token_ids(self, ids: Sequence[int]) -> None:
        """The generation's end-of-sequence ids (TRL's ``trainer.eos_token_ids``)."""
        self.end_ids |= {int(i) for i in ids}

    # -- judging ---------------------------------------------------------------------

    async def _judge_one(self, sem: asyncio.Semaphore, prompt: str, story: str) -> Judgement | str:
        """A ``Judgement`` (``ok`` false when every attempt failed), or the reason the
        story's time ran out. ``judge_story`` already turns provider errors into failed
        attempts, so anything else raised here (an interrupt, a cancellation, a bug in
        the judging code) is not a failed judgment and propagates."""
        async with sem:
            call = judge_story(self.rubric, prompt, story, self.grader, self.judge_config)
            if self.timeout_s is None:
                return await call
            try:
                return await asyncio.wait_for(call, self.timeout_s)
            except TimeoutError:
                return f"TimeoutError: no judgment within judge.timeout_s={self.timeout_s:g} s"

    async def judge_all(self, prompts: list[str], stories: list[str]) -> list[Judgement | str]:
        sem = asyncio.Semaphore(self.concurrency)  # created on the running loop
        return await asyncio.gather(*(self._judge_one(sem, p, s) for p, s in zip(prompts, stories)))

    # -- scoring ---------------------------------------------------------------------

    async def score_batch(
        self,
        prompts: list[str],
        completions: list[str],
        targets: list[int | None],
        completion_ids: list[Sequence[int]] | None = None,
    ) -> BatchReward:
        """Score raw completions (thinking included) against their prompts."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        stories = [strip_thinking(c) for c in completions]
        judgements = await self.judge_all(prompts, stories)
        rows: list[RowReward] = []
        for i, (text, story, target, judged) in enumerate(zip(completions, stories, targets, judgements)):
            ids = completion_ids[i] if completion_ids is not None else None
            words = count_words(story, self.cfg.word_count)
            ok = isinstance(judged, Judgement) and judged.ok
            error = None
            if isinstance(judged, str):
                error = judged
            elif not ok:
                error = judged.unscored_reason
            rows.append(
                RowReward(
                    sq=float(judged.result["reward"]) if ok else None,
                    self_rep=self_repetition(story),
                    length_pen=band_penalty(words, target) if target else 0.0,
                    # the text as written: trailing padding must count (docs/fidelity.md)
                    blank=float(is_blank(strip_thinking(text, strip=False), target)),
                    think_tokens=self.think.count(text, ids),
                    completion_tokens=len(ids) if ids is not None else None,
                    words=words,
                    ended=(len(ids) > 0 and int(ids[-1]) in self.end_ids) if ids is not None else None,
                    judge_ok=ok,
                    judge_error=error,
                )
            )
        good = [r.sq for r in rows if r.sq is not None]
        failures = len(rows) - len(good)
        fill = sum(good) / len(good) if good else None
        batch = BatchReward(rows=rows, failures=failures, all_failed=not good, fill_value=fill)
        c = self.cfg
        for r in rows:
            if r.sq is None and fill is not None:
                r.sq, r.sq_filled = fill, True
            r.think_pen = thinking_penalty(r.think_tokens, c.thinking)
            r.overlong_pen = row_overlong_penalty(r.completion_tokens, r.ended, self.max_length, c.overlong)
            if r.sq is None:  # every judgment failed: no reward at all
                r.total = None
                continue
            raw = c.sq_weight * r.sq - c.self_rep_weight * r.self_rep - c.length_weight * r.length_pen
            raw -= c.blank_weight * r.blank
            r.composite = max(-c.clip, min(c.clip, raw))
            r.total = r.composite - r.think_pen - r.overlong_pen
        batch.totals = [r.total for r in rows]
        batch.elapsed_s = loop.time() - t0
        self.total_failures += failures
        self.total_filled += sum(r.sq_filled for r in rows)
        if failures:
            reasons = failure_reasons(rows)
            if batch.all_failed:
                self.total_skipped_batches += 1
                log.warning(
                    "all %d judgments of this batch failed; the batch gets no reward and its step is "
                    "skipped. Reasons: %s", len(rows), reasons,
                )
            else:
                log.warning(
                    "%d of %d judgments failed; their SQ is the batch mean %.4f of the %d judged "
                    "stories (the paper's rule). Reasons: %s",
                    failures, len(rows), fill, len(rows) - failures, reasons,
                )
        self.last = batch
        return batch

    async def __call__(
        self,
        prompts: list[Any],
        completions: list[Any],
        completion_ids: list[Sequence[int]] | None = None,
        prompt_text: list[str] | None = None,
        target_words: list[int | None] | None = None,
        hri_reference: list[bool] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list], None] | None = None,
        **_: Any,
    ) -> list[float | None]:
        texts = prompt_text or [prompt_text_of(p) for p in prompts]
        targets = target_words or [parse_target(t) for t in texts]
        batch = await self.score_batch(
            list(texts), [completion_text_of(c) for c in completions], list(targets), completion_ids
        )
        if log_metric is not None:
            self.log_batch(batch, log_metric, hri_reference)
        if log_extra is not None:
            for name in ("sq", "self_rep", "length_pen", "blank", "overlong_pen", "think_pen"):
                log_extra(name, [r.value(name) for r in batch.rows])
            log_extra("judge_ok", [int(r.judge_ok) for r in batch.rows])
            log_extra("sq_filled", [int(r.sq_filled) for r in batch.rows])
            if hri_reference is not None:
                log_extra("hri_reference", [int(bool(x)) for x in hri_reference])
        return batch.totals

    @staticmethod
    def log_batch(
        batch: BatchReward, log_metric: Callable[[str, float], None], hri_reference: list[bool] | None = None
    ) -> None:
        is_ref = hri_reference or [False] * len(batch.rows)
        policy = [r for r, ref in zip(batch.rows, is_ref) if not ref]
        refs = [r for r, ref in zip(batch.rows, is_ref) if ref]

        def mean(rows: list[RowReward], name: str) -> float | None:
            vals = [r.value(name) for r in rows if not math.isnan(r.value(name))]
            return sum(vals) / len(vals) if vals else None

        for prefix, rows in (("reward", policy), ("hri/ref", refs)):
            if not rows:
                continue
            for name in COMPONENTS:
                m = mean(rows, name)
                if m is not None:
                    log_metric(f"{prefix}/{name}", m)
        log_metric("reward/judge_failures", float(batch.failures))
        log_metric("reward/judge_failure_rate", batch.failures / max(1, len(batch.rows)))
        log_metric("reward/sq_filled", float(sum(r.sq_filled for r in batch.rows)))
        log_metric("reward/all_judgments_failed", float(batch.all_failed))
        log_metric("reward/judge_phase_s", batch.elapsed_s)
