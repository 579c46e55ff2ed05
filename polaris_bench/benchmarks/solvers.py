"""The one writer solver of every task: generate the story with a token budget sized
from the requested length, or take it from a generations file (``-T generations=``).

The budget gets a thinking allowance only for a writer that thinks: ``-T thinking=``
says so, or the model's family is known to (``benchmarks/thinking.py``). Each sample
records what was decided and why (``thinking``) and its own output token count
(``output_tokens``) for the truncation check.
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import Model, ModelOutput, get_model, model_roles
from inspect_ai.solver import Generate, Solver, TaskState, chain, solver

from polaris_bench.benchmarks.generations import use_generations
from polaris_bench.benchmarks.task_args import missing_roles_message
from polaris_bench.benchmarks.thinking import decide_thinking
from polaris_bench.metrics.scorer import BATCH_USAGE_PROVIDERS

TOKENS_PER_WORD = 1.5  # generous for English prose across tokenizers
DEFAULT_THINKING_ALLOWANCE = 4096
# LongWriter's own generation limit; also caps every token budget sized from a target.
MAX_TOKENS_CAP = 32768
# Providers whose APIs accept ``min_p`` (sent in the request body). Others would reject
# the unknown parameter, so min_p is left out there and the sample records that.
MIN_P_PROVIDERS: frozenset[str] = frozenset({"vllm", "sglang", "openai-api", "together", "openrouter"})


def max_tokens_for(target: int, thinking_allowance: int = 0) -> int:
    """Room for the story at ``TOKENS_PER_WORD`` plus a thinking writer's reasoning."""
    return math.ceil(target * TOKENS_PER_WORD) + thinking_allowance


def provider_of(model_name: str) -> str:
    return model_name.split("/", 1)[0]


def own_output_tokens(model: Model, output: ModelOutput) -> int | None:
    """The sample's own output token count. Where the provider reports usage per
    batch (``hf/``), the completion is counted again with the writer's tokenizer
    (measured on SmolLM2: the recount of a story cut at 60 or 150 tokens is 60 or
    150 exactly); None where that is not possible."""
    if provider_of(str(model)) not in BATCH_USAGE_PROVIDERS:
        return output.usage.output_tokens if output.usage else None
    tokenizer = getattr(model.api, "tokenizer", None)
    if tokenizer is None:
        return None
    return len(tokenizer(output.completion, add_special_tokens=False)["input_ids"])


@solver
def check_roles(*roles: str) -> Solver:
    """Fail the sample before anything is generated when a model role it needs is
    missing (a task object created outside ``inspect eval``; there, task creation
    already fails)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        missing = [r for r in roles if r not in model_roles()]
        if missing:
            raise PrerequisiteError(missing_roles_message(missing))
        return state

    return solve


@solver
def write_story(
    min_p: float | None = None,
    max_tokens: int | None = None,
    thinking: bool | None = None,
    thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE,
    max_tokens_cap: int = MAX_TOKENS_CAP,
) -> Solver:
    """Generate the story. The temperature comes from the task's GenerateConfig (so
    ``--temperature`` still overrides it); ``min_p`` is sent where the provider supports
    it. ``max_tokens`` defaults to room for the sample's target length, plus
    ``thinking_allowance`` when the writer thinks (``thinking``; None: inferred from
    the model name), capped at ``max_tokens_cap``; None where the sample states no
    length. An explicit ``max_tokens`` applies to every sample."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        model = get_model()
        name = str(model)
        kwargs: dict[str, Any] = {}
        applied = min_p is not None and provider_of(name) in MIN_P_PROVIDERS
        if applied:
            kwargs["extra_body"] = {"min_p": min_p}
        decision = decide_thinking(name, thinking, thinking_allowance)
        target = state.metadata.get("target_words")
        budget = max_tokens
        if budget is None and target:
            budget = min(max_tokens_cap, max_tokens_for(int(target), decision.allowance))
        if budget is not None:
            kwargs["max_tokens"] = budget
        state.metadata["max_tokens"] = budget
        state.metadata["thinking"] = decision.as_metadata()
        state.metadata["generation_settings"] = {
            "min_p": min_p if applied else None,
            "min_p_requested": min_p,
            "max_tokens": budget,
            "thinking_allowance": decision.allowance if max_tokens is None else None,
        }
        state = await generate(state, **kwargs)
        state.metadata["output_tokens"] = own_output_tokens(model, state.output)
        return state

    return solve


def story_solver(generations: str | None, roles: tuple[str, ...] = ("grader",), **write_args: Any) -> Solver:
    """After checking the judges' roles (every member of the judge panel):
    ``use_generations(path)`` when a generations file is given, else ``write_story``."""
    writer = use_generations(generations) if generations else write_story(**write_args)
    return chain(check_roles(*roles), writer)
