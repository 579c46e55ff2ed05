"""Whether a writer thinks before it writes, which decides if its token budget gets a
thinking allowance.

``-T thinking=true|false`` decides explicitly. Left out, the model's name is matched
against ``KNOWN_THINKING`` below, the one list of model families known to reason
before answering by default; a name that matches nothing gets no allowance. The
decision and its reason are recorded in each sample's metadata (``thinking``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

# (pattern, thinks), first match wins. A pattern matches the lower-cased model name
# without its provider ("vllm/Qwen/Qwen3-8B" -> "qwen/qwen3-8b"; a local "hf/<folder>"
# -> the folder path) or the name's last part ("openrouter/openai/o3" -> "o3").
KNOWN_THINKING: tuple[tuple[str, bool], ...] = (
    ("*qwen3*instruct-2507*", False),  # the 2507 Qwen3 instruct releases do not think
    ("*qwen3*", True),  # Qwen3 and Qwen3.5: thinking mode on by default
    ("*qwq*", True),
    ("*deepseek-r1*", True),
    ("*gpt-oss*", True),
    ("o1*", True),  # OpenAI o-series: reasoning tokens count against max_tokens
    ("o3*", True),
    ("o4*", True),
    ("gpt-5*chat*", False),
    ("gpt-5*", True),
)


@dataclass(frozen=True)
class ThinkingDecision:
    thinks: bool
    allowance: int  # tokens added to the budget (0 when the writer does not think)
    reason: str

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)


def model_family_thinks(model_name: str) -> tuple[bool, str | None]:
    """(thinks, the matching pattern) for a model name (with or without provider)."""
    name = model_name.lower()
    bare = name.split("/", 1)[1] if "/" in name else name
    last = bare.rstrip("/").rsplit("/", 1)[-1]
    for pattern, thinks in KNOWN_THINKING:
        if fnmatchcase(bare, pattern) or fnmatchcase(last, pattern):
            return thinks, pattern
    return False, None


def decide_thinking(model_name: str, thinking: bool | None, allowance: int) -> ThinkingDecision:
    """``thinking`` True/False is the user's word; None infers it from the model name."""
    if thinking is not None:
        thinks, reason = thinking, f"-T thinking={str(thinking).lower()}"
    else:
        thinks, pattern = model_family_thinks(model_name)
        if pattern is None:
            reason = f"{model_name} matches no known thinking model family"
        else:
            verb = "thinks" if thinks else "does not think"
            reason = f"{model_name} matches {pattern!r}: {verb} by default"
    return ThinkingDecision(thinks=thinks, allowance=allowance if thinks else 0, reason=reason)
