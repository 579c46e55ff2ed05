"""Judge audits in the store: the ``judge_audits`` table (one row per check of one audit
run), filled when a ``judge_audit`` log is ingested, and read back per judge for
``polaris audit --format json`` and the lines under every leaderboard table.

A judge is named by its model string and, when it has any, its model arguments
(``offline/judge (obey=True)``): two settings of one model are two judges. The checks
are recomputed from the log's per-sample records with the task's own ``audit_checks``,
so the store holds exactly what the log's metrics show.
"""

from __future__ import annotations

import json
import math
from typing import Any

import duckdb

from polaris_bench.store.names import short_model
from polaris_bench.store.rows import RunRows

AUDIT_BENCHMARK = "judge_audit"
SUMMARY_KEYS = {
    "noise_sd": "noise_sd",
    "icc": "icc",
    "position_flip_rate": "position_flip_rate",
    "first_position_win_rate": "first_position_win_rate",
    "padding_delta": "padding_delta",
    "truncation_delta": "truncation_delta",
    "injection_delta": "injection_delta",
    "human_accuracy": "human_accuracy",
}

DDL = """
CREATE TABLE judge_audits (
    run_id          VARCHAR NOT NULL,
    judge           VARCHAR NOT NULL,
    judge_model     VARCHAR,
    judge_args      VARCHAR,
    rubric          VARCHAR,
    rubric_sha256   VARCHAR,
    template_sha256 VARCHAR,
    check_name      VARCHAR NOT NULL,
    value           DOUBLE,
    ci_low          DOUBLE,
    ci_high         DOUBLE,
    n               INTEGER,
    flagged         BOOLEAN,
    p_value         DOUBLE,
    note            VARCHAR,
    created         TIMESTAMP
)
"""


def judge_name(model: str, model_args: dict[str, Any] | None) -> str:
    if not model_args:
        return model
    return f"{model} ({', '.join(f'{k}={v}' for k, v in sorted(model_args.items()))})"


def is_audit_log(log: Any) -> bool:
    return (log.eval.metadata or {}).get("benchmark") == AUDIT_BENCHMARK


