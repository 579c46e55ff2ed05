"""Strict parsing of a judge reply against a rubric.

Only a bare JSON object is read: no prose around it, no code fences. Every criterion
must be present, an integer (not a float, bool or string) within its range; unknown
criteria are rejected. In full mode the rubric's evidence rules hold for every
criterion: at most ``max_quotes`` quotes of at most ``max_quote_words`` words each, each
found in the story (after normalising whitespace, quote marks and dashes), and at least
the number ``quotes_needed`` gives. Totals and labels the judge reports are
recorded; the rubric's score is recomputed from the dimensions, and only a rubric's
``published`` formula reads the reported totals.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polaris_bench.judging.rubric import Criterion, EvidenceRules, Rubric
from polaris_bench.metrics.length import count_words, has_cjk
from polaris_bench.story import strip_thinking


class ReplyError(ValueError):
    """Why a judge reply was rejected (the message is recorded as the unscored reason)."""


@dataclass(frozen=True)
class ParsedReply:
    scores: dict[str, int]
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> justification, quotes
    reported: dict[str, Any] = field(default_factory=dict)


_QUOTE_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u2026": "...", "\u00a0": " ",
    }
)
_EDGE = re.compile(r"""^[\s"'.,;:!?()\[\]-]+|[\s"'.,;:!?()\[\]-]+$""")


def normalise(text: str) -> str:
    if not text.isascii():  # curly quotes, dashes, NBSP... (ASCII text has none)
        text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MAP)
    return " ".join(text.split()).casefold()


def quote_in_story(quote: str, normalised_story: str) -> bool:
    core = _EDGE.sub("", normalise(quote))
    # An ellipsis inside a quote joins fragments; each fragment must occur.
    parts = [p.strip() for p in core.split("...") if p.strip()]
    return bool(parts) and all(p in normalised_story for p in parts)


_TOKEN = re.compile(r"\S+")


def _normalised_with_offsets(text: str) -> tuple[str, Any]:
    """``normalise(text)`` with, for each character of the result, the index in ``text``
    it comes from (to find a quote's place in the story as written). Works token by
    token (runs of non-space); a token whose normalised form has another length is
    mapped character by character, so a combining sequence that NFKC would compose may
    not match there; such a quote is then simply not located."""
    if text.isascii():
        return _ascii_with_offsets(text)
    parts: list[str] = []
    offsets: list[int] = []
    for m in _TOKEN.finditer(text):
        tok, start = m.group(), m.start()
        norm = tok.lower() if tok.isascii() else unicodedata.normalize("NFKC", tok).translate(_QUOTE_MAP).casefold()
        if len(norm) == len(tok) and not any(c.isspace() for c in norm):
            if parts:
                parts.append(" ")
                offsets.append(start - 1)
            parts.append(norm)
            offsets.extend(range(start, start + len(tok)))
            continue
        space = bool(parts)
        for i, ch in enumerate(tok, start):
            for c in unicodedata.normalize("NFKC", ch).translate(_QUOTE_MAP).casefold():
                if c.isspace():
                    space = bool(parts)
                    continue
                if space:
                    parts.append(" ")
                    offsets.append(i)
                    space = False
                parts.append(c)
                offsets.append(i)
    return "".join(parts), offsets


_ASCII_SPACE = np.array([c.isspace() for c in map(chr, range(128))])


def _ascii_with_offsets(text: str) -> tuple[str, Any]:
    """The ASCII case of ``_normalised_with_offsets``, vectorised: every non-space
    character is kept, and the first space of each run between two words."""
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    space = _ASCII_SPACE[codes]
    word = ~space
    seen_word = np.maximum.accumulate(word) if len(word) else word
    later_word = np.maximum.accumulate(word[::-1])[::-1] if len(word) else word
    run_start = space & np.concatenate(([True], ~space[:-1])) if len(space) else space
    keep = word | (run_start & seen_word & later_word)
    return " ".join(text.split()).lower(), np.flatnonzero(keep)


class QuoteLocator:
    """A story prepared for locating quotes in it by the rule ``quote_in_story``
    applies (normalised once, however many quotes are looked up)."""

    def __init__(self, story: str) -> None:
        self.story = story
        self._norm, self._offsets = _normalised_with_offsets(story)

    def spans(self, quote: str) -> list[tuple[int, int]] | None:
        """One (start, end) character span of the story per fragment of ``quote``
        (fragments are joined by an ellipsis), each at its first occurrence after the
        previous one (else anywhere). None when a fragment does not occur."""
        core = _EDGE.sub("", normalise(quote))
        parts = [p.strip() for p in core.split("...") if p.strip()]
        if not parts:
            return None
        spans: list[tuple[int, int]] = []
        after = 0
        for part in parts:
            at = self._norm.find(part, after)
            if at < 0:
                at = self._norm.find(part)
            if at < 0:
                return None
            end = at + len(part)
            spans.append((int(self._offsets[at]), int(self._offsets[end - 1]) + 1))
            after = end
        return spans


def quote_spans(quote: str, story: str) -> list[tuple[int, int]] | None:
    """Where a quote occurs in ``story`` (``QuoteLocator.spans``)."""
    return QuoteLocator(story).spans(quote)


