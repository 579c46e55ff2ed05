"""Queries over the results store: leaderboards, paired comparisons, length curves.

Rules every query follows:

* Only the latest attempt of an eval-retried run counts (``superseded_by IS NULL``),
  and only finished runs (``status = 'success'``) unless ``include_incomplete``.
* A benchmark's headline score is chosen by ``benchmarks.main_score``; CIs resample
  prompts (``prompt_id``), so a prompt's lengths / epochs / iterations move together.
* Numbers judged by different judge models, rubric hashes, prompt-template hashes or
  judge modes are never averaged into one: ``judges="split"`` (default) gives each
  setup its own row and a note naming the difference, ``"refuse"`` raises
  ``JudgeMixError`` naming it, ``"mix"`` pools them on purpose.
* Likewise runs over different datasets (prompt files or subsets: the runs'
  ``dataset_sha256``): ``datasets="split"`` (default) keeps them in separate rows,
  ``"mix"`` pools them.
* Models are shown by their display name (``store.names``); two models that share
  one keep their full labels.
* Beside the headline, every leaderboard row carries the mean of per-sample scores
  from other scorers (``LENS_SCORES``: ``decay`` from ``story_segments``, ``cliche_rate``
  from ``cliche_index``) with their own CIs over prompts; NaN where no sample has one.
* Too few prompts for a CI (``stats.inference.MIN_CLUSTERS``) or pairs for a test
  (``MIN_PAIRS_TEST``): the row says ``n too small`` instead of a number.
* Benchmarks with requested lengths (sweeps) also get ``sq_length_controlled``: each
  model's score at length ratio 1.0 from one joint fit per benchmark, judge setup and
  dataset (``stats.length_control``), or the reason it is not identified.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from polaris_bench.metrics.length import BUCKETS_2K
from polaris_bench.stats.inference import (
    MIN_CLUSTERS,
    N_RESAMPLES,
    TOO_SMALL,
    bootstrap_mean_ci,
    bucket_slope,
    paired_comparison,
)
from polaris_bench.store.benchmarks import (
    main_score,
    reference_benchmark,
    spec_for,
    units_for,
)
from polaris_bench.store.panels import (
    PanelError,
    apply_panel,
    panel_summary,
    top_reasons,
)
from polaris_bench.store.reference import compared_keys

JudgePolicy = Literal["split", "refuse", "mix"]
DatasetPolicy = Literal["split", "mix"]
JUDGE_FIELDS = ("judge_model", "rubric_sha256", "template_sha256", "judge_mode")
DATASET_FIELD = "dataset_sha256"
PAPER_BUCKETS = ("ID", "near", "far")
NAN = float("nan")


class QueryError(ValueError):
    """A query that cannot be answered as asked (the message says why)."""


class JudgeMixError(QueryError):
    """Numbers from different judge setups would be pooled."""


# -- the per-sample frame --------------------------------------------------------------


def _run_filter(benchmark: str | None, include_incomplete: bool, alias: str = "r") -> tuple[str, list[Any]]:
    clauses = [f"{alias}.superseded_by IS NULL"]
    params: list[Any] = []
    if not include_incomplete:
        clauses.append(f"{alias}.status = 'success'")
    if benchmark:
        clauses.append(f"{alias}.benchmark = ?")
        params.append(benchmark)
    return " AND ".join(clauses), params


def _parse_score(spec: str | None) -> tuple[str | None, str] | None:
    if not spec:
        return None
    if "." in spec:
        scorer, key = spec.split(".", 1)
        return scorer, key
    return None, spec


def main_scores(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    include_incomplete: bool = False,
    score: str | None = None,
) -> dict[str, tuple[str, str]]:
    """run_id -> (scorer, key) of the headline score (``score`` = "scorer.key" or
    "key" overrides the table)."""
    where, params = _run_filter(benchmark, include_incomplete)
    rows = con.execute(
        f"SELECT r.run_id, r.benchmark, rs.scorer, rs.key FROM runs r JOIN run_scorers rs ON rs.run_id = r.run_id "
        f"WHERE {where}",
        params,
    ).fetchall()
    available: dict[str, dict[str, set[str]]] = {}
    bench_of: dict[str, str] = {}
    for run_id, bench, scorer, key in rows:
        bench_of[run_id] = bench
        keys = available.setdefault(run_id, {}).setdefault(scorer, set())
        if key:
            keys.add(key)
    override = _parse_score(score)
    out: dict[str, tuple[str, str]] = {}
    for run_id, avail in available.items():
        if override is not None:
            scorer, key = override
            if scorer is None:
                spec = spec_for(bench_of[run_id])
                candidates = [s for s in spec.scorers if key in avail.get(s, ())]
                candidates += sorted(s for s, keys in avail.items() if key in keys and s not in candidates)
                if not candidates:
                    continue
                scorer = candidates[0]
            elif scorer not in avail:
                continue
            out[run_id] = (scorer, key)
            continue
        chosen = main_score(bench_of[run_id], avail)
        if chosen is not None:
            spec = spec_for(bench_of[run_id])
            scorer, key = chosen
            if not avail.get(scorer) and spec.keys:
                key = spec.keys[0]  # every sample unscored: keep the rows, all NaN
            out[run_id] = (scorer, key)
    return out


def sample_scores(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    include_incomplete: bool = False,
    score: str | None = None,
    pairwise: bool = False,
) -> pd.DataFrame:
    """One row per sample: benchmark, model, run, prompt, target, buckets, length
    ratio, the headline score (NaN = unscored) and the judge setup that produced it.
    Runs of pairwise tasks (story_elo) are left out unless ``pairwise``."""
    chosen = main_scores(con, benchmark, include_incomplete, score)
    where, params = _run_filter(benchmark, include_incomplete)
    if not pairwise:
        where += " AND NOT EXISTS (SELECT 1 FROM pairwise p WHERE p.run_id = r.run_id)"
    main = pa.table(
        {
            "run_id": pa.array(list(chosen), pa.string()),
            "scorer": pa.array([v[0] for v in chosen.values()], pa.string()),
            "key": pa.array([v[1] for v in chosen.values()], pa.string()),
        }
    )
    con.register("_polaris_main", main)
    try:
        df = con.execute(
            f"""
            SELECT r.benchmark, coalesce(r.display_name, r.model_label) AS model, r.model_label, s.run_id,
                   s.sample_id, s.epoch, s.prompt_id, s.target_words, s.bucket, s.bucket_2k, s.length_ratio,
                   s.truncated, s.blank, coalesce(s.input_sha256, '') AS input_sha256,
                   coalesce(r.dataset_sha256, '') AS dataset_sha256,
                   coalesce(r.dataset_name, '') AS dataset_name, m.scorer, m.key,
                   coalesce(sr.judge_model, r.judge_model) AS judge_model, sr.rubric_sha256,
                   sr.template_sha256, sr.judge_mode, sr.unscored_reason, sr.panel_aggregate,
                   sc.value AS score
            FROM samples s
            JOIN runs r ON r.run_id = s.run_id
            JOIN _polaris_main m ON m.run_id = s.run_id
            LEFT JOIN scorer_results sr ON sr.run_id = s.run_id AND sr.sample_id = s.sample_id
                 AND sr.epoch = s.epoch AND sr.scorer = m.scorer
            LEFT JOIN scores sc ON sc.run_id = s.run_id AND sc.sample_id = s.sample_id
                 AND sc.epoch = s.epoch AND sc.scorer = m.scorer AND sc.key = m.key
            WHERE {where}
            """,
            params,
        ).df()
    finally:
        con.unregister("_polaris_main")
    if df.empty:
        return df
    # A sample without a score (errored) inherits its run's judge setup, so it is
    # counted as unscored in the right row instead of forming a row of its own.
    for col in JUDGE_FIELDS:
        df[col] = df[col].fillna(df.groupby("run_id")[col].transform("first")).fillna("").astype(str)
    df["score"] = df["score"].astype(float)
    for col in ("length_ratio", "truncated", "blank"):  # booleans as 1.0 / 0.0, NULL as NaN
        df[col] = pd.to_numeric(df[col].astype(object).where(df[col].notna(), np.nan), errors="coerce").astype(float)
    df.attrs["notes"] = _unique_display_names(df)
    return df


def _unique_display_names(df: pd.DataFrame) -> list[str]:
    """Models that share a display name are shown by their full labels instead."""
    labels = df.groupby("model")["model_label"].nunique()
    notes = []
    for name in labels[labels > 1].index:
        clash = df["model"] == name
        shown = sorted(df.loc[clash, "model_label"].unique())
        df.loc[clash, "model"] = df.loc[clash, "model_label"]
        notes.append(f"{len(shown)} models share the display name {name!r}; shown by their labels "
                     f"({', '.join(shown)}); `polaris ingest --name MODEL=NAME` names them apart")
    return notes


# -- judge setups -----------------------------------------------------------------------


def judge_label(judge_model: str, judge_mode: str = "", rubric_sha: str = "", template_sha: str = "") -> str:
    parts = [judge_model or "no judge"]
    if judge_mode:
        parts.append(judge_mode)
    if rubric_sha:
        parts.append(f"rubric {rubric_sha[:8]}")
    if template_sha:
        parts.append(f"prompt {template_sha[:8]}")
    return " · ".join(parts)


def _differences(setups: Sequence[tuple[str, ...]]) -> str:
    names = {"judge_model": "judge model", "rubric_sha256": "rubric hash", "template_sha256": "prompt-template hash",
             "judge_mode": "judge mode"}
    out = []
    for i, f in enumerate(JUDGE_FIELDS):
        values = sorted({s[i] for s in setups})
        if len(values) > 1:
            shown = [v[:12] if f.endswith("sha256") else v for v in values]
            out.append(f"{names[f]} ({' vs '.join(x or '-' for x in shown)})")
    return ", ".join(out)


def check_judges(df: pd.DataFrame, judges: JudgePolicy, by: Sequence[str] = ("benchmark", "model")) -> list[str]:
    """Notes about groups that hold several judge setups; raises under ``refuse``."""
    notes: list[str] = []
    if df.empty:
        return notes
    setups = df.groupby(list(by), sort=True)[list(JUDGE_FIELDS)].apply(
        lambda g: sorted(set(map(tuple, g.to_numpy().tolist())))
    )
    for key, sets in setups.items():
        if len(sets) < 2:
            continue
        what = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        diff = _differences(sets)
        if judges == "refuse":
            raise JudgeMixError(
                f"{what}: results from {len(sets)} judge setups differ in {diff}; they cannot be averaged "
                "into one number (use --judges split, or --mix-judges to pool them anyway)"
            )
        if judges == "split":
            notes.append(f"{what}: {len(sets)} judge setups differ in {diff}; shown as separate rows")
        else:
            notes.append(f"{what}: pooled across {len(sets)} judge setups that differ in {diff} (--mix-judges)")
    return notes


# -- datasets ---------------------------------------------------------------------------


def dataset_label(name: str, sha: str, benchmark: str = "") -> str:
    """The short hash, after the dataset's name where it says more than the benchmark."""
    if not sha:
        return "unknown (stored before schema v2)"
    return sha[:8] if not name or name == benchmark else f"{name} {sha[:8]}"


