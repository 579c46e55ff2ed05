"""Ratings from pairwise results: Glicko-2 (as the paper) and Bradley-Terry (maximum
likelihood with scipy) with bootstrap confidence intervals (``N_RESAMPLES`` resamples
by default, as every bootstrap of the project).

A ``Match`` is one judged comparison: player ``a``'s score against ``b`` in [0, 1]
(fractional scores carry the verdict margin: 0.75 = a won, 1.0 = a won by a lot) and an
optional ``cluster`` (the prompt) that the bootstrap resamples as a unit, because the
comparisons of one prompt are not independent.

Both ratings are on the Elo scale: 400 points = a factor of 10 in the odds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from polaris_bench.stats import CONFIDENCE, N_RESAMPLES

GLICKO_SCALE = 173.7178  # 400 / ln(10)
ELO_SCALE = 400.0 / math.log(10.0)


@dataclass(frozen=True)
class Match:
    a: str
    b: str
    score_a: float
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a match needs two different players, got {self.a!r} twice")
        if not 0.0 <= self.score_a <= 1.0:
            raise ValueError(f"score_a must be in [0, 1], got {self.score_a}")


def players_of(matches: Sequence[Match]) -> list[str]:
    return sorted({m.a for m in matches} | {m.b for m in matches})


# -- Glicko-2 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GlickoRating:
    rating: float = 1500.0
    rd: float = 350.0
    volatility: float = 0.06


def _g(phi: float) -> float:
    return 1.0 / math.sqrt(1.0 + 3.0 * phi * phi / (math.pi * math.pi))


def _expect(mu: float, mu_j: float, phi_j: float) -> float:
    return 1.0 / (1.0 + math.exp(-_g(phi_j) * (mu - mu_j)))


def _new_volatility(sigma: float, phi: float, v: float, delta: float, tau: float, eps: float = 1e-6) -> float:
    """Step 5 of Glickman's Glicko-2 description (the Illinois root finder)."""
    a = math.log(sigma * sigma)

    def f(x: float) -> float:
        ex = math.exp(x)
        return ex * (delta * delta - phi * phi - v - ex) / (2.0 * (phi * phi + v + ex) ** 2) - (x - a) / (tau * tau)

    big_a = a
    if delta * delta > phi * phi + v:
        big_b = math.log(delta * delta - phi * phi - v)
    else:
        k = 1
        while f(a - k * tau) < 0:
            k += 1
        big_b = a - k * tau
    f_a, f_b = f(big_a), f(big_b)
    while abs(big_b - big_a) > eps:
        big_c = big_a + (big_a - big_b) * f_a / (f_b - f_a)
        f_c = f(big_c)
        if f_c * f_b <= 0:
            big_a, f_a = big_b, f_b
        else:
            f_a /= 2.0
        big_b, f_b = big_c, f_c
    return math.exp(big_a / 2.0)


def glicko2_update(
    player: GlickoRating,
    games: Sequence[tuple[GlickoRating, float]],
    tau: float = 0.5,
) -> GlickoRating:
    """One rating period for one player: ``games`` = (opponent's pre-period rating,
    this player's score). A player without games only gains rating deviation."""
    mu = (player.rating - 1500.0) / GLICKO_SCALE
    phi = player.rd / GLICKO_SCALE
    sigma = player.volatility
    if not games:
        phi_star = math.sqrt(phi * phi + sigma * sigma)
        return GlickoRating(player.rating, phi_star * GLICKO_SCALE, sigma)
    inv_v = 0.0
    total = 0.0
    for opp, score in games:
        mu_j = (opp.rating - 1500.0) / GLICKO_SCALE
        phi_j = opp.rd / GLICKO_SCALE
        g = _g(phi_j)
        e = _expect(mu, mu_j, phi_j)
        inv_v += g * g * e * (1.0 - e)
        total += g * (score - e)
    v = 1.0 / inv_v
    delta = v * total
    sigma_new = _new_volatility(sigma, phi, v, delta, tau)
    phi_star = math.sqrt(phi * phi + sigma_new * sigma_new)
    phi_new = 1.0 / math.sqrt(1.0 / (phi_star * phi_star) + 1.0 / v)
    mu_new = mu + phi_new * phi_new * total
    return GlickoRating(1500.0 + GLICKO_SCALE * mu_new, GLICKO_SCALE * phi_new, sigma_new)


