"""What is judged and measured: the story a writer produced (its thinking removed) and
the prompt it answered."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from inspect_ai.solver import TaskState

# Reasoning delimiters (open, close): Qwen/DeepSeek-style <think>...</think>, and Gemma 4's
# channel tokens "<|channel>thought ... <channel|>" (ai.google.dev prompt-formatting-gemma4).
_THINKING_TAGS: tuple[tuple[str, str], ...] = (("<think>", "</think>"), ("<|channel>", "<channel|>"))
_BLOCKS = [re.compile(re.escape(o) + r".*?" + re.escape(c), re.DOTALL | re.IGNORECASE) for o, c in _THINKING_TAGS]


def strip_thinking(text: str, *, strip: bool = True) -> str:
    """Drop a reasoning model's thinking: ``<think>...</think>`` and Gemma's
    ``<|channel>thought...<channel|>`` blocks, and an unterminated trailing block. Text
    before a lone closing tag (a chat template that opens the block in the prompt) is
    dropped too. ``strip=False`` keeps the story's own leading and trailing characters
    (blank detection measures the text as written)."""
    for (opening, closing), block in zip(_THINKING_TAGS, _BLOCKS):
        if opening not in text.lower() and closing not in text.lower():
            continue
        text = block.sub("", text)
        lower = text.lower()
        if closing in lower:
            text = text[lower.rindex(closing) + len(closing) :]
        lower = text.lower()
        if opening in lower:  # a reply cut off while still thinking has no story yet
            text = text[: lower.index(opening)]
    return text.strip() if strip else text


def story_text(state: TaskState, *, strip: bool = True) -> str:
    """The story a writer produced: the completion without its thinking part
    (Inspect keeps structured reasoning out of ``completion``; inline
    ``<think>`` and Gemma channel blocks are removed here)."""
    return strip_thinking(state.output.completion if state.output else "", strip=strip)


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
