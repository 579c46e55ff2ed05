"""Find the length a benchmark prompt asks for, in its own words.

EQ-Bench ends its prompts with "1000 words." or "Length: 1000 words."; WritingBench
queries say "around 2,000 words", "2000-2500 words", "between 2000 and 2500 words",
"no less than 5000 words", or in Chinese "3000字左右" / "3000～4000字". The POLARIS
sentence ("... N words long.") is handled by ``polaris_bench.metrics.length.parse_target``.

A range gives its midpoint as the target and keeps the range. When a prompt states
several lengths (a length per section and a total), the largest is taken: the whole
is at least as long as any of its parts. A change of length ("increase by 300-500
words") is not a target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from polaris_bench.metrics.length import has_cjk

Kind = Literal["about", "exact", "range", "at_least", "at_most"]
Unit = Literal["words", "characters"]

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
_SEP = r"\s*(?:-|–|—|~|～|〜|to|and|到|至)\s*"
_UNIT_EN = r"(?:[\s-]*words?\b)"
_UNIT_ZH = r"(?:\s*(?:个)?(?:汉字|字))"
_PATTERN = re.compile(
    rf"(?P<lo>{_NUM})(?:{_SEP}(?P<hi>{_NUM}))?(?P<unit>{_UNIT_EN}|{_UNIT_ZH})", re.IGNORECASE
)
_NOT = r"(?<!no )(?<!not )"
_AT_LEAST_BEFORE = re.compile(
    rf"(at\s+least|no\s+(?:less|fewer)\s+than|not\s+(?:less|fewer)\s+than|minimum(?:\s+of)?|"
    rf"{_NOT}more\s+than|\bover|{_NOT}exceed(?:s|ing)?|不少于|不低于|至少|超过|大于)\s*[:：]?\s*$",
    re.IGNORECASE,
)
_AT_MOST_BEFORE = re.compile(
    rf"(at\s+most|no\s+more\s+than|not\s+more\s+than|not\s+exceed(?:ing)?|maximum(?:\s+of)?|"
    rf"\bunder|up\s+to|{_NOT}(?:less|fewer)\s+than|within|不超过|不多于|最多|少于)\s*[:：]?\s*$",
    re.IGNORECASE,
)
_ABOUT_BEFORE = re.compile(
    r"(around|about|approximately|approx\.?|roughly|some|circa|~|约|大约|大概)\s*[:：]?\s*$", re.IGNORECASE
)
_DELTA_BEFORE = re.compile(r"\bby\s*$", re.IGNORECASE)
_AT_LEAST_AFTER = re.compile(r"^\s*(以上|or\s+more|plus\b)", re.IGNORECASE)
_AT_MOST_AFTER = re.compile(r"^\s*(以内|以下|or\s+(?:less|fewer)|at\s+most)", re.IGNORECASE)
_ABOUT_AFTER = re.compile(r"^\s*(左右|上下)")


@dataclass(frozen=True)
class StatedLength:
    target: int  # midpoint of a range, else the number stated
    low: int | None
    high: int | None
    kind: Kind
    unit: Unit
    text: str  # the words of the prompt that state it

    def as_metadata(self) -> dict[str, object]:
        return {
            "target_words": self.target,
            "target_range": [self.low, self.high] if self.kind == "range" else None,
            "length_kind": self.kind,
            "length_unit": self.unit,
            "length_text": self.text,
        }


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def find_stated_lengths(text: str) -> list[StatedLength]:
    """Every length statement in ``text``, in order (changes of length excluded)."""
    found: list[StatedLength] = []
    for m in _PATTERN.finditer(text):
        # a number glued to a preceding digit/letter is not a length ("A4 words" etc.)
        start = m.start()
        if start > 0 and (text[start - 1].isalnum() and not has_cjk(text[start - 1])):
            continue
        before = text[max(0, start - 40) : start]
        after = text[m.end() : m.end() + 12]
        if _DELTA_BEFORE.search(before):
            continue
        lo, hi = _int(m.group("lo")), m.group("hi")
        unit: Unit = "characters" if "字" in m.group("unit") else "words"
        if lo <= 0:
            continue
        if hi is not None:
            high = _int(hi)
            if high < lo:
                continue
            midpoint = round((lo + high) / 2)
            found.append(StatedLength(midpoint, lo, high, "range", unit, m.group(0).strip()))
            continue
        if _AT_LEAST_BEFORE.search(before) or _AT_LEAST_AFTER.search(after):
            kind: Kind = "at_least"
            low, high_v = lo, None
        elif _AT_MOST_BEFORE.search(before) or _AT_MOST_AFTER.search(after):
            kind, low, high_v = "at_most", None, lo
        elif _ABOUT_BEFORE.search(before) or _ABOUT_AFTER.search(after):
            kind, low, high_v = "about", None, None
        else:
            kind, low, high_v = "exact", None, None
        found.append(StatedLength(lo, low, high_v, kind, unit, m.group(0).strip()))
    return found


def parse_stated_length(text: str) -> StatedLength | None:
    """The length a prompt asks for (the largest statement), or None."""
    found = find_stated_lengths(text)
    if not found:
        return None
    return max(found, key=lambda s: (s.high or s.target, s.target))
