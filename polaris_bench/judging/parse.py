"""Strict parsing of a judge reply against a rubric.

Only a bare JSON object is read: no prose around it, no code fences. Every criterion
must be present, an integer (not a float, bool or string) within its range; unknown
criteria are rejected; quotes must occur in the story (after normalising whitespace,
quote marks and dashes); a negative, bonus or penalty above its minimum needs a quote.
Totals and labels the judge reports are recorded, never used: the score is recomputed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from polaris_bench.judging.rubric import Rubric
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


def _strict_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplyError(f"{where}: score must be an integer, got {type(value).__name__} {value!r}")
    return value


def parse_reply(text: str, rubric: Rubric, story: str, *, compact: bool = False) -> ParsedReply:
    body = strip_thinking(text or "")
    if not body:
        raise ReplyError("empty reply")
    if not body.startswith("{"):
        raise ReplyError(f"reply is not a bare JSON object (starts with {body[:30]!r})")
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ReplyError(f"reply is not valid JSON: {exc.msg} at char {exc.pos}") from exc
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
    if missing:
        raise ReplyError(f"missing criterion id(s): {missing}")

    norm_story = normalise(story)
    ev_rules = rubric.evidence
    scores: dict[str, int] = {}
    evidence: dict[str, dict[str, Any]] = {}
    for c in rubric.criteria:
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
        flagged = c.polarity != "positive" and score > c.min
        if flagged and ev_rules.require_quote_when_flagged and not quotes:
            raise ReplyError(f"{c.id}: score {score} needs a quote from the story as evidence")
        for q in quotes:
            if not quote_in_story(q, norm_story):
                raise ReplyError(f"{c.id}: quote not found in the story: {q[:80]!r}")
        justification = entry.get("justification", "")
        if ev_rules.justification and not isinstance(justification, str):
            raise ReplyError(f"{c.id}: justification must be a string")
        evidence[c.id] = {"justification": justification, "quotes": quotes}
    reported = {key: obj[key] for key in rubric.reported if key in obj}
    return ParsedReply(scores=scores, evidence=evidence, reported=reported)
