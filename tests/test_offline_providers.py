"""The offline test doubles behave as documented."""

import json

import jsonschema
import pytest
from inspect_ai.model import ChatMessageUser, GenerateConfig, ResponseSchema, get_model
from inspect_ai.util import JSONSchema

from polaris_bench.judging.prompt import render, response_json_schema
from polaris_bench.metrics.length import count_words
from polaris_bench.providers.offline import OfflineError, write_story


@pytest.mark.parametrize("n", [1, 9, 150, 12000])
def test_writer_writes_exactly_the_words_asked(n):
    assert count_words(write_story("writer", "prompt", n)) == n


def test_writers_differ_by_name_and_are_deterministic():
    assert write_story("writer-a", "p", 50) == write_story("writer-a", "p", 50)
    assert write_story("writer-a", "p", 50) != write_story("writer-b", "p", 50)


async def test_judge_answers_the_schema_and_quotes_the_story(sq_rubric):
    story = write_story("writer", "p", 300)
    schema = response_json_schema(sq_rubric)
    config = GenerateConfig(response_schema=ResponseSchema(name="sq", json_schema=JSONSchema.model_validate(schema)))
    judge = get_model("offline/judge", memoize=False)
    out = await judge.generate([ChatMessageUser(content=render(sq_rubric, "p", story).text)], config=config)
    reply = json.loads(out.completion)
    jsonschema.validate(reply, schema)
    quote = reply["criteria"]["N3"]["quotes"][0]
    assert quote in " ".join(story.split())
    assert out.usage is not None and out.usage.output_tokens > 0


async def test_judge_failure_options():
    schema = ResponseSchema(name="s", json_schema=JSONSchema.model_validate({"type": "object", "properties": {"x": {"type": "integer"}}}))
    broken = get_model("offline/judge", malformed=1.0, memoize=False)
    out = await broken.generate("<story>\nOnce.\n</story>", config=GenerateConfig(response_schema=schema))
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.completion)
    failing = get_model("offline/judge", fail=1.0, memoize=False, config=GenerateConfig(max_retries=0))
    with pytest.raises(OfflineError):
        await failing.generate("<story>\nOnce.\n</story>", config=GenerateConfig(response_schema=schema, max_retries=0))


def test_unknown_options_and_names_are_errors():
    with pytest.raises(ValueError, match="unknown -M"):
        get_model("offline/judge", colour="red", memoize=False)
    with pytest.raises(ValueError, match="writer"):
        get_model("offline/poet", memoize=False)


async def test_writer_usage_agrees_with_its_token_limit():
    """A story that stopped on its own reports fewer tokens than its budget, and one cut
    at the limit reports the whole budget, so ``truncated`` means what it says."""
    writer = get_model("offline/writer", memoize=False)
    prompt = "A story. Your story should be approximately 150 words long."
    done = await writer.generate(prompt, config=GenerateConfig(max_tokens=225))
    assert done.stop_reason == "stop" and done.usage.output_tokens < 225
    cut = await writer.generate(prompt, config=GenerateConfig(max_tokens=100))
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 100
