"""What the report's pages show, gathered from the store into plain dictionaries for
the templates. Every number comes from the store's own queries (``store.queries``,
``store.panels``, ``store.audits``) and is shown as ``report.tables`` shows it in the
terminal; nothing here computes a statistic of its own.

Page addresses: ``index.html``, ``models/<model>.html``,
``samples/<model>/<sample>.html`` (``slug`` makes each name safe and unique)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from polaris_bench.report.tables import (
    ELO_COLUMNS,
    agreement_display,
    agreement_lines,
    cells,
    fmt,
    fmt_share,
    leaderboard_columns,
    reasons_text,
)
from polaris_bench.store.names import short_judge, short_model
from polaris_bench.store.panels import top_reasons

NAN = float("nan")


def slug(name: str) -> str:
    """A file name for ``name``: its safe characters and a short hash (two names never
    share a file, whatever they have in common)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "x"
    return f"{safe}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def model_href(model: str) -> str:
    return f"models/{slug(model)}.html"


def sample_href(model: str, run_id: str, sample_id: str, epoch: int) -> str:
    return f"samples/{slug(model)}/{slug(f'{run_id}/{sample_id}/{epoch}')}.html"


def _isnan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


# -- leaderboard --------------------------------------------------------------------------


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], models: set[str],
           title: str, published: bool) -> dict[str, Any]:
    return {
        "title": title,
        "published": published,
        "columns": [{"key": k, "header": h} for k, h in columns],
        "rows": [{"cells": cells(r, columns), "model": r["model"],
                  "href": model_href(r["model"]) if r["model"] in models and not published else None,
                  "key": json.dumps([r["benchmark"], r["model"], r.get("judge"), r.get("dataset")])}
                 for r in rows],
    }


def leaderboard_sections(board: Any, models: set[str]) -> list[dict[str, Any]]:
    """One section per benchmark: a sortable table per judge setup and dataset (rows of
    two setups are never compared in one table), the published rows in a table of
    their own, and the panel's agreement under them. ``models``: models with a page."""
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for r in board.rows:
        by_bench.setdefault(r["benchmark"], []).append(r)
    sections = []
    for bench, rows in by_bench.items():
        columns = leaderboard_columns(rows)
        runs = [r for r in rows if r.get("source") != "published"]
        published = [r for r in rows if r.get("source") == "published"]
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in runs:
            groups.setdefault((str(r.get("judge", "")), str(r.get("dataset", ""))), []).append(r)
        several_datasets = len({d for _, d in groups}) > 1
        tables = [
            _table(g, columns, models, f"judge {short_judge(judge)}" + (f" · dataset {ds}" if several_datasets else ""),
                   False)
            for (judge, ds), g in groups.items()
        ]
        if published:
            judge = published[0].get("judge") or "the paper's judge"
            tables.append(_table(published, columns, models,
                                 f"published: the paper's numbers ({judge}, the paper's judge prompts)", True))
        units = next((r.get("units") for r in rows if r.get("units")), "")
        sections.append({"benchmark": bench, "units": units, "tables": tables,
                         "agreement": agreement_lines(board, bench)})
    return sections


