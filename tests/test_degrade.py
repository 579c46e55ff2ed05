"""The offline writer's ``-M degrade=`` option and the fair judge's reading of a worn
opening: clichés and self-repetition grow towards the end of a degrading story, a late
window scores lower than an early one, and nothing else moves (undegraded text, probe
stories, padding at the end)."""

from __future__ import annotations

import hashlib
import re

import pytest
from inspect_ai.model import get_model

from polaris_bench.benchmarks.judge_audit import load_probes, padded
from polaris_bench.judging.prompt import render, response_json_schema
from polaris_bench.judging.rubric import load_rubric
from polaris_bench.metrics.cliche import cliche_rate
from polaris_bench.metrics.length import count_words
from polaris_bench.metrics.repetition import self_repetition
from polaris_bench.providers.judge_behaviour import (
    JudgeBehaviour,
    opening_text,
    rubric_scores,
    wear,
)
from polaris_bench.providers.offline import write_story

PROMPTS = ("A story about a harbor.", "A lighthouse keeper finds a ledger.", "Two sisters mend a ferry.")
WRITERS = ("writer", "writer-a", "writer-b")


def parts(story: str, n: int) -> list[str]:
    """``story`` cut into ``n`` pieces of equal word counts (the paper's rule)."""
    starts = [m.start() for m in re.finditer(r"\w+", story)]
    size = len(starts) // n
    cuts = [starts[i * size] for i in range(n)] + [len(story)]
    return [story[cuts[i] : cuts[i + 1]] for i in range(n)]


def overall(text: str) -> float:
    rubric = load_rubric("story_quality")
    prompt = render(rubric, "A prompt.", text, compact=True).text
    scores = rubric_scores(prompt, text, response_json_schema(rubric, compact=True), 0, JudgeBehaviour(noise=0.0))
    return rubric.aggregate(scores)["overall"]


# -- the writer ----------------------------------------------------------------------------------


def test_no_degrade_writes_the_text_it_always_wrote():
    # the sha256 of these stories as the writer wrote them before the option existed
    text = "".join(write_story(m, "A story about a harbor.", n, 0.0) for m in WRITERS for n in (1, 150, 3000))
    assert hashlib.sha256(text.encode()).hexdigest() == "b7744c1b20a28340fe7d5e100511c4a8d46eb231ee4d7ee6fa559800f22e726b"


@pytest.mark.parametrize("n", [1, 9, 150, 2999, 12000])
@pytest.mark.parametrize("degrade", [0.3, 1.0])
def test_a_degrading_writer_still_writes_exactly_the_words_asked(n, degrade):
    story = write_story("writer-a", "p", n, degrade)
    assert count_words(story) == n
    assert story == write_story("writer-a", "p", n, degrade)  # deterministic


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_cliches_and_repetition_grow_towards_the_end(writer, prompt):
    story = write_story(writer, prompt, 9000, 1.0)
    first, _, last = parts(story, 3)
    assert cliche_rate(last) > cliche_rate(first) + 20
    assert self_repetition(last) > self_repetition(first) + 0.05
    # a stronger setting degrades more; none at all leaves no trace
    mild = parts(write_story(writer, prompt, 9000, 0.3), 3)[2]
    assert cliche_rate(last) > cliche_rate(mild) > 0
    plain = write_story(writer, prompt, 9000)
    assert cliche_rate(plain) == 0 and self_repetition(plain) < 0.01


def test_loops_repeat_recent_sentences_and_paragraphs():
    story = write_story("writer-b", PROMPTS[0], 12000, 1.0)
    last = parts(story, 6)[-1]
    sentences = re.findall(r"[^.]+\.", last)
    assert len(sentences) - len(set(sentences)) > len(sentences) // 5  # sentences said again
    paragraphs = story.split("\n\n")
    assert len(paragraphs) > len(set(paragraphs))  # whole paragraphs echoed


@pytest.mark.parametrize("value", ["1.5", "-0.1", "lots"])
def test_bad_degrade_values_are_refused(value):
    with pytest.raises(ValueError, match=rf"-M degrade must be a strength in \[0, 1\], not '{re.escape(value)}'"):
        get_model("offline/writer", degrade=value, memoize=False)


def test_degrade_is_a_writer_option():
    with pytest.raises(ValueError, match="-M degrade is a writer option"):
        get_model("offline/judge", degrade=0.5, memoize=False)


async def test_the_model_writes_degrading_text():
    writer = get_model("offline/writer-a", degrade="1", memoize=False)
    out = await writer.generate("A story about a harbor. Your story should be approximately 3000 words long.")
    plain = await get_model("offline/writer-a", memoize=False).generate(
        "A story about a harbor. Your story should be approximately 3000 words long."
    )
    assert count_words(out.completion) == count_words(plain.completion)
    assert cliche_rate(out.completion) > 10 and cliche_rate(plain.completion) == 0


# -- the fair judge -------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_fair_judge_scores_a_late_window_lower(writer, prompt):
    windows = parts(write_story(writer, prompt, 12000, 1.0), 6)
    first, last = overall(windows[0]), overall(windows[-1])
    assert last < first
    assert wear(opening_text(windows[-1])) < 0.25 < wear(opening_text(windows[0])) == 1.0


def test_wear_follows_the_openings_clichés_and_repetition_only():
    clean = write_story("writer", PROMPTS[0], 400)
    assert wear(opening_text(clean)) == 1.0
    stock = "A testament to the palpable tension, eyes widened, a tapestry of unspoken dread. " * 3
    worn = wear(opening_text(stock + clean))
    assert 0 <= worn < 0.5
    # below the free level (one stock phrase in 120 words) nothing changes
    assert wear(opening_text("A tapestry. " + clean)) == 1.0
    # what comes after the opening is not read
    assert wear(opening_text(clean + " " + stock * 20)) == 1.0


def test_padding_at_the_end_of_a_worn_window_changes_nothing():
    window = parts(write_story("writer-a", PROMPTS[1], 12000, 1.0), 6)[-1]
    assert overall(padded(window)) == overall(window)


def test_ordinary_prose_and_the_probe_stories_score_as_before():
    for probe in load_probes():
        assert wear(opening_text(probe.story)) == 1.0, probe.id
    for writer in WRITERS:
        for prompt in PROMPTS:
            for window in parts(write_story(writer, prompt, 6000), 3):
                assert wear(opening_text(window)) == 1.0
