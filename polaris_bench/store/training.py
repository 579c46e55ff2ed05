"""Checkpoint evaluations of a training run in the store.

``training_evals`` has one row per (training run, step): the Inspect run of that
evaluation (its samples, scores and per-judge judgements are in the ordinary tables
under ``run_id``), the training reward around that step and the evaluation's summary
(training judge and held-out panel on the same stories, length ratio, self-repetition,
cliché rate when the task scored it) with the alarms raised there.
``training_eval_judges`` has each judge's mean score at each step.

The summary is computed once, from the same rows ``polaris ingest`` writes
(``store.rows.build_rows``), so the trainer's alarms and ``polaris plot --kind
training`` read the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pandas as pd

from polaris_bench.store.rows import RunRows, utcnow

DDL = """
CREATE TABLE training_evals (
    train_run         VARCHAR NOT NULL,  -- the training run's id (train_run.json in its output dir)
    step              INTEGER NOT NULL,  -- optimizer step of the evaluated policy (0 = before training)
    run_id            VARCHAR,           -- the evaluation's Inspect eval_id (runs, samples, judgements, ...)
    output_dir        VARCHAR,
    checkpoint        VARCHAR,           -- the policy folder that was evaluated
    train_judge       VARCHAR,
    train_reward      DOUBLE,            -- mean training reward of the steps since the previous evaluation
    train_judge_score DOUBLE,            -- the training judge's mean SQ (0-100) on the evaluation's stories
    heldout_score     DOUBLE,            -- the held-out judges' mean SQ on the same stories
    length_ratio      DOUBLE,
    self_repetition   DOUBLE,
    cliche_rate       DOUBLE,            -- NULL when the task had no cliche_index scorer
    samples           INTEGER,
    eval_seconds      DOUBLE,            -- wall time the training loop waited for this evaluation
    alarms            VARCHAR[],
    created           TIMESTAMP,
    PRIMARY KEY (train_run, step)
);

CREATE TABLE training_eval_judges (
    train_run   VARCHAR NOT NULL,
    step        INTEGER NOT NULL,
    role        VARCHAR NOT NULL,       -- Inspect model role in the evaluation's panel
    judge_model VARCHAR,
    held_out    BOOLEAN,                -- false: the training judge
    score       DOUBLE,                 -- mean SQ (0-100) over the stories this judge scored
    scored      INTEGER,
    n           INTEGER,
    PRIMARY KEY (train_run, step, role)
);
"""

TRAIN_ROLE = "train_judge"  # the training judge's role in the evaluation panel
SQ_SCORER, SQ_KEY = "story_quality", "overall"
CLICHE_SCORER, CLICHE_KEY = "cliche_index", "cliche_rate"


def heldout_role(i: int) -> str:
    return f"heldout_{i + 1}"


@dataclass
class EvalSummary:
    """One checkpoint evaluation, summarised."""

    samples: int
    train_judge_score: float | None
    heldout_score: float | None
    length_ratio: float | None
    self_repetition: float | None
    cliche_rate: float | None
    judges: list[dict[str, Any]] = field(default_factory=list)  # role, judge_model, held_out, score, scored, n

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mean(series: pd.Series) -> float | None:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def summarise(rows: RunRows) -> EvalSummary:
    """The summary of one evaluation log's rows (``build_rows``)."""
    samples = rows.samples.table().to_pandas()
    members = rows.judgements.table().to_pandas()
    values = rows.judgement_scores.table().to_pandas()
    members = members[members["scorer"] == SQ_SCORER]
    values = values[(values["scorer"] == SQ_SCORER) & (values["key"] == SQ_KEY)]
    judges: list[dict[str, Any]] = []
    for (member, role), g in members.groupby(["member", "role"], sort=True):
        mine = values[values["member"] == member]
        judges.append({
            "role": str(role),
            "judge_model": str(g["judge_model"].iloc[0]),
            "held_out": str(role) != TRAIN_ROLE,
            "score": _mean(mine["value"]),
            "scored": int(g["scored"].fillna(False).sum()),
            "n": len(g),
        })
    train = [j["score"] for j in judges if not j["held_out"] and j["score"] is not None]
    held = [j["score"] for j in judges if j["held_out"] and j["score"] is not None]
    scores = rows.scores.table().to_pandas()
    cliche = scores[(scores["scorer"] == CLICHE_SCORER) & (scores["key"] == CLICHE_KEY)]
    return EvalSummary(
        samples=len(samples),
        train_judge_score=train[0] if train else None,
        heldout_score=sum(held) / len(held) if held else None,
        length_ratio=_mean(samples["length_ratio"]),
        self_repetition=_mean(samples["self_repetition"]),
        cliche_rate=_mean(cliche["value"]) if len(cliche) else None,
        judges=judges,
    )


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def store_training_eval(
    con: duckdb.DuckDBPyConnection,
    *,
    train_run: str,
    step: int,
    run_id: str | None,
    output_dir: str,
    checkpoint: str,
    train_judge: str,
    train_reward: float | None,
    summary: EvalSummary,
    eval_seconds: float,
    alarms: list[str],
) -> None:
    """Write (or replace) the rows of one evaluation; idempotent per (run, step)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM training_evals WHERE train_run = ? AND step = ?", [train_run, step])
        con.execute("DELETE FROM training_eval_judges WHERE train_run = ? AND step = ?", [train_run, step])
        con.execute(
            "INSERT INTO training_evals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [train_run, step, run_id, output_dir, checkpoint, train_judge, _clean(train_reward),
             summary.train_judge_score, summary.heldout_score, summary.length_ratio, summary.self_repetition,
             summary.cliche_rate, summary.samples, eval_seconds, alarms, utcnow()],
        )
        for j in summary.judges:
            con.execute(
                "INSERT INTO training_eval_judges VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [train_run, step, j["role"], j["judge_model"], j["held_out"], j["score"], j["scored"], j["n"]],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


class TrainingRunNotFound(LookupError):
    pass


def resolve_train_run(con: duckdb.DuckDBPyConnection, spec: str) -> str:
    """A training run by its id, a unique prefix of it, or its output dir."""
    rows = con.execute(
        "SELECT DISTINCT train_run, output_dir FROM training_evals ORDER BY train_run"
    ).fetchall()
    exact = [r for r, _ in rows if r == spec]
    if exact:
        return exact[0]
    from pathlib import Path

    by_dir = sorted({r for r, d in rows if d and Path(d).resolve() == Path(spec).resolve()})
    prefix = sorted({r for r, _ in rows if r.startswith(spec)})
    found = by_dir or prefix
    known = ", ".join(sorted({r for r, _ in rows})) or "none"
    if len(found) == 1:
        return found[0]
    if not found:
        raise TrainingRunNotFound(f"no training run {spec!r} with checkpoint evaluations in the store (known: {known})")
    raise TrainingRunNotFound(f"training run {spec!r} is ambiguous: {', '.join(found)}")


def training_curve(con: duckdb.DuckDBPyConnection, train_run: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per evaluation, one row per judge per evaluation), by step."""
    evals = con.execute(
        "SELECT * FROM training_evals WHERE train_run = ? ORDER BY step", [train_run]
    ).df()
    judges = con.execute(
        "SELECT * FROM training_eval_judges WHERE train_run = ? ORDER BY step, role", [train_run]
    ).df()
    return evals, judges
