"""LongBench-Write prompts (THUDM/LongWriter ``evaluation/longbench_write*.jsonl``).

Each row: ``prompt``, ``type``, ``length`` (the required length: words for English
prompts, characters for Chinese ones; LongWriter counts both with one rule: CJK
characters plus English words). ``longbench_write_en.jsonl`` has the 60 English
prompts, ``longbench_write.jsonl`` all 120. Rows have no id field: a sample's id is
its 1-based line number (or the row's ``id`` where a file has one).
"""

from __future__ import annotations

from pathlib import Path

from inspect_ai.dataset import Sample

from ..length import bucket, bucket_2k, has_cjk
from ._common import (
    DatasetError,
    as_id,
    check_unique,
    existing_path,
    fetch_remote,
    read_jsonl,
    require_positive_int,
    require_str,
)

LONGBENCH_WRITE_EN_URL = "https://raw.githubusercontent.com/THUDM/LongWriter/main/evaluation/longbench_write_en.jsonl"


def default_longbench_write_path() -> Path:
    return fetch_remote(LONGBENCH_WRITE_EN_URL, "longbench_write_en.jsonl", "LongBench-Write English prompts")


def load_longbench_write(path: str | Path | None = None) -> list[Sample]:
    p = default_longbench_write_path() if path is None else existing_path(path, "LongBench-Write")
    samples: list[Sample] = []
    ids: list[tuple[str, int]] = []
    for line, row in read_jsonl(p):
        prompt = require_str(row, "prompt", p, line)
        length = require_positive_int(row, "length", p, line)
        kind = row.get("type")
        if kind is not None and not isinstance(kind, str):
            raise DatasetError(p, f"field 'type' must be a string, got {type(kind).__name__}", line)
        ident = as_id(row["id"], "id", p, line) if "id" in row else str(line)
        ids.append((ident, line))
        zh = has_cjk(prompt)
        samples.append(
            Sample(
                id=ident,
                input=prompt,
                metadata={
                    "benchmark": "longbench_write",
                    "prompt_id": ident,
                    "type": kind,
                    "language": "zh" if zh else "en",
                    "prompt": prompt,
                    "target_words": length,
                    "length_unit": "characters" if zh else "words",
                    "bucket": bucket(length),
                    "bucket_2k": bucket_2k(length),
                    # LongWriter's own length ranges for its per-range reports
                    "length_range": longwriter_range(length),
                },
            )
        )
    if not samples:
        raise DatasetError(p, "no rows")
    check_unique(ids, p, "id")
    return samples


def longwriter_range(length: int) -> str:
    """LongBench-Write's length groups: [0, 500), [500, 2000), [2000, 4000), 4000+."""
    if length < 500:
        return "<500"
    if length < 2000:
        return "500-2k"
    if length < 4000:
        return "2k-4k"
    return ">4k"
