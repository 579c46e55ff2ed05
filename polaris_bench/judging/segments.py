"""Quality along the story: a long story judged window by window, and its decay.

``-T segments=<words>`` on ``length_gen`` and ``story_quality`` adds the scorer
``story_segments``. The story is cut into windows of about that many words
(``polaris_bench.metrics.windows.split_windows``: paragraph boundaries first, the
positions counted by the paper's word rule), and each window is

* judged with ``rubrics/story_segment.yaml`` (``quality``, 0-100) through the one
  judging path, ``judge_story``, by every member of the judge panel (``-T judges=``),
  with its retries: a window whose judges all fail is unscored with the reason, never 0.
  The judge sees the writing prompt, a digest of the story before the window (below)
  and the window. All windows of a story, and all members, are judged at once.
* measured without an LLM: ``self_repetition`` (the paper's formula within the
  window), ``overlap_prior`` (the share of the window's 4-grams that already occurred
  in an earlier window; 0.0 for the first) and ``cliche_rate`` (hits per 1,000 words).

The digest ("the story so far") is extractive, so it costs no extra LLM call and says
nothing the writer did not write: the first sentence of each earlier paragraph (each
sentence cut at 40 words), or, for a story without paragraph breaks, its sentences;
when they exceed 150 words, evenly spaced ones from the first to the most recent are
kept. The first window gets a note that it opens the story.

Decay, per sample, over the scored windows:

* ``decay_slope``: the least-squares slope of window quality against the window's
  midpoint word position, in quality points per 1,000 words (``scipy.stats.linregress``);
  NaN with fewer than two scored windows;
* ``decay_onset``: ``first_word`` of the first window whose quality is more than
  ``decay_margin`` points (default 5 on the 0-100 scale) below window 0's; NaN when
  none is, or when window 0 is unscored (no reference).

Score value keys (floats; NaN = no value): ``decay_slope``, ``decay_onset``,
``windows``, ``windows_scored``, ``first_quality`` and ``last_quality`` (window 0's and
the last window's, NaN where unscored), ``mean_quality`` (over scored windows),
``self_repetition_growth`` and ``cliche_rate_growth`` (last window minus first; NaN for
a one-window story). A story whose every window is unscored is ``Score.unscored``
with the reason. Metadata: ``segment_words``, ``decay_margin`` and ``segments``, one
entry per window: ``index``, ``first_word``, ``last_word``, ``words``, ``value`` (the
window's rubric values incl. ``quality``, or null), ``criteria``, ``attempts``,
``self_repetition``, ``overlap_prior``, ``cliche_rate``, ``unscored_reason`` and, with
several judges, ``panel`` (each member as ``polaris_bench.judging.panel`` records it).
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inspect_ai.model import Model
from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import TaskState

from polaris_bench.judging.judge import DEFAULT_JUDGE_ATTEMPTS, JudgeConfig, judge_story
from polaris_bench.judging.panel import (
    Member,
    Panel,
    PanelResult,
    judge_with_panel,
    panel_members,
)
from polaris_bench.judging.rubric import Rubric, WeightedMeanAggregation, load_rubric
from polaris_bench.judging.scorers import judgement_member, make_panel
from polaris_bench.metrics.length import count_words
from polaris_bench.metrics.repetition import ngram_overlap, ngrams, self_repetition
from polaris_bench.metrics.scorer import _key_metrics
from polaris_bench.metrics.windows import Window, paragraphs, sentences, split_windows
from polaris_bench.story import prompt_text, story_text

if TYPE_CHECKING:
    from polaris_bench.metrics.cliche import Lexicon

DEFAULT_SEGMENT_RUBRIC = "story_segment"
DEFAULT_SEGMENT_WORDS = 2000
MIN_SEGMENT_WORDS = 100  # below this a window is a paragraph or two: too little to judge craft
DEFAULT_DECAY_MARGIN = 5.0  # quality points (0-100) below window 0 that count as a drop
DIGEST_WORDS = 150
DIGEST_SENTENCE_WORDS = 40
OPENING_NOTE = "(nothing yet: this passage opens the story)"
VALUE_KEYS = (
    "decay_slope", "decay_onset", "windows", "windows_scored", "first_quality", "last_quality",
    "mean_quality", "self_repetition_growth", "cliche_rate_growth",
)
# The keys the log's summary aggregates (the rest are per-sample values in the log and store).
SUMMARY_KEYS = ["decay_slope", "mean_quality", "first_quality", "last_quality"]

_WORD = re.compile(r"\w+")


# -- the story so far ------------------------------------------------------------------


def _clip(sentence: str, words: int) -> str:
    """``sentence`` cut after its ``words``-th word, with an ellipsis where cut."""
    matches = list(_WORD.finditer(sentence))
    if len(matches) <= words:
        return sentence
    return sentence[: matches[words - 1].end()] + " \u2026"


def story_digest(before: str, cap: int = DIGEST_WORDS) -> str:
    """An extractive digest of ``before`` (the story up to a window) of at most about
    ``cap`` words; see the module docstring. Empty for an empty ``before``."""
    paras = paragraphs(before)
    if len(paras) >= 2:
        items = [(sentences(p) or [p])[0] for p in paras]
    else:
        items = sentences(before)
    items = [_clip(s, DIGEST_SENTENCE_WORDS) for s in items if count_words(s)]
    if not items:
        return ""
    sizes = [count_words(s) for s in items]

    def pick(k: int) -> list[int]:  # k indices evenly spaced from the first to the last
        if k == 1:
            return [len(items) - 1]
        return sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})

    k = len(items)
    while k > 1 and sum(sizes[i] for i in pick(k)) > cap:
        k -= 1
    return "\n".join(items[i] for i in pick(k))


# -- decay -----------------------------------------------------------------------------


def decay(points: Sequence[tuple[int, int, float | None]], margin: float) -> tuple[float, float]:
    """(slope per 1,000 words, onset word) from windows as (first_word, last_word,
    quality or None); see the module docstring."""
    from scipy.stats import (
        linregress,  # scipy.stats takes seconds to import: not at task load
    )

    scored = [(a, b, q) for a, b, q in points if q is not None and not math.isnan(q)]
    slope = math.nan
    if len(scored) >= 2:
        fit = linregress([(a + b) / 2 / 1000 for a, b, _ in scored], [q for _, _, q in scored])
        slope = float(fit.slope)
    onset = math.nan
    reference = points[0][2] if points else None
    if reference is not None and not math.isnan(reference):
        onset = next((float(a) for a, _, q in scored[1:] if q < reference - margin), math.nan)
    return slope, onset


# -- one window ------------------------------------------------------------------------


@dataclass
class WindowResult:
    window: Window
    judged: PanelResult
    value: dict[str, float] | None
    self_repetition: float
    overlap_prior: float
    cliche_rate: float

    @property
    def quality(self) -> float | None:
        return None if self.value is None else self.value.get("quality")

    def entry(self) -> dict[str, Any]:
        """The window's entry in ``metadata["segments"]``."""
        w, judged = self.window, self.judged
        out: dict[str, Any] = {
            "index": w.index,
            "first_word": w.first_word,
            "last_word": w.last_word,
            "words": w.words,
            "value": self.value,
            "criteria": (judged.criteria() or None) if self.value is not None else None,
            "attempts": sum(r.attempts for r in judged.results),
            "self_repetition": self.self_repetition,
            "overlap_prior": self.overlap_prior,
            "cliche_rate": self.cliche_rate,
            "unscored_reason": judged.unscored_reason,
        }
        if not judged.single:
            out["panel"] = judged.metadata()["panel"]
        return out


