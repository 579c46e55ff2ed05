"""Windows of a story: exact cover by the paper's word positions, paragraph granularity,
the fallbacks (sentences, then words) and the edge cases; the story-so-far digest."""

import itertools
import random

import pytest

from polaris_bench.judging.segments import DIGEST_WORDS, story_digest
from polaris_bench.metrics.length import count_words
from polaris_bench.metrics.windows import paragraphs, split_windows, units
from polaris_bench.providers.offline import write_story

WORDS = "lantern harbor letter orchard engine sister river signal winter don't 3,000 café &amp; naïve".split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + rng.choice([".", "!", "?", '."', "\u2026"])


def _story(rng: random.Random, paragraphs_: int, *, breaks: bool = True) -> str:
    paras = []
    for _ in range(paragraphs_):
        if rng.random() < 0.05:
            paras.append("* * *")  # a scene break: no words at all
            continue
        paras.append(" ".join(_sentence(rng, rng.randint(3, 30)) for _ in range(rng.randint(1, 9))))
    sep = "\n\n" if breaks else " "
    return ("\n" if rng.random() < 0.5 else "") + sep.join(paras) + ("  \n" if rng.random() < 0.5 else "")


def check_cover(story: str, size: int) -> list:
    """The contract's invariants; returns the windows."""
    windows = split_windows(story, size)
    total = count_words(story)
    assert "".join(w.text for w in windows) == story  # the exact text, in order
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[0].first_word == 0 and windows[-1].last_word == total - 1
    for a, b in itertools.pairwise(windows):
        assert b.first_word == a.last_word + 1  # no gap, no overlap
    for w in windows:
        assert w.words >= 1 and count_words(w.text) == w.words  # positions by the paper's rule
    return windows


@pytest.mark.parametrize("seed", range(40))
def test_random_stories_are_covered_exactly_in_windows_of_about_the_size(seed):
    rng = random.Random(seed)
    size = rng.choice([100, 250, 600, 2000])
    story = _story(rng, rng.randint(5, 160))
    windows = check_cover(story, size) if count_words(story) else []
    if not windows:
        return
    total = count_words(story)
    if total < 2 * size:
        assert len(windows) == 1
        return
    biggest = max(n for _, _, n in units(story, size))
    for w in windows[:-1]:  # paragraph granularity: within half a unit of the size
        assert abs(w.words - size) <= biggest / 2 + 1e-9, (w.words, size, biggest)
    assert size / 2 <= windows[-1].words <= 1.5 * size + biggest / 2


def test_windows_end_at_paragraph_breaks():
    story = write_story("writer", "a prompt", 9000)
    windows = check_cover(story, 2000)
    assert len(windows) == 4 or len(windows) == 5
    for w in windows[:-1]:
        assert w.text.endswith("\n\n") and not w.text.strip().endswith("\n")


def test_no_paragraph_breaks_cuts_at_sentence_ends_then_words():
    rng = random.Random(7)
    one_paragraph = _story(rng, 80, breaks=False).strip()
    windows = check_cover(one_paragraph, 300)
    assert len(windows) > 2
    for w in windows[:-1]:
        assert w.text.rstrip()[-1] in '.!?"\u2026'  # a sentence end
    no_sentences = " ".join(rng.choice(WORDS[:9]) for _ in range(1234))  # one endless sentence, 1234 words
    windows = check_cover(no_sentences, 200)
    assert len(windows) == 6 and all(w.words == 200 for w in windows[:-1])
    assert windows[-1].words == 234


def test_cjk_and_entities_keep_the_paper_count():
    # a CJK run between punctuation is one word by the paper's rule; cuts never split one
    cjk = "".join(f"第{i}章的故事很长。" for i in range(400))
    windows = check_cover(cjk, 120)
    assert len(windows) >= 3
    entities = " ".join(f"word{i}&amp;x&#x41;b &nbsp; don't" for i in range(600))
    check_cover(entities, 150)


def test_short_stories_and_edges():
    story = write_story("writer", "p", 3999)
    [w] = check_cover(story, 2000)  # shorter than two windows: one window
    assert (w.first_word, w.last_word) == (0, 3998) and w.text == story
    assert len(check_cover(write_story("writer", "p", 4000), 2000)) == 2
    assert split_windows("", 2000) == [] and split_windows("  \n\n * * * \n", 100) == []
    [w] = split_windows("One word.", 100)
    assert (w.first_word, w.last_word) == (0, 1)
    for bad in (0, -5, 2.5, "100", True):
        with pytest.raises(ValueError, match="window size"):
            split_windows("text", bad)


def test_a_short_tail_joins_the_window_before():
    story = write_story("writer", "tail", 6300)  # 3 windows of ~2000, then ~300 words
    windows = check_cover(story, 2000)
    assert len(windows) == 3 and windows[-1].words > 2000


def test_digest_is_extractive_short_and_spans_the_story_so_far():
    story = write_story("writer", "digest", 6000)
    paras = paragraphs(story)
    digest = story_digest(story)
    lines = digest.split("\n")
    assert count_words(digest) <= DIGEST_WORDS
    assert all(any(p.startswith(line.removesuffix(" \u2026")) for p in paras) for line in lines)  # first sentences
    assert paras[0].startswith(lines[0]) and paras[-1].startswith(lines[-1])  # opening and most recent
    assert len(lines) > 3
    # without paragraph breaks: evenly spaced sentences of the one paragraph
    flat = " ".join(paras[:3])
    assert story_digest(flat).split("\n")[0] in flat and story_digest(flat).count("\n") >= 2
    assert story_digest("") == "" and story_digest("Short. Story.") == "Short.\nStory."
    long_sentence = " ".join(["word"] * 100) + "."
    assert story_digest(long_sentence).endswith("\u2026") and count_words(story_digest(long_sentence)) == 40
