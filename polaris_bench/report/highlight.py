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
    # a sweep over the span boundaries: which quotes cover each piece between two cuts
    events: dict[int, list[tuple[int, str]]] = {0: [], len(story): []}
    for qid, found in spans.items():
        for x, y in found:
            events.setdefault(x, []).append((1, qid))
            events.setdefault(y, []).append((-1, qid))
    first = {found[0][0]: [] for found in spans.values()}
    for qid, found in spans.items():
        first[found[0][0]].append(qid)
    active: dict[str, int] = {}
    cuts = sorted(events)
    for a, b in itertools.pairwise(cuts):
        for step, qid in events[a]:
            active[qid] = active.get(qid, 0) + step
        covering = tuple(q for q in spans if active.get(q, 0) > 0)
        out.segments.append(Segment(story[a:b], covering, tuple(first.get(a, ()))))
    return out