_WORD_CHAR = re.compile(r"\w")


def quote_words(quote: str) -> int:
    """Words in a quote as a judge counts them: whitespace-separated words (an
    ellipsis or a lone dash is not a word); in CJK text each character is a word."""
    if has_cjk(quote):
        return count_words(quote, "longwriter")
    return sum(1 for token in quote.split() if _WORD_CHAR.search(token))


def quotes_needed(criterion: Criterion, score: int, rules: EvidenceRules) -> int:
    """The fewest quotes a full-mode score must come with.

    ``min_quotes`` holds for every criterion, except a 0 at the bottom of a 0-based
    scale: that says the strength or the problem is absent, and there may be nothing in
    the story to point at. (On scales that start elsewhere, such as story_elo's signed
    -5..5 margins or a 1-10 scale, every score is a judgement that needs its evidence.)
    ``require_quote_when_flagged`` asks for at least one quote where a negative, bonus
    or penalty is above its minimum, even when ``min_quotes`` is 0."""
    needed = 0 if score == criterion.min == 0 else rules.min_quotes
    flagged = criterion.polarity != "positive" and score > criterion.min
    if flagged and rules.require_quote_when_flagged:
        needed = max(needed, 1)
    return needed


def _strict_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplyError(f"{where}: score must be an integer, got {type(value).__name__} {value!r}")
    return value


def parse_reply(
    text: str, rubric: Rubric, story: str, *, compact: bool = False, partial: bool = False
) -> ParsedReply:
    """``partial``: accept a reply that leaves criteria out (at least one present), as the
    POLARIS evaluation code does; the scores then hold only the criteria returned."""
    body = strip_thinking(text or "")
    if not body:
        raise ReplyError("empty reply")
    if not body.startswith("{"):
        raise ReplyError(f"reply is not a bare JSON object (starts with {body[:30]!r})")
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"reply is not valid JSON: {exc.msg} (char {exc.pos})") from exc
    if not isinstance(obj, dict):
        raise ReplyError("reply JSON is not an object")
    unknown_top = set(obj) - {"criteria", *rubric.reported}
    if unknown_top:
        raise ReplyError(f"unknown top-level key(s): {sorted(unknown_top)}")
    crit = obj.get("criteria")
    if not isinstance(crit, dict):
        raise ReplyError('missing "criteria" object')
    unknown = set(crit) - set(rubric.by_id)
    if unknown:
        raise ReplyError(f"unknown criterion id(s): {sorted(unknown)}")
    missing = [c.id for c in rubric.criteria if c.id not in crit]
    if missing and (not partial or len(missing) == len(rubric.criteria)):
        raise ReplyError(f"missing criterion id(s): {missing}")

    norm_story = normalise(story)
    ev_rules = rubric.evidence
    scores: dict[str, int] = {}
    evidence: dict[str, dict[str, Any]] = {}
    for c in rubric.criteria:
        if c.id not in crit:  # partial mode only
            continue
        entry = crit[c.id]
        if compact:
            if isinstance(entry, dict):
                raise ReplyError(f"{c.id}: compact mode expects a bare integer")
            raw = entry
        else:
            if not isinstance(entry, dict):
                raise ReplyError(f"{c.id}: expected an object with justification, quotes and score")
            extra = set(entry) - {"justification", "quotes", "score"}
            if extra:
                raise ReplyError(f"{c.id}: unknown field(s) {sorted(extra)}")
            if "score" not in entry:
                raise ReplyError(f"{c.id}: missing score")
            raw = entry["score"]
        score = _strict_int(raw, c.id)
        if not c.min <= score <= c.max:
            raise ReplyError(f"{c.id}: score {score} outside {c.min}-{c.max}")
        scores[c.id] = score
        if compact:
            continue
        quotes = entry.get("quotes", [])
        if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
            raise ReplyError(f"{c.id}: quotes must be a list of strings")
        quotes = [q for q in quotes if q.strip()]
        if len(quotes) > ev_rules.max_quotes:
            raise ReplyError(f"{c.id}: {len(quotes)} quotes, at most {ev_rules.max_quotes} allowed")
        needed = quotes_needed(c, score, ev_rules)
        if len(quotes) < needed:
            raise ReplyError(
                f"{c.id}: score {score} needs at least {needed} quote(s) from the story as evidence, "
                f"got {len(quotes)}"
            )
        for q in quotes:
            words = quote_words(q)
            if words > ev_rules.max_quote_words:
                raise ReplyError(
                    f"{c.id}: quote of {words} words, at most {ev_rules.max_quote_words} allowed: {q[:80]!r}"
                )
            if not quote_in_story(q, norm_story):
                raise ReplyError(f"{c.id}: quote not found in the story: {q[:80]!r}")
        justification = entry.get("justification", "")
        if ev_rules.justification and not isinstance(justification, str):
            raise ReplyError(f"{c.id}: justification must be a string")
        evidence[c.id] = {"justification": justification, "quotes": quotes}
    reported = {key: obj[key] for key in rubric.reported if key in obj}
    return ParsedReply(scores=scores, evidence=evidence, reported=reported)
