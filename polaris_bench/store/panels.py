"""Judge panels in the store: per-member scores, the leaderboard's ``--panel`` modes,
unscored reasons, and agreement between the members (``polaris agreement``).

A *member* is one (role, judge model) pair of a panel, named ``role=model``; the
``judgements`` tables hold one row per member judgement (``store.rows``).

Panel modes (``apply_panel``): ``mean`` (the stored aggregate when the run's own
aggregate was the mean, else the mean of the members that succeeded, recomputed per
sample), ``trimmed`` (drops the highest and the lowest member when 3 or more
succeeded), ``z`` (each member's scores standardised, mean 0 and SD 1 with ddof=1,
over every sample it judged in the selection of one benchmark and score key, then
averaged per sample), or one member alone (its role or its model string). A sample
the panel left unscored (fewer than ``panel_min`` members succeeded) stays unscored
in every panel mode; in a one-member mode a sample is unscored when that member
failed. Nothing is imputed.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy import stats as sps

from polaris_bench.stats import N_RESAMPLES
from polaris_bench.stats.agreement import alpha_ci
from polaris_bench.stats.inference import TOO_SMALL, cluster_bootstrap

PANEL_MODES = ("mean", "trimmed", "z")
NAN = float("nan")
ONE_JUDGE = "agreement needs 2+ judges"
SAMPLE_KEY = ["run_id", "sample_id", "epoch"]


class PanelError(ValueError):
    """A ``--panel`` choice that the stored runs cannot answer."""


def member_name(role: str, model: str) -> str:
    return f"{role}={model}"


# -- loading ------------------------------------------------------------------------------


def _members_for(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, criteria: bool = False) -> pd.DataFrame:
    """Member judgements of the samples in ``df`` (a ``sample_scores`` frame): the
    headline key's value per member, or (``criteria``) one row per criterion score."""
    if df.empty:
        return pd.DataFrame(columns=[*SAMPLE_KEY, "member", "role", "member_model", "scored", "unscored_reason",
                                     "value"])
    keys = df[["run_id", "scorer", "key"]].drop_duplicates()
    cur = con.cursor()  # its own result state: the caller may hold an unfetched result
    cur.register("_polaris_panel_keys", keys)
    try:
        if criteria:
            sql = """
                SELECT j.run_id, j.sample_id, j.epoch, j.member, j.role, j.judge_model AS member_model, j.scored, j.unscored_reason,
                       c.criterion_id, c.score AS value
                FROM judgements j JOIN _polaris_panel_keys k ON k.run_id = j.run_id AND k.scorer = j.scorer
                JOIN judgement_criteria c ON c.run_id = j.run_id AND c.sample_id = j.sample_id
                     AND c.epoch = j.epoch AND c.scorer = j.scorer AND c.member = j.member"""
        else:
            sql = """
                SELECT j.run_id, j.sample_id, j.epoch, j.member, j.role, j.judge_model AS member_model, j.scored, j.unscored_reason,
                       s.value
                FROM judgements j JOIN _polaris_panel_keys k ON k.run_id = j.run_id AND k.scorer = j.scorer
                LEFT JOIN judgement_scores s ON s.run_id = j.run_id AND s.sample_id = j.sample_id
                     AND s.epoch = j.epoch AND s.scorer = j.scorer AND s.member = j.member AND s.key = k.key"""
        members = cur.execute(sql).df()
    finally:
        cur.close()
    members["value"] = members["value"].astype(float)
    members["name"] = [member_name(r, m) for r, m in zip(members["role"], members["member_model"])]
    ctx = df[[*SAMPLE_KEY, "benchmark", "model", "prompt_id", "key", *_setup_cols(df)]]
    return members.merge(ctx, on=SAMPLE_KEY, how="inner")


def _setup_cols(df: pd.DataFrame) -> list[str]:
    from polaris_bench.store.queries import DATASET_FIELD, JUDGE_FIELDS

    return [c for c in (*JUDGE_FIELDS, DATASET_FIELD) if c in df.columns]


# -- panel modes ----------------------------------------------------------------------------


def _trimmed(values: np.ndarray) -> float:
    v = np.sort(values[~np.isnan(values)])
    if v.size == 0:
        return NAN
    return float(v[1:-1].mean()) if v.size >= 3 else float(v.mean())


