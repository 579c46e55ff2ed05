"""Judging existing generations (``-T generations=<jsonl>``), as POLARIS's own
evaluation does with released outputs.

A generations file is JSON lines, one story a row: an id (``id``, ``sample_id``,
``uid`` or ``prompt_id``, the first present) that names a sample of the task's dataset,
and the story (``story``, ``output``, ``completion`` or ``response``). Optional:
``model`` (recorded). The dataset is narrowed to the samples that have a row; a row
whose id matches no sample is an error, as is a duplicate id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessageAssistant, ModelOutput
from inspect_ai.solver import Generate, Solver, TaskState, solver

from polaris_bench.benchmarks.common import (
    DatasetError,
    as_id,
    existing_path,
    read_jsonl,
)

ID_FIELDS = ("id", "sample_id", "uid", "prompt_id")
STORY_FIELDS = ("story", "output", "completion", "response")


@dataclass(frozen=True)
class Generation:
    id: str
    story: str
    model: str | None
    line: int


def load_generations(path: str | Path) -> dict[str, Generation]:
    p = existing_path(path, "generations", override="-T generations=")
    rows: dict[str, Generation] = {}
    for line, row in read_jsonl(p):
        id_key = next((k for k in ID_FIELDS if k in row), None)
        if id_key is None:
            raise DatasetError(p, f"no id field (one of {', '.join(ID_FIELDS)})", line)
        ident = as_id(row[id_key], id_key, p, line)
        story_key = next((k for k in STORY_FIELDS if k in row), None)
        if story_key is None:
            raise DatasetError(p, f"no story field (one of {', '.join(STORY_FIELDS)})", line)
        story = row[story_key]
        if not isinstance(story, str):
            raise DatasetError(p, f"field {story_key!r} must be a string, got {type(story).__name__}", line)
        model = row.get("model")
        if model is not None and not isinstance(model, str):
            raise DatasetError(p, "field 'model' must be a string", line)
        if ident in rows:
            raise DatasetError(p, f"duplicate id {ident!r} (first on line {rows[ident].line})", line)
        rows[ident] = Generation(id=ident, story=story, model=model, line=line)
    if not rows:
        raise DatasetError(p, "no rows")
    return rows


def select_samples(samples: list[Sample], generations: dict[str, Generation], path: str | Path) -> list[Sample]:
    """The samples that have a generation, in dataset order; unknown ids are an error."""
    known = {str(s.id) for s in samples}
    unknown = [g for g in generations.values() if g.id not in known]
    if unknown:
        first = min(unknown, key=lambda g: g.line)
        example = ", ".join(sorted(known)[:5])
        raise DatasetError(
            path,
            f"id {first.id!r} matches no prompt of the dataset ({len(unknown)} such row(s); "
            f"dataset ids look like: {example})",
            first.line,
        )
    return [s for s in samples if str(s.id) in generations]


@solver
def use_generations(path: str) -> Solver:
    """Set each sample's output to its story from the generations file (no model call)."""
    generations = load_generations(path)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        row = generations.get(str(state.sample_id))
        if row is None:  # select_samples() keeps only samples with a row
            raise DatasetError(path, f"no generation for sample {state.sample_id!r}")
        model = row.model or "generations"
        state.output = ModelOutput.from_content(model=model, content=row.story)
        state.messages.append(ChatMessageAssistant(content=row.story, model=model))
        state.metadata["generation_source"] = str(path)
        state.metadata["generation_model"] = row.model
        return state

    return solve


def with_generations(samples: list[Sample], generations: str | None) -> list[Sample]:
    """All ``samples`` when no generations file is given, else the ones it has a row for."""
    if not generations:
        return samples
    return select_samples(samples, load_generations(generations), generations)
