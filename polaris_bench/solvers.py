"""Solvers shared by the tasks."""

from __future__ import annotations

from inspect_ai.solver import Generate, Solver, TaskState, solver

from .sweep import DEFAULT_THINKING_ALLOWANCE, max_tokens_for


@solver
def write_story(max_tokens: int | None = None, thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE) -> Solver:
    """Generate the story with ``max_tokens`` sized from the sample's target (a 12k-word
    story needs ~18k tokens, plus room for a thinking writer's reasoning). An explicit
    ``max_tokens`` overrides the sizing for every sample."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        target = state.metadata.get("target_words")
        budget = max_tokens or (max_tokens_for(int(target), thinking_allowance) if target else None)
        state.metadata["max_tokens"] = budget
        if budget is None:
            return await generate(state)
        return await generate(state, max_tokens=budget)

    return solve
