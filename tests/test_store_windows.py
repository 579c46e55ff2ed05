"""The length lens in the store: story_windows rows from story_segments metadata, the
leaderboard's decay and cliché columns, and `polaris plot --kind position`, each
checked against a computation straight from the logs."""

from __future__ import annotations

import csv
import io
import json
import math
import os

import duckdb
import numpy as np
import pandas as pd
import pytest
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.scorer import Score
from store_logs import one_log, store_logs
from window_logs import PLANTED, UNSCORED, WINDOW_WORDS, lens_logs

from polaris_bench.cli.main import main as polaris_main
from polaris_bench.stats.inference import bootstrap_mean_ci
from polaris_bench.store import connect, counts, ingest
from polaris_bench.store.rows import build_rows
from polaris_bench.store.schema import SCHEMA_VERSION, current_version, migrate

RESAMPLES = "300"


def polaris(*argv: str) -> int:
    return polaris_main(list(argv))


@pytest.fixture(scope="module")
def logs():
    return sorted(lens_logs().rglob("*.eval"))


@pytest.fixture(scope="module")
def db(tmp_path_factory, logs):
    path = tmp_path_factory.mktemp("lens") / "polaris.duckdb"
    assert polaris("ingest", str(lens_logs()), "--db", str(path)) == 0
    return path


def _from_logs(paths) -> pd.DataFrame:
    """Every window of every sample, straight from the logs' metadata."""
    rows = []
    for p in paths:
        log = read_eval_log(str(p))
        model = log.eval.model
        for s in log.samples:
            meta = s.scores["story_segments"].metadata
            for e in meta["segments"]:
                rows.append({
                    "run_id": log.eval.eval_id, "model": model, "sample_id": s.id, "epoch": s.epoch,
                    "prompt_id": s.metadata["prompt_id"], "idx": e["index"], "first_word": e["first_word"],
                    "last_word": e["last_word"], "words": e["words"],
                    "quality": math.nan if e["value"] is None else e["value"]["quality"],
                    "self_repetition": e["self_repetition"], "overlap_prior": e["overlap_prior"],
                    "cliche_rate": e["cliche_rate"], "unscored_reason": e["unscored_reason"],
                    "decay": s.scores["story_segments"].value["decay_slope"],
                    "criteria": e["criteria"], "attempts": e["attempts"],
                    "sample_cliche": s.scores["cliche_index"].value["cliche_rate"],
                })
    return pd.DataFrame(rows)


# -- rows ---------------------------------------------------------------------------------


def test_every_window_in_the_log_is_one_row(db, logs):
    expected = _from_logs(logs)
    con = connect(db, read_only=True)
    stored = con.execute(
        "SELECT run_id, sample_id, epoch, idx, first_word, last_word, words, quality, value, self_repetition, "
        "overlap_prior, cliche_rate, unscored_reason, panel, criteria, attempts FROM story_windows "
        "ORDER BY run_id, sample_id, idx"
    ).df()
    assert len(stored) == len(expected) > 100
    merged = expected.merge(stored, on=["run_id", "sample_id", "epoch", "idx"], suffixes=("", "_db"),
                            validate="one_to_one")
    assert len(merged) == len(expected)
    for col in ("first_word", "last_word", "words", "self_repetition", "overlap_prior", "cliche_rate"):
        assert np.allclose(merged[col].astype(float), merged[f"{col}_db"].astype(float)), col
    assert np.allclose(merged["quality"], merged["quality_db"].astype(float), equal_nan=True)
    unscored = merged[merged["quality"].isna()]
    assert len(unscored) > 5 and set(unscored["unscored_reason_db"]) == {UNSCORED}
    assert merged.loc[merged["quality"].notna(), "unscored_reason_db"].isna().all()
    value = json.loads(merged.loc[merged["quality"].notna(), "value"].iloc[0])
    assert set(value) == {"quality", "scene"}
    assert merged["panel"].isna().all()
    assert all((json.loads(c) if isinstance(c, str) else None) == want
               for c, want in zip(merged["criteria_db"], merged["criteria"], strict=True))
    assert (merged["attempts"] == merged["attempts_db"]).all()
    # the windows of a sample cover its story: consecutive, no gap, no overlap
    for _, g in merged.groupby(["run_id", "sample_id"]):
        g = g.sort_values("idx")
        assert g["first_word"].iloc[0] == 0
        assert (g["first_word"].to_numpy()[1:] == g["last_word"].to_numpy()[:-1] + 1).all()
    # the list is in story_windows, not copied into scorer_results.metadata again
    meta = json.loads(con.execute("SELECT metadata FROM scorer_results WHERE scorer = 'story_segments' LIMIT 1")
                      .fetchone()[0])
    assert "segments" not in meta and meta["segment_words"] == WINDOW_WORDS


