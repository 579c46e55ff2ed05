"""Published POLARIS numbers (arXiv 2606.04095, "Published results" in POLARIS.md) as
reference rows, so a user's runs can be read next to the paper's.

They are marked ``published`` and as judged with *the paper's own judge prompts*:
this project's judge instructions are its own words, so our numbers and these are
comparable in kind, not identical in protocol. ``load_reference`` is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

SOURCE = "POLARIS (arXiv 2606.04095), published results"
JUDGE_PROMPT = "the paper's own judge prompts"


@dataclass(frozen=True)
class ReferenceRow:
    benchmark: str
    model: str
    metric: str
    value: float
    judge_model: str
    note: str | None = None


def _rows(benchmark: str, judge: str, metrics: tuple[str, ...], table: dict[str, tuple[float | None, ...]]) -> list[ReferenceRow]:
    out = []
    for model, values in table.items():
        for metric, value in zip(metrics, values):
            if value is not None:
                out.append(ReferenceRow(benchmark, model, metric, value, judge))
    return out


# Story Quality (GPT-5.4 judge): ID / near / far / aggregate / slope
_SQ = {
    "POLARIS-9B": (57.4, 48.2, 44.1, 52.1, -3.0),
    "POLARIS-no-HRI": (56.5, 47.0, 37.7, 49.7, -3.8),
    "Qwen3.5-9B": (35.1, 8.7, -11.8, 18.5, -10.8),
    "Qwen3.5-27B": (51.5, 38.7, 24.6, 42.8, -5.9),
    "Gemma 4 31B": (53.9, 49.7, 47.1, None, None),
}
# Length ratio on the Story Quality prompts: ID / near / far / all
_RATIO = {
    "POLARIS-9B": (0.99, 0.87, 0.72, 0.90),
    "POLARIS-no-HRI": (0.94, 0.86, 0.70, 0.87),
    "Qwen3.5-9B": (1.09, 0.96, 0.88, 1.01),
    "Qwen3.5-27B": (None, None, 0.82, None),  # "at 8-12k words"
    "Gemma 4 31B": (None, None, 0.36, None),
}
# EQ-Bench Longform (GPT-5.4): ID / near / far / aggregate
_EQL = {
    "POLARIS-9B": (63.1, 57.5, 54.3, 59.8),
    "POLARIS-no-HRI": (62.1, 55.7, 51.6, 58.2),
    "Qwen3.5-9B": (50.2, 37.2, 30.3, 42.6),
}
# OOD: WritingBench D4 (Gemini 3.1 Pro) / LongBench-Write (Gemini 3.1 Pro) / EQ-Bench Creative (GPT-5.4)
_OOD = {
    "POLARIS-9B": (7.9, 81.2, 70.3),
    "POLARIS-no-HRI": (7.8, 82.1, 69.7),
    "Qwen3.5-9B": (6.8, 67.1, 59.2),
}
# Pairwise Elo (Gemini 3 Flash judge)
_ELO = {
    "GPT-5.4": 1911, "Claude Opus 4.6": 1783, "POLARIS-9B": 1661, "Gemini 3.1 Pro": 1627,
    "Gemini 3 Flash": 1620, "Gemma 4 31B": 1514, "Qwen3.5-27B": 1503, "Qwen3.5-9B": 1352,
}


def published_rows() -> list[ReferenceRow]:
    rows = _rows("story_quality", "GPT-5.4", ("ID", "near", "far", "aggregate", "slope"), _SQ)
    rows += _rows(
        "story_quality", "GPT-5.4", ("length_ratio_ID", "length_ratio_near", "length_ratio_far", "length_ratio"), _RATIO
    )
    rows += _rows("eqbench_longform", "GPT-5.4", ("ID", "near", "far", "aggregate"), _EQL)
    for i, (bench, judge) in enumerate(
        (("writingbench", "Gemini 3.1 Pro"), ("longbench_write", "Gemini 3.1 Pro"), ("eqbench_creative", "GPT-5.4"))
    ):
        rows += [ReferenceRow(bench, m, "aggregate", v[i], judge) for m, v in _OOD.items()]
    rows += [ReferenceRow("story_elo", m, "elo", float(v), "Gemini 3 Flash") for m, v in _ELO.items()]
    return rows


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
