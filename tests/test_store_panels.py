"""Judge panels in the store: member rows, leaderboard --panel modes, unscored reasons,
and polaris agreement, each checked against a hand computation from the logs' values."""

from __future__ import annotations

import itertools
import json

import krippendorff
import numpy as np
import pytest
from panel_logs import JUDGES, ROLES, member, panel_log
from scipy import stats as sps

from polaris_bench.store import connect, ingest, leaderboard
from polaris_bench.store.panels import ONE_JUDGE, agreement, short_reason
from polaris_bench.store.queries import QueryError

N = 6  # prompts per writer (>= MIN_CLUSTERS, so CIs are computed)
RESAMPLES = 200


def _values(seed: int, shift: float) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 60, size=N) + shift
    return [[float(b + d) for d in (0, rng.integers(-8, 9), rng.integers(-15, 16) + 10)] for b in base]


W1 = _values(1, 20.0)  # per sample: the three members' overall
W2 = _values(2, 0.0)
W2[3][2] = None  # judge-c failed on one sample of writer 2


def _crit(v: float) -> dict[str, int]:
    return {"c1": int(v) % 7, "c2": int(v) // 10}


def _panels(values):
    return [[member(r, m, v, _crit(v) if v is not None else None, reason="attempt 1: no JSON object found; "
                    "attempt 2: reply cut off at max_tokens") for r, m, v in zip(ROLES, JUDGES, row)]
            for row in values]


@pytest.fixture
def store(tmp_path):
    panel_log(tmp_path / "logs" / "w1.eval", "offline/writer-a", _panels(W1))
    panel_log(tmp_path / "logs" / "w2.eval", "offline/writer-b", _panels(W2))
    con = connect(":memory:")
    report = ingest(con, [tmp_path / "logs"])
    assert not report.errors and not report.warned, report.outcomes
    return con


def _ok(row):
    return [v for v in row if v is not None]


def test_ingest_stores_one_row_per_member_judgement(store):
    rows = store.execute("SELECT member, role, judge_model, scored, attempts, unscored_reason FROM judgements "
                         "ORDER BY run_id, sample_id, member").fetchall()
    assert len(rows) == 2 * N * 3
    assert {(m, r, j) for m, r, j, *_ in rows} == {(i, ROLES[i], JUDGES[i]) for i in range(3)}
    failed = [r for r in rows if not r[3]]
    assert len(failed) == 1 and failed[0][2] == JUDGES[2] and failed[0][4] == 2 and "no JSON" in failed[0][5]
    stored = store.execute("SELECT sum(value) FROM judgement_scores WHERE key = 'overall'").fetchone()[0]
    assert stored == pytest.approx(sum(sum(_ok(r)) for r in W1 + W2))
    assert store.execute("SELECT count(*) FROM judgement_criteria").fetchone()[0] == 2 * (2 * N * 3 - 1)
    # the panel list itself is not copied into scorer_results.metadata
    assert store.execute("SELECT count(*) FROM scorer_results WHERE metadata LIKE '%grader_b%'").fetchone()[0] == 0
    assert store.execute("SELECT DISTINCT panel_aggregate FROM scorer_results "
                         "WHERE scorer = 'story_quality'").fetchall() == [("mean",)]


def test_a_log_from_before_panels_is_a_one_member_panel(tmp_path):
    panel_log(tmp_path / "old.eval", "offline/writer-a", [], legacy=[(40.0, {"c1": 3}), (None, {})])
    con = connect(":memory:")
    ingest(con, [tmp_path / "old.eval"])
    rows = con.execute("SELECT j.role, j.judge_model, j.scored, j.unscored_reason, s.value FROM judgements j "
                       "LEFT JOIN judgement_scores s USING (run_id, sample_id, epoch, scorer, member) "
                       "WHERE s.key IS NULL OR s.key = 'overall' ORDER BY j.sample_id").fetchall()
    assert rows == [("grader", JUDGES[0], True, None, 40.0), ("grader", JUDGES[0], False, "attempt 1: no JSON", None)]
    assert con.execute("SELECT criterion_id, score FROM judgement_criteria").fetchall() == [("c1", 3.0)]
    results, notes = agreement(con, "length_gen", n_resamples=0)
    assert results[0]["note"] == ONE_JUDGE and any(ONE_JUDGE in n for n in notes)


def test_malformed_panel_metadata_is_reported(tmp_path):
    bad = _panels(W1)
    bad[0][1] = "not a member"
    bad[1][0]["value"] = "high"
    bad[2][0]["criteria"] = [1, 2]
    panel_log(tmp_path / "bad.eval", "offline/writer-a", bad)
    con = connect(":memory:")
    report = ingest(con, [tmp_path / "bad.eval"])
    warnings = report.outcomes[0].warnings
    assert any("panel member 1 is not a mapping" in w for w in warnings)
    assert any("panel member 0's value of type str" in w for w in warnings)
    assert any("panel member 0's criteria of type list" in w for w in warnings)
    assert con.execute("SELECT count(*) FROM judgements").fetchone()[0] == N * 3 - 1


def _board(con, panel):
    board = leaderboard(con, "length_gen", panel=panel, n_resamples=RESAMPLES, elo=False)
    return {r["model"]: r for r in board.rows}, board


def test_panel_mean_and_trimmed_match_a_hand_computation(store):
    rows, _ = _board(store, "mean")
    assert rows["offline/writer-a"]["score"] == pytest.approx(np.mean([np.mean(r) for r in W1]))
    assert rows["offline/writer-b"]["score"] == pytest.approx(np.mean([np.mean(_ok(r)) for r in W2]))
    rows, _ = _board(store, "trimmed")
    trim = [np.mean(sorted(r)[1:-1]) if len(r) >= 3 else np.mean(r) for r in map(_ok, W2)]
    assert rows["offline/writer-b"]["score"] == pytest.approx(np.mean(trim))
    assert rows["offline/writer-a"]["score"] == pytest.approx(np.mean([sorted(r)[1] for r in W1]))
    assert rows["offline/writer-a"]["ci_low"] < rows["offline/writer-a"]["score"] < rows["offline/writer-a"]["ci_high"]


def test_panel_mean_recomputes_a_median_panel(tmp_path):
    panel_log(tmp_path / "med.eval", "offline/writer-a", _panels(W1), aggregate="median")
    con = connect(":memory:")
    ingest(con, [tmp_path / "med.eval"])
    stored = con.execute("SELECT avg(value) FROM scores WHERE key = 'overall'").fetchone()[0]
    assert stored == pytest.approx(np.mean([np.median(r) for r in W1]))
    rows, board = _board(con, "mean")
    assert rows["offline/writer-a"]["score"] == pytest.approx(np.mean([np.mean(r) for r in W1]))
    assert any("recomputes the mean" in n for n in board.notes)


def test_panel_z_matches_a_hand_computation(store):
    cols = list(zip(*(W1 + W2)))  # per member, its values over all samples
    z = []
    for c in cols:
        v = np.array([np.nan if x is None else x for x in c], dtype=float)
        z.append((v - np.nanmean(v)) / np.nanstd(v, ddof=1))
    per_sample = np.nanmean(np.array(z), axis=0)
    rows, _ = _board(store, "z")
    assert rows["offline/writer-a"]["score"] == pytest.approx(per_sample[:N].mean())
    assert rows["offline/writer-b"]["score"] == pytest.approx(per_sample[N:].mean())
    assert rows["offline/writer-a"]["units"].startswith("z-score")


def test_panel_one_member_by_role_or_model(store):
    by_role, board = _board(store, "grader_c")
    by_model, _ = _board(store, JUDGES[2])
    for rows in (by_role, by_model):
        assert rows["offline/writer-a"]["score"] == pytest.approx(np.mean([r[2] for r in W1]))
        assert rows["offline/writer-b"]["score"] == pytest.approx(np.mean(_ok([r[2] for r in W2])))
        b = rows["offline/writer-b"]
        assert (b["unscored"], b["judge_model"]) == (1, JUDGES[2])
        assert b["unscored_rate"] == pytest.approx(1 / N)
        assert b["unscored_reasons"] == [{"reason": "reply cut off at max_tokens", "count": 1}]
    assert board.agreement == []  # one member: no panel to agree
    with pytest.raises(QueryError, match="no panel member has this role or model.*grader_b"):
        _board(store, "grader_x")


def test_leaderboard_shows_the_panel_alpha(store):
    _, board = _board(store, "mean")
    [a] = board.agreement
    data = np.array([[np.nan if v is None else v for v in col] for col in zip(*(W1 + W2))])
    assert a["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
    assert a["alpha_low"] < a["alpha"] < a["alpha_high"]
    assert a["members"] == sorted(f"{r}={m}" for r, m in zip(ROLES, JUDGES))
    for row in board.rows:
        assert row["panel_alpha"] == a["alpha"]


def _hand_agreement(values_by_writer):
    """Alpha, pairwise correlations and model-ranking Kendall from the raw values."""
    allrows = [r for rows in values_by_writer for r in rows]
    data = np.array([[np.nan if v is None else v for v in col] for col in zip(*allrows)])
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    pairs = {}
    for a, b in itertools.combinations(range(3), 2):
        keep = ~(np.isnan(data[a]) | np.isnan(data[b]))
        pairs[(a, b)] = (sps.spearmanr(data[a][keep], data[b][keep]).statistic,
                         sps.kendalltau(data[a][keep], data[b][keep]).statistic)
    return alpha, pairs, data


def test_agreement_matches_a_hand_computation(store, tmp_path):
    # a third writer, so that model rankings have some room to differ
    w3 = [[30.0, 70.0, 10.0] for _ in range(N)]
    panel_log(tmp_path / "more" / "w3.eval", "offline/writer-c", _panels(w3))
    ingest(store, [tmp_path / "more"])
    results, _ = agreement(store, "length_gen", n_resamples=RESAMPLES)
    main = results[0]
    assert main["criterion"] == "overall" and main["judges"] == 3 and main["units"] == 3 * N
    alpha, pairs, data = _hand_agreement([W1, W2, w3])
    assert main["alpha"]["value"] == pytest.approx(alpha)
    assert main["alpha"]["ci_low"] <= alpha <= main["alpha"]["ci_high"]
    names = sorted(f"{r}={m}" for r, m in zip(ROLES, JUDGES))
    order = [names.index(f"{r}={m}") for r, m in zip(ROLES, JUDGES)]
    for p in main["pairs"]:
        a, b = sorted((order.index(names.index(p["judge_a"])), order.index(names.index(p["judge_b"]))))
        assert (p["spearman"]["value"], p["kendall"]["value"]) == pytest.approx(pairs[(a, b)])
    # model rankings: each member's mean per writer
    means = {w: np.nanmean(data[:, i * N:(i + 1) * N], axis=1) for i, w in enumerate("abc")}
    per_member = np.array([means[w] for w in "abc"]).T  # member x writer
    for p in main["rankings"]:
        a, b = order.index(names.index(p["judge_a"])), order.index(names.index(p["judge_b"]))
        assert p["kendall"]["value"] == pytest.approx(sps.kendalltau(per_member[a], per_member[b]).statistic)
    # leave-one-out: judge-c alone rates writer-c lowest; the others put it in the middle
    full = sps.rankdata(-per_member.mean(axis=0), method="min")
    for loo in main["leave_one_out"]:
        i = order[names.index(loo["dropped"])]
        rest = sps.rankdata(-np.delete(per_member, i, axis=0).mean(axis=0), method="min")
        assert loo["max_rank_change"] == int(np.abs(rest - full).max())
    crit = {r["criterion"]: r for r in results[1:]}
    assert set(crit) == {"c1", "c2"} and np.isnan(crit["c1"]["alpha"]["ci_low"])  # no CI without --criteria-ci
    results_ci, _ = agreement(store, "length_gen", criteria_ci=True, n_resamples=50)
    assert not np.isnan(results_ci[1]["alpha"]["ci_low"])


def test_short_reason_keeps_the_last_attempt():
    assert short_reason("attempt 1: no JSON object; attempt 2: timeout after 60 s") == "timeout after 60 s"
    assert len(short_reason("x" * 200)) <= 40


def test_cli_panel_and_agreement_in_every_format(tmp_path, capsys):
    from polaris_bench.cli.store import main

    panel_log(tmp_path / "logs" / "w1.eval", "offline/writer-a", _panels(W1))
    panel_log(tmp_path / "logs" / "w2.eval", "offline/writer-b", _panels(W2))
    db = str(tmp_path / "p.duckdb")
    assert main(["ingest", str(tmp_path / "logs"), "--db", db]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--db", db, "--panel", "z", "-f", "json", "--resamples", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["panel"] == "z" and len(out["agreement"]) == 1
    assert {"unscored_rate", "unscored_reasons", "panel_alpha"} <= set(out["leaderboard"][0])
    for fmt in ("table", "markdown", "csv"):
        assert main(["leaderboard", "--db", db, "--panel", "grader_c", "-f", fmt, "--resamples", "50"]) == 0
        text = capsys.readouterr().out
        assert "17%" in text or "0.166" in text, fmt  # writer-b's unscored rate under judge-c
        assert "reply cut off at max_tokens" in text
    assert main(["leaderboard", "--db", db, "-f", "markdown", "--resamples", "50"]) == 0
    assert "Krippendorff's alpha" in capsys.readouterr().out
    assert main(["leaderboard", "--db", db, "--panel", "nobody"]) == 2
    assert "no panel member" in capsys.readouterr().err
    for fmt in ("table", "markdown", "csv", "json"):
        assert main(["agreement", "--db", db, "-f", fmt, "--resamples", "50"]) == 0
        text = capsys.readouterr().out
        assert "grader_b=offline/judge-b" in text, fmt
    assert main(["agreement", "--db", db, "-f", "json", "--resamples", "50", "--no-criteria"]) == 0
    assert [r["criterion"] for r in json.loads(capsys.readouterr().out)["agreement"]] == ["overall"]


def test_cluster_bootstrap_resamples_whole_prompts():
    from polaris_bench.stats.inference import cluster_bootstrap

    values = np.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0])
    prompts = np.repeat(list("abcde"), 2)
    res = cluster_bootstrap(lambda idx: [values[idx].mean(), values[idx].max()], prompts, n_resamples=300)
    assert res.clusters == 5 and list(res.value) == [3.0, 5.0]
    assert res.low[0] < 3.0 < res.high[0] and res.high[1] == 5.0
    few = cluster_bootstrap(lambda idx: values[idx].mean(), prompts[:8], n_resamples=300)
    assert few.too_small and np.isnan(few.low[0])


def test_resampled_alpha_form_equals_the_krippendorff_package():
    from polaris_bench.stats.agreement import alpha_ci, interval_alpha, pairwise_alpha

    rng = np.random.default_rng(3)
    for _ in range(5):
        data = rng.normal(50, 10, size=(3, 40)).round(1)
        data[1] += rng.normal(0, 8, size=40)
        data[rng.random(data.shape) < 0.15] = np.nan  # missing judgements
        want = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
        assert interval_alpha(data) == pytest.approx(want)
        assert pairwise_alpha(data) == pytest.approx(want)
    ci = alpha_ci(data, np.repeat(np.arange(10), 4), n_resamples=300)
    assert ci.low < ci.mean < ci.high and ci.clusters == 10
    assert np.isnan(interval_alpha(np.array([[1.0, np.nan], [np.nan, 2.0]])))  # no unit with 2 values


def test_agreement_covers_a_pairwise_panel(tmp_path):
    from panel_logs import pairwise_panel_log

    verdicts = [[1.0, 1.0, 0.5], [0.0, 0.5, 0.0], [1.0, 0.5, 1.0], [0.0, 0.0, 0.0], [0.5, 1.0, 1.0], [1.0, 1.0, 0.5]]
    pairwise_panel_log(tmp_path / "elo.eval", verdicts)
    con = connect(":memory:")
    ingest(con, [tmp_path / "elo.eval"])
    results, _ = agreement(con, "story_elo", n_resamples=RESAMPLES)
    [main] = results
    want = krippendorff.alpha(reliability_data=np.array(verdicts).T, level_of_measurement="interval")
    assert main["criterion"] == "score_x" and main["alpha"]["value"] == pytest.approx(want)
    assert main["rankings"] == [] and main["leave_one_out"] == []  # pairs of writers: no model rankings