def check_datasets(df: pd.DataFrame, datasets: DatasetPolicy, by: Sequence[str] = ("benchmark", "model")) -> list[str]:
    """Notes about groups whose runs used different datasets (sample ids and inputs),
    and about runs stored without a dataset identity."""
    notes: list[str] = []
    if df.empty:
        return notes
    for key, g in df.groupby(list(by), sort=True):
        shas = sorted(set(g[DATASET_FIELD]))
        if len(shas) < 2:
            continue
        what = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        sizes = g.groupby(DATASET_FIELD)["sample_id"].nunique()
        shown = " vs ".join(f"{(sha or 'unknown')[:8]} ({int(sizes[sha])} samples)" for sha in shas)
        if datasets == "split":
            notes.append(f"{what}: runs over {len(shas)} datasets ({shown}); shown as separate rows "
                         "(--datasets mix pools them)")
        else:
            notes.append(f"{what}: pooled across {len(shas)} datasets ({shown}) (--datasets mix)")
    unknown = df.loc[df[DATASET_FIELD] == "", "run_id"].nunique()
    if unknown:
        notes.append(f"{unknown} run(s) have no dataset identity (stored before schema v2); "
                     "`polaris ingest --force <their logs>` adds it")
    return notes


def _dataset_fields(g: pd.DataFrame) -> dict[str, Any]:
    pairs = sorted(set(zip(g["dataset_name"], g[DATASET_FIELD])))
    if len(pairs) == 1:
        name, sha = pairs[0]
        return {"dataset": dataset_label(name, sha, str(g["benchmark"].iloc[0])), "dataset_name": name,
                DATASET_FIELD: sha}
    names = sorted({n for n, _ in pairs})
    return {"dataset": f"mixed ({len(pairs)} datasets)", "dataset_name": names[0] if len(names) == 1 else "mixed",
            DATASET_FIELD: "mixed"}