def elo_section(board: Any, models: set[str]) -> dict[str, Any] | None:
    if not board.elo_rows:
        return None
    runs = [r for r in board.elo_rows if r.get("source") != "published"]
    published = [r for r in board.elo_rows if r.get("source") == "published"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(str(r.get("judge", "")), []).append(r)
    tables = [_table(g, ELO_COLUMNS, models, f"judge {short_judge(j)}", False) for j, g in groups.items()]
    if published:
        tables.append(_table(published, ELO_COLUMNS, models, "published: the paper's ratings", True))
    return {"benchmark": "story_elo", "units": "pairwise ratings (Elo scale)", "tables": tables, "agreement": []}


# -- judges -------------------------------------------------------------------------------


def judge_settings(model_roles: Any) -> dict[str, str]:
    """role -> "model (arg=value, config=value ...)" from a run's stored ``model_roles``."""
    roles = json.loads(model_roles) if isinstance(model_roles, str) else (model_roles or {})
    out = {}
    for role, spec in sorted(roles.items()):
        if not isinstance(spec, dict):
            continue
        opts = {**{k: v for k, v in (spec.get("config") or {}).items() if v is not None},
                **(spec.get("args") or {})}
        if spec.get("base_url"):
            opts["base_url"] = spec["base_url"]
        text = ", ".join(f"{k}={v}" for k, v in sorted(opts.items()))
        out[role] = short_model(str(spec.get("model", ""))) + (f" ({text})" if text else "")
    return out


def judges_table(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per judge model and role: runs, judgements, unscored rate with top reasons, and
    the settings it ran with (from the runs' model roles)."""
    df = con.execute(
        """
        SELECT j.judge_model, j.role, r.benchmark, j.run_id, j.scored, j.unscored_reason, r.model_roles
        FROM judgements j JOIN runs r ON r.run_id = j.run_id
        WHERE r.superseded_by IS NULL AND r.status = 'success'
        """
    ).df()
    out = []
    for (model, role), g in df.groupby(["judge_model", "role"], sort=True):
        unscored = g[~g["scored"].astype(bool)]
        settings = sorted({s for mr in g.drop_duplicates("run_id")["model_roles"]
                           for r, s in judge_settings(mr).items() if r == role})
        out.append({"judge": short_model(str(model)), "role": role, "benchmarks": ", ".join(sorted(set(g["benchmark"]))),
                    "runs": int(g["run_id"].nunique()), "judgements": len(g), "unscored": len(unscored),
                    "unscored_rate": fmt_share(len(unscored) / len(g)) if len(g) else "—",
                    "reasons": reasons_text(top_reasons(unscored["unscored_reason"].tolist())),
                    "settings": "; ".join(settings)})
    return out


AUDIT_FIELDS = (("noise_sd", "noise SD", False), ("icc", "ICC", False), ("position_flip_rate", "position flips", False),
                ("first_position_win_rate", "first wins", False), ("padding_delta", "padding", True),
                ("truncation_delta", "truncation", True), ("injection_delta", "injection", True),
                ("human_accuracy", "human agreement", False))


def audits_table(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``store.audits.audit_summaries`` as a table (values with their CIs)."""
    rows = []
    for s in summaries:
        row = {"judge": s["judge"], "date": s["created"][:10], "probes": fmt(s.get("probes")),
               "flags": ", ".join(s["flags"]) or "none", "flagged": bool(s["flags"])}
        for key, _, signed in AUDIT_FIELDS:
            v, ci = s.get(key), s.get(f"{key}_ci")
            text = "—" if v is None else (f"{v:+.2f}" if signed else f"{v:.2f}")
            if v is not None and ci:
                text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
            row[key] = text
        rows.append(row)
    return {"columns": [{"key": k, "header": h} for k, h, _ in AUDIT_FIELDS], "rows": rows}


def agreement_tables(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"title": title, "columns": [{"key": k, "header": h} for k, h in cols], "rows": rows}
            for _, title, cols, rows in agreement_display(results)]


# -- runs (the footer) ----------------------------------------------------------------------


def runs_table(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every current run: when, what, which judge with which settings, the rubric and
    prompt-template hashes, and the versions that produced it."""
    df = con.execute(
        """
        SELECT run_id, task, benchmark, coalesce(display_name, model_label) AS model, judge_models, model_roles,
               rubric_sha256s, template_sha256s, judge_modes, package_version, inspect_version, status,
               created, completed_at, log_path, revision_commit
        FROM runs WHERE superseded_by IS NULL ORDER BY created, run_id
        """
    ).df()
    out = []
    for r in df.to_dict("records"):
        roles = judge_settings(r["model_roles"])
        out.append({
            "run_id": r["run_id"], "task": r["task"], "benchmark": r["benchmark"], "model": r["model"],
            "judges": [f"{role}={s}" for role, s in roles.items()],
            "rubrics": [h[:12] for h in _list(r["rubric_sha256s"])],
            "templates": [h[:12] for h in _list(r["template_sha256s"])],
            "modes": ", ".join(_list(r["judge_modes"])),
            "versions": f"polaris-bench {r['package_version'] or '?'}, inspect {r['inspect_version'] or '?'}"
                        + (f", commit {str(r['revision_commit'])[:10]}" if r.get("revision_commit") else ""),
            "status": r["status"],
            "created": _date(r["created"]),
            "log_path": r["log_path"],
        })
    return out


def _list(v: Any) -> list[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return [str(x) for x in list(v) if x]


def _date(v: Any) -> str:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M UTC")


# -- models and samples -----------------------------------------------------------------------


SAMPLE_COLUMNS = ("words", "length_score", "length_penalty", "self_repetition", "stop_reason", "error",
                  "bucket_2k", "output_tokens", "total_time")


def sample_frame(con: duckdb.DuckDBPyConnection, df: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard's per-sample frame (``sample_scores`` after the panel mode) with
    the length columns of the ``samples`` table beside it."""
    if df.empty:
        return df
    runs = pd.DataFrame({"run_id": sorted(set(df["run_id"]))})
    cur = con.cursor()
    cur.register("_report_runs", runs)
    try:
        extra = cur.execute(
            f"SELECT s.run_id, s.sample_id, s.epoch, {', '.join('s.' + c for c in SAMPLE_COLUMNS if c != 'bucket_2k')} "
            "FROM samples s JOIN _report_runs r ON r.run_id = s.run_id"
        ).df()
    finally:
        cur.close()
    return df.merge(extra, on=["run_id", "sample_id", "epoch"], how="left")


def setup_label(row: Any) -> str:
    """The judge setup of a sample, as the leaderboard labels its rows."""
    from polaris_bench.store.queries import judge_label

    return short_judge(judge_label(str(row["judge_model"]), str(row["judge_mode"])))


def score_text(v: Any, digits: int) -> str:
    return "unscored" if _isnan(v) else fmt(float(v), digits)


def opening(story: str | None, words: int) -> str:
    """The first ``words`` words of a story (with "…" when there is more)."""
    if not story:
        return ""
    parts = story.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def bucket_tables(frame: pd.DataFrame, model: str) -> list[dict[str, Any]]:
    """The model's rows of the length curves (``store.queries.curves``): per requested
    length (or 2k bucket), quality and length ratio with their CIs."""
    if frame.empty:
        return []
    mine = frame[frame["model"] == model]
    out = []
    for (bench, judge, dataset), g in mine.groupby(["benchmark", "judge", "dataset"], sort=True):
        rows = []
        for r in g.sort_values("order").to_dict("records"):
            rows.append({
                "point": r["point"], "n": r["n"], "unscored": r["unscored"],
                "quality": _with_ci(r["quality"], r["quality_low"], r["quality_high"]),
                "ratio": _with_ci(r["length_ratio"], r["ratio_low"], r["ratio_high"], 2),
                "sort_quality": None if _isnan(r["quality"]) else float(r["quality"]),
                "sort_ratio": None if _isnan(r["length_ratio"]) else float(r["length_ratio"]),
                "sort_point": float(r["order"]),
            })
        out.append({"benchmark": bench, "judge": short_judge(str(judge)), "dataset": dataset, "rows": rows})
    return out


def _with_ci(v: Any, lo: Any, hi: Any, digits: int | None = None) -> str:
    if _isnan(v):
        return "—"
    text = fmt(float(v), digits)
    if not _isnan(lo) and not _isnan(hi):
        text += f" [{fmt(float(lo), digits)}, {fmt(float(hi), digits)}]"
    return text


def extremes(samples: list[dict[str, Any]], k: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``k`` lowest- and highest-scored samples (scored ones only; ties by id)."""
    scored = sorted((s for s in samples if s["score"] is not None), key=lambda s: (s["score"], s["sample_id"]))
    worst = scored[:k]
    best = list(reversed(scored[-k:])) if len(scored) > k else []
    return worst, [s for s in best if s not in worst]


def as_number(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f
