"""Training data: the POLARIS training schema, read from JSONL or parquet.

One row per prompt:

* ``prompt`` (required): the writing prompt, as text or as chat messages
  (``[{"role": "user", "content": "..."}]``). All rows use the same form.
* ``story`` (optional): the human reference story for HRI.
* ``target_word_count`` (optional): the requested length; else parsed from the
  prompt's "... N words long." sentence. A row with neither is an error.
* ``reasoning`` or ``ground_truth_reasoning`` (optional): the plan that goes in the
  think tags of the reference row when the model thinks.
* ``uid`` (optional): kept for logs.
* ``extra_info``, ``source``, ``data_source``, ``ability``, ``reward_model``: metadata
  of the authors' (verl) files, accepted and not read.

Any other column is an error naming it (a misspelt ``story`` would otherwise turn HRI
off without a word), unless the recipe lists it in ``data.ignore_columns``.

``load_train_rows`` returns the rows in the columns the trainer and reward read:
``prompt`` (as given), ``prompt_text`` (the user's text, what the judge sees),
``target_words``, ``reference_story``, ``reference_reasoning``, ``uid``. Every
malformed row is reported at once, with its row number.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polaris_bench.io import InputFileError, read_jsonl
from polaris_bench.metrics.length import parse_target
from polaris_bench.story import last_user_turn

REASONING_KEYS = ("reasoning", "ground_truth_reasoning")
READ_KEYS = {"prompt", "story", "target_word_count", "uid", *REASONING_KEYS}
METADATA_KEYS = {"extra_info", "source", "data_source", "ability", "reward_model"}
KNOWN_KEYS = READ_KEYS | METADATA_KEYS


class TrainDataError(ValueError):
    """A training file that cannot be used; names the file, rows and problems."""


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl``/``.json``/``.parquet`` file as plain Python dicts."""
    path = Path(path)
    if not path.exists():
        raise TrainDataError(f"{path}: training file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".jsonl":
        try:
            return [row for _, row in read_jsonl(path)]
        except InputFileError as exc:
            raise TrainDataError(str(exc)) from exc
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise TrainDataError(f"{path}: a .json training file must hold a list of rows")
        return data
    raise TrainDataError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .json or .parquet")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _optional_text(row: dict[str, Any], key: str, problems: list[str]) -> str:
    value = row.get(key)
    if _missing(value):
        return ""
    if not isinstance(value, str):
        problems.append(f"'{key}' must be text, not {type(value).__name__}")
        return ""
    return value.strip()


def _prompt(value: Any, problems: list[str]) -> tuple[Any, str, str]:
    """(prompt as given, the user's text, its form: 'text' | 'chat')."""
    if isinstance(value, str):
        if not value.strip():
            problems.append("'prompt' is empty")
        return value, value.strip(), "text"
    if isinstance(value, (list, tuple)):
        messages = []
        for i, msg in enumerate(value):
            if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
                problems.append(f"prompt message {i} needs 'role' and 'content'")
                return value, "", "chat"
            if not isinstance(msg["content"], str):
                problems.append(f"prompt message {i}: 'content' must be text")
                return value, "", "chat"
            messages.append({"role": str(msg["role"]), "content": msg["content"]})
        user = last_user_turn(messages) or ""
        if not user.strip():
            problems.append("'prompt' messages have no non-empty user turn")
            return messages, "", "chat"
        if messages[-1]["role"] != "user":
            problems.append("the last prompt message must be the user's")
        return messages, user.strip(), "chat"
    if _missing(value):
        problems.append("'prompt' is missing")
    else:
        problems.append(f"'prompt' must be text or chat messages, not {type(value).__name__}")
    return value, "", "text"


def _target(row: dict[str, Any], prompt_text: str, problems: list[str]) -> int | None:
    value = row.get("target_word_count")
    if not _missing(value):
        try:
            target = int(value)
        except (TypeError, ValueError):
            problems.append(f"'target_word_count' must be a whole number, not {value!r}")
            return None
        if target <= 0 or target != float(value):
            problems.append(f"'target_word_count' must be a positive whole number, not {value!r}")
            return None
        return target
    parsed = parse_target(prompt_text)
    if parsed is None:
        problems.append(
            "no 'target_word_count' and no '... N words long.' sentence in the prompt "
            "(the length penalty needs a target)"
        )
    return parsed


def check_columns(records: list[dict[str, Any]], source: str, ignore: Sequence[str] = ()) -> None:
    """Every column must be one this schema knows or one the recipe ignores."""
    allowed = KNOWN_KEYS | set(ignore)
    unknown = sorted({k for row in records if isinstance(row, dict) for k in row} - allowed)
    if not unknown:
        return
    hints = []
    for col in unknown:
        close = difflib.get_close_matches(col, sorted(READ_KEYS), n=1)
        hints.append(f"{col!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TrainDataError(
        f"{source}: unknown column(s) {', '.join(hints)}; the training schema reads "
        f"{', '.join(sorted(READ_KEYS))}. List columns to skip in data.ignore_columns."
    )


def normalize_rows(
    records: list[dict[str, Any]], source: str = "<rows>", ignore_columns: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Validate rows and map them to the trainer's columns; raises ``TrainDataError``
    listing every malformed row (and any unknown column)."""
    if not records:
        raise TrainDataError(f"{source}: no rows")
    check_columns(records, source, ignore_columns)
    out: list[dict[str, Any]] = []
    errors: list[str] = []
    forms: set[str] = set()
    for n, row in enumerate(records):
        problems: list[str] = []
        if not isinstance(row, dict):
            errors.append(f"row {n}: not a mapping")
            continue
        prompt, prompt_text, form = _prompt(row.get("prompt"), problems)
        forms.add(form)
        target = _target(row, prompt_text, problems) if prompt_text else None
        story = _optional_text(row, "story", problems)
        reasoning = ""
        for key in REASONING_KEYS:
            reasoning = reasoning or _optional_text(row, key, problems)
        uid = row.get("uid")
        if problems:
            errors.append(f"row {n}: " + "; ".join(problems))
            continue
        out.append(
            {
                "prompt": prompt,
                "prompt_text": prompt_text,
                "target_words": target,
                "reference_story": story,
                "reference_reasoning": reasoning,
                "uid": str(uid) if not _missing(uid) else f"row-{n}",
            }
        )
    if len(forms) > 1:
        errors.append("rows mix text prompts and chat-message prompts; use one form")
    if errors:
        shown = errors[:20]
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise TrainDataError(f"{source}: {len(errors)} malformed row(s):\n  " + "\n  ".join(shown) + more)
    return out


def load_train_rows(
    path: str | Path, limit: int | None = None, ignore_columns: Sequence[str] = ()
) -> list[dict[str, Any]]:
    records = read_records(path)
    if limit is not None:
        records = records[:limit]
    return normalize_rows(records, str(path), ignore_columns)


def prompt_token_count(row: dict[str, Any], tokenizer: Any, chat_template_kwargs: dict[str, Any]) -> int:
    """Tokens of the prompt as the trainer will feed it (chat template applied)."""
    prompt = row["prompt"]
    if isinstance(prompt, str):
        return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ids = tokenizer.apply_chat_template(
        prompt, add_generation_prompt=True, tokenize=True, return_dict=False, **chat_template_kwargs
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def drop_long_prompts(
    rows: list[dict[str, Any]], tokenizer: Any, max_tokens: int | None, chat_template_kwargs: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """Rows whose prompt fits in ``max_tokens``, and how many were dropped."""
    if max_tokens is None:
        return rows, 0
    kept = [r for r in rows if prompt_token_count(r, tokenizer, chat_template_kwargs) <= max_tokens]
    return kept, len(rows) - len(kept)


def to_dataset(rows: list[dict[str, Any]]):
    """A ``datasets.Dataset`` with the trainer's columns."""
    from datasets import Dataset

    return Dataset.from_list(rows)
