"""The one writer solver of every task: generate the story with a token budget sized
from the requested length, or take it from a generations file (``-T generations=``)."""

from __future__ import annotations

import math
from typing import Any

from inspect_ai.model import get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from polaris_bench.benchmarks.generations import use_generations

TOKENS_PER_WORD = 1.5  # generous for English prose across tokenizers
DEFAULT_THINKING_ALLOWANCE = 4096
# LongWriter's own generation limit; also caps every token budget sized from a target.
MAX_TOKENS_CAP = 32768
# Providers whose APIs accept ``min_p`` (sent in the request body). Others would reject
# the unknown parameter, so min_p is left out there and the sample records that.
MIN_P_PROVIDERS: frozenset[str] = frozenset({"vllm", "sglang", "openai-api", "together", "openrouter"})


def max_tokens_for(target: int, thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE) -> int:
    """Room for the story at ``TOKENS_PER_WORD`` plus a thinking writer's reasoning."""
    return math.ceil(target * TOKENS_PER_WORD) + thinking_allowance


def provider_of(model_name: str) -> str:
    return model_name.split("/", 1)[0]


@solver
def write_story(
    min_p: float | None = None,
    max_tokens: int | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    max_tokens_cap: int = MAX_TOKENS_CAP,
) -> Solver:
    """Generate the story. The temperature comes from the task's GenerateConfig (so
    ``--temperature`` still overrides it); ``min_p`` is sent where the provider supports
    it. ``max_tokens`` defaults to room for the sample's target length plus thinking,
    capped at ``max_tokens_cap``; None where the sample states no length. An explicit
    ``max_tokens`` applies to every sample."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = str(get_model())
        kwargs: dict[str, Any] = {}
        applied = min_p is not None and provider_of(model) in MIN_P_PROVIDERS
        if applied:
            kwargs["extra_body"] = {"min_p": min_p}
        target = state.metadata.get("target_words")
        budget = max_tokens
        if budget is None and target:
            budget = min(max_tokens_cap, max_tokens_for(int(target), thinking_allowance))
        if budget is not None:
            kwargs["max_tokens"] = budget
        state.metadata["max_tokens"] = budget
        state.metadata["generation_settings"] = {
            "min_p": min_p if applied else None,
            "min_p_requested": min_p,
            "max_tokens": budget,
        }
        return await generate(state, **kwargs)

    return solve


def story_solver(generations: str | None, **write_args: Any) -> Solver:
    """``use_generations(path)`` when a generations file is given, else ``write_story``."""
    if generations:
        return use_generations(generations)
    return write_story(**write_args)
