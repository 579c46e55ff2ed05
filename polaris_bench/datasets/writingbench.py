"""WritingBench queries (X-PLUG/WritingBench ``benchmark_all.jsonl`` and its subsets).

Each row: ``index``, ``domain1``, ``domain2``, ``query`` and a ``checklist`` of
query-specific criteria, each with ``name``, ``criteria_description`` and band texts
"1-2", "3-4", "5-6", "7-8", "9-10". POLARIS uses domain "Literature & Arts" in English
(no CJK characters in the query): 93 of that domain's 183 queries.

The default source is the copy that ships in the ``inspect-evals`` wheel
(``inspect_evals/writingbench/benchmark_all.jsonl``); without that package, pass the
file with ``-T dataset=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from inspect_ai.dataset import Sample

from ..length import bucket, bucket_2k, has_cjk
from ._common import DatasetError, as_id, check_unique, existing_path, read_jsonl, require_str
from .stated_length import parse_stated_length

BANDS: tuple[str, ...] = ("1-2", "3-4", "5-6", "7-8", "9-10")
DEFAULT_DOMAIN = "Literature & Arts"
Language = Literal["en", "zh", "all"]


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    description: str
    bands: dict[str, str]  # "1-2" -> text

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "criteria_description": self.description, **self.bands}


def default_writingbench_path() -> Path:
    try:
        from importlib import resources

        import inspect_evals  # type: ignore[import-not-found]  # noqa: F401

        path = Path(str(resources.files("inspect_evals") / "writingbench" / "benchmark_all.jsonl"))
    except ImportError as exc:
        raise DatasetError(
            None,
            "the default WritingBench file ships in the `inspect-evals` package, which is not "
            "installed; pass WritingBench's benchmark_all.jsonl (or a subset in the same format) "
            "with -T dataset=<path>",
        ) from exc
    if not path.exists():
        raise DatasetError(path, "inspect_evals is installed but has no writingbench/benchmark_all.jsonl; pass -T dataset=<path>")
    return path


def parse_checklist(value: Any, path: Path, line: int) -> list[ChecklistItem]:
    if not isinstance(value, list) or not value:
        raise DatasetError(path, "field 'checklist' must be a non-empty list of criteria", line)
    items: list[ChecklistItem] = []
    for i, crit in enumerate(value, start=1):
        where = f"checklist item {i}"
        if not isinstance(crit, dict):
            raise DatasetError(path, f"{where}: expected an object", line)
        name = crit.get("name")
        desc = crit.get("criteria_description")
        if not isinstance(name, str) or not name.strip():
            raise DatasetError(path, f"{where}: missing or empty 'name'", line)
        if not isinstance(desc, str) or not desc.strip():
            raise DatasetError(path, f"{where} ({name}): missing or empty 'criteria_description'", line)
        missing = [b for b in BANDS if not isinstance(crit.get(b), str) or not crit[b].strip()]
        if missing:
            raise DatasetError(path, f"{where} ({name}): missing band description(s) {missing}", line)
        items.append(ChecklistItem(name=name.strip(), description=desc.strip(), bands={b: crit[b].strip() for b in BANDS}))
    return items


def query_language(query: str) -> Literal["en", "zh"]:
    """POLARIS's rule: a query with any CJK character is not English."""
    return "zh" if has_cjk(query) else "en"


def load_writingbench(
    path: str | Path | None = None,
    *,
    domain: str | None = DEFAULT_DOMAIN,
    language: Language = "en",
) -> list[Sample]:
    """Samples for WritingBench rows of ``domain`` (``domain1``; None or "all" for every
    domain) in ``language`` ("en": no CJK in the query, "zh": some, "all")."""
    if language not in ("en", "zh", "all"):
        raise ValueError(f"language must be 'en', 'zh' or 'all', not {language!r}")
    p = default_writingbench_path() if path is None else existing_path(path, "WritingBench")
    samples: list[Sample] = []
    ids: list[tuple[str, int]] = []
    total = 0
    for line, row in read_jsonl(p):
        total += 1
        ident = as_id(row.get("index"), "index", p, line)
        query = require_str(row, "query", p, line)
        domain1 = require_str(row, "domain1", p, line)
        domain2 = require_str(row, "domain2", p, line)
        checklist = parse_checklist(row.get("checklist"), p, line)
        ids.append((ident, line))
        if domain not in (None, "all") and domain1 != domain:
            continue
        lang = query_language(query)
        if language != "all" and lang != language:
            continue
        stated = parse_stated_length(query)
        meta_len: dict[str, Any] = (
            stated.as_metadata()
            if stated
            else {"target_words": None, "target_range": None, "length_kind": None, "length_unit": None, "length_text": None}
        )
        target = meta_len["target_words"]
        samples.append(
            Sample(
                id=ident,
                input=query,
                metadata={
                    "benchmark": "writingbench",
                    "prompt_id": ident,
                    "index": row["index"],
                    "domain1": domain1,
                    "domain2": domain2,
                    "language": lang,
                    "checklist": [c.as_dict() for c in checklist],
                    "prompt": query,
                    # a Chinese query states characters (length_unit), counted
                    # LongWriter's way (one per CJK character)
                    **meta_len,
                    "bucket": bucket(target),
                    "bucket_2k": bucket_2k(target),
                },
            )
        )
    if total == 0:
        raise DatasetError(p, "no rows")
    check_unique(ids, p, "index")
    if not samples:
        raise DatasetError(p, f"no rows match domain={domain!r} language={language!r}")
    return samples