def glicko2_ratings(
    matches: Sequence[Match],
    *,
    periods: int = 1,
    tau: float = 0.5,
    initial: GlickoRating = GlickoRating(),
) -> dict[str, GlickoRating]:
    """Glicko-2 over a round robin: every match of ``matches`` is a game of one rating
    period, in which all players are updated at once from their pre-period ratings
    (1500 / 350 / 0.06 by default). ``periods`` > 1 replays the same games in further
    periods, each starting from the previous period's ratings: the ratings then settle
    towards the maximum-likelihood (Bradley-Terry) ratings while the deviations keep
    shrinking as if the evidence were new each time; 1 is the textbook use."""
    if periods < 1:
        raise ValueError("periods must be at least 1")
    players = players_of(matches)
    ratings = {p: initial for p in players}
    for _ in range(periods):
        games: dict[str, list[tuple[GlickoRating, float]]] = {p: [] for p in players}
        for m in matches:
            games[m.a].append((ratings[m.b], m.score_a))
            games[m.b].append((ratings[m.a], 1.0 - m.score_a))
        ratings = {p: glicko2_update(ratings[p], games[p], tau) for p in players}
    return ratings


# -- Bradley-Terry -----------------------------------------------------------------------


def _pair_stats(matches: Sequence[Match], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sufficient statistics per unordered pair (i < j): i's total score and the games."""
    keys: dict[tuple[int, int], int] = {}
    wins: list[float] = []
    games: list[float] = []
    for m in matches:
        i, j, s = index[m.a], index[m.b], m.score_a
        if i > j:
            i, j, s = j, i, 1.0 - s
        k = keys.setdefault((i, j), len(keys))
        if k == len(wins):
            wins.append(0.0)
            games.append(0.0)
        wins[k] += s
        games[k] += 1.0
    pairs = np.array(list(keys), dtype=int).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], np.array(wins), np.array(games)


def _fit_bt(
    pi: np.ndarray, pj: np.ndarray, wins: np.ndarray, games: np.ndarray, n: int, prior: float, x0: np.ndarray | None = None
) -> np.ndarray:
    """Maximum-likelihood strengths (natural-log units, mean 0) with scipy's exact
    trust-region Newton method."""

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[pi] - theta[pj]
        # -log-likelihood of soft outcomes: w*log(sig(d)) + (g-w)*log(sig(-d))
        nll = np.sum(wins * np.logaddexp(0.0, -d) + (games - wins) * np.logaddexp(0.0, d))
        resid = games / (1.0 + np.exp(-d)) - wins  # d nll / d d
        grad = np.bincount(pi, resid, n) - np.bincount(pj, resid, n) + prior * theta
        return float(nll + 0.5 * prior * float(theta @ theta)), grad

    def hessian(theta: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(theta[pi] - theta[pj])))
        w = games * p * (1.0 - p)
        h = np.zeros((n, n))
        np.add.at(h, (pi, pi), w)
        np.add.at(h, (pj, pj), w)
        np.add.at(h, (pi, pj), -w)
        np.add.at(h, (pj, pi), -w)
        return h + prior * np.eye(n)

    start = np.zeros(n) if x0 is None else x0
    result = minimize(objective, start, jac=True, hess=hessian, method="trust-exact", options={"gtol": 1e-9})
    return result.x - result.x.mean()


def bradley_terry(
    matches: Sequence[Match],
    *,
    prior: float = 0.01,
    center: float = 1500.0,
) -> dict[str, float]:
    """Bradley-Terry strengths by maximum likelihood, on the Elo scale centred on
    ``center`` (mean rating = center). Fractional scores are soft wins: a 0.75 adds
    0.75 of a win for ``a`` and 0.25 for ``b``. ``prior`` is the precision of a small
    Gaussian prior on the strengths (natural-log units) that keeps them finite when a
    player wins or loses every game; 0 for the plain MLE."""
    players = players_of(matches)
    if len(players) < 2:
        raise ValueError("Bradley-Terry needs at least two players")
    index = {p: i for i, p in enumerate(players)}
    theta = _fit_bt(*_pair_stats(matches, index), len(players), prior)
    return {p: center + ELO_SCALE * float(theta[index[p]]) for p in players}


