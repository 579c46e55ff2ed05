"""What is judged and measured: the story a writer produced (its thinking removed) and
the prompt it answered."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from inspect_ai.solver import TaskState

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """Drop a reasoning model's thinking: ``<think>...</think>`` blocks, and an
    unterminated trailing block. Text before a lone ``</think>`` (a chat template that
    opens the think tag in the prompt) is dropped too."""
    text = _THINK_BLOCK.sub("", text)
    if "</think>" in text.lower():
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    lower = text.lower()
    if "<think>" in lower:  # a reply cut off while still thinking has no story yet
        text = text[: lower.index("<think>")]
    return text.strip()


def story_text(state: TaskState) -> str:
    """The story a writer produced: the completion without its thinking part
    (Inspect keeps structured reasoning out of ``completion``; inline
    ``<think>`` blocks are removed here)."""
    return strip_thinking(state.output.completion if state.output else "")


def last_user_turn(messages: Iterable[Any]) -> str | None:
    """The text of the last user message of a chat prompt (dicts with ``role`` and
    ``content``, or Inspect chat messages); None when there is none.

    The last user turn is what the model answers: earlier turns (a worked example, an
    earlier request in the conversation) are context for it. Inspect's
    ``TaskState.input_text`` takes the same turn, so loaders, logs and training agree."""
    for message in reversed(list(messages)):
        if isinstance(message, Mapping):
            role, text = message.get("role"), message.get("content")
        else:
            role, text = getattr(message, "role", None), getattr(message, "text", None)
        if role == "user":
            return text if isinstance(text, str) else None
    return None


def prompt_text(state: TaskState) -> str:
    """The writing prompt as the writer saw it (the last user message)."""
    return state.metadata.get("prompt") or state.input_text