async def judge_windows(
    rubric: Rubric,
    prompt: str,
    story: str,
    size: int,
    *,
    panel: Panel,
    members: Sequence[Member],
    config: JudgeConfig,
    lexicon: Lexicon | None = None,
) -> list[WindowResult]:
    """Every window of ``story`` judged (all at once) and measured."""
    from polaris_bench.metrics.cliche import cliche_rate

    windows = split_windows(story, size)
    starts = [0]
    for w in windows[:-1]:
        starts.append(starts[-1] + len(w.text))

    async def judge(w: Window, start: int) -> PanelResult:
        before = story[:start]
        context = story_digest(before) if w.index > 0 else ""
        text = w.text.strip()

        async def one(model: Model):
            return judgement_member(await judge_story(rubric, prompt, text, model, config, context=context or OPENING_NOTE))

        return await judge_with_panel(panel, members, one)

    judged = await asyncio.gather(*(judge(w, s) for w, s in zip(windows, starts)))
    results: list[WindowResult] = []
    earlier: set[tuple[str, ...]] = set()
    for w, j in zip(windows, judged):
        results.append(
            WindowResult(
                window=w,
                judged=j,
                value=j.value() if j.scored else None,
                self_repetition=self_repetition(w.text),
                overlap_prior=ngram_overlap(w.text, earlier) if w.index > 0 else 0.0,
                cliche_rate=cliche_rate(w.text, lexicon),
            )
        )
        earlier |= ngrams(w.text)
    return results


# -- the score -------------------------------------------------------------------------


