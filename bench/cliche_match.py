"""Benchmark: the cliché matcher on a 12k-word story, against a plain alternation.

The bundled list compiles into one prefix-tree pattern (``metrics.cliche``). This script
times it against the obvious alternative, one alternation of every entry, longest
first, on the same text (12,000 words of the offline writer's vocabulary with about one
cliché per 100 words), checks that both find the same hits, and prints the times and
their ratio (target: the prefix tree at least 5x faster, and under 50 ms a story).

    .venv/bin/python bench/cliche_match.py [--words 12000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter

from polaris_bench.metrics.cliche import load_lexicon, normalize


def story(words: int, entries: list[str], seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = ("the", "quiet", "harbor", "carried", "a", "letter", "across", "winter", "and", "she", "remembered",
             "the", "orchard")
    parts: list[str] = []
    for _ in range(words):
        parts.append(rng.choice(vocab))
        if rng.random() < 0.01:
            parts.append(rng.choice(entries))
        if rng.random() < 0.05:
            parts.append("\n\n")
    return " ".join(parts)


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=12000)
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args()
    lexicon = load_lexicon()
    entries = list(lexicon.entries)
    text = story(opts.words, entries)
    plain = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(e).replace(r"\ ", r"\s+") for e in sorted(entries, key=len, reverse=True))
        + r")(?!\w)"
    )

    def plain_hits() -> Counter[str]:
        return Counter(re.sub(r"\s+", " ", m.group(0)) for m in plain.finditer(normalize(text)))

    assert lexicon.hits(text) == plain_hits(), "the two matchers disagree"
    tree = best(lambda: lexicon.hits(text), opts.repeats)
    alternation = best(plain_hits, opts.repeats)
    print(f"{len(entries)} entries, {opts.words} words, {sum(lexicon.hits(text).values())} hits")
    print(f"prefix tree:       {tree * 1000:8.1f} ms")
    print(f"plain alternation: {alternation * 1000:8.1f} ms")
    print(f"alternation / tree: {alternation / tree:.1f}x (target >= 5)")


if __name__ == "__main__":
    main()
