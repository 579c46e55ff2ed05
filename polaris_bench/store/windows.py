"""Quality along the story: the ``story_windows`` rows as curves against the position
in the story, per model (and judge setup, and dataset), with bootstrap CIs over prompts.

Windows of different stories line up by their index: with ``-T segments=W`` window
``i`` of every story covers about words ``i*W .. (i+1)*W`` (cuts fall at paragraph
ends, and the last window may be shorter), so one point is one window index, placed
at the mean midpoint of its windows (``(first_word + last_word + 1) / 2``, in words).
Runs cut with different window sizes are separate lines (``segment_words``): their
indices mean different positions.

Every point follows the store's query rules (``store.queries``): the latest finished
attempt of each run, judge setups and datasets split unless asked to pool, and no CI
below ``MIN_CLUSTERS`` prompts. A window whose judgement failed has no quality: it is
left out of the quality mean (counted in ``unscored``), its LLM-free measures stay in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from polaris_bench.stats.inference import (
    MIN_CLUSTERS,
    N_RESAMPLES,
    TOO_SMALL,
    bootstrap_mean_ci,
)
from polaris_bench.store.queries import (
    DatasetPolicy,
    JudgePolicy,
    QueryError,
    _dataset_fields,
    _run_filter,
    _setup_keys,
    _unique_display_names,
    check_datasets,
    check_judges,
    judge_label,
    resolve_model,
)
from polaris_bench.store.rows import SEGMENTS_SCORER

# measure -> the CSV/frame column prefix of its mean and CI
MEASURES = ("quality", "self_repetition", "overlap_prior", "cliche_rate")
PREFERRED = ("length_gen", "story_quality")


def window_frame(con: duckdb.DuckDBPyConnection, benchmark: str | None = None,
                 include_incomplete: bool = False) -> pd.DataFrame:
    """One row per stored window, with its run's model, prompt, judge setup and dataset."""
    where, params = _run_filter(benchmark, include_incomplete)
    df = con.execute(
        f"""
        SELECT r.benchmark, coalesce(r.display_name, r.model_label) AS model, r.model_label, w.run_id,
               w.sample_id, w.epoch, s.prompt_id, w.idx, w.first_word, w.last_word, w.words, w.quality,
               w.self_repetition, w.overlap_prior, w.cliche_rate, w.unscored_reason,
               coalesce(sr.judge_model, r.judge_model, '') AS judge_model,
               coalesce(sr.rubric_sha256, '') AS rubric_sha256, coalesce(sr.template_sha256, '') AS template_sha256,
               coalesce(sr.judge_mode, '') AS judge_mode,
               TRY_CAST(json_extract(sr.metadata, '$.segment_words') AS DOUBLE) AS segment_words,
               coalesce(r.dataset_sha256, '') AS dataset_sha256, coalesce(r.dataset_name, '') AS dataset_name
        FROM story_windows w
        JOIN runs r ON r.run_id = w.run_id
        LEFT JOIN samples s ON s.run_id = w.run_id AND s.sample_id = w.sample_id AND s.epoch = w.epoch
        LEFT JOIN scorer_results sr ON sr.run_id = w.run_id AND sr.sample_id = w.sample_id AND sr.epoch = w.epoch
             AND sr.scorer = '{SEGMENTS_SCORER}'
        WHERE {where}
        """,
        params,
    ).df()
    if df.empty:
        return df
    df["prompt_id"] = df["prompt_id"].fillna(df["sample_id"]).astype(str)
    for col in MEASURES:
        df[col] = df[col].astype(float)
    df["midpoint"] = (df["first_word"].astype(float) + df["last_word"].astype(float) + 1.0) / 2.0
    df["segment_words"] = df["segment_words"].fillna(-1.0)  # -1: the log did not say
    df.attrs["notes"] = _unique_display_names(df)
    return df


def position_curves(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    models: Sequence[str] | None = None,
    *,
    judges: JudgePolicy = "split",
    include_incomplete: bool = False,
    score: str | None = None,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    datasets: DatasetPolicy = "split",
) -> tuple[pd.DataFrame, list[str]]:
    """Window quality, self-repetition, 4-gram overlap with earlier windows and cliché
    rate against the position in the story (see the module docstring). One row per
    (benchmark, model, judge setup, dataset, window size, window index)."""
    if score:
        raise QueryError(f"--score {score}: the position curves plot the windows' own quality; --score applies "
                         "to --kind length only")
    df = window_frame(con, benchmark, include_incomplete)
    if df.empty:
        where = f" in {benchmark}" if benchmark else ""
        why = (f"no story windows{where}: run a task with -T segments=<words> (length_gen, story_quality) "
               "and ingest its logs")
        return pd.DataFrame(), [why]
    notes: list[str] = list(df.attrs.get("notes", []))
    if benchmark is None:
        benches = sorted(df["benchmark"].unique())
        pick = next((b for b in PREFERRED if b in benches), benches[0])
        df = df[df["benchmark"] == pick]
        if len(benches) > 1:
            notes.append(f"position curves for {pick} (choose another with --benchmark)")
    if models:
        all_models = sorted(df["model"].unique())
        aliases = dict(zip(df["model_label"], df["model"]))
        df = df[df["model"].isin([resolve_model(all_models, m, aliases) for m in models])]
    notes += check_judges(df, judges)
    notes += check_datasets(df, datasets)
    keys = ["benchmark", "model"] + _setup_keys(judges, datasets) + ["segment_words", "idx"]
    sizes = df.groupby("model")["segment_words"].nunique()
    for model in sizes[sizes > 1].index:
        notes.append(f"{model}: windows of {sizes[model]} sizes; one line per size (their indices are different "
                     "positions)")
    out: list[dict[str, Any]] = []
    too_small = 0
    for key, g in df.groupby(keys, sort=False):
        kv = dict(zip(keys, key))
        clusters = g["prompt_id"].to_numpy()
        row: dict[str, Any] = {
            "benchmark": kv["benchmark"], "model": kv["model"],
            "judge": judge_label(kv.get("judge_model", "mixed"), kv.get("judge_mode", "")),
            "dataset": _dataset_fields(g)["dataset"],
            "segment_words": int(kv["segment_words"]) if kv["segment_words"] >= 0 else None,
            "window": int(kv["idx"]), "position": float(g["midpoint"].mean()),
            "first_word": int(g["first_word"].min()), "last_word": int(g["last_word"].max()),
            "windows": len(g), "samples": int(g[["run_id", "sample_id", "epoch"]].drop_duplicates().shape[0]),
            "prompts": int(g["prompt_id"].nunique()), "unscored": int(g["quality"].isna().sum()),
        }
        for m in MEASURES:
            ci = bootstrap_mean_ci(g[m].to_numpy(float), clusters, n_resamples=n_resamples, seed=seed)
            row[m], row[f"{m}_low"], row[f"{m}_high"] = ci.mean, ci.low, ci.high
            if m == "quality":  # the band the plot is about: fewer than MIN_CLUSTERS prompts with a quality
                row["ci_status"] = TOO_SMALL if ci.too_small else None
        too_small += row["ci_status"] is not None
        out.append(row)
    if too_small:
        notes.append(f"{too_small} point(s) rest on fewer than {MIN_CLUSTERS} prompts: {TOO_SMALL} for a CI band")
    frame = pd.DataFrame(out).sort_values(
        ["benchmark", "model", "judge", "dataset", "segment_words", "window"], na_position="first"
    ).reset_index(drop=True)
    return frame, notes
