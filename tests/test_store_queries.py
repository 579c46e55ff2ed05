"""Leaderboards, comparisons and curves against numbers computed independently from
the logs with Inspect's reader; judge setups are never pooled silently."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from inspect_ai.log import read_eval_log
from scipy import stats as sps
from store_logs import SWEEP_SAMPLES, one_log, store_logs

from polaris_bench.metrics.length import BUCKETS_2K
from polaris_bench.stats.inference import bootstrap_mean_ci
from polaris_bench.store import (
    JudgeMixError,
    QueryError,
    compare,
    connect,
    curves,
    ingest,
    leaderboard,
)
from polaris_bench.store.queries import sample_scores
from polaris_bench.store.reference import load_reference

A = "offline/writer-a [length_bias=0.08]"
B = "offline/writer-b [length_bias=0.08]"


@pytest.fixture(scope="module")
def con():
    c = connect(":memory:")
    ingest(c, [store_logs()])
    return c


def _from_log(folder: str) -> list[dict]:
    """Per-sample facts straight from the log."""
    out = []
    for s in read_eval_log(str(one_log(folder))).samples:
        sq = s.scores["story_quality"].value
        out.append(
            {
                "id": s.id,
                "prompt": s.metadata["prompt_id"],
                "bucket": s.metadata["bucket"],
                "bucket_2k": s.metadata["bucket_2k"],
                "overall": sq["overall"] if isinstance(sq, dict) else math.nan,
                "ratio": s.scores["length_adherence"].value["length_ratio"],
            }
        )
    return out


def _expected_row(samples: list[dict]) -> dict:
    scored = [s for s in samples if not math.isnan(s["overall"])]
    by_bucket, by_2k = defaultdict(list), defaultdict(list)
    for s in scored:
        by_bucket[s["bucket"]].append(s["overall"])
        by_2k[s["bucket_2k"]].append(s["overall"])
    xs = [i for i, b in enumerate(BUCKETS_2K) if b in by_2k]
    ys = [np.mean(by_2k[BUCKETS_2K[i]]) for i in xs]
    return {
        "score": np.mean([s["overall"] for s in scored]),
        "length_ratio": np.mean([s["ratio"] for s in samples]),
        **{b: np.mean(by_bucket[b]) if by_bucket[b] else math.nan for b in ("ID", "near", "far")},
        "slope": np.polyfit(xs, ys, 1)[0],
        "n": len(samples),
        "unscored": len(samples) - len(scored),
    }


def _row(board, model, judge_model="offline/judge"):
    [row] = [r for r in board.rows if r["model"] == model and r.get("judge_model") == judge_model and r["source"] == "run"]
    return row


@pytest.mark.parametrize("folder,model", [("sweeps/a", A), ("sweeps/b", B)])
def test_leaderboard_numbers_equal_the_logs(con, folder, model):
    board = leaderboard(con, "length_gen")
    row = _row(board, model)
    samples = _from_log(folder)
    expected = _expected_row(samples)
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(row[key]), key
        else:
            assert row[key] == pytest.approx(value), key
    # the CI is the cluster bootstrap over prompts of the same values
    scored = [s for s in samples if not math.isnan(s["overall"])]
    ci = bootstrap_mean_ci([s["overall"] for s in scored], [s["prompt"] for s in scored])
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert row["ci_low"] <= row["score"] <= row["ci_high"]
    assert row["scorer"] == "story_quality" and row["key"] == "overall"


def test_writer_b_has_unscored_samples(con):
    row = _row(leaderboard(con, "length_gen"), B)
    assert row["unscored"] > 0 and row["n"] == SWEEP_SAMPLES


def test_two_judges_are_split_with_a_note(con):
    board = leaderboard(con, "length_gen")
    rows_a = [r for r in board.rows if r["model"] == A]
    assert {r["judge_model"] for r in rows_a} == {"offline/judge", "offline/judge-x"}
    assert any("judge model (offline/judge vs offline/judge-x)" in n for n in board.notes)
    x = _row(board, A, "offline/judge-x")
    assert x["n"] == 4


def test_refuse_names_the_difference(con):
    with pytest.raises(JudgeMixError, match="judge model"):
        leaderboard(con, "length_gen", judges="refuse")


def test_mix_pools_on_request(con):
    # writer-a's judge-x run is also over another dataset (2 prompts x 2 lengths)
    split = leaderboard(con, "length_gen", judges="mix")
    assert len([r for r in split.rows if r["model"] == A]) == 2
    board = leaderboard(con, "length_gen", judges="mix", datasets="mix")
    [row] = [r for r in board.rows if r["model"] == A and r["source"] == "run"]
    assert row["dataset"] == "mixed (2 datasets)"
    assert row["n"] == SWEEP_SAMPLES + 4 and row["judge"].startswith("mixed")
    assert any("pooled" in n for n in board.notes)


def test_rubric_hash_and_mode_differences_split_too():
    c = connect(":memory:")
    ingest(c, [one_log("sweeps/a")])
    c.execute("UPDATE scorer_results SET rubric_sha256 = 'f' || rubric_sha256 WHERE sample_id LIKE 'salt%'")
    board = leaderboard(c, "length_gen", reference=False)
    assert len(board.rows) == 2
    assert any("rubric hash" in n for n in board.notes)
    assert len({r["judge"] for r in board.rows}) == 2  # labels carry the short hashes
    c.execute("UPDATE scorer_results SET rubric_sha256 = substr(rubric_sha256, 2) WHERE sample_id LIKE 'salt%'")
    c.execute("UPDATE scorer_results SET judge_mode = 'compact' WHERE sample_id LIKE 'salt%'")
    board = leaderboard(c, "length_gen", reference=False)
    assert len(board.rows) == 2 and any("judge mode (compact vs full)" in n for n in board.notes)


def test_unfinished_and_superseded_runs_do_not_count():
    c = connect(":memory:")
    ingest(c, [one_log("sweeps/a")])
    c.execute("UPDATE runs SET status = 'error'")
    board = leaderboard(c, "length_gen", reference=False)
    assert board.rows == [] and any("unfinished" in n for n in board.notes)
    assert leaderboard(c, "length_gen", include_incomplete=True, reference=False).rows[0]["n"] == SWEEP_SAMPLES
    c.execute("UPDATE runs SET status = 'success', superseded_by = 'later'")
    assert leaderboard(c, "length_gen", reference=False).rows == []


def test_reference_rows_are_marked_published(con):
    c = connect(":memory:")
    ingest(c, [one_log("sweeps/a")])
    load_reference(c)
    # the published SQ table is the published formula: only beside published_overall
    board = leaderboard(c, "length_gen")
    assert not any(r["source"] == "published" for r in board.rows)
    assert any("--score published_overall" in n for n in board.notes)
    board = leaderboard(c, "length_gen", score="published_overall")
    run = next(r for r in board.rows if r["source"] == "run")
    assert run["key"] == "published_overall" and "min(100, P - N + bonus)" in run["units"]
    published = [r for r in board.rows if r["source"] == "published"]
    assert all(r["units"] == run["units"] for r in published)
    polaris = next(r for r in published if r["model"] == "POLARIS-9B")
    assert (polaris["score"], polaris["ID"], polaris["near"], polaris["far"], polaris["slope"]) == (
        52.1, 57.4, 48.2, 44.1, -3.0)
    assert polaris["length_ratio"] == 0.90 and polaris["judge"] == "GPT-5.4"
    assert polaris["judge_prompt"] == "the paper's own judge prompts"
    assert not any(r["source"] == "published" for r in leaderboard(c, "length_gen", reference=False).rows)


def test_elo_rows_from_story_elo(con):
    board = leaderboard(con)
    log = read_eval_log(str(one_log("elo")))
    metrics = {k: m.value for es in log.results.scores for k, m in es.metrics.items()}
    elo = {r["model"]: r for r in board.elo_rows if r["source"] == "run"}
    assert set(elo) == {"offline/writer-a", "offline/writer-b"}
    for model, r in elo.items():
        assert r["elo"] == pytest.approx(metrics[f"glicko:{model}"])
        assert r["bt_low"] == pytest.approx(metrics[f"bt_low:{model}"])
        assert r["win_rate"] == pytest.approx(metrics[f"win_rate:{model}"])
        assert r["pairs"] == SWEEP_SAMPLES
    # story_elo is not a row of the per-sample leaderboards
    assert all(r["benchmark"] != "story_elo" for r in board.rows)


def test_pooled_story_elo_runs_are_rated_again(con):
    c = connect(":memory:")
    ingest(c, [store_logs() / "elo"])
    c.execute("INSERT INTO pairwise SELECT * REPLACE ('copy' AS run_id) FROM pairwise")
    c.execute("INSERT INTO runs SELECT * REPLACE ('copy' AS run_id, 'other-task' AS task_id) FROM runs")
    from polaris_bench.store.queries import elo_leaderboard

    rows = [r for r in elo_leaderboard(c, reference=False, n_resamples=20)]
    assert {r["source"] for r in rows} == {"pooled from 2 runs"}
    assert all(r["pairs"] == 2 * SWEEP_SAMPLES for r in rows)
    a, b = sorted(rows, key=lambda r: r["model"])
    assert a["win_rate"] + b["win_rate"] == pytest.approx(1.0)
    # the leaderboard's resample count (--resamples) reaches the pooled ratings' CIs
    few, many = (sorted(leaderboard(c, n_resamples=n).elo_rows, key=lambda r: r["model"]) for n in (20, 400))
    assert few[0]["elo"] == many[0]["elo"]
    assert (few[0]["bt_low"], few[0]["bt_high"]) != pytest.approx((many[0]["bt_low"], many[0]["bt_high"]))


def test_compare_matches_an_independent_paired_analysis(con):
    rows, notes = compare(con, "writer-a", "writer-b", "length_gen")
    a = {s["id"]: s for s in _from_log("sweeps/a")}
    b = {s["id"]: s for s in _from_log("sweeps/b")}
    ids = sorted(i for i in a if i in b and not math.isnan(a[i]["overall"]) and not math.isnan(b[i]["overall"]))
    xa = np.array([a[i]["overall"] for i in ids])
    xb = np.array([b[i]["overall"] for i in ids])
    overall = next(r for r in rows if r["bucket"] == "all")
    assert overall["n"] == len(ids)
    assert overall["mean_diff"] == pytest.approx((xa - xb).mean())
    d = np.abs(xa - xb)
    method = "exact" if len(np.unique(d[d > 0])) == len(d) else "approx"
    assert overall["p_wilcoxon"] == pytest.approx(sps.wilcoxon(xa, xb, method=method).pvalue)
    assert overall["p_ttest"] == pytest.approx(sps.ttest_rel(xa, xb).pvalue)
    wins = (xa > xb).sum() + 0.5 * (xa == xb).sum()
    assert overall["win_rate"] == pytest.approx(wins / len(ids))
    assert {r["bucket"] for r in rows} == {"all", "ID", "near", "far"}
    assert sum(r["n"] for r in rows if r["bucket"] != "all") == overall["n"]
    assert all(r["judge"] == "offline/judge · full" for r in rows)  # never against judge-x samples
    assert any("judge setup" in n for n in notes)


def test_compare_refuses_across_judges():
    c = connect(":memory:")
    ingest(c, [one_log("judge_x"), one_log("sweeps/b")])
    rows, notes = compare(c, "writer-a", "writer-b")
    assert rows == [] and "different setups" in notes[0]
    with pytest.raises(JudgeMixError):
        compare(c, "writer-a", "writer-b", judges="refuse")
    rows, _ = compare(c, "writer-a", "writer-b", judges="mix")
    assert rows and rows[0]["n"] > 0


def test_compare_needs_two_known_models(con):
    with pytest.raises(QueryError, match="no model matches"):
        compare(con, "writer-a", "nobody")
    with pytest.raises(QueryError, match="several models"):
        compare(con, "writer", "writer-b")


def test_curves_per_requested_length(con):
    frame, notes = curves(con, "length_gen", ["writer-a"])
    main = frame[frame["judge"] == "offline/judge · full"]
    assert list(main["target"]) == [1000, 3000, 5000, 7000, 9000, 11000]
    samples = _from_log("sweeps/a")
    for _, point in main.iterrows():
        vals = [s["overall"] for s in samples if s["id"].endswith(f"@{int(point['target'])}")]
        assert point["quality"] == pytest.approx(np.mean(vals))
        assert point["quality_low"] <= point["quality"] <= point["quality_high"]
    assert any("judge setups" in n for n in notes)


def test_curves_fall_back_to_2k_buckets(con):
    frame, _ = curves(con, "length_gen", ["writer-a"], max_targets=3)
    assert set(frame["point"]) <= set(BUCKETS_2K)


def test_sample_frame_keeps_errored_samples_in_their_run_setup():
    c = connect(":memory:")
    ingest(c, [one_log("sweeps/a")])
    c.execute("DELETE FROM scorer_results WHERE sample_id = 'salt-orchard@1000'")
    c.execute("DELETE FROM scores WHERE sample_id = 'salt-orchard@1000'")
    df = sample_scores(c, "length_gen")
    assert df["judge_model"].nunique() == 1 and df["rubric_sha256"].nunique() == 1
    row = leaderboard(c, "length_gen", reference=False).rows[0]
    assert row["n"] == SWEEP_SAMPLES and row["unscored"] == 1
