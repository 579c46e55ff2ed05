"""The length-controlled score (stats.length_control) recovers planted effects and says
why when it cannot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from inspect_ai.model import get_model

from polaris_bench.metrics.length import count_words
from polaris_bench.stats.length_control import (
    MIN_SAMPLES,
    ControlledScore,
    NotIdentified,
    fit_length_control,
)

TARGETS = (1000, 3000, 5000, 7000, 9000, 11000)
BUCKET_EFFECT = {t: -0.8 * i for i, t in enumerate(TARGETS)}  # longer requests score lower
BETA = -6.0  # points per unit ln(ratio): the judge prefers shorter, easier stories
# true score at ratio 1.0 (before the bucket effects) and how much of the request each writes
MODELS = {"exact": (60.0, 1.0), "half": (57.0, 0.5), "pad": (52.0, 1.7)}
RESAMPLES = 300


def sweep(models=MODELS, prompts=16, spread=0.25, seed=9, targets=TARGETS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prompt_effect = {f"p{i}": rng.normal(0, 3) for i in range(prompts)}
    rows = []
    for m, (alpha, share) in models.items():
        for p, u in prompt_effect.items():
            for t in targets:
                ratio = share * math.exp(rng.normal(0, spread))
                score = alpha + BETA * math.log(ratio) + BUCKET_EFFECT.get(t, 0.0) + u + rng.normal(0, 2)
                rows.append({"model": m, "prompt_id": p, "target_words": t, "length_ratio": ratio, "score": score})
    return pd.DataFrame(rows)


def truth(model: str, targets=TARGETS) -> float:
    return MODELS[model][0] + float(np.mean([BUCKET_EFFECT[t] for t in targets]))


@pytest.fixture(scope="module")
def planted():
    return fit_length_control(sweep(), n_resamples=RESAMPLES, seed=1)


def test_planted_model_and_length_effects_are_within_their_cis(planted):
    for m in MODELS:
        r = planted.models[m]
        assert isinstance(r, ControlledScore)
        assert r.low <= truth(m) <= r.high, (m, truth(m), r)
        assert r.high - r.low < 6  # informative: narrower than the planted gaps between models
    per_doubling = BETA * math.log(2)
    assert planted.length_effect_low <= per_doubling <= planted.length_effect_high
    assert planted.length_effect_se_cluster > 0
    # the bucket mix: every requested length equally (a balanced sweep)
    assert planted.buckets == pytest.approx({str(t): 1 / 6 for t in TARGETS})
    assert planted.bucket_kind == "requested length"


def test_short_and_padding_writers_get_no_credit_for_their_length(planted):
    """The plain means reward the half-length writer and punish the padder; the
    controlled scores do neither (the raw means lie outside the CIs)."""
    half, pad = planted.models["half"], planted.models["pad"]
    assert half.raw_mean > half.high and half.raw_mean - truth("half") > 3
    assert pad.raw_mean < pad.low
    assert planted.models["exact"].low <= planted.models["exact"].raw_mean <= planted.models["exact"].high
    # ranking: the plain means put half above exact; the controlled score does not
    assert half.raw_mean > planted.models["exact"].raw_mean
    assert half.value < planted.models["exact"].value


def test_many_distinct_targets_use_the_2k_buckets():
    targets = tuple(range(1000, 12001, 500))  # 23 requested lengths
    for t in targets:
        BUCKET_EFFECT.setdefault(t, 0.0)
    fit = fit_length_control(sweep(prompts=6, targets=targets), n_resamples=0)
    assert fit.bucket_kind == "2k-word bucket"
    assert set(fit.buckets) == {"1-2k", "2-4k", "4-6k", "6-8k", "8-10k", "10-12k"}
    assert isinstance(fit.models["half"], ControlledScore)


def test_the_bootstrap_is_seeded_and_resamples_prompts():
    df = sweep(prompts=8)
    a = fit_length_control(df, n_resamples=100, seed=3)
    b = fit_length_control(df, n_resamples=100, seed=3)
    c = fit_length_control(df, n_resamples=100, seed=4)
    assert a.models["half"] == b.models["half"]
    assert a.models["half"].low != c.models["half"].low
    assert a.models["half"].prompts == 8


def reason(result) -> str:
    assert isinstance(result, NotIdentified), result
    return result.reason


def test_too_few_samples_or_prompts_per_model():
    df = sweep()
    few_prompts = df[~((df["model"] == "pad") & ~df["prompt_id"].isin(["p0", "p1", "p2", "p3"]))]
    fit = fit_length_control(few_prompts, n_resamples=0)
    assert "too few samples (24 usable over 4 prompts" in reason(fit.models["pad"])
    assert isinstance(fit.models["half"], ControlledScore)  # the others are still fitted
    few = df[~((df["model"] == "pad") & (df["target_words"] != 1000))]
    few = few[~((few["model"] == "pad") & few["prompt_id"].isin(["p0", "p1", "p2", "p3", "p4", "p5", "p6"]))]
    assert f"needs {MIN_SAMPLES} over" in reason(fit_length_control(few, n_resamples=0).models["pad"])


def test_unscored_and_empty_stories_are_left_out_and_counted():
    df = sweep()
    df.loc[:9, "score"] = np.nan
    df.loc[10:12, "length_ratio"] = 0.0
    fit = fit_length_control(df, n_resamples=0)
    assert fit.excluded == {"unscored": 10, "empty story (length ratio 0)": 3}
    assert fit.n == len(df) - 13


def test_no_spread_in_length_ratio():
    df = sweep()
    df["length_ratio"] = 0.8
    fit = fit_length_control(df, n_resamples=0)
    assert "no spread in length ratio (all near 0.8)" in reason(fit.length_effect)
    assert all(reason(r).startswith("no spread") for r in fit.models.values())


def test_ratio_fixed_within_each_model():
    df = sweep()
    df["length_ratio"] = df["model"].map({m: share for m, (_, share) in MODELS.items()})
    fit = fit_length_control(df, n_resamples=0)
    assert "does not vary within any model" in reason(fit.length_effect)
    assert "does not vary within any model" in reason(fit.models["exact"])


def test_ratio_explained_by_model_and_requested_length():
    df = sweep()
    df["length_ratio"] = df["model"].map({m: share for m, (_, share) in MODELS.items()}) * (
        df["target_words"].map({t: 1.0 - 0.05 * i for i, t in enumerate(TARGETS)}))
    assert "varies only with model and requested length" in reason(fit_length_control(df, n_resamples=0).length_effect)


def test_rounding_noise_is_not_spread():
    """Ratios that differ only by a word's rounding do not identify a length effect."""
    df = sweep()
    df["length_ratio"] = df["model"].map({"exact": 0.08, "half": 0.04, "pad": 0.136}) * (
        1 + np.random.default_rng(0).uniform(-0.005, 0.005, len(df)))
    assert "does not vary within any model" in reason(fit_length_control(df, n_resamples=0).length_effect)


