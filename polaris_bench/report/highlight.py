"""A story cut into segments for the HTML report, with the judge's evidence quotes
marked: each quote is located by ``judging.parse.QuoteLocator`` (the rule the judge's
replies were checked with), and the story is split at every quote boundary so that
overlapping quotes mark the same text together."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from polaris_bench.judging.parse import QuoteLocator


@dataclass(frozen=True)
class Quote:
    """One evidence quote: ``id`` is unique on its page (``q1``, ``q2``...)."""

    id: str
    text: str
    criterion: str
    judge: str = ""


@dataclass
class Segment:
    text: str
    quotes: tuple[str, ...] = ()  # ids of the quotes that cover this text
    starts: tuple[str, ...] = ()  # ids of the quotes that begin here (anchors)


@dataclass
class Highlighted:
    segments: list[Segment] = field(default_factory=list)
    located: dict[str, bool] = field(default_factory=dict)  # quote id -> found in the story


def highlight(story: str, quotes: Sequence[Quote]) -> Highlighted:
    spans: dict[str, list[tuple[int, int]]] = {}
    out = Highlighted()
    locator = QuoteLocator(story)
    for q in quotes:
        found = locator.spans(q.text)
        out.located[q.id] = found is not None
        if found:
            spans[q.id] = found
    cuts = sorted({0, len(story), *(p for s in spans.values() for span in s for p in span)})
    for a, b in itertools.pairwise(cuts):
        covering = tuple(qid for qid, s in spans.items() if any(x <= a and b <= y for x, y in s))
        starting = tuple(qid for qid, s in spans.items() if s[0][0] == a)
        out.segments.append(Segment(story[a:b], covering, starting))
    return out
