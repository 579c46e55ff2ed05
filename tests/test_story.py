"""The prompt a writer answers: one rule (the last user turn) for every loader."""

from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

from polaris_bench.benchmarks.story_elo import _input_text
from polaris_bench.story import last_user_turn


def test_last_user_turn_of_dicts_and_chat_messages():
    dicts = [
        {"role": "system", "content": "You write stories."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "a draft"},
        {"role": "user", "content": "second"},
    ]
    assert last_user_turn(dicts) == "second"
    assert last_user_turn([{"role": "system", "content": "x"}]) is None
    messages = [ChatMessageSystem(content="s"), ChatMessageUser(content="first"),
                ChatMessageAssistant(content="a"), ChatMessageUser(content="second")]
    assert last_user_turn(messages) == "second"


def test_story_elo_reads_the_same_turn_from_a_log_input():
    messages = [ChatMessageUser(content="an example request"), ChatMessageAssistant(content="ok"),
                ChatMessageUser(content="the request")]
    assert _input_text(messages) == "the request"
    assert _input_text("plain text") == "plain text"
