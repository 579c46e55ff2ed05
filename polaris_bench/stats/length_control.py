"""A length-controlled score: each model's judge score at length ratio 1.0.

A judge score mixes how well a model writes with how much it writes: a model that
writes half the requested length tells a shorter, easier story, and one that pads may
be rewarded (or punished) for the padding. Over a sweep (samples with a requested
length and a length ratio = words written / words requested) this fits, by ordinary
least squares (statsmodels),

    score = alpha[model] + beta * ln(length ratio) + gamma[requested-length bucket] + error

and reports per model ``alpha[model] + sum_b w_b * gamma[b]``: the predicted score at
length ratio 1.0 averaged over the fit's requested-length mix ``w`` (each bucket's share
of all the fit's samples, models pooled; for a sweep where every model answers every
prompt at every length, equal weights over the requested lengths). ``beta`` is reported
as points per doubling of the length ratio (``beta * ln 2``).

Why fixed effects and OLS (not a mixed model with a prompt random intercept): the CIs
come from the project's one cluster bootstrap over prompts (``stats.inference``), which
already accounts for a prompt's samples being correlated and needs a refit per
resample. A least-squares refit is exact and cheap: the cross products X'X and X'y add
up over the prompts drawn, so all 2,000 resamples are solved at once in milliseconds
(MixedLM's iterative REML fit is slower by orders of magnitude and can fail to converge
on a resample). With every model answering the same
prompts, prompt effects are balanced across models and do not bias the model effects.
The full-data fit also gives prompt-clustered (cluster-robust) standard errors from
statsmodels as a cross-check of the bootstrap.

Assumptions: the score is linear in ln(length ratio), with one slope shared by all
models; requested-length effects are additive and shared by all models; the length a
model chose is not driven by the same prompt-level quality the judge rewards beyond
what the prompt clusters absorb (no instrument corrects that). Buckets: the distinct
requested lengths when there are at most ``MAX_TARGET_BUCKETS`` of them (a sweep), else
the paper's six 2k-word buckets (with "short" below 1k and "beyond" above 12k).

Not identified (a ``NotIdentified`` with the reason instead of a number):
* a model with fewer than ``MIN_SAMPLES`` usable samples or ``MIN_CLUSTERS`` prompts;
* no spread in the length ratio (sd of ln ratio below ``MIN_LOG_RATIO_SD``, about 2%);
* the length ratio explained by model and bucket alone (e.g. each model writes a fixed
  share of every request; residual sd of ln ratio below ``MIN_LOG_RATIO_SD``): beta is
  confounded with the model effects;
* a model whose score at ratio 1.0 is not estimable from the design (rank deficient),
  e.g. all its samples lie in one bucket that no other model's samples tie to the rest.
Usable samples: scored, with a requested length and a positive length ratio (an empty
story has no log ratio; it is counted among the excluded).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS, RegressionResults

from polaris_bench.metrics.length import bucket, bucket_2k
from polaris_bench.stats import CONFIDENCE, N_RESAMPLES
from polaris_bench.stats.inference import (
    MIN_CLUSTERS,
    TOO_SMALL,
    cluster_bootstrap,
    cluster_codes,
)

NAN = float("nan")
MIN_SAMPLES = 10  # per model: fewer usable samples than this and its effect is not reported
# Less spread than this in ln(length ratio) (sd; 0.02 = about 2% in length), after the model
# and bucket effects are taken out, and the length effect rests on rounding: not identified.
MIN_LOG_RATIO_SD = 0.02
MAX_TARGET_BUCKETS = 12  # up to this many distinct requested lengths: one bucket each
# A quantity not estimable in more than this share of the bootstrap resamples gets no CI.
MAX_UNESTIMABLE_RESAMPLES = 0.05


@dataclass(frozen=True)
class NotIdentified:
    """No number: the data cannot separate this quantity (``reason`` says why)."""

    reason: str
    short: str = ""  # a few words for a table cell (``reason`` is the whole sentence)


@dataclass(frozen=True)
class ControlledScore:
    model: str
    value: float  # predicted score at length ratio 1.0 over the fit's bucket mix
    low: float
    high: float
    n: int  # usable samples of this model in the fit
    prompts: int
    raw_mean: float  # the plain mean of the same samples, for comparison
    mean_log_ratio: float
    ci_status: str | None = None  # "n too small" or why the CI is withheld


@dataclass(frozen=True)
class LengthFit:
    models: dict[str, ControlledScore | NotIdentified]
    # points per doubling of the length ratio (beta * ln 2), or why not identified
    length_effect: float | NotIdentified
    length_effect_low: float = NAN
    length_effect_high: float = NAN
    length_effect_se_cluster: float = NAN  # statsmodels' prompt-clustered SE, per doubling
    n: int = 0
    prompts: int = 0
    buckets: dict[str, float] = field(default_factory=dict)  # bucket -> weight in the average
    bucket_kind: str = ""
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> samples left out
    ci_status: str | None = None


def _bucket_labels(targets: np.ndarray) -> tuple[np.ndarray, str]:
    distinct = np.unique(targets)
    if len(distinct) <= MAX_TARGET_BUCKETS:
        return np.array([str(int(t)) for t in targets], dtype=object), "requested length"
    labels = [bucket_2k(int(t)) or bucket(int(t)) for t in targets]
    return np.array(labels, dtype=object), "2k-word bucket"


def _usable(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    excluded: dict[str, int] = {}
    score = frame["score"].astype(float)
    target = pd.to_numeric(frame["target_words"], errors="coerce").astype(float)
    ratio = pd.to_numeric(frame["length_ratio"], errors="coerce").astype(float)
    checks = (
        ("unscored", score.isna()),
        ("no requested length or length ratio", target.isna() | ratio.isna()),
        ("empty story (length ratio 0)", ratio.notna() & (ratio <= 0)),
    )
    drop = pd.Series(False, index=frame.index)
    for reason, mask in checks:
        n = int((mask & ~drop).sum())
        if n:
            excluded[reason] = n
        drop |= mask
    keep = frame.loc[~drop, ["model", "prompt_id"]].copy()
    keep["score"], keep["target"], keep["ratio"] = score[~drop], target[~drop], ratio[~drop]
    return keep.reset_index(drop=True), excluded


def _estimable(fitted: RegressionResults, c: np.ndarray) -> bool:
    """c'theta is estimable iff c lies in the row space of the design: pinv(X) X c = c."""
    proj = fitted.model.pinv_wexog @ (fitted.model.wexog @ c)
    return bool(np.linalg.norm(proj - c) <= 1e-6 * max(1.0, float(np.linalg.norm(c))))


