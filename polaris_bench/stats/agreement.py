"""Krippendorff's alpha (interval level) for a panel of judges, with a bootstrap CI
over prompts.

The value is the ``krippendorff`` package's. Its coincidence matrix costs
O(units x distinct values^2) per call, too slow to repeat for every bootstrap
resample of a real run (1,000 samples with scores on a continuous scale), so the
resamples use the same statistic in its pairwise-difference form, which needs only
per-unit sums (tests check that both give the package's number):

    alpha = 1 - (n - 1) * sum_u [(m_u * S2_u - S1_u^2) / (m_u - 1)] / (n * S2 - S1^2)

over the units u with m_u >= 2 values (S1_u, S2_u: the sum and the sum of squares of
a unit's values; n, S1, S2: the same over all of those values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from polaris_bench.stats import CONFIDENCE, N_RESAMPLES
from polaris_bench.stats.inference import MIN_CLUSTERS, MeanCI

NAN = float("nan")


def interval_alpha(matrix: np.ndarray) -> float:
    """Krippendorff's alpha (interval) of a judges x units matrix (NaN = missing);
    NaN when no unit has 2 values or all values are equal."""
    import krippendorff

    m = np.asarray(matrix, dtype=float)
    m = m[:, (~np.isnan(m)).sum(axis=0) >= 2]
    if m.shape[1] == 0 or np.unique(m[~np.isnan(m)]).size < 2:
        return NAN
    return float(krippendorff.alpha(reliability_data=m, level_of_measurement="interval"))


def _unit_parts(matrix: np.ndarray) -> np.ndarray:
    """Per unit: [within-unit term, m_u, S1_u, S2_u] (zeros for units with < 2 values)."""
    m = np.asarray(matrix, dtype=float)
    present = ~np.isnan(m)
    count = present.sum(axis=0).astype(float)
    v = np.where(present, m, 0.0)
    s1, s2 = v.sum(axis=0), (v * v).sum(axis=0)
    pairable = count >= 2
    within = np.where(pairable, (count * s2 - s1 * s1) / np.where(pairable, count - 1, 1), 0.0)
    return np.stack([within, np.where(pairable, count, 0), np.where(pairable, s1, 0), np.where(pairable, s2, 0)])


def _alpha_from_sums(within: np.ndarray, n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = n * s2 - s1 * s1
        return np.where(expected > 0, 1 - (n - 1) * within / expected, np.nan)


def pairwise_alpha(matrix: np.ndarray) -> float:
    """The pairwise-difference form of ``interval_alpha`` (the resamples' statistic)."""
    parts = _unit_parts(matrix).sum(axis=1)
    return float(_alpha_from_sums(*parts))


def alpha_ci(
    matrix: np.ndarray,
    clusters: Sequence,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> MeanCI:
    """Alpha with a percentile bootstrap CI that resamples clusters (prompts) of units
    (the columns of ``matrix``); no CI below ``MIN_CLUSTERS`` clusters."""
    value = interval_alpha(matrix)
    parts = _unit_parts(matrix)
    codes, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    k = len(codes)
    units = int(parts[1].astype(bool).sum())
    if np.isnan(value) or k < MIN_CLUSTERS or n_resamples <= 0:
        return MeanCI(value, NAN, NAN, units, k, too_small=k < MIN_CLUSTERS)
    per_cluster = [np.bincount(inverse, weights=p, minlength=k) for p in parts]

    def statistic(within, n, s1, s2, axis=-1):
        return _alpha_from_sums(within.sum(axis=axis), n.sum(axis=axis), s1.sum(axis=axis), s2.sum(axis=axis))

    res = sps.bootstrap(tuple(per_cluster), statistic, paired=True, vectorized=True, n_resamples=n_resamples,
                        confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    tail = 100 * (1 - confidence) / 2
    if not np.isfinite(dist).any():
        return MeanCI(value, NAN, NAN, units, k)
    return MeanCI(value, float(np.nanpercentile(dist, tail)), float(np.nanpercentile(dist, 100 - tail)), units, k)
