"""EQ-Bench Creative Writing v3 prompts (and EQ-Bench-style prompt files in general).

The v3 file is a JSON object keyed by prompt id ("1".."33", no "27"); each entry has
``category``, ``title``, ``writing_prompt`` with a ``<SEED>`` slot and
``seed_modifiers``. Iteration ``i`` (1-based) fills the slot with modifier
``(i - 1) mod len(modifiers)``, so the three default iterations use three different
modifiers. Sample ids are ``<prompt id>_<iteration>``.

The EQ-Bench Longform prompt file has the same shape without seeds; it loads with
``iterations=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspect_ai.dataset import Sample

from ..length import bucket, bucket_2k
from ._common import DatasetError, existing_path, fetch_remote, read_json
from .stated_length import parse_stated_length

SEED_SLOT = "<SEED>"
EQBENCH_V3_URL = (
    "https://raw.githubusercontent.com/EQ-bench/creative-writing-bench/main/data/"
    "creative_writing_prompts_v3.json"
)


def default_eqbench_creative_path() -> Path:
    return fetch_remote(EQBENCH_V3_URL, "creative_writing_prompts_v3.json", "EQ-Bench Creative Writing v3 prompts")


def _entry_line(raw: str, key: str) -> int | None:
    """The line of ``"key": {`` in the raw JSON, for error messages."""
    needle = f'"{key}"'
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip().startswith(needle):
            return number
    return None


def load_eqbench_prompts(
    path: str | Path | None = None, *, iterations: int = 3, benchmark: str = "eqbench_creative"
) -> list[Sample]:
    """Samples for an EQ-Bench prompt file: one per prompt and iteration."""
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    p = default_eqbench_creative_path() if path is None else existing_path(path, "EQ-Bench prompts")
    data = read_json(p)
    raw = p.read_text(encoding="utf-8")
    if not isinstance(data, dict) or not data:
        raise DatasetError(p, "expected a JSON object mapping prompt ids to prompt entries")
    samples: list[Sample] = []
    for key, entry in data.items():
        line = _entry_line(raw, key)
        if not isinstance(entry, dict):
            raise DatasetError(p, f"prompt {key!r}: expected an object, got {type(entry).__name__}", line)
        prompt = entry.get("writing_prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise DatasetError(p, f"prompt {key!r}: missing or empty 'writing_prompt'", line)
        modifiers: Any = entry.get("seed_modifiers", [])
        if not isinstance(modifiers, list) or not all(isinstance(m, str) and m.strip() for m in modifiers):
            raise DatasetError(p, f"prompt {key!r}: 'seed_modifiers' must be a list of non-empty strings", line)
        has_slot = SEED_SLOT in prompt
        if has_slot and not modifiers:
            raise DatasetError(p, f"prompt {key!r}: has a {SEED_SLOT} slot but no seed_modifiers", line)
        for field in ("category", "title"):
            if field in entry and not isinstance(entry[field], str):
                raise DatasetError(p, f"prompt {key!r}: {field!r} must be a string", line)
        stated = parse_stated_length(prompt)
        length_meta = (
            stated.as_metadata()
            if stated
            else {"target_words": None, "target_range": None, "length_kind": None, "length_unit": None, "length_text": None}
        )
        for iteration in range(1, iterations + 1):
            modifier = modifiers[(iteration - 1) % len(modifiers)] if has_slot else None
            text = prompt.replace(SEED_SLOT, modifier) if modifier is not None else prompt
            target = length_meta["target_words"]
            samples.append(
                Sample(
                    id=f"{key}_{iteration}",
                    input=text,
                    metadata={
                        "benchmark": benchmark,
                        "prompt_id": str(key),
                        "iteration": iteration,
                        "seed_modifier": modifier,
                        "category": entry.get("category"),
                        "title": entry.get("title"),
                        "prompt": text,
                        **length_meta,
                        "bucket": bucket(target),  # type: ignore[arg-type]
                        "bucket_2k": bucket_2k(target),  # type: ignore[arg-type]
                    },
                )
            )
    return samples


def load_eqbench_criteria(path: str | Path) -> list[str]:
    """Criterion names from EQ-Bench's criteria text files (one a line)."""
    p = existing_path(path, "EQ-Bench criteria")
    names = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise DatasetError(p, "no criteria in file")
    return names