def _setup_keys(judges: JudgePolicy, datasets: DatasetPolicy) -> list[str]:
    return ([] if judges == "mix" else list(JUDGE_FIELDS)) + ([DATASET_FIELD] if datasets == "split" else [])


# -- leaderboard ------------------------------------------------------------------------


@dataclass
class Leaderboard:
    rows: list[dict[str, Any]] = field(default_factory=list)
    elo_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    panel: str = "mean"
    # the panel's agreement per benchmark and judge setup (store.panels.panel_summary)
    agreement: list[dict[str, Any]] = field(default_factory=list)
    # the length-controlled fit per benchmark, judge setup and dataset (length_fits)
    length_fits: list[dict[str, Any]] = field(default_factory=list)


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else NAN


# Leaderboard column -> (scorer, key) of a per-sample score shown beside the headline: the
# mean over the row's samples that have one, with a bootstrap CI over prompts.
LENS_SCORES: dict[str, tuple[str, str]] = {
    "decay": ("story_segments", "decay_slope"),  # window quality per 1,000 words along the story
    "cliche_rate": ("cliche_index", "cliche_rate"),  # cliché hits per 1,000 words
}


def with_lens_scores(con: duckdb.DuckDBPyConnection, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a ``sample_scores`` frame) with one column per ``LENS_SCORES`` entry: the
    sample's value of that scorer key, NaN where it has none."""
    df = df.copy()
    for col in LENS_SCORES:
        df[col] = NAN
    if df.empty:
        return df
    cond = " OR ".join("(scorer = ? AND key = ?)" for _ in LENS_SCORES)
    found = con.execute(
        f"SELECT run_id, sample_id, epoch, scorer, key, value FROM scores "
        f"WHERE ({cond}) AND run_id IN (SELECT unnest(?::VARCHAR[]))",
        [x for pair in LENS_SCORES.values() for x in pair] + [sorted(df["run_id"].unique())],
    ).df()
    if found.empty:
        return df
    index = pd.MultiIndex.from_frame(df[["run_id", "sample_id", "epoch"]].astype({"epoch": int}))
    for col, (scorer, key) in LENS_SCORES.items():
        part = found[(found["scorer"] == scorer) & (found["key"] == key)]
        if part.empty:
            continue
        values = part.astype({"epoch": int}).set_index(["run_id", "sample_id", "epoch"])["value"]
        df[col] = values.reindex(index).to_numpy(dtype=float)
    return df