def test_reingest_keeps_one_copy_and_a_changed_log_replaces_its_windows(logs, tmp_path):
    con = connect(":memory:")
    ingest(con, logs)
    n = counts(con)["story_windows"]
    ingest(con, logs, force=True)
    assert counts(con)["story_windows"] == n
    log = read_eval_log(str(logs[0]))
    dropped = 0
    for s in log.samples:
        segments = s.scores["story_segments"].metadata["segments"]
        if len(segments) > 1:
            segments.pop()
            dropped += 1
    log.stats.completed_at = "2099-01-01T00:00:00+00:00"  # a re-scored log: new content, same run
    path = tmp_path / logs[0].name
    write_eval_log(log, str(path))
    os.utime(path, (1, 1))
    [o] = ingest(con, [path]).outcomes
    assert o.outcome == "replaced" and dropped > 5
    assert counts(con)["story_windows"] == n - dropped


def _sample_log(scores: dict[str, Score]):
    log = read_eval_log(str(one_log("sweeps/a")))
    log.samples = log.samples[:1]
    log.samples[0].scores.update(scores)
    return log


def test_malformed_segments_are_reported_not_swallowed():
    good = {"index": 0, "first_word": 0, "last_word": 99, "words": 100, "value": {"quality": 50.0},
            "self_repetition": 0.1, "overlap_prior": 0.0, "cliche_rate": 2.0, "unscored_reason": None}
    entries = [
        good,
        "window 2",  # not a mapping
        {**good, "index": 1, "first_word": None},  # cannot be placed
        {**good, "index": 2, "first_word": 300, "last_word": 200},  # backwards
        {**good, "index": 3, "first_word": 100, "last_word": 199, "value": 61.5},  # value not a mapping
        {**good, "index": 4, "first_word": 200, "last_word": 299, "value": {"scene": 5}},  # no quality
        {**good, "index": 5, "first_word": 300, "last_word": 399, "self_repetition": "high", "panel": "x",
         "criteria": [4, 5]},
        {**good, "index": 6, "first_word": 400, "last_word": 499, "criteria": {"scene": 4.0}, "attempts": 2},
    ]
    log = _sample_log({"story_segments": Score(value={"decay_slope": -1.0}, metadata={"segments": entries})})
    rows = build_rows(log, "x.eval", "fp")
    table = rows.story_windows.table().to_pandas()
    assert table["idx"].tolist() == [0, 3, 4, 5, 6]
    assert table["words"].tolist() == [100] * 5
    by = table.set_index("idx")
    assert by.loc[3, "unscored_reason"] == "the window's value is not a score mapping" and math.isnan(by.loc[3, "quality"])
    assert math.isnan(by.loc[4, "quality"]) and json.loads(by.loc[4, "value"]) == {"scene": 5}
    assert math.isnan(by.loc[5, "self_repetition"]) and pd.isna(by.loc[5, "panel"]) and pd.isna(by.loc[5, "criteria"])
    assert json.loads(by.loc[6, "criteria"]) == {"scene": 4.0} and by.loc[6, "attempts"] == 2
    text = "\n".join(rows.warnings)
    for expected in ("a 'segments' entry of type str is not a mapping; left out",
                     "story_segments: a window entry without a usable index, first_word and last_word",
                     "(2 samples)",  # the None position and the backwards window
                     "a window's value of type float is not a score mapping",
                     "a window's value has no 'quality' key",
                     "a window's 'self_repetition' of type str is not a number",
                     "a window's 'panel' of type str is not a list of members",
                     "a window's 'criteria' of type list is not a mapping of criterion scores"):
        assert expected in text, expected
    for meta, expected in (({"segments": {"0": good}}, "'segments' metadata of type dict is not a list"),
                           ({}, "a score has no 'segments' metadata")):
        rows = build_rows(_sample_log({"story_segments": Score(value={}, metadata=meta)}), "x.eval", "fp")
        assert len(rows.story_windows) == 0 and any(expected in w for w in rows.warnings)


