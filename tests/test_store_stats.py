"""Bootstrap CIs, paired tests and the bucket slope on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from polaris_bench.stats.inference import (
    MIN_CLUSTERS,
    MIN_PAIRS_TEST,
    bootstrap_mean_ci,
    bucket_slope,
    paired_comparison,
)


def test_constant_values_have_a_zero_width_ci():
    ci = bootstrap_mean_ci([3.0] * 5, list("abcde"))
    assert (ci.mean, ci.low, ci.high, ci.n, ci.clusters, ci.too_small) == (3.0, 3.0, 3.0, 5, 5, False)


def test_too_few_clusters_give_no_ci_and_say_so():
    # one prompt used to read "0.0 [0.0, 0.0]"; four prompts allow only 35 distinct resamples
    for k in (1, MIN_CLUSTERS - 1):
        ci = bootstrap_mean_ci([0.0] * k + [0.0], [f"p{i}" for i in range(k)] + ["p0"])
        assert ci.too_small and ci.clusters == k and math.isnan(ci.low) and math.isnan(ci.high)
        assert ci.mean == 0.0
    ci = bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0, 6.0], list("abcde"))
    assert not ci.too_small and ci.low < ci.mean < ci.high


def test_one_cluster_has_no_ci():
    ci = bootstrap_mean_ci([1.0, 2.0, 4.0], ["p", "p", "p"])
    assert ci.mean == pytest.approx(7 / 3) and math.isnan(ci.low) and math.isnan(ci.high)
    assert ci.clusters == 1 and ci.too_small


def test_nan_values_are_dropped_not_zeroed():
    ci = bootstrap_mean_ci([1.0, float("nan"), 3.0], ["a", "b", "c"])
    assert ci.mean == 2.0 and ci.n == 2


def test_empty_input():
    ci = bootstrap_mean_ci([], [])
    assert ci.n == 0 and math.isnan(ci.mean)


def test_clusters_are_resampled_whole():
    # five prompts of four identical samples each: resampling prompts sees 5 values,
    # resampling samples 20 independent ones, an interval about half as wide
    values = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], 4)
    ci = bootstrap_mean_ci(values, np.repeat(list("abcde"), 4), n_resamples=4000)
    free = bootstrap_mean_ci(values, None, n_resamples=4000)
    assert ci.mean == free.mean == 3.0 and ci.clusters == 5 and free.clusters == 20
    assert (ci.high - ci.low) > 1.5 * (free.high - free.low)
    # the overall mean weights samples, not prompts
    assert bootstrap_mean_ci([1, 1, 1, 5, 2, 2, 2], list("aaabcde")).mean == pytest.approx(14 / 7)


def test_large_sample_ci_matches_the_normal_approximation():
    rng = np.random.default_rng(7)
    x = rng.normal(10.0, 2.0, size=2000)
    ci = bootstrap_mean_ci(x, np.arange(x.size), n_resamples=3000, seed=1)
    half = 1.96 * x.std(ddof=1) / math.sqrt(x.size)
    assert ci.low == pytest.approx(x.mean() - half, abs=0.2 * half)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.2 * half)


def test_same_seed_same_interval():
    x, c = [1.0, 4.0, 2.0, 8.0, 5.0], list("abcde")
    assert bootstrap_mean_ci(x, c, seed=3) == bootstrap_mean_ci(x, c, seed=3)


def test_paired_comparison_hand_case():
    a = np.array([10.0, 12.0, 13.0, 15.0, 17.0, 20.0])
    b = a - np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # A better every time, distinct gaps
    res = paired_comparison(a, b)
    assert res.n == 6 and res.mean_diff == 3.5
    assert (res.wins, res.losses, res.ties, res.win_rate) == (6, 0, 0, 1.0)
    # exact Wilcoxon: all 6 ranks positive -> two-sided p = 2 / 2**6
    assert res.p_wilcoxon == pytest.approx(2 / 64)
    # paired t: d = 1..6, mean 3.5, sd sqrt(3.5), t = 3.5 / (sqrt(3.5)/sqrt(6)), df 5
    t = 3.5 / (math.sqrt(3.5) / math.sqrt(6))
    assert res.p_ttest == pytest.approx(2 * sps.t.sf(t, 5))
    assert 1.0 <= res.ci_low <= 3.5 <= res.ci_high <= 6.0
    assert not res.ci_too_small and not res.test_too_small


def test_min_pairs_is_where_wilcoxon_can_first_reach_significance():
    # the most extreme case (every pair favours A, distinct gaps) at each n
    def best_p(n: int) -> float:
        return float(sps.wilcoxon(np.arange(1.0, n + 1), np.zeros(n), method="exact").pvalue)

    assert best_p(MIN_PAIRS_TEST - 1) >= 0.05 > best_p(MIN_PAIRS_TEST)
    n = MIN_PAIRS_TEST - 1  # e.g. 3 pairs used to show p = 0.25 beside a CI
    res = paired_comparison(np.arange(1.0, n + 1), np.zeros(n))
    assert res.test_too_small and math.isnan(res.p_wilcoxon) and math.isnan(res.p_ttest)
    assert res.ci_too_small == (n < MIN_CLUSTERS) and res.mean_diff == 3.0


def test_paired_comparison_ties_and_nans():
    res = paired_comparison([1, 2, 3, float("nan")], [0, 2, 4, 1])
    assert res.n == 3 and (res.wins, res.losses, res.ties) == (1, 1, 1)
    assert res.win_rate == 0.5 and res.mean_diff == 0.0


def test_identical_models_are_not_different():
    res = paired_comparison([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert res.p_wilcoxon == 1.0 and res.p_ttest == 1.0 and res.mean_diff == 0.0


def test_paired_comparison_needs_equal_lengths():
    with pytest.raises(ValueError):
        paired_comparison([1, 2], [1])


def test_slope_over_six_buckets():
    means = dict(zip(("1-2k", "2-4k", "4-6k", "6-8k", "8-10k", "10-12k"), (60, 57, 54, 51, 48, 45)))
    assert bucket_slope(means) == pytest.approx(-3.0)


def test_slope_uses_bucket_positions_when_some_are_missing():
    assert bucket_slope({"1-2k": 10.0, "10-12k": 0.0}) == pytest.approx(-2.0)  # 5 buckets apart
    assert bucket_slope({"1-2k": 10.0, "4-6k": 6.0, "6-8k": float("nan")}) == pytest.approx(-2.0)


def test_slope_needs_two_buckets():
    assert math.isnan(bucket_slope({"1-2k": 3.0}))
    assert math.isnan(bucket_slope({}))