def _lens_stats(g: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in LENS_SCORES:
        values = g[col].to_numpy(dtype=float) if col in g else np.full(len(g), NAN)
        ci = bootstrap_mean_ci(values, g["prompt_id"].to_numpy(), n_resamples=n_resamples, seed=seed)
        out[col], out[f"{col}_low"], out[f"{col}_high"] = ci.mean, ci.low, ci.high
        out[f"{col}_status"] = TOO_SMALL if ci.too_small else None
        out[f"{col}_n"] = ci.n  # samples with a value
    return out


def _group_stats(g: pd.DataFrame, n_resamples: int, seed: int) -> dict[str, Any]:
    scores = g["score"].to_numpy(dtype=float)
    ci = bootstrap_mean_ci(scores, g["prompt_id"].to_numpy(), n_resamples=n_resamples, seed=seed)
    out: dict[str, Any] = {
        "score": ci.mean,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "ci_status": TOO_SMALL if ci.too_small else None,
        "length_ratio": _nanmean(g["length_ratio"].to_numpy(dtype=float)),
        # shares of the samples with a length measurement (NaN: none has one)
        "truncated": _nanmean(g["truncated"].to_numpy(dtype=float)),
        "blank": _nanmean(g["blank"].to_numpy(dtype=float)),
    }
    by_bucket = g.groupby("bucket", dropna=True)["score"].mean()
    for b in PAPER_BUCKETS:
        out[b] = float(by_bucket.get(b, NAN))
    by_2k = g.groupby("bucket_2k", dropna=True)["score"].mean()
    out["slope"] = bucket_slope({k: float(v) for k, v in by_2k.items()})
    out["n"] = int(len(g))
    out["unscored"] = int(np.isnan(scores).sum())
    out["unscored_rate"] = out["unscored"] / out["n"] if out["n"] else NAN
    out["unscored_reasons"] = top_reasons(g.loc[np.isnan(scores), "unscored_reason"].tolist())
    out["prompts"] = int(g["prompt_id"].nunique())
    out["runs"] = int(g["run_id"].nunique())
    out.update(_lens_stats(g, n_resamples, seed))
    return out


def _reference_rows(con: duckdb.DuckDBPyConnection, benchmark: str, key: str | None = None) -> list[dict[str, Any]]:
    ref = reference_benchmark(benchmark)
    rows = con.execute(
        "SELECT model, metric, value, judge_model, judge_prompt, source FROM reference WHERE benchmark = ? "
        "ORDER BY model", [ref]
    ).fetchall()
    by_model: dict[str, dict[str, Any]] = {}
    for model, metric, value, judge_model, judge_prompt, source in rows:
        r = by_model.setdefault(
            model,
            {
                "benchmark": benchmark, "model": model, "judge": judge_model, "judge_model": judge_model,
                "rubric_sha256": "", "template_sha256": "", "judge_mode": "", "score": NAN, "ci_low": NAN,
                "ci_high": NAN, "ci_status": None, "length_ratio": NAN, "truncated": NAN, "blank": NAN,
                "dataset": "the paper's test set", "dataset_sha256": "", "dataset_name": "", "ID": NAN,
                "near": NAN, "far": NAN, "slope": NAN,
                "n": None, "unscored": None, "unscored_rate": NAN, "unscored_reasons": [], "prompts": None,
                "runs": None, "units": units_for(benchmark, key),
                "digits": spec_for(benchmark).digits, "source": "published", "judge_prompt": judge_prompt,
                "reference": source,
            },
        )
        r["score" if metric == "aggregate" else metric] = value
    return list(by_model.values())


def _sort_key(row: dict[str, Any]) -> tuple:
    s = row.get("score")
    s = NAN if s is None else s
    return (row["benchmark"], math.isnan(s), -(s if not math.isnan(s) else 0.0), row["model"])


def leaderboard(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    *,
    judges: JudgePolicy = "split",
    include_incomplete: bool = False,
    reference: bool = True,
    score: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    elo: bool = True,
    datasets: DatasetPolicy = "split",
    panel: str = "mean",
) -> Leaderboard:
    """One row per model (per judge setup and dataset) and benchmark; see the module
    docstring. ``panel``: how a judge panel's members make one score
    (``store.panels.apply_panel``: mean, trimmed, z, or a member's role or model)."""
    board = Leaderboard(panel=panel)
    df = sample_scores(con, benchmark, include_incomplete, score)
    board.notes += df.attrs.get("notes", [])
    try:
        df, panel_notes = apply_panel(con, df, panel)
    except PanelError as exc:
        raise QueryError(str(exc)) from exc
    board.notes += panel_notes
    df = with_lens_scores(con, df)
    if panel != "mean":
        reference = False  # published numbers are not per member, trimmed or standardised
    if not include_incomplete:
        skipped = con.execute(
            "SELECT count(*) FROM runs WHERE superseded_by IS NULL AND status <> 'success'"
            + (" AND benchmark = ?" if benchmark else ""),
            [benchmark] if benchmark else [],
        ).fetchone()[0]
        if skipped:
            board.notes.append(f"{skipped} unfinished run(s) left out (status not 'success'; --include-incomplete shows them)")
    board.notes += check_judges(df, judges)
    board.notes += check_datasets(df, datasets)
    keys = ["benchmark", "model"] + _setup_keys(judges, datasets)
    benchmarks_seen: set[str] = set()
    if not df.empty:
        for key, g in df.groupby(keys, sort=False):
            kv = dict(zip(keys, key))
            row: dict[str, Any] = {"benchmark": kv["benchmark"], "model": kv["model"]}
            if judges == "mix":
                setups = sorted(set(map(tuple, g[list(JUDGE_FIELDS)].to_numpy().tolist())))
                for i, f in enumerate(JUDGE_FIELDS):
                    vals = sorted({s[i] for s in setups})
                    row[f] = vals[0] if len(vals) == 1 else "mixed"
                row["judge"] = (
                    judge_label(row["judge_model"], row["judge_mode"], row["rubric_sha256"], row["template_sha256"])
                    if len(setups) == 1 else f"mixed ({len(setups)} setups)"
                )
            else:
                for f in JUDGE_FIELDS:
                    row[f] = kv[f]
                row["judge"] = judge_label(kv["judge_model"], kv["judge_mode"])
            row.update(_dataset_fields(g))
            row.update(_group_stats(g, n_resamples, seed))
            row["scorer"], row["key"] = g["scorer"].iloc[0], g["key"].iloc[0]
            row["run_ids"] = sorted(g["run_id"].unique().tolist())  # for the cost columns (store.costs)
            row["units"] = units_for(kv["benchmark"], row["key"])
            row["panel"] = panel
            if panel == "z":
                row["units"] = f"z-score per judge (of {row['key']})"
            row["digits"] = spec_for(kv["benchmark"]).digits
            row["source"] = "run"
            row["judge_prompt"] = "polaris-bench prompts"
            board.rows.append(row)
            benchmarks_seen.add(kv["benchmark"])
        # setups that differ only in hashes get the short hashes in their label
        by_model: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in board.rows:
            by_model.setdefault((row["benchmark"], row["judge"]), []).append(row)
        for rows in by_model.values():
            if len({(r["rubric_sha256"], r["template_sha256"]) for r in rows}) > 1:
                for r in rows:
                    r["judge"] = judge_label(r["judge_model"], r["judge_mode"], r["rubric_sha256"], r["template_sha256"])
        setups_per_bench: dict[str, set[str]] = {}
        for row in board.rows:
            setups_per_bench.setdefault(row["benchmark"], set()).add(row["judge"])
        for bench, setups in sorted(setups_per_bench.items()):
            if len(setups) > 1:
                board.notes.append(
                    f"{bench}: rows come from {len(setups)} judge setups; compare rows only within one judge setup"
                )
        datasets_per_bench: dict[str, set[str]] = {}
        for row in board.rows:
            datasets_per_bench.setdefault(row["benchmark"], set()).add(row[DATASET_FIELD])
        for bench, shas in sorted(datasets_per_bench.items()):
            if len(shas) > 1:
                board.notes.append(
                    f"{bench}: rows come from {len(shas)} datasets; compare rows only within one dataset"
                )
    if reference:
        shown = False
        for bench in sorted(benchmarks_seen | ({benchmark} if benchmark and benchmark != "story_elo" else set())):
            # published rows only beside runs that use the same formula (reference.compared_keys)
            run_keys = {r["key"] for r in board.rows if r["benchmark"] == bench and r.get("source") == "run"}
            same = compared_keys(reference_benchmark(bench))
            if run_keys and not run_keys & same:
                if _reference_rows(con, bench):
                    board.notes.append(
                        f"{bench}: the paper's published rows are {'/'.join(sorted(same))}, not this headline "
                        f"({'/'.join(sorted(run_keys))}); --score {sorted(same)[0]} shows them side by side"
                    )
                continue
            refs = _reference_rows(con, bench, next(iter(run_keys & same), min(same, default=None)))
            board.rows += refs
            shown = shown or bool(refs)
            if refs and reference_benchmark(bench) != bench:
                board.notes.append(
                    f"{bench}: the published rows are the paper's {reference_benchmark(bench)} numbers "
                    "(same rubric, the paper's own prompt set)"
                )
        if shown:
            board.notes.append(
                "published rows were judged with the paper's own judge prompts, runs here with polaris-bench's: "
                "comparable in kind, not in protocol"
            )
    if not df.empty:
        board.length_fits = _attach_length_control(df, board.rows, _setup_keys(judges, datasets), n_resamples, seed)
    if panel not in ("mean", "trimmed", "z") or df.empty:
        pass  # the rows come from one member: no panel to agree
    else:
        by = ["benchmark", *_setup_keys(judges, datasets)]
        board.agreement = panel_summary(con, df, by, n_resamples, seed)
        alphas = {tuple(a[k] for k in by): a for a in board.agreement}
        for a in board.agreement:
            a["judge"] = judge_label(a.get("judge_model", "mixed"), a.get("judge_mode", ""))
        for row in board.rows:
            a = alphas.get(tuple(row.get(k) for k in by)) if row.get("source") == "run" else None
            if a is not None:
                row["panel_alpha"], row["panel_alpha_low"], row["panel_alpha_high"] = (
                    a["alpha"], a["alpha_low"], a["alpha_high"])
    board.rows.sort(key=_sort_key)
    if elo and (benchmark in (None, "story_elo")):
        board.elo_rows = elo_leaderboard(con, judges=judges, include_incomplete=include_incomplete,
                                         reference=reference, n_resamples=n_resamples, seed=seed, notes=board.notes)
        if panel != "mean" and board.elo_rows:
            board.notes.append(f"story_elo ratings come from the stored pairwise verdicts; --panel {panel} does not "
                               "apply to them")
    return board


# -- length-controlled score -----------------------------------------------------------

LENGTH_FIELDS = ("sq_length_controlled", "sq_length_controlled_low", "sq_length_controlled_high",
                 "sq_length_controlled_status", "length_effect", "length_effect_low", "length_effect_high")


def length_fits(df: pd.DataFrame, setup_keys: Sequence[str], n_resamples: int = N_RESAMPLES,
                seed: int = 0) -> dict[tuple, Any]:
    """One ``stats.length_control`` fit per benchmark and judge setup / dataset (the
    leaderboard's row keys without the model) over the samples with a requested length;
    benchmarks without requested lengths get none."""
    from polaris_bench.stats.length_control import fit_length_control

    by = ["benchmark", *setup_keys]
    out: dict[tuple, Any] = {}
    for key, g in df.groupby(by, sort=True):
        if not g["target_words"].notna().any():
            continue
        out[key if isinstance(key, tuple) else (key,)] = fit_length_control(
            g, n_resamples=n_resamples, seed=seed)
    return out


def _attach_length_control(df: pd.DataFrame, rows: list[dict[str, Any]], setup_keys: Sequence[str],
                           n_resamples: int, seed: int) -> list[dict[str, Any]]:
    """Fill every run row's length-controlled fields; returns one summary per fit."""
    from polaris_bench.stats.length_control import NotIdentified

    fits = length_fits(df, setup_keys, n_resamples, seed)
    by = ["benchmark", *setup_keys]
    for row in rows:
        if row.get("source") != "run":
            continue
        fit = fits.get(tuple(row[k] for k in by))
        if fit is None:  # no requested lengths: no such columns
            continue
        row.update(dict.fromkeys(LENGTH_FIELDS, NAN))
        row["sq_length_controlled_status"] = row["sq_length_controlled_short"] = None
        effect = fit.length_effect
        if not isinstance(effect, NotIdentified):
            row["length_effect"], row["length_effect_low"], row["length_effect_high"] = (
                effect, fit.length_effect_low, fit.length_effect_high)
        m = fit.models.get(row["model"])
        if isinstance(m, NotIdentified) or m is None:
            row["sq_length_controlled_status"] = "not identified: " + (m.reason if m else "no usable samples")
            row["sq_length_controlled_short"] = "not identified: " + (m.short if m else "no samples")
            continue
        row["sq_length_controlled"], row["sq_length_controlled_low"], row["sq_length_controlled_high"] = (
            m.value, m.low, m.high)
        row["sq_length_controlled_status"] = m.ci_status
    summaries = []
    for key, fit in fits.items():
        kv = dict(zip(by, key))
        effect = fit.length_effect
        reason = effect.reason if isinstance(effect, NotIdentified) else None
        summaries.append({
            **kv, "judge": judge_label(kv.get("judge_model", "mixed"), kv.get("judge_mode", "")),
            "length_effect": NAN if reason else effect, "length_effect_low": fit.length_effect_low,
            "length_effect_high": fit.length_effect_high, "length_effect_se_cluster": fit.length_effect_se_cluster,
            "ci_status": fit.ci_status, "not_identified": reason, "n": fit.n, "prompts": fit.prompts,
            "bucket_kind": fit.bucket_kind, "buckets": fit.buckets, "excluded": fit.excluded,
            "models": {m: ({"not_identified": r.reason, "not_identified_short": r.short}
                           if isinstance(r, NotIdentified) else
                           {"value": r.value, "low": r.low, "high": r.high, "raw_mean": r.raw_mean,
                            "n": r.n, "prompts": r.prompts, "ci_status": r.ci_status})
                       for m, r in fit.models.items()},
        })
    return summaries


# -- story_elo --------------------------------------------------------------------------


def elo_leaderboard(
    con: duckdb.DuckDBPyConnection,
    *,
    judges: JudgePolicy = "split",
    include_incomplete: bool = False,
    reference: bool = True,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Ratings from story_elo's pairwise verdicts, per judge setup. A setup backed by
    one run shows the ratings that run reported; several runs are pooled and rated
    again (Glicko-2 and Bradley-Terry from ``polaris_bench.stats.ratings``)."""
    where, params = _run_filter(None, include_incomplete)
    pw = con.execute(
        f"SELECT p.*, coalesce(p.judge_model, r.judge_model, '') AS judge, coalesce(p.rubric_sha256, '') AS rubric "
        f"FROM pairwise p JOIN runs r ON r.run_id = p.run_id WHERE {where}",
        params,
    ).df()
    rows: list[dict[str, Any]] = []
    if not pw.empty:
        if judges != "mix":
            setups = sorted(set(zip(pw["judge"], pw["rubric"])))
            if len(setups) > 1:
                diff = _differences([(j, r, "", "") for j, r in setups])
                if judges == "refuse":
                    raise JudgeMixError(f"story_elo: pairwise verdicts from {len(setups)} judge setups differ in {diff}")
                if notes is not None:
                    notes.append(f"story_elo: {len(setups)} judge setups differ in {diff}; rated separately")
        group_keys = ["judge", "rubric"] if judges != "mix" else []
        groups = pw.groupby(group_keys, sort=True) if group_keys else [(("mixed", ""), pw)]
        for key, g in groups:
            judge, rubric = key if isinstance(key, tuple) else (key, "")
            rows += _rate_group(con, g, judge, rubric, n_resamples, seed)
    if reference:
        for model, value, judge_model, judge_prompt in con.execute(
            "SELECT model, value, judge_model, judge_prompt FROM reference WHERE benchmark = 'story_elo' AND metric = 'elo'"
        ).fetchall():
            rows.append({"benchmark": "story_elo", "model": model, "judge": judge_model, "elo": value, "elo_rd": NAN,
                         "bt": NAN, "bt_low": NAN, "bt_high": NAN, "win_rate": NAN, "pairs": None,
                         "unscored": None, "unscored_rate": NAN, "unscored_reasons": [], "runs": None,
                         "source": "published", "judge_prompt": judge_prompt})
    rows.sort(key=lambda r: (math.isnan(r["elo"]), -(r["elo"] if not math.isnan(r["elo"]) else 0), r["model"]))
    return rows


def _rate_group(con: duckdb.DuckDBPyConnection, g: pd.DataFrame, judge: str, rubric: str, n_resamples: int,
                seed: int) -> list[dict[str, Any]]:
    from polaris_bench.stats.ratings import Match, rate_players

    done = g[g["score_x"].notna()]
    models = sorted(set(g["model_x"]) | set(g["model_y"]))
    pairs = {m: int(((done["model_x"] == m) | (done["model_y"] == m)).sum()) for m in models}
    unscored = {m: int((((g["model_x"] == m) | (g["model_y"] == m)) & g["score_x"].isna()).sum()) for m in models}
    run_ids = sorted(set(g["run_id"]))
    stored: dict[tuple[str, str], tuple] = {}
    if len(run_ids) == 1:
        for model, method, rating, rd, lo, hi in con.execute(
            "SELECT model, method, rating, rd, ci_low, ci_high FROM ratings WHERE run_id = ?", [run_ids[0]]
        ).fetchall():
            stored[(model, method)] = (rating, rd, lo, hi)
    out: dict[str, dict[str, Any]] = {
        m: {"benchmark": "story_elo", "model": m, "judge": judge_label(judge, "", rubric), "elo": NAN, "elo_rd": NAN,
            "bt": NAN, "bt_low": NAN, "bt_high": NAN, "win_rate": NAN, "pairs": pairs[m], "unscored": unscored[m],
            "unscored_rate": unscored[m] / (pairs[m] + unscored[m]) if pairs[m] + unscored[m] else NAN,
            "unscored_reasons": top_reasons(
                g.loc[((g["model_x"] == m) | (g["model_y"] == m)) & g["score_x"].isna(), "unscored_reason"].tolist()),
            "runs": len(run_ids), "source": "run" if len(run_ids) == 1 else f"pooled from {len(run_ids)} runs",
            "judge_prompt": "polaris-bench prompts"}
        for m in models
    }
    if stored and all((m, "glicko2") in stored for m in models if pairs[m]):
        for m in models:
            gl = stored.get((m, "glicko2"))
            bt = stored.get((m, "bradley_terry"))
            wr = stored.get((m, "win_rate"))
            if gl:
                out[m]["elo"], out[m]["elo_rd"] = _f(gl[0]), _f(gl[1])
            if bt:
                out[m]["bt"], out[m]["bt_low"], out[m]["bt_high"] = _f(bt[0]), _f(bt[2]), _f(bt[3])
            if wr:
                out[m]["win_rate"] = _f(wr[0])
    elif len(done):
        matches = [
            Match(str(r.model_x), str(r.model_y), float(r.score_x), cluster=str(r.source_sample_id))
            for r in done.itertuples(index=False)
        ]
        for m, r in rate_players(matches, n_resamples=n_resamples, seed=seed).items():
            out[m]["elo"], out[m]["elo_rd"] = r.glicko.rating, r.glicko.rd
            out[m]["bt"], out[m]["bt_low"], out[m]["bt_high"] = r.bt.rating, r.bt.low, r.bt.high
            out[m]["win_rate"] = r.win_rate
    return list(out.values())


def _f(v: Any) -> float:
    return NAN if v is None else float(v)


# -- comparison -------------------------------------------------------------------------


def resolve_model(models: Sequence[str], name: str, aliases: dict[str, str] | None = None) -> str:
    """An exact model name, else a full label (``aliases``: label -> name), else the
    one name or label containing ``name``."""
    aliases = aliases or {}
    if name in models:
        return name
    if name in aliases:
        return aliases[name]
    hits = sorted({m for m in models if name in m} | {v for k, v in aliases.items() if name in k})
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise QueryError(f"no model matches {name!r}; models in the store: {', '.join(sorted(models)) or 'none'}")
    raise QueryError(f"{name!r} matches several models: {', '.join(sorted(hits))}; give the full label")


def compare(
    con: duckdb.DuckDBPyConnection,
    model_a: str,
    model_b: str,
    benchmark: str | None = None,
    *,
    judges: JudgePolicy = "split",
    include_incomplete: bool = False,
    score: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """A vs B on the samples both have (same benchmark, sample id, input and judge
    setup; epochs and repeated runs are averaged per sample first): overall and per
    paper bucket. A sample id whose input differs between the two (another prompt
    file) is not a pair. Models are named by display name, label or a unique part of
    either. Returns (rows, notes)."""
    df = sample_scores(con, benchmark, include_incomplete, score)
    if df.empty:
        raise QueryError("no scored samples in the store" + (f" for {benchmark}" if benchmark else ""))
    models = sorted(df["model"].unique())
    aliases = dict(zip(df["model_label"], df["model"]))
    a, b = resolve_model(models, model_a, aliases), resolve_model(models, model_b, aliases)
    if a == b:
        raise QueryError(f"both names resolve to the same model {a!r}")
    df = df[df["model"].isin([a, b])]
    notes: list[str] = list(df.attrs.get("notes", []))
    rows: list[dict[str, Any]] = []
    setup_keys = [] if judges == "mix" else list(JUDGE_FIELDS)
    for bench, bdf in df.groupby("benchmark", sort=True):
        sa = set(map(tuple, bdf[bdf["model"] == a][list(JUDGE_FIELDS)].to_numpy().tolist()))
        sb = set(map(tuple, bdf[bdf["model"] == b][list(JUDGE_FIELDS)].to_numpy().tolist()))
        if not sa or not sb:
            continue
        if judges != "mix" and not (sa & sb):
            msg = (f"{bench}: {a} and {b} were judged by different setups ({_differences(sorted(sa | sb))}); "
                   "not compared (--mix-judges to compare anyway)")
            if judges == "refuse":
                raise JudgeMixError(msg)
            notes.append(msg)
            continue
        if judges != "mix" and (len(sa) > 1 or len(sb) > 1 or sa != sb):
            notes.append(f"{bench}: compared within each judge setup both models share")
        unit = ["sample_id", "input_sha256"]  # the same id over another prompt file is not a pair
        per = (
            bdf.groupby(["model", *unit] + setup_keys, dropna=False)
            .agg(score=("score", "mean"), prompt_id=("prompt_id", "first"), bucket=("bucket", "first"))
            .reset_index()
        )
        left = per[per["model"] == a].drop(columns="model")
        right = per[per["model"] == b].drop(columns=["model", "prompt_id", "bucket"])
        paired = left.merge(right, on=unit + setup_keys, suffixes=("_a", "_b"))
        clash = left.merge(right, on=["sample_id"] + setup_keys).query("input_sha256_x != input_sha256_y")
        if len(clash):
            notes.append(f"{bench}: {clash['sample_id'].nunique()} sample id(s) have different inputs for {a} and "
                         f"{b} (different prompt files); not paired")
        if paired.empty:
            notes.append(f"{bench}: {a} and {b} share no sample")
            continue
        groups = paired.groupby(setup_keys, sort=True) if setup_keys else [((), paired)]
        for key, p in groups:
            kv = dict(zip(setup_keys, key if isinstance(key, tuple) else (key,)))
            judge = judge_label(kv.get("judge_model", "mixed"), kv.get("judge_mode", ""))
            subsets = [("all", p)] + [(bk, p[p["bucket"] == bk]) for bk in ("short", *PAPER_BUCKETS, "beyond")]
            for bucket_name, sub in subsets:
                if sub.empty:
                    continue
                res = paired_comparison(sub["score_a"].to_numpy(float), sub["score_b"].to_numpy(float),
                                        sub["prompt_id"].to_numpy(), n_resamples=n_resamples, seed=seed)
                rows.append({"benchmark": bench, "judge": judge, "bucket": bucket_name,
                             "model_a": a, "model_b": b, **res.as_dict(),
                             "ci_status": TOO_SMALL if res.ci_too_small else None,
                             "test_status": TOO_SMALL if res.test_too_small else None,
                             "digits": spec_for(bench).digits})
    if not rows and not notes:
        notes.append(f"{a} and {b} share no benchmark")
    return rows, notes


# -- length curves ------------------------------------------------------------------------


def curves(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    models: Sequence[str] | None = None,
    *,
    judges: JudgePolicy = "split",
    include_incomplete: bool = False,
    score: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    max_targets: int = 12,
    datasets: DatasetPolicy = "split",
) -> tuple[pd.DataFrame, list[str]]:
    """Quality and length ratio against the requested length, per model (and judge
    setup), with bootstrap CIs over prompts. Points are the distinct requested lengths
    when there are at most ``max_targets`` of them (a sweep), else the six 2k-word
    buckets (``target`` = the bucket's mean requested length)."""
    df = sample_scores(con, benchmark, include_incomplete, score)
    notes: list[str] = list(df.attrs.get("notes", []))
    df = df[df["target_words"].notna()] if not df.empty else df
    if df.empty:
        return pd.DataFrame(), ["no samples with a requested length" + (f" in {benchmark}" if benchmark else "")]
    if benchmark is None:
        benches = sorted(df["benchmark"].unique())
        pick = next((b for b in ("length_gen", "story_quality") if b in benches), benches[0])
        df = df[df["benchmark"] == pick]
        if len(benches) > 1:
            notes.append(f"curves for {pick} (choose another with --benchmark)")
    if models:
        all_models = sorted(df["model"].unique())
        aliases = dict(zip(df["model_label"], df["model"]))
        df = df[df["model"].isin([resolve_model(all_models, m, aliases) for m in models])]
    notes += check_judges(df, judges)
    notes += check_datasets(df, datasets)
    df = df.copy()
    if df["target_words"].nunique() <= max_targets:
        df["point"] = df["target_words"].astype(int).astype(str)
        df["order"] = df["target_words"].astype(float)
    else:
        order = {b: i for i, b in enumerate(BUCKETS_2K)}
        dropped = int(df["bucket_2k"].isna().sum())
        if dropped:
            notes.append(f"{dropped} samples with a requested length outside 1k-12k left out of the bucket curves")
        df = df[df["bucket_2k"].notna()]
        df["point"] = df["bucket_2k"]
        df["order"] = df["bucket_2k"].map(order).astype(float)
    keys = ["benchmark", "model"] + _setup_keys(judges, datasets)
    out = []
    too_small = 0
    for key, g in df.groupby(keys + ["point"], sort=False):
        kv = dict(zip(keys + ["point"], key))
        clusters = g["prompt_id"].to_numpy()
        q = bootstrap_mean_ci(g["score"].to_numpy(float), clusters, n_resamples=n_resamples, seed=seed)
        r = bootstrap_mean_ci(g["length_ratio"].to_numpy(float), clusters, n_resamples=n_resamples, seed=seed)
        out.append({
            "benchmark": kv["benchmark"], "model": kv["model"],
            "judge": judge_label(kv.get("judge_model", "mixed"), kv.get("judge_mode", "")),
            "dataset": _dataset_fields(g)["dataset"],
            "point": kv["point"], "order": float(g["order"].iloc[0]),
            "target": float(g["target_words"].mean()), "n": int(len(g)), "unscored": int(g["score"].isna().sum()),
            "quality": q.mean, "quality_low": q.low, "quality_high": q.high,
            "length_ratio": r.mean, "ratio_low": r.low, "ratio_high": r.high,
        })
        too_small += int(q.too_small)
    if too_small:
        notes.append(f"{too_small} point(s) rest on fewer than {MIN_CLUSTERS} prompts: {TOO_SMALL} for a CI band")
    frame = pd.DataFrame(out).sort_values(["benchmark", "model", "judge", "dataset", "order"]).reset_index(drop=True)
    return frame, notes


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row counts of every table (for reports and idempotence checks)."""
    tables = ("runs", "samples", "scorer_results", "scores", "criteria", "pairwise", "ratings", "run_scorers",
              "reference", "log_files", "model_names", "judgements", "judgement_scores", "judgement_criteria",
              "story_windows")
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