def _zscores(members: pd.DataFrame) -> pd.Series:
    grouped = members.groupby(["benchmark", "key", "role", "member_model"])["value"]
    mean, sd = grouped.transform("mean"), grouped.transform("std")  # pandas std: ddof=1
    return (members["value"] - mean) / sd.where(sd > 0)


def apply_panel(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, mode: str) -> tuple[pd.DataFrame, list[str]]:
    """``df`` (a ``sample_scores`` frame) with its ``score`` (and, for one member, its
    ``judge_model`` and ``unscored_reason``) as the panel mode gives them."""
    notes: list[str] = []
    if df.empty:
        return df, notes
    members = _members_for(con, df)
    has_members = df["run_id"].isin(set(members["run_id"]))
    if mode == "mean":
        recompute = has_members & df["panel_aggregate"].isin(["median", "trimmed"])
        if recompute.any():
            means = members.groupby(SAMPLE_KEY)["value"].mean()
            df = df.copy()
            idx = pd.MultiIndex.from_frame(df.loc[recompute, SAMPLE_KEY])
            new = means.reindex(idx).to_numpy()
            df.loc[recompute, "score"] = np.where(df.loc[recompute, "score"].isna(), NAN, new)
            notes.append(f"{int(df.loc[recompute, 'run_id'].nunique())} run(s) aggregated their panel by median or "
                         "trimmed mean; --panel mean recomputes the mean of their members per sample")
        return df, notes
    if not has_members.all():
        left = sorted(df.loc[~has_members, "benchmark"].unique())
        notes.append(f"--panel {mode}: {int(df.loc[~has_members, 'run_id'].nunique())} run(s) have no member "
                     f"judgements (not judge-scored, or stored before schema v3: `polaris ingest --force`); left out "
                     f"({', '.join(left)})")
        df = df[has_members].copy()
    else:
        df = df.copy()
    if mode in ("trimmed", "z"):
        if mode == "z":
            members = members.assign(value=_zscores(members))
            constant = members.groupby("name")["value"].apply(lambda v: bool(v.isna().all()))
            for name in constant[constant].index:
                notes.append(f"--panel z: {name} has fewer than 2 distinct scores in the selection; its z-scores are "
                             "undefined and left out")
            per = members.groupby(SAMPLE_KEY)["value"].mean()
        else:
            per = members.groupby(SAMPLE_KEY)["value"].apply(lambda v: _trimmed(v.to_numpy(float)))
        new = per.reindex(pd.MultiIndex.from_frame(df[SAMPLE_KEY])).to_numpy()
        df["score"] = np.where(df["score"].isna(), NAN, new)
        return df, notes
    chosen = members[(members["role"] == mode) | (members["member_model"] == mode)]
    if chosen.empty:
        roles = sorted(set(members["role"]))
        models = sorted(set(members["member_model"]))
        raise PanelError(f"--panel {mode!r}: no panel member has this role or model; roles: {', '.join(roles) or '-'}; "
                         f"models: {', '.join(models) or '-'} (or mean, trimmed, z)")
    if chosen.groupby(SAMPLE_KEY)["member"].nunique().max() > 1:
        raise PanelError(f"--panel {mode!r} names several members of one panel; give the role instead")
    kept = df["run_id"].isin(set(chosen["run_id"]))
    if not kept.all():
        notes.append(f"--panel {mode}: {int(df.loc[~kept, 'run_id'].nunique())} run(s) without this member left out")
    df = df[kept].copy()
    one = chosen.set_index(SAMPLE_KEY)
    idx = pd.MultiIndex.from_frame(df[SAMPLE_KEY])
    df["score"] = one["value"].reindex(idx).to_numpy()
    df["judge_model"] = one["member_model"].reindex(idx).fillna("").to_numpy()
    df["judge_model"] = df["judge_model"].where(df["judge_model"] != "",
                                                df.groupby("run_id")["judge_model"].transform("max"))
    df["unscored_reason"] = one["unscored_reason"].reindex(idx).to_numpy()
    return df, notes


# -- unscored reasons -----------------------------------------------------------------------

_ATTEMPT = re.compile(r"(?:^|;\s*)attempt \d+:\s*")
REASON_CHARS = 40


def short_reason(reason: str) -> str:
    """The gist of a stored reason: its last attempt's message, cut to a few words."""
    text = _ATTEMPT.split(str(reason))[-1].strip()
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1].rstrip() + "…"


def top_reasons(reasons: Sequence[Any], k: int = 2) -> list[dict[str, Any]]:
    """The ``k`` most common (shortened) reasons with their counts."""
    counter = Counter(short_reason(r) for r in reasons if isinstance(r, str) and r)
    return [{"reason": r, "count": n} for r, n in counter.most_common(k)]