@dataclass(frozen=True)
class RatingCI:
    rating: float
    low: float
    high: float


def bootstrap_bradley_terry(
    matches: Sequence[Match],
    *,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    prior: float = 0.01,
    center: float = 1500.0,
) -> dict[str, RatingCI]:
    """Bradley-Terry ratings with percentile bootstrap intervals. Clusters (prompts)
    are resampled with replacement, keeping all comparisons of a prompt together;
    matches without a cluster are resampled one by one. A resample in which some
    player has no game is skipped (its rating would be the prior's, not data)."""
    players = players_of(matches)
    if len(players) < 2:
        raise ValueError("Bradley-Terry needs at least two players")
    index = {p: i for i, p in enumerate(players)}
    n = len(players)
    pi, pj, wins, games = _pair_stats(matches, index)
    point = _fit_bt(pi, pj, wins, games, n, prior)
    # per-cluster statistics on the same pair axis, so a resample is a matrix product
    pair_pos = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(pi, pj))}
    cluster_ids: dict[str, int] = {}
    rows: list[tuple[int, int, float]] = []
    for i, m in enumerate(matches):
        c = cluster_ids.setdefault(m.cluster if m.cluster is not None else f"#{i}", len(cluster_ids))
        a, b, s = index[m.a], index[m.b], m.score_a
        if a > b:
            a, b, s = b, a, 1.0 - s
        rows.append((c, pair_pos[(a, b)], s))
    n_clusters = len(cluster_ids)
    cw = np.zeros((n_clusters, len(pi)))
    cg = np.zeros((n_clusters, len(pi)))
    for c, k, s in rows:
        cw[c, k] += s
        cg[c, k] += 1.0
    rng = np.random.default_rng(seed)
    draws: list[np.ndarray] = []
    for _ in range(n_resamples):
        counts = np.bincount(rng.integers(0, n_clusters, size=n_clusters), minlength=n_clusters).astype(float)
        w, g = counts @ cw, counts @ cg
        played = np.bincount(pi, g, n) + np.bincount(pj, g, n)
        if np.any(played == 0):
            continue
        keep = g > 0
        draws.append(_fit_bt(pi[keep], pj[keep], w[keep], g[keep], n, prior, x0=point))
    alpha = (1.0 - confidence) / 2.0
    out: dict[str, RatingCI] = {}
    stacked = np.array(draws) if draws else np.empty((0, n))
    for p, i in index.items():
        rating = center + ELO_SCALE * float(point[i])
        if stacked.shape[0] == 0:
            out[p] = RatingCI(rating, float("nan"), float("nan"))
        else:
            values = center + ELO_SCALE * stacked[:, i]
            out[p] = RatingCI(rating, float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha)))
    return out


def win_rates(matches: Sequence[Match]) -> dict[str, float]:
    """Mean score of each player over its matches."""
    totals: dict[str, list[float]] = {}
    for m in matches:
        totals.setdefault(m.a, []).append(m.score_a)
        totals.setdefault(m.b, []).append(1.0 - m.score_a)
    return {p: sum(v) / len(v) for p, v in sorted(totals.items())}


@dataclass(frozen=True)
class PlayerRatings:
    glicko: GlickoRating
    bt: RatingCI
    win_rate: float


def rate_players(
    matches: Sequence[Match],
    *,
    glicko_periods: int = 1,
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, PlayerRatings]:
    """Every rating of every player: Glicko-2, Bradley-Terry with its bootstrap CI over
    clusters, and the win rate (what story_elo reports and the store pools)."""
    glicko = glicko2_ratings(matches, periods=glicko_periods)
    bt = bootstrap_bradley_terry(matches, n_resamples=n_resamples, confidence=confidence, seed=seed)
    rates = win_rates(matches)
    return {p: PlayerRatings(glicko[p], bt[p], rates[p]) for p in players_of(matches)}
