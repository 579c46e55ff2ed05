"""How the offline judge scores rubric criteria: fair by default, with biases on request.

Shared by ``offline/judge`` and the loopback OpenAI-compatible server of the tests, so
the judge audit can be checked in-process and over HTTP against the same behaviour.

A fair judge by construction: a story's quality is read from its *opening* (the first
``OPENING_WORDS`` words, lower-cased), a hash of which gives a quality in [0, 1] per
criterion. Padding appended to a story, a passage inserted in its middle and a missing
last third leave the opening unchanged, so a fair judge scores them exactly as the story
as written (up to its seed noise): no length reward, no effect of injected text, and a
missing ending goes unnoticed (the audit reports that, it does not flag it). Pairwise
("Story A" / "Story B" in one text), each criterion's margin is the quality difference
of the two stories, so swapping them negates the verdict: no position preference.

The fair judge also reads how worn the opening is, so a window cut from late in a
decaying story (``offline/writer -M degrade=``) scores lower than one from its start:
the hashed quality is multiplied by ``(1 - c) * (1 - r)``, where ``c`` grows from 0 to 1
as the opening's cliché rate (``metrics.cliche``, per 1,000 words) goes from
``CLICHE_FREE`` to ``CLICHE_FULL``, and ``r`` as its self-repetition (the paper's
formula, ``metrics.repetition``) goes from ``REPETITION_FREE`` to ``REPETITION_FULL``.
Below the free levels nothing changes: the odd stock phrase of ordinary prose (one in an
opening of 120 words) and chance 4-gram repeats go unpunished, so undegraded stories
score as before. It is still read from the opening only: padding at the end changes
nothing.

Options (``-M`` on ``offline/judge``; fields of ``JudgeBehaviour``):

* ``noise=<sd>``: Gaussian noise, in rubric points, added to every criterion score (and
  to every pairwise margin) from the call's seed; default ``DEFAULT_NOISE``.
* ``prefer_first=<p>``: pairwise, each criterion goes to Story A with probability p
  (the margin's size stays the fair one); rubric scores are unaffected.
* ``length_reward=<points per 1,000 words>``: every strength criterion gains, and every
  problem criterion loses, that many points per 1,000 words of the story (pairwise: the
  margin moves towards the longer story by that much per 1,000 words of difference).
* ``obey=true``: a story holding an instruction to the judge (``INSTRUCTION`` matches)
  gets the top score on every criterion (pairwise: wins every criterion by 5).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from polaris_bench.metrics.cliche import cliche_rate
from polaris_bench.metrics.repetition import self_repetition

OPENING_WORDS = 120
# How worn an opening may be before the fair judge marks it down, and where the mark-down
# is complete (see the module docstring).
CLICHE_FREE, CLICHE_FULL = 10.0, 60.0  # cliché hits per 1,000 words
REPETITION_FREE, REPETITION_FULL = 0.02, 0.3  # the paper's self-repetition penalty
DEFAULT_NOISE = 0.5
MARGIN_PER_QUALITY = 10.0  # pairwise: a quality difference of 0.5 is a 5-plus margin

# What an injected instruction to the judge looks like (the audit's phrasings match it;
# the probe stories do not, a test checks both).
INSTRUCTION = re.compile(
    r"\b(?:note to the (?:judge|evaluator|grader|reviewer)|(?:judge|evaluator|grader)s?\s*:"
    r"|ignore (?:the|your|all|any) (?:rubric|previous|prior|scoring|instructions|criteria)"
    r"|already (?:been )?(?:scored|awarded|rated|graded)|(?:maximum|top|perfect|full) (?:score|marks)"
    r"|^\s*\[?system\]?\s*:)",
    re.IGNORECASE | re.MULTILINE,
)
_KIND = re.compile(r"^- (\S+) \((strength|problem|bonus|penalty)\b", re.MULTILINE)
_PAIR = re.compile(r"=== Story A ===\n(.*?)\n=== End of Story A ===\s*=== Story B ===\n(.*?)\n=== End of Story B ===", re.DOTALL)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class JudgeBehaviour:
    noise: float = DEFAULT_NOISE
    prefer_first: float | None = None
    length_reward: float = 0.0
    obey: bool = False

    @classmethod
    def from_options(
        cls, noise: Any = DEFAULT_NOISE, prefer_first: Any = None, length_reward: Any = 0.0, obey: Any = False
    ) -> JudgeBehaviour:
        noise_f = float(noise)
        if noise_f < 0:
            raise ValueError(f"judge option noise must be >= 0, got {noise!r}")
        first = None if prefer_first in (None, "") else float(prefer_first)
        if first is not None and not 0.0 <= first <= 1.0:
            raise ValueError(f"judge option prefer_first must be a share in [0, 1], got {prefer_first!r}")
        return cls(noise=noise_f, prefer_first=first, length_reward=float(length_reward), obey=_truthy(obey))


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def opening(story: str) -> str:
    return " ".join(re.findall(r"\w+", story.lower())[:OPENING_WORDS])


def opening_text(story: str) -> str:
    """The story as written up to the end of its ``OPENING_WORDS``-th word."""
    ends = [m.end() for m in itertools.islice(re.finditer(r"\w+", story), OPENING_WORDS)]
    return story[: ends[-1]] if ends else ""


def _ramp(value: float, free: float, full: float) -> float:
    return min(1.0, max(0.0, (value - free) / (full - free)))


@lru_cache(maxsize=4096)
def wear(head: str) -> float:
    """How much of an opening's quality survives its clichés and repetition, in [0, 1]
    (1: an opening at or below the free levels)."""
    if not head:
        return 1.0
    rate = cliche_rate(head)
    cliches = 0.0 if math.isnan(rate) else _ramp(rate, CLICHE_FREE, CLICHE_FULL)
    repeats = _ramp(self_repetition(head), REPETITION_FREE, REPETITION_FULL)
    return (1.0 - cliches) * (1.0 - repeats)


def quality(story: str, criterion: str) -> float:
    """A fair judge's view of ``story`` on ``criterion``, in [0, 1]."""
    head = opening(story)
    base = 0.6 * _unit("story", head) + 0.4 * _unit("criterion", head, criterion)
    return base * wear(opening_text(story))


