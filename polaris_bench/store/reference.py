"""Published POLARIS numbers (arXiv 2606.04095) as reference rows, so a user's runs can
be read next to the paper's. The numbers are data: ``polaris_bench/data/published_results.yaml``.

They are marked ``published`` and as judged with *the paper's own judge prompts*:
this project's judge instructions are its own words, so our numbers and these are
comparable in kind, not identical in protocol. Each table names the score keys of this
project that use the same formula (``keys``): the published Story Quality table is
``published_overall`` (min(100, P - N + bonus) from the judge's reported totals), never
the training formula ``overall``; the leaderboard shows a table's rows only beside runs
whose headline is one of its keys. ``load_reference`` is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DATA_FILE = "data/published_results.yaml"


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    benchmark: str
    judge: str
    keys: list[str] = Field(min_length=1)  # this project's score keys with the same formula
    metrics: list[str] = Field(min_length=1)
    rows: dict[str, list[float | None]]

    @model_validator(mode="after")
    def _widths(self) -> "_Table":
        for model, values in self.rows.items():
            if len(values) != len(self.metrics):
                raise ValueError(f"{self.benchmark} / {model}: {len(values)} values for {len(self.metrics)} metrics")
        return self


class _Published(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    judge_prompt: str
    tables: list[_Table]


@lru_cache(maxsize=1)
def published_data() -> _Published:
    text = resources.files("polaris_bench").joinpath(DATA_FILE).read_text("utf-8")
    try:
        return _Published.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"polaris_bench/{DATA_FILE}: invalid published results: {exc}") from exc


SOURCE = published_data().source
JUDGE_PROMPT = published_data().judge_prompt


@dataclass(frozen=True)
class ReferenceRow:
    benchmark: str
    model: str
    metric: str
    value: float
    judge_model: str
    note: str | None = None


def published_rows() -> list[ReferenceRow]:
    return [
        ReferenceRow(t.benchmark, model, metric, float(value), t.judge)
        for t in published_data().tables
        for model, values in t.rows.items()
        for metric, value in zip(t.metrics, values)
        if value is not None
    ]


def compared_keys(benchmark: str) -> frozenset[str]:
    """The score keys the published rows of ``benchmark`` may be compared with."""
    return frozenset(k for t in published_data().tables if t.benchmark == benchmark for k in t.keys)


def load_reference(con: duckdb.DuckDBPyConnection) -> int:
    """Replace the published rows in ``reference``; returns how many were loaded."""
    rows = published_rows()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM reference WHERE source = ?", [SOURCE])
        con.executemany(
            "INSERT INTO reference VALUES (?, ?, ?, ?, ?, ?, ?, true, ?)",
            [[r.benchmark, r.model, r.metric, r.value, r.judge_model, JUDGE_PROMPT, SOURCE, r.note] for r in rows],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)