# -- agreement ------------------------------------------------------------------------------


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 3:
        return NAN, NAN
    return float(sps.spearmanr(x[keep], y[keep]).statistic), float(sps.kendalltau(x[keep], y[keep]).statistic)


def _wide(members: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per sample (its model and prompt), one column per member."""
    wide = members.groupby([*SAMPLE_KEY, "model", "prompt_id", "name"])["value"].first().unstack("name")
    return wide.reindex(columns=names).reset_index()


def _model_ranks(means: pd.Series) -> pd.Series:
    return means.rank(ascending=False, method="min")


def _stats_of(values: np.ndarray, models: np.ndarray, names: list[str], rankings: bool):
    """statistic(unit indices) -> [(spearman, kendall) per pair, ranking tau per pair]."""
    pairs = list(itertools.combinations(range(len(names)), 2))
    codes, model_of = np.unique(models.astype(str), return_inverse=True)

    def statistic(idx: np.ndarray) -> np.ndarray:
        v = values[idx]
        out = []
        for a, b in pairs:
            out += list(_pair(v[:, a], v[:, b]))
        if rankings:
            present = ~np.isnan(v)
            sums = np.stack([np.bincount(model_of[idx], weights=np.where(present[:, j], v[:, j], 0.0),
                                         minlength=len(codes)) for j in range(len(names))])
            counts = np.stack([np.bincount(model_of[idx], weights=present[:, j].astype(float), minlength=len(codes))
                               for j in range(len(names))])
            with np.errstate(divide="ignore", invalid="ignore"):
                means = sums / counts  # judge x model
            for a, b in pairs:
                keep = ~(np.isnan(means[a]) | np.isnan(means[b]))
                out.append(float(sps.kendalltau(means[a][keep], means[b][keep]).statistic) if keep.sum() >= 2
                           else NAN)
        return np.array(out, dtype=float)

    return statistic, pairs


def _leave_one_out(wide: pd.DataFrame, names: list[str]) -> list[dict[str, Any]]:
    full = _model_ranks(wide[names].mean(axis=1).groupby(wide["model"]).mean())
    out = []
    for name in names:
        rest = [n for n in names if n != name]
        ranks = _model_ranks(wide[rest].mean(axis=1).groupby(wide["model"]).mean())
        change = (ranks - full.reindex(ranks.index)).abs()
        worst = change.idxmax() if change.notna().any() and len(change) else None
        most = int(change.max()) if worst is not None else None
        out.append({"dropped": name, "max_rank_change": most, "model": worst if most else None,
                    "models": int(len(full))})
    return out


def _ci(v: float, lo: float, hi: float, too_small: bool) -> dict[str, Any]:
    return {"value": v, "ci_low": lo, "ci_high": hi, "ci_status": TOO_SMALL if too_small else None}


def agreement_of(members: pd.DataFrame, criterion: str, *, rankings: bool, with_ci: bool, n_resamples: int,
                 seed: int, pairwise: bool = True) -> dict[str, Any]:
    """Agreement of the members in ``members`` (one benchmark, one criterion or the
    headline key): alpha, pairwise Spearman and Kendall over samples and (``rankings``)
    Kendall between the model rankings each member produces, and leave-one-out."""
    names = sorted(set(members["name"]))
    base = {"criterion": criterion, "members": names, "judges": len(names)}
    if len(names) < 2:
        return {**base, "units": int(members[SAMPLE_KEY].drop_duplicates().shape[0]), "note": ONE_JUDGE,
                "alpha": _ci(NAN, NAN, NAN, False), "pairs": [], "rankings": [], "leave_one_out": []}
    wide = _wide(members, names)
    values = wide[names].to_numpy(float)
    prompts = wide["prompt_id"].astype(str).to_numpy()
    resamples = n_resamples if with_ci else 0
    alpha = alpha_ci(values.T, prompts, n_resamples=resamples, seed=seed)
    out = {**base, "units": int(len(wide)), "prompts": alpha.clusters, "note": None,
           "alpha": _ci(alpha.mean, alpha.low, alpha.high, alpha.too_small)}
    if not pairwise:
        return out
    statistic, pairs = _stats_of(values, wide["model"].to_numpy(), names, rankings)
    res = cluster_bootstrap(statistic, prompts, n_resamples=resamples, seed=seed)
    at = iter(range(len(res.value)))

    def take() -> dict[str, Any]:
        i = next(at)
        return _ci(float(res.value[i]), float(res.low[i]), float(res.high[i]), res.too_small)

    out["pairs"] = [{"judge_a": names[a], "judge_b": names[b],
                     "n": int((~np.isnan(values[:, a]) & ~np.isnan(values[:, b])).sum()),
                     "spearman": take(), "kendall": take()} for a, b in pairs]
    out["rankings"] = [{"judge_a": names[a], "judge_b": names[b], "models": int(wide["model"].nunique()),
                        "kendall": take()} for a, b in pairs] if rankings else []
    out["leave_one_out"] = _leave_one_out(wide, names) if rankings else []
    return out


def _selection(con: duckdb.DuckDBPyConnection, benchmark: str | None, include_incomplete: bool,
               score: str | None) -> pd.DataFrame:
    from polaris_bench.store.queries import sample_scores

    return sample_scores(con, benchmark, include_incomplete, score, pairwise=True)


def _pairwise_runs(con: duckdb.DuckDBPyConnection, run_ids: set[str]) -> bool:
    cur = con.cursor()
    try:
        rows = cur.execute("SELECT DISTINCT run_id FROM pairwise").fetchall()
    finally:
        cur.close()
    return bool({r for (r,) in rows} & run_ids)


def agreement(
    con: duckdb.DuckDBPyConnection,
    benchmark: str | None = None,
    *,
    include_incomplete: bool = False,
    score: str | None = None,
    criteria: bool = True,
    criteria_ci: bool = False,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per benchmark: agreement on the headline score (with bootstrap CIs over
    prompts), and per rubric criterion (CIs only with ``criteria_ci``: each resample
    recomputes alpha). Returns (results, notes)."""
    df = _selection(con, benchmark, include_incomplete, score)
    notes: list[str] = []
    if df.empty:
        return [], ["no scored samples in the store" + (f" for {benchmark}" if benchmark else "")]
    members = _members_for(con, df)
    if members.empty:
        return [], [("no member judgements stored (runs without a judge, or stored before schema v3: "
                     "`polaris ingest --force <logs>`)")]
    crit = _members_for(con, df, criteria=True) if criteria else pd.DataFrame()
    out = []
    for bench, m in members.groupby("benchmark", sort=True):
        key = str(m["key"].iloc[0])
        setups = m[_setup_cols(m)].drop_duplicates()
        if len(setups) > 1:
            notes.append(f"{bench}: runs with {len(setups)} judge setups or datasets are pooled; members are told "
                         "apart by role and model")
        # a pairwise run's samples are pairs of writers, not one model's stories: no model rankings
        rankings = not _pairwise_runs(con, set(m["run_id"]))
        res = agreement_of(m, key, rankings=rankings, with_ci=True, n_resamples=n_resamples, seed=seed)
        res["benchmark"] = bench
        out.append(res)
        if res["judges"] < 2:
            notes.append(f"{bench}: one judge ({res['members'][0]}); {ONE_JUDGE}")
            continue
        if crit.empty:
            continue
        for cid, c in crit[crit["benchmark"] == bench].groupby("criterion_id", sort=True):
            cres = agreement_of(c, str(cid), rankings=False, with_ci=criteria_ci, n_resamples=n_resamples,
                                seed=seed)
            cres["benchmark"] = bench
            out.append(cres)
    return out, notes


def panel_summary(con: duckdb.DuckDBPyConnection, df: pd.DataFrame, by: Sequence[str], n_resamples: int,
                  seed: int) -> list[dict[str, Any]]:
    """Alpha with its CI for each group of ``df`` (benchmark and judge setup) whose
    samples were judged by 2 or more members: the line under a leaderboard table."""
    members = _members_for(con, df)
    out = []
    if members.empty:
        return out
    for key, m in members.groupby(list(by), sort=True):
        if m["name"].nunique() < 2:
            continue
        kv = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        res = agreement_of(m, str(m["key"].iloc[0]), rankings=False, with_ci=True, n_resamples=n_resamples,
                           seed=seed, pairwise=False)
        out.append({**kv, "criterion": res["criterion"], "members": res["members"], "units": res["units"],
                    "alpha": res["alpha"]["value"], "alpha_low": res["alpha"]["ci_low"],
                    "alpha_high": res["alpha"]["ci_high"], "ci_status": res["alpha"]["ci_status"]})
    return out
