"""The length-generalization sweep: story prompts x requested lengths.

Sample ids are ``<prompt id>@<target>`` so that runs of different models pair up in
the store. The length instruction is the paper's sentence, appended to the prompt.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

from inspect_ai.dataset import Sample

from .length import bucket, bucket_2k, length_instruction
from .paths import resolve_user_path

# One target in each of the paper's six 2k-word buckets, ending at 12k words.
DEFAULT_TARGETS: tuple[int, ...] = (1000, 3000, 5000, 7000, 9000, 12000)
TOKENS_PER_WORD = 1.5  # generous for English prose across tokenizers
DEFAULT_THINKING_ALLOWANCE = 4096


@dataclass(frozen=True)
class StoryPrompt:
    id: str
    prompt: str
    genre: str | None = None


class PromptFileError(ValueError):
    pass


def embedded_prompts() -> list[StoryPrompt]:
    text = resources.files("polaris_bench").joinpath("data/story_prompts.jsonl").read_text("utf-8")
    return _parse_prompts(text, "polaris_bench/data/story_prompts.jsonl")


def _parse_prompts(text: str, source: str) -> list[StoryPrompt]:
    prompts: list[StoryPrompt] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptFileError(f"{source}:{lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise PromptFileError(f"{source}:{lineno}: expected a JSON object")
        pid, prompt = row.get("id"), row.get("prompt")
        if not isinstance(pid, str) or not pid or "@" in pid:
            raise PromptFileError(f"{source}:{lineno}: 'id' must be a non-empty string without '@'")
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptFileError(f"{source}:{lineno}: 'prompt' must be a non-empty string")
        if pid in seen:
            raise PromptFileError(f"{source}:{lineno}: duplicate id {pid!r}")
        seen.add(pid)
        prompts.append(StoryPrompt(id=pid, prompt=prompt.strip(), genre=row.get("genre")))
    if not prompts:
        raise PromptFileError(f"{source}: no prompts")
    return prompts


def select_prompts(spec: str | None) -> list[StoryPrompt]:
    """``None``: the embedded set; a path to a JSONL file (``id``, ``prompt``,
    optional ``genre``); an integer N: the first N embedded prompts; or a comma list of
    embedded prompt ids."""
    if spec is None or str(spec).strip() == "":
        return embedded_prompts()
    spec = str(spec).strip()
    path = resolve_user_path(spec)
    if path.suffix in (".jsonl", ".json") or path.exists():
        if not path.exists():
            raise PromptFileError(f"{path}: prompt file not found")
        return _parse_prompts(path.read_text("utf-8"), str(path))
    prompts = embedded_prompts()
    if spec.isdigit():
        n = int(spec)
        if not 1 <= n <= len(prompts):
            raise PromptFileError(f"prompts={n}: the embedded set has {len(prompts)} prompts")
        return prompts[:n]
    by_id = {p.id: p for p in prompts}
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise PromptFileError(f"unknown prompt id(s) {unknown}; embedded ids: {', '.join(by_id)}")
    return [by_id[w] for w in wanted]


def parse_targets(spec: str | int | list[int] | tuple[int, ...] | None) -> list[int]:
    if spec is None:
        return list(DEFAULT_TARGETS)
    if isinstance(spec, int):
        values = [spec]
    elif isinstance(spec, str):
        values = [int(v) for v in spec.replace(" ", "").split(",") if v]
    else:
        values = [int(v) for v in spec]
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"targets must be positive word counts, got {spec!r}")
    return values


def max_tokens_for(target: int, thinking_allowance: int = DEFAULT_THINKING_ALLOWANCE) -> int:
    """Room for the story at ``TOKENS_PER_WORD`` plus a thinking writer's reasoning."""
    return math.ceil(target * TOKENS_PER_WORD) + thinking_allowance


def sweep_samples(prompts: list[StoryPrompt], targets: list[int]) -> list[Sample]:
    samples = []
    for p in prompts:
        for t in targets:
            full = f"{p.prompt} {length_instruction(t)}"
            samples.append(
                Sample(
                    id=f"{p.id}@{t}",
                    input=full,
                    metadata={
                        "prompt_id": p.id,
                        "prompt": full,
                        "genre": p.genre,
                        "target_words": t,
                        "bucket": bucket(t),
                        "bucket_2k": bucket_2k(t),
                    },
                )
            )
    return samples
