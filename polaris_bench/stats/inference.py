"""Statistics for leaderboards and comparisons (scipy does the work).

* ``bootstrap_mean_ci``: the mean with a percentile bootstrap CI that resamples
  *clusters* (prompts): a prompt's samples (its lengths, epochs, iterations) are drawn
  together, because they are not independent. Without clusters every value is its own.
* ``paired_comparison``: A vs B on paired units (same sample): mean difference with a
  cluster bootstrap CI, the Wilcoxon signed-rank test (exact p without ties or zero
  differences and n <= 50, else the normal approximation) and the paired t-test
  (scipy), and A's win rate (ties count half).
* Tiny samples: below ``MIN_CLUSTERS`` clusters (prompts) there is no CI, and below
  ``MIN_PAIRS_TEST`` pairs no p-value; results say so (``too_small``) instead of
  showing a precise-looking interval or a test that could never be significant.
* ``cluster_bootstrap``: the same percentile bootstrap over clusters for any
  statistic of the units (agreement statistics: Krippendorff's alpha, correlations),
  possibly several at once; resamples where a statistic is undefined are left out
  (``nan_share`` says how many, so a caller can withhold a CI that rests on few).
* ``bucket_slope``: the slope of a least-squares line through the mean score of each
  of the six 2k-word buckets (x = bucket index, so the unit is score per 2k words),
  as the paper reports it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as sps

from polaris_bench.metrics.length import BUCKETS_2K
from polaris_bench.stats import CONFIDENCE, N_RESAMPLES

NAN = float("nan")
# Fewer clusters than this: no bootstrap CI. With 4 prompts a percentile bootstrap has
# at most 35 distinct resamples of the mean, and its interval is far too narrow.
MIN_CLUSTERS = 5
# Fewer pairs than this: no p-value. The smallest two-sided exact Wilcoxon p with n
# pairs is 2 / 2**n, which first falls below 0.05 at n = 6; the t-test is held to the
# same minimum so that the two columns are shown together or not at all.
MIN_PAIRS_TEST = 6
TOO_SMALL = "n too small"


@dataclass(frozen=True)
class MeanCI:
    mean: float
    low: float
    high: float
    n: int
    clusters: int
    too_small: bool = False  # fewer than MIN_CLUSTERS clusters: no CI

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _cluster_sums(values: np.ndarray, clusters: Sequence | None) -> tuple[np.ndarray, np.ndarray]:
    if clusters is None:
        return values, np.ones_like(values)
    codes, inverse = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(codes))
    counts = np.bincount(inverse, minlength=len(codes)).astype(float)
    return sums, counts


def _ratio_of_sums(sums: np.ndarray, counts: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(sums, axis=axis) / np.sum(counts, axis=axis)


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> MeanCI:
    """Mean of ``values`` (NaN dropped) and a percentile bootstrap CI over clusters.
    Fewer than ``MIN_CLUSTERS`` clusters: the CI is NaN and ``too_small`` is set."""
    v = np.asarray(values, dtype=float)
    keep = ~np.isnan(v)
    v = v[keep]
    cl = None if clusters is None else np.asarray(clusters, dtype=object)[keep]
    if v.size == 0:
        return MeanCI(NAN, NAN, NAN, 0, 0)
    sums, counts = _cluster_sums(v, cl)
    mean = float(v.mean())
    k = len(sums)
    if k < MIN_CLUSTERS:
        return MeanCI(mean, NAN, NAN, int(v.size), k, too_small=True)
    if np.all(v == v[0]):
        return MeanCI(mean, mean, mean, int(v.size), k)
    res = sps.bootstrap(
        (sums, counts),
        _ratio_of_sums,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return MeanCI(mean, float(res.confidence_interval.low), float(res.confidence_interval.high), int(v.size), k)


@dataclass(frozen=True)
class StatCI:
    value: np.ndarray  # the statistics on all units
    low: np.ndarray
    high: np.ndarray
    clusters: int
    too_small: bool = False  # fewer than MIN_CLUSTERS clusters: no CI
    # per statistic, the share of resamples where it was undefined (NaN); None: no resamples
    nan_share: np.ndarray | None = None


def cluster_codes(clusters: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """The distinct clusters (sorted, as strings) and each unit's index among them: the
    order of the columns ``cluster_bootstrap(..., counts=True)`` hands its statistic."""
    return np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)


def cluster_bootstrap(
    statistic: Callable[[np.ndarray], Sequence[float] | np.ndarray],
    clusters: Sequence,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    counts: bool = False,
) -> StatCI:
    """``statistic(unit_indices)`` -> one or more numbers, on all units and on
    percentile-bootstrap resamples of whole clusters (a cluster drawn twice brings its
    units twice). Fewer than ``MIN_CLUSTERS`` clusters: no CI (``too_small``).

    ``counts=True``: the same resamples, handed to the statistic all at once as a
    (resamples x clusters) matrix of how often each cluster was drawn (columns in
    ``cluster_codes`` order; all units = a row of ones), returning (resamples x
    statistics): for statistics that add up per cluster (e.g. least-squares cross
    products) this avoids one Python call per resample."""
    codes, inverse = cluster_codes(clusters)
    members = [np.flatnonzero(inverse == c) for c in range(len(codes))]
    k = len(codes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined statistics (constant resamples) are NaN
        if counts:
            value = np.asarray(statistic(np.ones((1, k))), dtype=float)[0]
        else:
            value = np.atleast_1d(np.asarray(statistic(np.arange(len(inverse))), dtype=float))
        nan = np.full(value.shape, NAN)
        if k < MIN_CLUSTERS or n_resamples <= 0:
            return StatCI(value, nan, nan.copy(), k, too_small=k < MIN_CLUSTERS)

        def on_clusters(picked: np.ndarray) -> np.ndarray:
            units = np.concatenate([members[int(c)] for c in picked])
            return np.atleast_1d(np.asarray(statistic(units), dtype=float))

        def on_counts(picked: np.ndarray, axis: int = -1) -> np.ndarray:
            rows = picked.reshape(-1, k)  # (resamples, k) drawn cluster indices
            flat = (rows + k * np.arange(len(rows))[:, None]).ravel()
            drawn = np.bincount(flat, minlength=len(rows) * k).reshape(len(rows), k).astype(float)
            return np.asarray(statistic(drawn), dtype=float).T  # (statistics, resamples)

        res = sps.bootstrap((np.arange(k),), on_counts if counts else on_clusters, vectorized=counts,
                            n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                            rng=np.random.default_rng(seed))
        dist = np.asarray(res.bootstrap_distribution, dtype=float).reshape(len(value), -1)
        tail = 100 * (1 - confidence) / 2
        low = np.array([np.nanpercentile(d, tail) if np.isfinite(d).any() else NAN for d in dist])
        high = np.array([np.nanpercentile(d, 100 - tail) if np.isfinite(d).any() else NAN for d in dist])
    return StatCI(value, low, high, k, nan_share=np.isnan(dist).mean(axis=1))


@dataclass(frozen=True)
class PairedResult:
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float  # A - B
    ci_low: float
    ci_high: float
    p_wilcoxon: float
    p_ttest: float
    win_rate: float  # share of units where A > B, ties count half
    wins: int
    losses: int
    ties: int
    ci_too_small: bool = False  # fewer than MIN_CLUSTERS clusters: no CI
    test_too_small: bool = False  # fewer than MIN_PAIRS_TEST pairs: no p-values

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def paired_comparison(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    clusters: Sequence | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> PairedResult:
    """A vs B on the same units (pairs with a NaN on either side are dropped). No CI
    below ``MIN_CLUSTERS`` clusters, no p-values below ``MIN_PAIRS_TEST`` pairs."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape:
        raise ValueError("paired samples must have the same length")
    keep = ~(np.isnan(xa) | np.isnan(xb))
    xa, xb = xa[keep], xb[keep]
    cl = None if clusters is None else np.asarray(clusters, dtype=object)[keep]
    n = int(xa.size)
    if n == 0:
        return PairedResult(0, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, 0, True, True)
    d = xa - xb
    ci = bootstrap_mean_ci(d, cl, n_resamples=n_resamples, confidence=confidence, seed=seed)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    ties = n - wins - losses
    p_w = p_t = NAN
    if n >= MIN_PAIRS_TEST:
        if np.all(d == 0):
            p_w = p_t = 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # exact null distribution for small samples without ties or zeros;
                # else the normal approximation (scipy's permutation fallback for
                # small tied samples is too slow for an interactive query)
                nz = np.abs(d[d != 0])
                exact = nz.size == n and np.unique(nz).size == nz.size and n <= 50
                try:
                    p_w = float(sps.wilcoxon(xa, xb, method="exact" if exact else "approx").pvalue)
                except ValueError:
                    p_w = NAN
                p_t = float(sps.ttest_rel(xa, xb).pvalue)
    return PairedResult(
        n=n,
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        mean_diff=float(d.mean()),
        ci_low=ci.low,
        ci_high=ci.high,
        p_wilcoxon=p_w,
        p_ttest=p_t,
        win_rate=(wins + 0.5 * ties) / n,
        wins=wins,
        losses=losses,
        ties=ties,
        ci_too_small=ci.too_small,
        test_too_small=n < MIN_PAIRS_TEST,
    )


def bucket_slope(means: Mapping[str, float], buckets: Sequence[str] = BUCKETS_2K) -> float:
    """Least-squares slope of the bucket means over the bucket index (score per 2k
    words); NaN with fewer than two buckets that have a mean."""
    xs, ys = [], []
    for i, name in enumerate(buckets):
        v = means.get(name)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            xs.append(float(i))
            ys.append(float(v))
    if len(xs) < 2:
        return NAN
    return float(sps.linregress(xs, ys).slope)