def fit_length_control(
    frame: pd.DataFrame,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> LengthFit:
    """The length-controlled score of every model in ``frame`` (columns ``model``,
    ``prompt_id``, ``target_words``, ``length_ratio``, ``score``; one row per sample),
    fitted jointly, with percentile bootstrap CIs over prompts."""
    data, excluded = _usable(frame)
    all_models = sorted(map(str, frame["model"].unique()))
    result: dict[str, ControlledScore | NotIdentified] = {}
    for m in all_models:
        g = data[data["model"] == m]
        n, k = len(g), int(g["prompt_id"].nunique())
        if n < MIN_SAMPLES or k < MIN_CLUSTERS:
            result[m] = NotIdentified(f"too few samples ({n} usable over {k} prompts; the fit needs "
                                      f"{MIN_SAMPLES} over {MIN_CLUSTERS} per model)", "too few samples")
    n_usable, prompts_usable = len(data), int(data["prompt_id"].nunique())
    data = data[~data["model"].isin(list(result))].reset_index(drop=True)
    models = sorted(map(str, data["model"].unique()))

    def not_identified(reason: str, short: str) -> LengthFit:
        for m in models:
            result[m] = NotIdentified(reason, short)
        return LengthFit(models={m: result[m] for m in all_models}, length_effect=NotIdentified(reason, short),
                         n=n_usable, prompts=prompts_usable, excluded=excluded)

    if not models:
        return not_identified("no model has enough usable samples", "too few samples")
    logr = np.log(data["ratio"].to_numpy(float))
    if np.std(logr) < MIN_LOG_RATIO_SD:
        return not_identified(f"no spread in length ratio (all near {np.exp(np.mean(logr)):.3g}), so the length "
                              "effect cannot be estimated", "no spread in length ratio")
    labels, kind = _bucket_labels(data["target"].to_numpy(float))
    order = sorted(set(labels), key=lambda b: (data["target"][labels == b].mean(), b))
    weights = {b: float(np.mean(labels == b)) for b in order}
    # columns: one intercept per model, ln(ratio), one effect per bucket but the first
    model_cols = np.column_stack([(data["model"] == m).to_numpy(float) for m in models])
    bucket_cols = [np.asarray(labels == b, dtype=float) for b in order[1:]]
    X = np.column_stack([model_cols, logr, *bucket_cols]) if bucket_cols else np.column_stack([model_cols, logr])
    y = data["score"].to_numpy(float)
    codes, groups = cluster_codes(data["prompt_id"].to_numpy())  # the bootstrap's clusters: prompts
    p = X.shape[1]
    beta_c = np.zeros(p)
    beta_c[len(models)] = 1.0
    contrasts = []
    for i in range(len(models)):
        c = np.zeros(p)
        c[i] = 1.0
        for j, b in enumerate(order[1:]):
            c[len(models) + 1 + j] = weights[b]
        contrasts.append(c)
    C = np.vstack([*contrasts, beta_c])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank-deficient designs are checked below, not warned about
        full = OLS(y, X, hasconst=True).fit(cov_type="cluster", cov_kwds={"groups": groups})
    # What the length effect is estimated from: ln(ratio) net of the model and bucket
    # effects. Its residual sum of squares is 1 / (X'X)^-1[beta, beta] (Frisch-Waugh-Lovell).
    estimable_beta = _estimable(full, beta_c)
    b_col = len(models)
    residual_sd = math.sqrt(1.0 / (len(y) * full.normalized_cov_params[b_col, b_col])) if estimable_beta else 0.0
    if residual_sd < MIN_LOG_RATIO_SD:
        within = data.assign(lr=logr).groupby("model")["lr"].std(ddof=0)
        if float(within.max()) < MIN_LOG_RATIO_SD:
            return not_identified("the length ratio does not vary within any model (each writes a fixed share of "
                                  "the request), so the length effect cannot be told apart from the model effects",
                                  "length ratio fixed per model")
        return not_identified("the length ratio varies only with model and requested length, so the length "
                              "effect cannot be told apart from the model and bucket effects",
                              "length ratio set by model and length")
    estimable = [_estimable(full, c) for c in contrasts]
    for m, ok in zip(models, estimable):
        if not ok:
            mb = sorted(set(labels[(data["model"] == m).to_numpy()]))
            result[m] = NotIdentified(
                f"all its samples are in one {kind} ({mb[0]}), whose effect cannot be told apart from the model's",
                f"one {kind} only",
            ) if len(mb) == 1 else NotIdentified(
                "its score at ratio 1.0 is not estimable: model and requested length are confounded in this design "
                "(rank deficient)", "model and length confounded")
    point = C @ full.params

    # Bootstrap replicates: the same least squares on the resampled rows, from per-prompt
    # cross products (X'X and X'y add up over the prompts drawn), all resamples at once.
    # pinv(X'X) X'y is the minimum-norm solution statsmodels' pinv-based OLS gives on the
    # rows themselves (tests check the two agree), and c'theta is estimable on a resample
    # iff pinv(X'X) X'X c = c.
    k = len(codes)
    by_prompt = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[by_prompt], np.arange(k))
    gram = np.add.reduceat((X[:, :, None] * X[:, None, :])[by_prompt], starts, axis=0)
    cross = np.add.reduceat((X * y[:, None])[by_prompt], starts, axis=0)
    scale = np.maximum(1.0, np.linalg.norm(C, axis=1))

    def statistic(drawn: np.ndarray) -> np.ndarray:
        G = (drawn @ gram.reshape(k, -1)).reshape(-1, p, p)
        Ginv = np.linalg.pinv(G, rtol=1e-10, hermitian=True)
        theta = np.einsum("rij,rj->ri", Ginv, drawn @ cross)
        out = theta @ C.T
        kept = np.swapaxes((Ginv @ G) @ C.T, 1, 2)  # (resamples, statistics, p)
        out[np.linalg.norm(kept - C[None], axis=-1) > 1e-6 * scale] = NAN
        return out

    boot = cluster_bootstrap(statistic, data["prompt_id"].to_numpy(), n_resamples=n_resamples,
                             confidence=confidence, seed=seed, counts=True)
    statuses = [None] * len(C)
    for i in range(len(C)):
        if boot.too_small:
            statuses[i] = TOO_SMALL
        elif boot.nan_share is not None and boot.nan_share[i] > MAX_UNESTIMABLE_RESAMPLES:
            statuses[i] = f"no CI: not estimable in {boot.nan_share[i]:.0%} of bootstrap resamples"
    for i, m in enumerate(models):
        if not estimable[i]:
            continue
        g = data["model"] == m
        lo, hi = (NAN, NAN) if statuses[i] else (float(boot.low[i]), float(boot.high[i]))
        result[m] = ControlledScore(
            model=m, value=float(point[i]), low=lo, high=hi, n=int(g.sum()),
            prompts=int(data.loc[g, "prompt_id"].nunique()), raw_mean=float(y[g.to_numpy()].mean()),
            mean_log_ratio=float(logr[g.to_numpy()].mean()), ci_status=statuses[i],
        )
    ln2 = math.log(2.0)
    b = len(C) - 1
    se = full.bse[len(models)] if np.all(np.isfinite(full.bse)) else NAN
    return LengthFit(
        models={m: result[m] for m in all_models},
        length_effect=float(point[b] * ln2),
        length_effect_low=NAN if statuses[b] else float(boot.low[b] * ln2),
        length_effect_high=NAN if statuses[b] else float(boot.high[b] * ln2),
        length_effect_se_cluster=float(se * ln2),
        n=len(data),
        prompts=int(data["prompt_id"].nunique()),
        buckets=weights,
        bucket_kind=kind,
        excluded=excluded,
        ci_status=statuses[b],
    )
