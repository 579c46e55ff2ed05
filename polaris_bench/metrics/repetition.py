"""The paper's self-repetition penalty (no LLM): repeated 4-grams, repeats within a
short window, and duplicated lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

_REP_TOKEN = re.compile(r"\w+|[^\s]")


@dataclass(frozen=True)
class RepetitionConfig:
    """The paper run's settings. ``window``: an n-gram is a local repeat when an earlier
    occurrence starts fewer than ``window`` positions before it, as the POLARIS code
    counts it (its sliding dict drops position j - window before the check, so with 64
    the farthest counted repeat is 63 back; the paper's text says "within 64")."""

    n: int = 4
    window: int = 64
    hinge: float = 0.08
    w_ngram: float = 0.8
    w_lines: float = 0.4
    cap: float = 1.5


def self_repetition(text: str, cfg: RepetitionConfig = RepetitionConfig()) -> float:
    """The paper's self-repetition penalty in [0, cap] (see POLARIS.md).

    N-grams are encoded as integers so that a 12k-word story is scored in a few
    milliseconds with numpy instead of a Python loop over tuples."""
    # tokenise, then lowercase each token (lowercasing first splits e.g. "İ" -> "i" + U+0307)
    tokens = [t.lower() for t in _REP_TOKEN.findall(text)]
    n_grams = len(tokens) - cfg.n + 1
    ngram_ratio = local_ratio = 0.0
    if n_grams > 0:
        vocab: dict[str, int] = {}
        ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int64, count=len(tokens))
        base = len(vocab) + 1
        if base ** cfg.n < 2**62:  # exact integer code for each n-gram
            codes = np.zeros(n_grams, dtype=np.int64)
            for k in range(cfg.n):
                codes = codes * base + ids[k : k + n_grams]
        else:  # huge vocabularies: fall back to hashing the tuples
            codes = np.fromiter(
                (hash(tuple(tokens[i : i + cfg.n])) for i in range(n_grams)), dtype=np.int64, count=n_grams
            )
        # A stable sort keeps equal n-grams in text order, so neighbours in `order` are
        # an n-gram and its previous occurrence.
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        same = sorted_codes[1:] == sorted_codes[:-1]
        ngram_ratio = float(np.count_nonzero(same)) / n_grams  # sum over n-grams of (count - 1)
        # Local repeats: an n-gram whose previous occurrence is fewer than `window` back.
        near = (order[1:] - order[:-1]) < cfg.window
        local_ratio = float(np.count_nonzero(same & near)) / n_grams
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line_ratio = (len(lines) - len(set(lines))) / len(lines) if lines else 0.0
    penalty = cfg.w_ngram * (0.7 * max(0.0, ngram_ratio - cfg.hinge) + 0.3 * local_ratio)
    return float(min(cfg.cap, penalty + cfg.w_lines * line_ratio))


def ngrams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    """The distinct n-grams of ``text``, tokenised and lower-cased as ``self_repetition``
    tokenises."""
    tokens = [t.lower() for t in _REP_TOKEN.findall(text)]
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def ngram_overlap(text: str, earlier: set[tuple[str, ...]], n: int = 4) -> float:
    """Share (0..1) of the n-gram occurrences of ``text`` that also occur in ``earlier``
    (the n-grams of the text before it): how much of a window replays the story so far.
    0.0 for a text with no n-grams."""
    tokens = [t.lower() for t in _REP_TOKEN.findall(text)]
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return sum(g in earlier for g in grams) / len(grams)
