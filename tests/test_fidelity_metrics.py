"""The length and repetition formulas against the authors' code, on hand-derived cases
(docs/fidelity.md names each test): LongWriter's word count, blank detection on the
text as written, the length sentence, thinking removal (Gemma 4 channels), and
self-repetition's tokenisation and window."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai.model import ChatMessageUser, ModelOutput
from inspect_ai.scorer import Target
from inspect_ai.solver import TaskState
from judge_helpers import STORY, scripted_model, valid_reply

from polaris_bench.judging.judge import judge_story
from polaris_bench.judging.parse import parse_reply
from polaris_bench.metrics import length as L
from polaris_bench.metrics.repetition import RepetitionConfig, self_repetition
from polaris_bench.metrics.scorer import length_adherence
from polaris_bench.story import strip_thinking

# -- LongWriter's word count ([\u4e00-\u9fff] characters + \b[a-zA-Z]+\b words) -----------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "Caf" is followed by "é", a word character: no \b, so only "au" and "lait"
        ("Café au lait", 2),
        # kana are outside [\u4e00-\u9fff]: only 日, 本, 語
        ("これは日本語です", 3),
        # 我喜欢 + 编程 = 5; "Python" sits between CJK characters (word characters), so
        # \b never matches at its edges and it does not count
        ("我喜欢Python编程", 5),
        ("我喜欢 Python 编程", 6),  # with spaces the boundaries exist: 5 + Python
        ("hello world 123", 2),
        ("한국어 text", 1),  # Hangul is not counted
    ],
)
def test_longwriter_word_count_is_longwriters_rule(text, expected):
    assert L.count_words(text, method="longwriter") == expected
    assert L.measure(text, None, method="longwriter").words == expected


# -- blank detection: HTML entities and whitespace controls, on the text as written --------

WORDS_160 = "word " * 160  # 160 words, 800 characters, 640 of them visible


def _state(completion: str, target: int = 1000) -> TaskState:
    state = TaskState(
        model="offline/writer", sample_id="s1", epoch=1, input="Write.", messages=[ChatMessageUser(content="Write.")],
        metadata={"target_words": target},
    )
    state.output = ModelOutput.from_content(model="offline/writer", content=completion)
    return state


@pytest.mark.parametrize(
    "padding",
    [
        # unescaped: 800 + 10,000 NBSP characters, 640 visible: 0.059 < 0.10 (escaped it
        # would read as 60,000 visible characters)
        "&nbsp;" * 10_000,
        # \x1c is whitespace to \s (and to str.strip, which used to remove it before measuring)
        "\x1c" * 10_000,
        "\u00a0" * 10_000,
    ],
)
async def test_padded_story_is_blank_through_the_length_scorer(padding):
    story = WORDS_160 + padding
    assert L.visible_ratio(story) == pytest.approx(640 / 10_800)
    score = await length_adherence()(_state(story), Target(""))
    assert score.value["words"] == 160 and score.value["blank"] == 1
    # the same 160 words without padding are not blank (160 >= 150 words, all visible)
    clean = await length_adherence()(_state(WORDS_160), Target(""))
    assert clean.value["blank"] == 0


async def test_blank_measures_the_story_after_thinking_not_the_thinking():
    story = "<think>" + "plan " * 5000 + "</think>" + WORDS_160 + "\x1c" * 10_000
    score = await length_adherence()(_state(story), Target(""))
    assert score.value["words"] == 160 and score.value["blank"] == 1


# -- the length sentence ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        # the paper's template: the sentence goes
        ("Write a story about a lighthouse. Your story should be approximately 3000 words long.",
         "Write a story about a lighthouse."),
        # no sentence end before the phrase: only the phrase goes, never the request
        ("Write about X (3000 words long).", "Write about X."),
        ("Write a ghost story, about 2,000 words long.", "Write a ghost story."),
        ("Write a 3000 words long story about a fox.", "Write a story about a fox."),
    ],
)
def test_strip_length_sentence_keeps_the_request(prompt, expected):
    assert L.strip_length_sentence(prompt) == expected


async def test_judge_sees_the_request_without_the_length():
    seen: list[str] = []
    from polaris_bench.judging.rubric import load_rubric

    rubric = load_rubric("story_quality")
    model = scripted_model([valid_reply(rubric)])
    original = model.generate

    async def spy(input, config=None, **kw):
        seen.append(input[0].text)
        return await original(input, config=config, **kw)

    model.generate = spy  # type: ignore[method-assign]
    assert (await judge_story(rubric, "Write about X (3000 words long).", STORY, model)).ok
    assert "<writing_prompt>\nWrite about X.\n</writing_prompt>" in seen[0]


def test_target_rules_project_and_authors():
    assert L.parse_target("Write. 3,000 words long.") == 3000
    assert L.parse_target("Write. 3,000 words long.", rule="authors") is None  # their regex reads 000 -> 0
    assert L.parse_target("Write. 2,500 words long.", rule="authors") == 500
    assert L.parse_target("approximately 3000 words long.", rule="authors") == 3000
    with pytest.raises(ValueError, match="unknown target rule"):
        L.parse_target("x", rule="bogus")  # type: ignore[arg-type]


async def test_length_scorer_target_rule_option():
    state = _state(WORDS_160, target=3000)
    state.metadata = {"prompt": "Write. Your story should be approximately 2,500 words long."}
    project = await length_adherence()(state, Target(""))
    authors = await length_adherence(target_rule="authors")(state, Target(""))
    assert project.value["target_words"] == 2500 and authors.value["target_words"] == 500
    with pytest.raises(ValueError, match="target_rule"):
        length_adherence(target_rule="nope")  # type: ignore[arg-type]


# -- thinking removal: Gemma 4 channel blocks -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<|channel>thought\nplan the ending\n<channel|>The story.", "The story."),
        ("plan opened by the template\n<channel|>The story.", "The story."),  # lone closing token
        ("The story.<|channel>thought\nunfinished", "The story."),  # cut off while thinking
        ("<think>a</think><|channel>thought b<channel|>Story.", "Story."),
    ],
)
def test_strip_thinking_removes_gemma_channels(text, expected):
    assert strip_thinking(text) == expected


async def test_gemma_thinking_is_not_counted_or_judged():
    thought = "<|channel>thought\n" + "plan " * 400 + "\n<channel|>"
    score = await length_adherence()(_state(thought + WORDS_160), Target(""))
    assert score.value["words"] == 160
    from polaris_bench.judging.rubric import load_rubric

    rubric = load_rubric("story_quality")
    parsed = parse_reply(thought + valid_reply(rubric), rubric, STORY)  # a Gemma judge's reply
    assert parsed.scores["P1"] == 0


def test_strip_false_keeps_the_text_as_written():
    assert strip_thinking("<think>x</think>\n Story \x1c\x1c", strip=False) == "\n Story \x1c\x1c"


# -- self-repetition: tokenise, then lowercase; the window ----------------------------------


def test_self_repetition_tokenises_before_lowercasing():
    # five tokens "i̇x" (İ lowercases to i + U+0307 inside one token): 2 four-grams,
    # identical: ngram_ratio 1/2, local 1/2, one line:
    # 0.8 * (0.7 * (0.5 - 0.08) + 0.3 * 0.5) = 0.3552. Lowercasing first would split each
    # "İx" into three tokens (i, U+0307, x) and give 0.5552.
    assert self_repetition("İx İx İx İx İx") == pytest.approx(0.3552)


@pytest.mark.parametrize(("gap", "expected"), [(59, 0.8 * 0.3 / 64), (60, 0.0)])
def test_self_repetition_local_window_is_the_codes_63(gap, expected):
    # "a b c d", `gap` unique tokens, "a b c d": the repeat starts 4 + gap positions later.
    # gap 59: 63 back, counted (64 four-grams, local 1/64; ngram 1/64 is under the hinge);
    # gap 60: 64 back, not counted by the authors' sliding window.
    text = " ".join(["a", "b", "c", "d", *(f"f{i}" for i in range(gap)), "a", "b", "c", "d"])
    assert self_repetition(text) == pytest.approx(expected, abs=1e-12)
    assert RepetitionConfig().window == 64


def test_published_results_file_is_data():
    from importlib import resources

    text = resources.files("polaris_bench").joinpath("data/published_results.yaml").read_text()
    assert "52.1" in text  # the numbers live in the data file, not in code
    import polaris_bench.store.reference as ref

    assert "52.1" not in Path(ref.__file__).read_text(encoding="utf-8")


def test_training_reward_sees_padding_as_blank(sq_rubric):
    import asyncio

    from test_train_reward import PROMPT, fake_judge, make_reward, story

    reward = make_reward(sq_rubric, fake_judge(sq_rubric))
    s = story(20, "p3")  # about 230 words, all visible
    padded = "<think>plan</think>" + s + "\x1c" * 20_000  # str.strip() would remove the padding
    batch = asyncio.run(reward.score_batch([PROMPT, PROMPT], [padded, s], [200, 200]))
    assert [r.blank for r in batch.rows] == [1.0, 0.0]
