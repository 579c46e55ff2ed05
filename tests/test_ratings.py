"""Glicko-2, Bradley-Terry and the bootstrap intervals on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from polaris_bench.stats.inference import bootstrap_mean_ci
from polaris_bench.stats.ratings import (
    ELO_SCALE,
    GlickoRating,
    Match,
    bootstrap_bradley_terry,
    bradley_terry,
    glicko2_ratings,
    glicko2_update,
    win_rates,
)


def test_glicko2_matches_glickmans_worked_example():
    # Glickman, "Example of the Glicko-2 system": 1500/200/0.06 beats 1400/30, loses to
    # 1550/100 and 1700/300 -> 1464.06 / 151.52 / 0.05999 (tau = 0.5).
    player = GlickoRating(1500, 200, 0.06)
    games = [(GlickoRating(1400, 30), 1.0), (GlickoRating(1550, 100), 0.0), (GlickoRating(1700, 300), 0.0)]
    new = glicko2_update(player, games, tau=0.5)
    assert new.rating == pytest.approx(1464.06, abs=0.01)
    assert new.rd == pytest.approx(151.52, abs=0.01)
    assert new.volatility == pytest.approx(0.05999, abs=1e-5)


def test_glicko2_player_without_games_only_gains_deviation():
    new = glicko2_update(GlickoRating(1600, 200, 0.06), [])
    assert new.rating == 1600
    expected = math.sqrt((200 / 173.7178) ** 2 + 0.06**2) * 173.7178
    assert new.rd == pytest.approx(expected)


def test_glicko2_round_robin_is_symmetric_and_ordered():
    matches = [Match("x", "y", 0.75, "p1"), Match("x", "y", 0.75, "p2"), Match("y", "x", 0.25, "p3")]
    ratings = glicko2_ratings(matches)
    assert ratings["x"].rating > 1500 > ratings["y"].rating
    # both start equal and play the same games: the updates mirror each other
    assert ratings["x"].rating - 1500 == pytest.approx(1500 - ratings["y"].rating)
    assert ratings["x"].rd == pytest.approx(ratings["y"].rd)
    # replaying the games settles towards the maximum-likelihood (Bradley-Terry) rating
    settled = glicko2_ratings(matches, periods=100)
    assert settled["x"].rating == pytest.approx(bradley_terry(matches, prior=0.0)["x"], abs=2.0)
    assert settled["x"].rd < ratings["x"].rd
    with pytest.raises(ValueError):
        glicko2_ratings(matches, periods=0)


def test_bradley_terry_two_players_by_hand():
    # x scores 0.75 on average: odds 3 -> x - y = 400 log10(3) = 190.85 Elo points
    matches = [Match("x", "y", 1.0), Match("x", "y", 0.5), Match("y", "x", 0.25), Match("x", "y", 0.75)]
    r = bradley_terry(matches, prior=0.0)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-3)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1500)


def test_bradley_terry_three_players_transitive():
    # a beats b 3:1 (soft), b beats c 3:1 -> with a-c unobserved, a - c = 2 * ln 3 on the logit scale
    matches = [Match("a", "b", 0.75), Match("b", "c", 0.75)]
    r = bradley_terry(matches, prior=0.0)
    assert r["a"] - r["b"] == pytest.approx(ELO_SCALE * math.log(3), abs=1e-2)
    assert r["a"] - r["c"] == pytest.approx(2 * ELO_SCALE * math.log(3), abs=1e-2)
    assert sum(r.values()) / 3 == pytest.approx(1500)


def test_bradley_terry_prior_keeps_a_clean_sweep_finite():
    r = bradley_terry([Match("x", "y", 1.0), Match("x", "y", 1.0)], prior=0.01)
    assert math.isfinite(r["x"]) and r["x"] > r["y"]
    with pytest.raises(ValueError):
        bradley_terry([])


def test_bootstrap_bradley_terry_resamples_prompts():
    matches = [
        Match("x", "y", 1.0, "p1"),
        Match("x", "z", 0.75, "p1"),
        Match("y", "z", 0.5, "p2"),
        Match("x", "y", 0.75, "p2"),
        Match("z", "x", 0.25, "p3"),
        Match("y", "z", 0.75, "p3"),
    ]
    cis = bootstrap_bradley_terry(matches, n_resamples=200, seed=3)
    point = bradley_terry(matches)
    for player, ci in cis.items():
        assert ci.rating == pytest.approx(point[player])
        assert ci.low <= ci.rating <= ci.high
    assert cis == bootstrap_bradley_terry(matches, n_resamples=200, seed=3)  # seeded
    # identical prompts: every resample is the same data, so the interval collapses
    same = [Match("x", "y", 0.75, f"p{i}") for i in range(5)]
    flat = bootstrap_bradley_terry(same, n_resamples=50)
    assert flat["x"].low == pytest.approx(flat["x"].high, abs=1e-3)


def test_win_rates_and_match_validation():
    assert win_rates([Match("x", "y", 0.75), Match("y", "x", 0.5)]) == {"x": 0.625, "y": 0.375}
    with pytest.raises(ValueError):
        Match("x", "x", 0.5)
    with pytest.raises(ValueError):
        Match("x", "y", 1.5)


def test_bootstrap_mean_ci_by_hand():
    # EQ-Bench style: prompts as clusters, each with several iterations
    values = [60.0, 70.0, 80.0, 90.0, 90.0, 90.0, 65.0, 75.0]
    ci = bootstrap_mean_ci(values, ["a", "a", "b", "c", "c", "c", "d", "e"])
    assert ci.mean == pytest.approx(sum(values) / 8)
    assert 60 <= ci.low <= ci.mean <= ci.high <= 90
    flat = bootstrap_mean_ci([50.0] * 5, list("abcde"))
    assert (flat.mean, flat.low, flat.high) == (50.0, 50.0, 50.0)
    single = bootstrap_mean_ci([40.0, 60.0], ["a", "a"])
    assert single.mean == 50.0 and math.isnan(single.low) and single.too_small


def test_rate_players_gathers_every_rating():
    from polaris_bench.stats.ratings import rate_players

    matches = [Match("x", "y", s, cluster=f"p{i}") for i, s in enumerate([1.0, 0.75, 0.0, 1.0, 0.5])]
    rated = rate_players(matches, glicko_periods=2, n_resamples=50, seed=1)
    assert rated["x"].glicko == glicko2_ratings(matches, periods=2)["x"]
    assert rated["x"].bt == bootstrap_bradley_terry(matches, n_resamples=50, seed=1)["x"]
    assert rated["x"].win_rate == win_rates(matches)["x"] == pytest.approx(0.65)