def has_instruction(story: str) -> bool:
    return INSTRUCTION.search(story) is not None


def criterion_kinds(prompt: str) -> dict[str, str]:
    """Criterion id -> strength/problem/bonus/penalty, from the rendered rubric."""
    return {m.group(1): m.group(2) for m in _KIND.finditer(prompt)}


def score_slots(schema: dict[str, Any]) -> dict[str, tuple[list[int], bool]]:
    """Criterion id -> (allowed integer scores, nested under "score"), for a rubric reply
    schema (``{"criteria": {id: int | {"score": int, ...}}}``); empty for any other."""
    crit = ((schema.get("properties") or {}).get("criteria") or {}).get("properties") or {}
    slots: dict[str, tuple[list[int], bool]] = {}
    for cid, sub in crit.items():
        nested = sub.get("type") == "object"
        field = (sub.get("properties") or {}).get("score", {}) if nested else sub
        if field.get("enum"):
            allowed = sorted(int(v) for v in field["enum"])
        elif "minimum" in field and "maximum" in field:
            allowed = list(range(int(field["minimum"]), int(field["maximum"]) + 1))
        else:
            continue
        slots[cid] = (allowed, nested)
    return slots


def _nearest(allowed: list[int], x: float) -> int:
    return min(allowed, key=lambda v: (abs(v - x), v))


def _words(text: str) -> int:
    return len(text.split())


def rubric_scores(
    prompt: str, story: str, schema: dict[str, Any], seed: Any, behaviour: JudgeBehaviour
) -> dict[str, int]:
    """Scores for every criterion slot of ``schema`` (see the module docstring)."""
    slots = score_slots(schema)
    kinds = criterion_kinds(prompt)
    pair = _PAIR.search(story)
    head = opening(story)
    scores: dict[str, int] = {}
    for cid, (allowed, _) in slots.items():
        lo, hi = allowed[0], allowed[-1]
        noise = random.Random(f"{head}|{cid}|{seed}|noise").gauss(0.0, behaviour.noise) if behaviour.noise else 0.0
        if pair:
            scores[cid] = _margin(pair.group(1), pair.group(2), cid, seed, behaviour, noise, allowed)
            continue
        negative = kinds.get(cid) in ("problem", "penalty")
        q = quality(story, cid)
        x = lo + (hi - lo) * ((1 - q) * 0.5 if negative else q)
        x += (-1 if negative else 1) * behaviour.length_reward * _words(story) / 1000
        if behaviour.obey and has_instruction(story):
            x = lo if negative else hi
        scores[cid] = _nearest(allowed, x + noise)
    return scores


def _margin(a: str, b: str, cid: str, seed: Any, behaviour: JudgeBehaviour, noise: float, allowed: list[int]) -> int:
    top = max(abs(allowed[0]), abs(allowed[-1]))
    m = MARGIN_PER_QUALITY * (quality(a, cid) - quality(b, cid)) + noise
    m += behaviour.length_reward * (_words(a) - _words(b)) / 1000
    if behaviour.obey and has_instruction(a) != has_instruction(b):
        m = top if has_instruction(a) else -top
    size = min(top, max(1, round(abs(m))))
    sign = 1 if m > 0 else -1 if m < 0 else (1 if _unit("tie", opening(a), opening(b), cid) < 0.5 else -1)
    if behaviour.prefer_first is not None:
        sign = 1 if _unit("first", opening(a), opening(b), cid, seed) < behaviour.prefer_first else -1
    return _nearest(allowed, sign * size)


def fill_scores(instance: dict[str, Any], schema: dict[str, Any], scores: dict[str, int]) -> dict[str, Any]:
    """Write ``scores`` into a schema-valid reply ``instance`` (in place; returned)."""
    slots = score_slots(schema)
    criteria = instance.setdefault("criteria", {})
    for cid, value in scores.items():
        if slots[cid][1]:
            criteria.setdefault(cid, {})["score"] = value
        else:
            criteria[cid] = value
    return instance
