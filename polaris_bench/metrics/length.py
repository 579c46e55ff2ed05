"""Length metrics: word counting, targets, buckets, and the paper's length scores.

Word counting rules (``count_words(text, method=...)``):

* ``"paper"`` (default): the number of ``\\w+`` matches after HTML unescaping, as the
  POLARIS reward counts words. Contractions count twice ("don't" -> "don", "t"),
  numbers count as words, and CJK runs without spaces count as one word each.
* ``"longwriter"``: LongWriter / LongBench-Write's rule: every CJK character counts as
  one, plus every ``[a-zA-Z]+`` run. Digits do not count.

All functions are pure and cheap; a 12k-word story is scored in a few milliseconds.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

from polaris_bench.metrics.repetition import self_repetition

WordCountMethod = Literal["paper", "longwriter"]

_WORD = re.compile(r"\w+")
_LATIN_WORD = re.compile(r"[a-zA-Z]+")
_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_TARGET = re.compile(r"(\d[\d,]*)\s+words\s+long", re.IGNORECASE)
# The paper's instruction sentence, and close variants, removed before judging.
_LENGTH_SENTENCE = re.compile(
    r"\s*[^.!?\n]*\b\d[\d,]*\s+words\s+long\b[^.!?\n]*[.!?]?", re.IGNORECASE
)
_WHITESPACE = re.compile(r"\s+")

LENGTH_INSTRUCTION = "Your story should be approximately {n} words long."


def count_words(text: str, method: WordCountMethod = "paper") -> int:
    """Count words with the paper's rule or LongWriter's (see module docstring)."""
    if method == "paper":
        return len(_WORD.findall(html.unescape(text) if "&" in text else text))
    if method == "longwriter":
        return len(_CJK.findall(text)) + len(_LATIN_WORD.findall(text))
    raise ValueError(f"unknown word-count method {method!r}; use 'paper' or 'longwriter'")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def parse_target(prompt: str) -> int | None:
    """The requested length from the paper's sentence ("... N words long."), or None."""
    match = _TARGET.search(prompt)
    if match is None:
        return None
    return int(match.group(1).replace(",", ""))


def length_instruction(target: int) -> str:
    return LENGTH_INSTRUCTION.format(n=target)


def strip_length_sentence(prompt: str) -> str:
    """Remove the sentence that states the length, as the paper does before judging."""
    return _LENGTH_SENTENCE.sub("", prompt).strip()




# -- buckets ---------------------------------------------------------------------

BUCKETS: tuple[str, ...] = ("short", "ID", "near", "far", "beyond")
BUCKETS_2K: tuple[str, ...] = ("1-2k", "2-4k", "4-6k", "6-8k", "8-10k", "10-12k")


def bucket(target: int | None) -> str | None:
    """Paper split of a requested length: ID 1-4k, near-OOD 4-8k, far-OOD 8-12k."""
    if target is None:
        return None
    if target < 1000:
        return "short"
    if target <= 4000:
        return "ID"
    if target <= 8000:
        return "near"
    if target <= 12000:
        return "far"
    return "beyond"


def bucket_2k(target: int | None) -> str | None:
    """One of the paper's six 2k-word buckets (1-2k covers up to 2,000), else None."""
    if target is None or target < 1000 or target > 12000:
        return None
    if target <= 2000:
        return BUCKETS_2K[0]
    return BUCKETS_2K[min(5, (target - 1) // 2000)]


# -- scores ----------------------------------------------------------------------


def longwriter_length_score(required: int, produced: int) -> float:
    """LongBench-Write S_l in [0, 100]: 100 at the exact length, falling off faster
    for stories that are too short than for ones that are too long."""
    if required <= 0:
        raise ValueError("required length must be positive")
    if produced <= 0:
        return 0.0
    if produced > required:
        return 100.0 * max(0.0, 1.0 - (produced / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / produced - 1.0) / 2.0)


@dataclass(frozen=True)
class BandPenaltyConfig:
    lower_frac: float = 0.15
    lower_min: int = 350
    lower_max: int = 1000
    upper_frac: float = 0.25
    upper_min: int = 600
    upper_max: int = 1500


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def band_penalty(words: int, target: int, cfg: BandPenaltyConfig = BandPenaltyConfig()) -> float:
    """The training reward's length penalty in [0, 1]: 0 inside the tolerance band."""
    lower = _clamp(cfg.lower_frac * target, cfg.lower_min, cfg.lower_max)
    upper = _clamp(cfg.upper_frac * target, cfg.upper_min, cfg.upper_max)
    lo, hi = target - lower, target + upper
    if words < lo:
        return 0.0 if lo <= 0 else min(1.0, 1.0 - words / lo)
    if words > hi:
        return min(1.0, words / hi - 1.0)
    return 0.0


@dataclass(frozen=True)
class BlankConfig:
    min_words: int = 150
    min_visible_ratio: float = 0.10


def is_blank(
    text: str, target: int | None = None, cfg: BlankConfig = BlankConfig(), *, words: int | None = None
) -> bool:
    """Blank: too few words or mostly invisible characters. For short targets the word
    floor is lowered to half the target, so a 150-word request is not blank by rule."""
    floor = cfg.min_words if target is None else min(cfg.min_words, target / 2)
    if (count_words(text) if words is None else words) < floor or not text:
        return True
    if text.isascii():  # fast path: str.count runs in C
        visible = len(text) - sum(text.count(ch) for ch in " \t\n\r\x0b\x0c")
    else:
        visible = len(_WHITESPACE.sub("", text))
    return visible / len(text) < cfg.min_visible_ratio


@dataclass(frozen=True)
class LengthReport:
    """Every length metric of one story; ``None`` where a target is needed but absent."""

    words: int
    target_words: int | None
    length_ratio: float | None
    length_score: float | None
    length_penalty: float | None
    self_repetition: float
    blank: int
    bucket: str | None
    bucket_2k: str | None
    truncated: int

    def as_dict(self) -> dict[str, float | int | str | None]:
        return dict(self.__dict__)


def measure(
    story: str,
    target: int | None,
    *,
    truncated: bool = False,
    method: WordCountMethod = "paper",
) -> LengthReport:
    words = count_words(story, method)
    return LengthReport(
        words=words,
        target_words=target,
        length_ratio=None if not target else words / target,
        length_score=None if not target else longwriter_length_score(target, words),
        length_penalty=None if not target else band_penalty(words, target),
        self_repetition=self_repetition(story),
        blank=int(is_blank(story, target, words=count_words(story) if method != "paper" else words)),
        bucket=bucket(target),
        bucket_2k=bucket_2k(target),
        truncated=int(truncated),
    )
