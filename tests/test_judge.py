import pytest
from inspect_ai.model import GenerateConfig
from judge_helpers import STORY, scripted_model, valid_reply

from polaris_bench.judging.judge import JudgeConfig, judge_story


async def test_retry_recovers_and_varies_the_seed(sq_rubric):
    calls: list[GenerateConfig] = []
    model = scripted_model(["not json", valid_reply(sq_rubric, {"P1": 9})], calls)
    j = await judge_story(sq_rubric, "Prompt. Your story should be approximately 900 words long.", STORY, model)
    assert j.ok and j.attempts == 2 and j.scores["P1"] == 9 and j.result["overall"] == 9
    assert j.errors == ["reply is not a bare JSON object (starts with 'not json')"]
    assert calls[0].seed != calls[1].seed  # so a response cache cannot replay the bad reply
    assert calls[0].response_schema is not None and calls[0].response_schema.name == "story_quality_judgement"


async def test_gives_up_unscored_with_every_reason(sq_rubric):
    model = scripted_model(["", "```json\n{}\n```", RuntimeError("provider down")])
    j = await judge_story(sq_rubric, "Prompt.", STORY, model, JudgeConfig(max_attempts=3))
    assert not j.ok and j.result is None and j.scores is None and j.attempts == 3
    reason = j.unscored_reason
    assert reason == (
        "attempt 1: empty reply; "
        "attempt 2: reply is not a bare JSON object (starts with '```json\\n{}\\n```'); "
        "attempt 3: judge call failed: RuntimeError: provider down"
    )
    assert j.metadata()["unscored_reason"] == reason


async def test_length_sentence_and_thinking_are_removed_before_judging(sq_rubric):
    calls = []
    seen = []

    model = scripted_model([valid_reply(sq_rubric)], calls)
    original = model.generate

    async def spy(input, config=None, **kw):
        seen.append(input[0].text)
        return await original(input, config=config, **kw)

    model.generate = spy  # type: ignore[method-assign]
    prompt = "Write about the harbor. Your story should be approximately 3000 words long."
    j = await judge_story(sq_rubric, prompt, "<think>secret plan</think>" + STORY, model)
    assert j.ok
    assert "approximately 3000 words" not in seen[0] and "Write about the harbor." in seen[0]
    assert "secret plan" not in seen[0] and "counted the boats" in seen[0]


async def test_missing_grader_role_is_an_error_not_the_writer(sq_rubric):
    from inspect_ai._util.error import PrerequisiteError

    with pytest.raises(PrerequisiteError):
        await judge_story(sq_rubric, "Prompt.", STORY)


async def test_compact_mode_and_metadata(sq_rubric):
    import json

    body = {"criteria": {c.id: c.min for c in sq_rubric.criteria}, "positive_total": 0, "negative_total": 0,
            "overall": 0, "label": "poor"}
    body["criteria"]["P2"] = 14
    j = await judge_story(sq_rubric, "Prompt.", STORY, scripted_model([json.dumps(body)]), JudgeConfig(compact=True))
    meta = j.metadata()
    assert j.ok and meta["judge_mode"] == "compact" and meta["criteria"]["P2"] == 14
    assert meta["rubric_sha256"] == sq_rubric.sha256 and len(meta["template_sha256"]) == 64
    assert meta["label"] == "very_poor" and meta["judge_model"] == "mockllm/model"
    # the names travel with the score, so the store needs no copy of the rubric
    assert meta["criterion_names"] == {c.id: c.name for c in sq_rubric.criteria}


async def test_structured_reasoning_content_is_not_parsed_or_judged(sq_rubric):
    from inspect_ai.model import (
        ChatMessageAssistant,
        ContentReasoning,
        ContentText,
        ModelOutput,
        ModelUsage,
        get_model,
    )

    reply = ChatMessageAssistant(
        content=[ContentReasoning(reasoning="Let me think {not json}"), ContentText(text=valid_reply(sq_rubric))]
    )

    def respond(input, tools, tool_choice, config):
        out = ModelOutput(model="mockllm", choices=[{"message": reply, "stop_reason": "stop"}])
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return out

    model = get_model("mockllm/model", custom_outputs=respond, memoize=False)
    j = await judge_story(sq_rubric, "Prompt.", STORY, model)
    assert j.ok and j.attempts == 1


def test_writer_reasoning_content_is_not_part_of_the_story():
    from inspect_ai.model import (
        ChatMessageAssistant,
        ContentReasoning,
        ContentText,
        ModelOutput,
    )

    from polaris_bench.story import story_text

    class State:
        output = ModelOutput(
            model="m",
            choices=[{"message": ChatMessageAssistant(content=[ContentReasoning(reasoning="plan plan plan"),
                                                               ContentText(text="<think>more</think>The story.")]),
                      "stop_reason": "stop"}],
        )

    assert story_text(State()) == "The story."


def test_reply_schema_is_built_once_per_rubric_and_never_copied(sq_rubric):
    """Inspect deep-copies the generate config three times per call; the judge's schema
    (an enum per score) is shared instead, and still says exactly what the rubric asks."""
    import copy

    from inspect_ai.util import JSONSchema

    from polaris_bench.judging.judge import judge_response_schema
    from polaris_bench.judging.prompt import response_json_schema

    def fresh(rubric, compact=False):  # what a schema built for this call would send
        return JSONSchema.model_validate(response_json_schema(rubric, compact=compact)).model_dump(exclude_none=True)

    full, compact = judge_response_schema(sq_rubric), judge_response_schema(sq_rubric, compact=True)
    assert judge_response_schema(sq_rubric) is full and full is not compact
    assert copy.deepcopy(full) is full
    merged = GenerateConfig().merge(GenerateConfig(response_schema=full))
    assert merged.response_schema is full
    assert full.json_schema.model_dump(exclude_none=True) == fresh(sq_rubric)
    assert compact.json_schema.model_dump(exclude_none=True) == fresh(sq_rubric, compact=True)
    # a rubric derived in code (WritingBench's per-query criteria) keeps the file's hash
    # but not its criteria: it gets a schema of its own
    polarities = dict.fromkeys(c.polarity for c in sq_rubric.criteria)
    fewer = sq_rubric.with_criteria([next(c for c in sq_rubric.criteria if c.polarity == p) for p in polarities])
    assert fewer.sha256 == sq_rubric.sha256
    assert judge_response_schema(fewer).json_schema.model_dump(exclude_none=True) == fresh(fewer)
    assert judge_response_schema(fewer) is not full


async def test_each_call_sends_the_shared_schema(sq_rubric):
    calls: list[GenerateConfig] = []
    model = scripted_model([valid_reply(sq_rubric, {}), valid_reply(sq_rubric, {})], calls)
    await judge_story(sq_rubric, "Prompt.", STORY, model)
    await judge_story(sq_rubric, "Prompt.", STORY, model)
    assert calls[0].response_schema is calls[1].response_schema