def test_a_model_confined_to_one_bucket():
    """'pad' answers only the 1k requests and 'exact' only the 11k ones; 'half' covers
    both. All three are identified through 'half'. Without 'half', pad's and exact's
    buckets cannot be told apart from their own effects."""
    df = sweep(targets=(1000, 11000))
    df = df[~((df["model"] == "pad") & (df["target_words"] == 11000))]
    df = df[~((df["model"] == "exact") & (df["target_words"] == 1000))]
    fit = fit_length_control(df, n_resamples=0)
    assert all(isinstance(r, ControlledScore) for r in fit.models.values())
    alone = fit_length_control(df[df["model"] != "half"], n_resamples=0)
    assert "all its samples are in one requested length (1000)" in reason(alone.models["pad"])
    assert "all its samples are in one requested length (11000)" in reason(alone.models["exact"])
    assert isinstance(alone.length_effect, float)


def test_a_ci_that_rests_on_few_resamples_is_withheld():
    """pad and exact are tied together only through half's two 11k answers; resamples
    without those two prompts cannot estimate them (about 12% of resamples)."""
    df = sweep(targets=(1000, 11000))
    df = df[~((df["model"] == "pad") & (df["target_words"] == 11000))]
    df = df[~((df["model"] == "exact") & (df["target_words"] == 1000))]
    df = df[~((df["model"] == "half") & (df["target_words"] == 11000) & ~df["prompt_id"].isin(["p0", "p1"]))]
    fit = fit_length_control(df, n_resamples=200, seed=0)
    pad = fit.models["pad"]
    assert isinstance(pad, ControlledScore) and math.isfinite(pad.value)
    assert pad.ci_status.startswith("no CI: not estimable in") and math.isnan(pad.low)
    full = fit_length_control(sweep(targets=(1000, 11000)), n_resamples=200, seed=0)
    assert full.models["pad"].ci_status is None