def test_a_panel_of_judges_per_window_is_kept():
    member = [{"role": "grader", "model": "offline/judge-a", "value": {"quality": 40.0}},
              {"role": "grader_b", "model": "offline/judge-b", "value": {"quality": 60.0}}]
    entry = {"index": 0, "first_word": 0, "last_word": 9, "words": 10, "value": {"quality": 50.0},
             "self_repetition": 0.0, "overlap_prior": 0.0, "cliche_rate": 0.0, "unscored_reason": None,
             "panel": member}
    rows = build_rows(_sample_log({"story_segments": Score(value={}, metadata={"segments": [entry]})}), "x", "fp")
    assert json.loads(rows.story_windows.data["panel"][0]) == member


def test_v4_database_migrates_to_v5_with_story_windows(tmp_path):
    path = tmp_path / "v4.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, 4)
    con.close()
    con = connect(path)
    assert current_version(con) == SCHEMA_VERSION >= 5
    assert con.execute("SELECT count(*) FROM story_windows").fetchone()[0] == 0


def test_v6_database_migrates_to_v7_with_window_criteria(tmp_path):
    path = tmp_path / "v6.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, 6)
    con.execute("INSERT INTO story_windows (run_id, sample_id, epoch, idx, quality) VALUES ('r', 's', 1, 0, 50)")
    con.close()
    con = connect(path)
    assert current_version(con) == SCHEMA_VERSION >= 7
    assert con.execute("SELECT quality, criteria, attempts FROM story_windows").fetchall() == [(50.0, None, None)]


# -- leaderboard --------------------------------------------------------------------------


def _per_sample(paths) -> pd.DataFrame:
    w = _from_logs(paths)
    return w.groupby(["model", "run_id", "sample_id", "epoch"], as_index=False).first()


def test_leaderboard_decay_and_cliche_rate_match_the_logs(db, logs, capsys):
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "json", "--resamples", RESAMPLES) == 0
    rows = {r["model"].split(" ")[0]: r for r in json.loads(capsys.readouterr().out)["leaderboard"]
            if r["source"] == "run"}
    per = _per_sample(logs)
    assert len(rows) == 2
    for model, g in per.groupby("model"):
        row = rows[model]
        decay = g["decay"].to_numpy(float)
        assert row["decay"] == pytest.approx(np.nanmean(decay))
        assert row["decay_n"] == int((~np.isnan(decay)).sum()) < len(g)  # one-window stories have no slope
        ci = bootstrap_mean_ci(decay, g["prompt_id"].to_numpy(), n_resamples=int(RESAMPLES))
        assert (row["decay_low"], row["decay_high"]) == pytest.approx((ci.low, ci.high))
        assert row["decay_low"] < row["decay"] < row["decay_high"]
        assert row["cliche_rate"] == pytest.approx(g["sample_cliche"].mean())
        assert row["cliche_rate_low"] < row["cliche_rate"] < row["cliche_rate_high"]
    # the planted slopes come back: writer-a decays by about 20 points per 1,000 words, writer-b by 5
    assert rows["offline/writer-a"]["decay"] == pytest.approx(PLANTED["sweeps/a"][1], abs=6)
    assert rows["offline/writer-b"]["decay"] == pytest.approx(PLANTED["sweeps/b"][1], abs=6)


def test_decay_and_cliche_columns_only_where_there_are_values(db, capsys, tmp_path):
    assert polaris("leaderboard", "--db", str(db), "-b", "length_gen", "-f", "markdown", "--resamples", RESAMPLES) == 0
    md = capsys.readouterr().out
    header = next(line for line in md.splitlines() if line.startswith("| model"))
    assert "decay/1k words [95% CI]" in header and "clichés/1k" in header
    row = next(line for line in md.splitlines() if line.startswith("| offline/writer-a"))
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["decay/1k words [95% CI]"].startswith("-") and "[" in cells["decay/1k words [95% CI]"]
    # a store without segment scores has no decay column; every single-story run has
    # the cliché index (the offline writer's plain prose: none)
    plain = tmp_path / "plain.duckdb"
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(plain)) == 0
    capsys.readouterr()
    assert polaris("leaderboard", "--db", str(plain), "-b", "length_gen", "-f", "markdown") == 0
    md = capsys.readouterr().out
    assert "decay/1k" not in md and "clichés/1k" in md
    assert polaris("leaderboard", "--db", str(plain), "-b", "length_gen", "-f", "json") == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    assert all(r["decay"] is None and r["cliche_rate"] == 0 for r in rows if r["source"] == "run")


