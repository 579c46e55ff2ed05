"""What is judged and measured: the story a writer produced (its thinking removed) and
the prompt it answered."""

from __future__ import annotations

import re

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


def prompt_text(state: TaskState) -> str:
    """The writing prompt as the writer saw it (the first user message)."""
    return state.metadata.get("prompt") or state.input_text