async def test_offline_writer_length_spread():
    """-M length_spread scatters the length per prompt, reproducibly; 0 keeps it exact."""
    prompts = [f"Story {i}. Your story should be approximately 400 words long." for i in range(8)]
    spread = get_model("offline/writer-s", length_spread=0.3, memoize=False)
    again = get_model("offline/writer-s", length_spread=0.3, memoize=False)
    exact = get_model("offline/writer-s", memoize=False)
    lengths = [count_words((await spread.generate(p)).completion) for p in prompts]
    assert lengths == [count_words((await again.generate(p)).completion) for p in prompts]
    assert np.std(np.log(lengths)) > 0.1
    assert len({count_words((await exact.generate(p)).completion) for p in prompts}) == 1
    with pytest.raises(ValueError, match="length_spread must be >= 0"):
        get_model("offline/writer", length_spread=-1, memoize=False)


def test_bootstrap_replicates_are_statsmodels_refits_on_the_resampled_rows():
    """The fast replicates (cross products summed over the prompts drawn) give the CI
    that refitting statsmodels' OLS on every resample's rows gives, resample for
    resample (the same seed draws the same prompts in both modes of the bootstrap)."""
    from statsmodels.regression.linear_model import OLS

    from polaris_bench.stats.inference import cluster_bootstrap

    df = sweep(prompts=8)
    fit = fit_length_control(df, n_resamples=150, seed=5)
    models = sorted(MODELS)
    weights = np.full(len(TARGETS) - 1, 1 / len(TARGETS))
    X = np.column_stack([*((df["model"] == m).to_numpy(float) for m in models), np.log(df["length_ratio"]),
                         *((df["target_words"] == t).to_numpy(float) for t in TARGETS[1:])])
    C = np.vstack([np.concatenate([np.eye(len(models))[i], [0.0], weights]) for i in range(len(models))])
    y = df["score"].to_numpy(float)

    def refit(units):
        return C @ OLS(y[units], X[units]).fit().params

    slow = cluster_bootstrap(refit, df["prompt_id"].to_numpy(), n_resamples=150, seed=5)
    for i, m in enumerate(models):
        assert (fit.models[m].value, fit.models[m].low, fit.models[m].high) == pytest.approx(
            (slow.value[i], slow.low[i], slow.high[i]), rel=1e-9)


def test_counts_mode_of_the_one_bootstrap_draws_the_same_resamples():
    from polaris_bench.stats.inference import cluster_bootstrap, cluster_codes

    rng = np.random.default_rng(0)
    clusters = np.repeat([f"c{i}" for i in range(9)], rng.integers(1, 5, 9))
    values = rng.normal(size=len(clusters))
    codes, inverse = cluster_codes(clusters)
    sums, sizes = np.bincount(inverse, weights=values), np.bincount(inverse)
    by_units = cluster_bootstrap(lambda u: [values[u].mean()], clusters, n_resamples=300, seed=2)
    by_counts = cluster_bootstrap(lambda w: ((w @ sums) / (w @ sizes))[:, None], clusters, n_resamples=300,
                                  seed=2, counts=True)
    assert (by_counts.value[0], by_counts.low[0], by_counts.high[0]) == pytest.approx(
        (by_units.value[0], by_units.low[0], by_units.high[0]), rel=1e-12)
    assert by_counts.nan_share[0] == 0.0