def _growth(values: list[float]) -> float:
    return values[-1] - values[0] if len(values) >= 2 else math.nan


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def segments_score(
    results: list[WindowResult], size: int, margin: float, base_meta: dict[str, Any]
) -> Score:
    """The sample's score from its judged windows (see the module docstring)."""
    meta = {**base_meta, "segment_words": size, "decay_margin": margin, "segments": [r.entry() for r in results]}
    if not results:
        reason = "no words to judge (empty story)"
        return Score.unscored(reason=reason, answer="0 windows", metadata=meta | {"unscored_reason": reason})
    scored = [r for r in results if r.value is not None]
    if not scored:
        first = results[0].judged.unscored_reason
        reason = f"all {len(results)} windows unscored; window 0: {first}"
        return Score.unscored(reason=reason, answer=f"{len(results)} windows", metadata=meta | {"unscored_reason": reason})
    slope, onset = decay([(r.window.first_word, r.window.last_word, r.quality) for r in results], margin)
    value = {
        "decay_slope": slope,
        "decay_onset": onset,
        "windows": float(len(results)),
        "windows_scored": float(len(scored)),
        "first_quality": _nan(results[0].quality),
        "last_quality": _nan(results[-1].quality),
        "mean_quality": statistics.fmean(_nan(r.quality) for r in scored),
        "self_repetition_growth": _growth([r.self_repetition for r in results]),
        "cliche_rate_growth": _growth([r.cliche_rate for r in results]),
    }
    trend = "" if math.isnan(slope) else f", slope {slope:+.2f} per 1,000 words"
    return Score(
        value=value,
        answer=f"{len(results)} windows",
        explanation=(
            f"{len(scored)} of {len(results)} windows of ~{size} words scored: quality "
            f"{value['first_quality']:.1f} first, {value['last_quality']:.1f} last{trend}"
        ),
        metadata=meta,
    )


@scorer(metrics=_key_metrics(SUMMARY_KEYS, "bucket"))
def story_segments(
    segment_words: int = DEFAULT_SEGMENT_WORDS,
    decay_margin: float = DEFAULT_DECAY_MARGIN,
    rubric: str = DEFAULT_SEGMENT_RUBRIC,
    compact: bool = False,
    max_attempts: int = DEFAULT_JUDGE_ATTEMPTS,
    grader: str | None = None,
    judges: str = "grader",
    panel_aggregate: str = "mean",
    panel_min: int = 1,
    cliche_list: str | None = None,
) -> Scorer:
    """Quality along the story (see the module docstring): the story in windows of
    about ``segment_words`` words, each judged with ``rubric`` (a weighted_mean rubric
    whose value is named ``quality``) by the panel ``judges`` and measured for
    repetition and clichés (``cliche_list``: one's own list; default the bundled one);
    decay slope and onset (``decay_margin`` quality points)."""
    from polaris_bench.metrics.cliche import load_lexicon

    if isinstance(segment_words, bool) or not isinstance(segment_words, int) or segment_words < MIN_SEGMENT_WORDS:
        raise ValueError(f"segment_words must be an integer >= {MIN_SEGMENT_WORDS}, got {segment_words!r}")
    if not 0 <= decay_margin <= 100:
        raise ValueError(f"decay_margin must be between 0 and 100 quality points, got {decay_margin!r}")
    loaded = load_rubric(rubric)
    if not isinstance(loaded.aggregation, WeightedMeanAggregation) or loaded.aggregation.name != "quality":
        raise ValueError(f"story_segments needs a weighted_mean rubric named 'quality'; {rubric!r} is not one")
    lexicon = load_lexicon(cliche_list)
    panel = make_panel(judges, panel_aggregate, panel_min)
    config = JudgeConfig(max_attempts=max_attempts, compact=compact)

    async def score(state: TaskState, target: Target) -> Score:
        members = panel_members(panel, grader)
        results = await judge_windows(
            loaded, prompt_text(state), story_text(state), segment_words,
            panel=panel, members=members, config=config, lexicon=lexicon,
        )
        sources = [r.source for res in results for r in res.judged.results if r.source is not None]
        base = {
            "rubric": loaded.id,
            "rubric_sha256": loaded.sha256,
            "template_sha256": sources[0].template_sha256 if sources else None,
            "judge_model": "+".join(str(m.model) for m in members),
            "judge_mode": "compact" if compact else "full",
            "cliche_list": lexicon.source,
            "cliche_list_sha256": lexicon.sha256,
            "digest_words": DIGEST_WORDS,
        }
        if len(members) > 1:
            base |= {"panel_aggregate": panel.aggregate, "panel_min": panel.min_ok, "panel_size": len(members)}
        return segments_score(results, segment_words, decay_margin, base)

    return score
