import pytest

from polaris_bench.metrics import length as L
from polaris_bench.metrics.repetition import RepetitionConfig, self_repetition
from polaris_bench.story import strip_thinking


def test_count_words_paper_rule_unescapes_html():
    assert L.count_words("Don't stop &amp; go") == 4  # don, t, stop, go ("&" unescaped, not a word)
    assert L.count_words("one&nbsp;two") == 2
    assert L.count_words("") == 0


def test_count_words_longwriter_rule_counts_cjk_chars_and_latin_words():
    assert L.count_words("hello world 123", method="longwriter") == 2
    assert L.count_words("你好世界 abc", method="longwriter") == 5
    with pytest.raises(ValueError):
        L.count_words("x", method="bogus")  # type: ignore[arg-type]


def test_parse_target_and_strip_sentence():
    prompt = "Write about a fox. Your story should be approximately 2,500 words long. Use past tense."
    assert L.parse_target(prompt) == 2500
    assert L.parse_target("no length here") is None
    assert L.strip_length_sentence(prompt) == "Write about a fox. Use past tense."
    assert L.parse_target(L.length_instruction(900)) == 900


@pytest.mark.parametrize(
    "text,expected",
    [
        ("<think>plan</think>Story.", "Story."),
        ("plan text</think>\nStory.", "Story."),
        ("Story.<think>unfinished", "Story."),
        ("<THINK>a</THINK> x <think>b</think> y", "x  y"),
    ],
)
def test_strip_thinking(text, expected):
    assert strip_thinking(text) == expected


@pytest.mark.parametrize(
    "target,b,b2",
    [(None, None, None), (500, "short", None), (1000, "ID", "1-2k"), (2000, "ID", "1-2k"), (2001, "ID", "2-4k"),
     (4000, "ID", "2-4k"), (4001, "near", "4-6k"), (8000, "near", "6-8k"), (8001, "far", "8-10k"),
     (12000, "far", "10-12k"), (12001, "beyond", None)],
)
def test_buckets(target, b, b2):
    assert L.bucket(target) == b
    assert L.bucket_2k(target) == b2


@pytest.mark.parametrize(
    "required,produced,expected",
    [(1000, 1000, 100.0), (1000, 2000, 100 * (1 - 1 / 3)), (1000, 500, 50.0), (1000, 4000, 0.0),
     (1000, 333, 0.0), (1000, 0, 0.0), (100, 125, 100 * (1 - 0.25 / 3))],
)
def test_longwriter_length_score(required, produced, expected):
    assert L.longwriter_length_score(required, produced) == pytest.approx(expected)


@pytest.mark.parametrize(
    "words,target,expected",
    [(1000, 1000, 0.0), (650, 1000, 0.0), (325, 1000, 0.5), (1600, 1000, 0.0), (2400, 1000, 0.5),
     (4000, 1000, 1.0), (4500, 10000, 0.5), (11500, 10000, 0.0), (0, 1000, 1.0)],
)
def test_band_penalty_hand_computed(words, target, expected):
    # target 1000: band [1000-350, 1000+600]; target 10000: band [10000-1000, 10000+1500]
    assert L.band_penalty(words, target) == pytest.approx(expected)


def test_self_repetition_hand_computed():
    # 4-grams of "a b c d a b c d": 5, one repeat -> ngram 0.2, local 0.2
    assert self_repetition("a b c d a b c d") == pytest.approx(0.8 * (0.7 * 0.12 + 0.3 * 0.2))
    # one duplicated line of three, no repeated 4-gram
    assert self_repetition("x y\nx y\nz") == pytest.approx(0.4 / 3)
    assert self_repetition("") == 0.0
    # 4,997 identical 4-grams: 4,996 repeats, each within the local window
    assert self_repetition("la " * 5000) == pytest.approx(0.8 * (0.7 * (4996 / 4997 - 0.08) + 0.3 * 4996 / 4997))
    heavy = RepetitionConfig(w_lines=5.0)
    assert self_repetition("la la\n" * 100, heavy) == pytest.approx(1.5)  # capped


def test_blank_rule_with_short_target_floor():
    story = "word " * 100
    assert L.is_blank(story) is True  # < 150 words
    assert L.is_blank(story, target=150) is False  # floor lowered to 75 for a 150-word target
    assert L.is_blank("word " * 200) is False
    assert L.is_blank("a" + " " * 5000 + "b " * 200) is True  # < 10% visible characters
    assert L.is_blank("") is True


def test_measure_without_target_gives_none_not_invented_values():
    report = L.measure("one two three", None)
    assert report.words == 3
    assert report.length_ratio is None and report.length_score is None and report.length_penalty is None
    assert report.bucket is None and report.target_words is None


def test_measure_with_target():
    story = "word " * 900
    r = L.measure(story, 1000, truncated=True)
    assert (r.words, r.target_words, r.bucket, r.truncated) == (900, 1000, "ID", 1)
    assert r.length_ratio == pytest.approx(0.9)
    assert r.length_score == pytest.approx(100 * (1 - (1000 / 900 - 1) / 2))


def _reference_self_repetition(text, n=4, window=64, hinge=0.08):
    """The paper's formula written the slow, obvious way."""
    import re
    from collections import Counter

    tokens = [t.lower() for t in re.findall(r"\w+|[^\s]", text)]
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    ngram = local = 0.0
    if grams:
        ngram = sum(c - 1 for c in Counter(grams).values()) / len(grams)
        # the POLARIS code's sliding window: before checking n-gram i, the n-gram at
        # i - window leaves, so earlier n-grams at most window - 1 back are seen
        recent: dict[int, tuple] = {}
        hits = 0
        for i, g in enumerate(grams):
            recent.pop(i - window, None)
            hits += g in recent.values()
            recent[i] = g
        local = hits / len(grams)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line_ratio = (len(lines) - len(set(lines))) / len(lines) if lines else 0.0
    return min(1.5, 0.8 * (0.7 * max(0.0, ngram - hinge) + 0.3 * local) + 0.4 * line_ratio)


def test_self_repetition_matches_the_obvious_implementation():
    import random

    rng = random.Random(7)
    vocab = "a b c d the fox ran , . Fox RAN İx".split()
    for i in range(150):
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 400)))
        if i % 3 == 0:
            text = text.replace(" . ", ".\n")
        assert self_repetition(text) == pytest.approx(_reference_self_repetition(text), abs=1e-12)