# -- position plot ------------------------------------------------------------------------


def test_position_plot_points_match_the_logs(db, logs, tmp_path, capsys):
    png, points = tmp_path / "position.png", tmp_path / "position.csv"
    assert polaris("plot", "--kind", "position", "--db", str(db), "-b", "length_gen", "--out", str(png),
                   "--csv", str(points), "--resamples", RESAMPLES) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    got = list(csv.DictReader(io.StringIO(points.read_text())))
    w = _from_logs(logs)
    w["mid"] = (w["first_word"] + w["last_word"] + 1) / 2
    assert len(got) == w.groupby(["model", "idx"]).ngroups
    for p in got:
        g = w[(w["model"] == p["model"].split(" ")[0]) & (w["idx"] == int(p["window"]))]
        assert int(p["segment_words"]) == WINDOW_WORDS
        assert float(p["position"]) == pytest.approx(g["mid"].mean())
        assert int(p["windows"]) == len(g) and int(p["unscored"]) == int(g["quality"].isna().sum())
        assert float(p["quality"]) == pytest.approx(g["quality"].mean())  # pandas skips the unscored (NaN)
        assert float(p["self_repetition"]) == pytest.approx(g["self_repetition"].mean())
        assert float(p["cliche_rate"]) == pytest.approx(g["cliche_rate"].mean())
        ci = bootstrap_mean_ci(g["quality"].to_numpy(float), g["prompt_id"].to_numpy(), n_resamples=int(RESAMPLES))
        if ci.too_small:
            assert p["quality_low"] == "" and p["ci_status"] == "n too small"
        else:
            assert (float(p["quality_low"]), float(p["quality_high"])) == pytest.approx((ci.low, ci.high))
    # writer-a's first window is better than its fourth (the planted decay)
    a = {int(p["window"]): float(p["quality"]) for p in got if p["model"].startswith("offline/writer-a")}
    assert a[0] > a[3] + 8  # about 20 points per 1,000 words over 600 words


def test_position_plot_bad_requests_fail_in_one_line(db, tmp_path, capsys):
    plain = tmp_path / "plain.duckdb"
    assert polaris("ingest", str(store_logs() / "sweeps"), "--db", str(plain)) == 0
    capsys.readouterr()
    assert polaris("plot", "--kind", "position", "--db", str(plain), "--out", str(tmp_path / "p.png")) == 2
    err = capsys.readouterr().err
    assert "no story windows: run a task with -T segments=<words>" in err and "error: nothing to plot" in err
    assert not (tmp_path / "p.png").exists()
    assert polaris("plot", "--kind", "position", "--db", str(db), "--score", "overall") == 2
    assert "--score overall" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        polaris("plot", "--kind", "decay", "--db", str(db))
    # the default kind is still the curve against the requested length
    assert polaris("plot", "--db", str(db), "--out", str(tmp_path / "l.png"), "--csv", str(tmp_path / "l.csv"),
                   "--resamples", RESAMPLES) == 0
    assert (tmp_path / "l.csv").read_text().startswith("benchmark,model,judge,dataset,point")


def test_position_plot_default_file(db, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert polaris("plot", "--kind", "position", "--db", str(db), "--resamples", RESAMPLES) == 0
    assert (tmp_path / "results" / "position_curves.png").exists()
    assert not (tmp_path / "results" / "length_curves.png").exists()
    assert polaris("plot", "--kind", "position", "--db", str(db), "--resamples", RESAMPLES,
                   "--out", "results/length_curves.png") == 0  # an explicit path is kept, even the length default
    assert (tmp_path / "results" / "length_curves.png").exists()
