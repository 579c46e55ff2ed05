"""Length metrics: word counting, targets, buckets, and the paper's length scores.

Word counting rules (``count_words(text, method=...)``):

* ``"paper"`` (default): the number of ``\\w+`` matches after HTML unescaping, as the
  POLARIS reward counts words. Contractions count twice ("don't" -> "don", "t"),
  numbers count as words, and CJK runs without spaces count as one word each.
* ``"longwriter"``: LongWriter / LongBench-Write's rule exactly (``evaluation/pred.py``
  ``count_words``): every character in ``[\u4e00-\u9fff]`` counts as one, plus every
  ``\b[a-zA-Z]+\b`` word. Digits, kana and Hangul do not count, and a Latin run glued
  to a letter outside a-z (``Café``) or to a CJK character (``我喜欢Python``) has no word
  boundary on that side, so it does not count either.

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
# LongWriter's own two patterns, character for character (not this project's CJK test).
_LONGWRITER_HAN = re.compile(r"[\u4e00-\u9fff]")
_LONGWRITER_WORD = re.compile(r"\b[a-zA-Z]+\b")
# Broad CJK detection (language of a text), not a counting rule.
_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_TARGET = re.compile(r"(\d[\d,]*)\s+words\s+long", re.IGNORECASE)
_TARGET_AUTHORS = re.compile(r"(\d+)\s+words\s+long", re.IGNORECASE)  # the POLARIS code's regex
# The paper's instruction sentence, and close variants, removed before judging.
_LENGTH_SENTENCE = re.compile(
    r"\s*[^.!?\n]*\b\d[\d,]*\s+words\s+long\b[^.!?\n]*[.!?]?", re.IGNORECASE
)
# Only the length phrase: "(3000 words long)", ", about 3,000 words long", "3000 words long".
_LENGTH_CLAUSE = re.compile(
    r"\s*\([^()]*?\b\d[\d,]*\s+words\s+long\b[^()]*\)"
    r"|[\s,;:\u2013\u2014-]*\b(?:(?:about|approximately|around|roughly|exactly|some)\s+)?"
    r"\d[\d,]*\s+words\s+long\b",
    re.IGNORECASE,
)
# Every whitespace character of Python's \s in ASCII (including \x1c-\x1f).
_ASCII_SPACE = "".join(chr(c) for c in range(128) if chr(c).isspace())
_WHITESPACE = re.compile(r"\s+")

LENGTH_INSTRUCTION = "Your story should be approximately {n} words long."


def count_words(text: str, method: WordCountMethod = "paper") -> int:
    """Count words with the paper's rule or LongWriter's (see module docstring)."""
    if method == "paper":
        return len(_WORD.findall(html.unescape(text) if "&" in text else text))
    if method == "longwriter":
        return len(_LONGWRITER_HAN.findall(text)) + len(_LONGWRITER_WORD.findall(text))
    raise ValueError(f"unknown word-count method {method!r}; use 'paper' or 'longwriter'")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


TargetRule = Literal["project", "authors"]


def parse_target(prompt: str, rule: TargetRule = "project") -> int | None:
    r"""The requested length from the paper's sentence ("... N words long."), or None.

    ``"project"`` reads a thousands separator ("3,000 words long" -> 3000). ``"authors"``
    reproduces the POLARIS code's regex ``(\d+)\s+words\s+long``, which reads only the
    digits after the last comma ("3,000" -> 0, which their code treats as no target ->
    None; "2,500" -> 500)."""
    if rule == "authors":
        match = _TARGET_AUTHORS.search(prompt)
        value = int(match.group(1)) if match else 0
        return value if value > 0 else None
    if rule != "project":
        raise ValueError(f"unknown target rule {rule!r}; use 'project' or 'authors'")
    match = _TARGET.search(prompt)
    if match is None:
        return None
    return int(match.group(1).replace(",", ""))


def length_instruction(target: int) -> str:
    return LENGTH_INSTRUCTION.format(n=target)


def strip_length_sentence(prompt: str) -> str:
    """Remove the sentence that states the length, as the paper does before judging.

    Where that sentence is the whole prompt ("Write about X (3000 words long).", no
    sentence end before the phrase), only the length phrase goes, never the request."""
    stripped = _LENGTH_SENTENCE.sub("", prompt).strip()
    if stripped or not _LENGTH_SENTENCE.search(prompt):
        return stripped
    return re.sub(r"\s+([.!?,;:])", r"\1", _LENGTH_CLAUSE.sub("", prompt)).strip()




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


def visible_ratio(text: str) -> float:
    r"""Share of non-whitespace characters after HTML unescaping, as the POLARIS code
    measures it (``&nbsp;`` is one invisible character; ``\s`` includes ``\x1c``-``\x1f``)."""
    if "&" in text:
        text = html.unescape(text)
    if not text:
        return 0.0
    if text.isascii():  # fast path: str.count runs in C
        visible = len(text) - sum(text.count(ch) for ch in _ASCII_SPACE)
    else:
        visible = len(_WHITESPACE.sub("", text))
    return visible / len(text)


def is_blank(
    text: str, target: int | None = None, cfg: BlankConfig = BlankConfig(), *, words: int | None = None
) -> bool:
    """Blank: too few words or mostly invisible characters. For short targets the word
    floor is lowered to half the target, so a 150-word request is not blank by rule.
    Pass the text as written (thinking removed, not stripped): padding counts."""
    floor = cfg.min_words if target is None else min(cfg.min_words, target / 2)
    if (count_words(text) if words is None else words) < floor or not text:
        return True
    return visible_ratio(text) < cfg.min_visible_ratio


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