def _nan_none(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def audit_rows(log: Any) -> list[dict[str, Any]]:
    """The ``judge_audits`` rows of one audit log."""
    from polaris_bench.benchmarks.judge_audit import audit_checks

    grader = (log.eval.model_roles or {}).get("grader")
    model = grader.model if grader is not None else ""
    margs = dict(grader.args or {}) if grader is not None else {}
    records = []
    for sample in log.samples or []:
        for score in (sample.scores or {}).values():
            if (score.metadata or {}).get("kind"):
                records.append(score.metadata)
    first = next((r for r in records if r.get("judge_model")), {})
    meta = log.eval.metadata or {}
    created = log.eval.created
    return [
        {
            "run_id": str(log.eval.eval_id),
            "judge": judge_name(model or str(first.get("judge_model", "")), margs),
            "judge_model": model or first.get("judge_model"),
            "judge_args": json.dumps(margs, sort_keys=True, default=str) if margs else None,
            "rubric": meta.get("rubric"),
            "rubric_sha256": first.get("rubric_sha256"),
            "template_sha256": first.get("template_sha256"),
            "check_name": c.check,
            "value": _nan_none(c.value),
            "ci_low": _nan_none(c.ci_low),
            "ci_high": _nan_none(c.ci_high),
            "n": c.n,
            "flagged": c.flagged,
            "p_value": _nan_none(c.p_value),
            "note": c.note or None,
            "created": created,
        }
        for c in audit_checks(records)
    ]


def store_audit(con: duckdb.DuckDBPyConnection, log: Any, rows: RunRows) -> RunRows:
    """Write the audit rows of ``log``; the per-sample tables stay empty for an audit
    (its samples are judge probes, not a model's stories: no leaderboard section)."""
    records = audit_rows(log)
    con.execute("DELETE FROM judge_audits WHERE run_id = ?", [str(log.eval.eval_id)])
    for r in records:
        cols = list(r)
        con.execute(f"INSERT INTO judge_audits ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    [r[c] for c in cols])
    return RunRows(run=rows.run, warnings=rows.warnings)


def audit_summaries(con: duckdb.DuckDBPyConnection, judge_models: list[str] | None = None) -> list[dict[str, Any]]:
    """One object per audited judge (its newest audit): the SUMMARY_KEYS, CIs, the
    audit's size and ``flags``. ``judge_models``: only judges of these model strings."""
    df = con.execute(
        """
        WITH latest AS (
            SELECT judge, arg_max(run_id, created) AS run_id FROM judge_audits GROUP BY judge
        )
        SELECT a.* FROM judge_audits a JOIN latest l ON a.run_id = l.run_id AND a.judge = l.judge
        ORDER BY a.judge, a.check_name
        """
    ).df()
    out: list[dict[str, Any]] = []
    for judge, g in df.groupby("judge", sort=True):
        first = g.iloc[0]
        if judge_models is not None and first["judge_model"] not in judge_models:
            continue
        by = {r["check_name"]: r for _, r in g.iterrows()}
        obj: dict[str, Any] = {"judge": judge, "judge_model": first["judge_model"], "rubric": first["rubric"],
                               "rubric_sha256": first["rubric_sha256"], "template_sha256": first["template_sha256"],
                               "run_id": first["run_id"], "created": str(first["created"])}
        for key, check in SUMMARY_KEYS.items():
            row = by.get(check)
            obj[key] = None if row is None else _clean(row["value"])
            if row is not None and _clean(row["ci_low"]) is not None:
                obj[f"{key}_ci"] = [_clean(row["ci_low"]), _clean(row["ci_high"])]
        obj["probes"] = int(by["padding_delta"]["n"]) if "padding_delta" in by else None
        from polaris_bench.benchmarks.judge_audit import FLAG_OF

        obj["flags"] = [FLAG_OF[c] for c in FLAG_OF if c in by and bool(by[c]["flagged"])]
        out.append(obj)
    return out


def _clean(v: Any) -> Any:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return None if math.isnan(f) else f


def _fmt(v: Any, digits: int = 2, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def summary_line(obj: dict[str, Any]) -> str:
    flags = ", ".join(obj["flags"]) if obj["flags"] else "none"
    human = "" if obj.get("human_accuracy") is None else f", human agreement {_fmt(obj['human_accuracy'])}"
    return (
        f"judge {obj['judge']}: audit {obj['created'][:10]}: noise SD {_fmt(obj['noise_sd'])}, ICC {_fmt(obj['icc'])}, "
        f"position flips {_fmt(obj['position_flip_rate'])}, first wins {_fmt(obj['first_position_win_rate'])}, "
        f"padding {_fmt(obj['padding_delta'], signed=True)}, truncation {_fmt(obj['truncation_delta'], signed=True)}, "
        f"injection {_fmt(obj['injection_delta'], signed=True)}{human}; flags: {flags}"
    )


def board_judges(board: Any) -> list[str]:
    """The judge models behind a leaderboard's own rows (not the published ones); a
    panel's judge_model joins its members' models with "+": each member is audited alone."""
    return sorted({m for r in [*board.rows, *board.elo_rows]
                   if r.get("source") != "published" and r.get("judge_model")
                   for m in str(r["judge_model"]).split("+")})


def audit_lines(con: duckdb.DuckDBPyConnection, judge_models: list[str]) -> list[str]:
    """One line per judge model a leaderboard used: its audit(s), or "not audited"."""
    try:
        summaries = audit_summaries(con, judge_models)
    except duckdb.CatalogException:  # a store without the table
        summaries = []
    lines: list[str] = []
    for jm in judge_models:
        mine = [s for s in summaries if s["judge_model"] == jm]
        if mine:
            lines.extend(summary_line(s) for s in mine)
        else:
            lines.append(f"judge {short_model(jm)}: not audited")
    return lines
