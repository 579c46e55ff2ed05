"""Cut a story into consecutive windows of about N words, for judging quality along it.

Positions are 0-based word positions counted by the paper's rule (``count_words`` in
``polaris_bench.metrics.length``: ``\\w+`` runs after HTML unescaping, so a CJK run
without spaces is one word). Windows cover the story exactly: window k+1 starts at
``last_word + 1`` of window k, the first starts at 0, the last ends at ``words - 1``,
and the windows' texts joined give the story back character for character.

Where a window may end, coarsest first:

1. at a paragraph break (a blank line);
2. inside a paragraph longer than a window: after a sentence end (``.``, ``!``, ``?``,
   ``…`` or the CJK full stops, with closing quotes or brackets);
3. inside a sentence longer than a window: between two words.

The story is packed greedily: each window takes the next unit (paragraph, or the
sentence or word of an over-long one) while that brings its word count closer to N.
So a window is within half a unit of N words. Two documented edge cases:

* a story shorter than two windows (``words < 2 * N``) is one window;
* a remainder shorter than half a window is joined to the window before it (a
  50-word tail is not worth a judgement of its own), so the last window is between
  half a window and one and a half.

Cut points never split a ``\\w+`` run or an HTML entity (the character before a cut
is neither a word character nor one of ``&#;``), so the word counts of the pieces add
up to the story's count.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from polaris_bench.metrics.length import count_words

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")  # a blank line and the space after it
_SENTENCE_END = re.compile(r"(?:[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*\s+|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d)]*\s*)")
_WORD_START = re.compile(r"(?<=[^\w&#;])\w", re.UNICODE)


@dataclass(frozen=True)
class Window:
    """One window: 0-based word positions ``first_word``..``last_word`` (inclusive) and
    its text, a slice of the story as written."""

    index: int
    first_word: int
    last_word: int
    text: str

    @property
    def words(self) -> int:
        return self.last_word - self.first_word + 1

    @property
    def midpoint(self) -> float:
        return (self.first_word + self.last_word) / 2


def _cuts(text: str, pattern: re.Pattern[str], start: int, end: int, *, at_end: bool) -> list[int]:
    """Cut positions strictly inside (start, end): each match's end (or start)."""
    out = []
    for m in pattern.finditer(text, start, end):
        p = m.end() if at_end else m.start()
        if start < p < end:
            out.append(p)
    return out


def _split(text: str, start: int, end: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = [start, *cuts, end]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def units(story: str, size: int) -> list[tuple[int, int, int]]:
    """The story as (start, end, words) character spans in reading order, each a
    paragraph, or a sentence or word of a paragraph or sentence longer than ``size``."""
    out: list[tuple[int, int, int]] = []
    for p0, p1 in _split(story, 0, len(story), _cuts(story, _PARAGRAPH_BREAK, 0, len(story), at_end=True)):
        n = count_words(story[p0:p1])
        if n <= size:
            out.append((p0, p1, n))
            continue
        for s0, s1 in _split(story, p0, p1, _cuts(story, _SENTENCE_END, p0, p1, at_end=True)):
            m = count_words(story[s0:s1])
            if m <= size:
                out.append((s0, s1, m))
                continue
            for w0, w1 in _split(story, s0, s1, _cuts(story, _WORD_START, s0, s1, at_end=False)):
                out.append((w0, w1, count_words(story[w0:w1])))
    return out


def expected_window_count(story_words: int, words: int) -> int:
    """How many windows ``split_windows`` makes of a story of ``story_words`` words cut
    into windows of ``words``, before paragraph granularity moves the cuts (used for
    cost estimates): one below two windows, and a remainder under half a window joins
    the last one."""
    if story_words <= 0:
        return 0
    if story_words < 2 * words:
        return 1
    full, rest = divmod(story_words, words)
    return full + (1 if rest >= words / 2 else 0)


def split_windows(story: str, words: int) -> list[Window]:
    """Consecutive windows of about ``words`` words covering ``story`` exactly (see the
    module docstring); no windows for a story without words."""
    if isinstance(words, bool) or not isinstance(words, int) or words < 1:
        raise ValueError(f"window size must be a positive number of words, got {words!r}")
    total = count_words(story)
    if total == 0:
        return []
    if total < 2 * words:
        return [Window(0, 0, total - 1, story)]
    # groups of units: [start_char, end_char, word count]
    groups: list[list[int]] = []
    current: list[int] | None = None
    for start, end, n in units(story, words):
        if current is None:
            current = [start, end, n]
            continue
        # close the window when this unit would take it further from the size
        if n > 0 and current[2] > 0 and abs(current[2] + n - words) > abs(current[2] - words):
            groups.append(current)
            current = [start, end, n]
        else:
            current[1], current[2] = end, current[2] + n
    assert current is not None
    if groups and current[2] < words / 2:
        groups[-1][1], groups[-1][2] = current[1], groups[-1][2] + current[2]
    else:
        groups.append(current)
    windows: list[Window] = []
    first = 0
    for i, (start, end, n) in enumerate(groups):
        windows.append(Window(i, first, first + n - 1, story[start:end]))
        first += n
    return windows


def paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text`` (split at blank lines), stripped, empty ones dropped."""
    parts = (p.strip() for p in _PARAGRAPH_BREAK.split(text))
    return [p for p in parts if p]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (split after sentence ends), stripped."""
    parts = (text[a:b].strip() for a, b in _split(text, 0, len(text), _cuts(text, _SENTENCE_END, 0, len(text), at_end=True)))
    return [p for p in parts if p]
