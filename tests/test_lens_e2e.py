"""The length lens end to end, as issue 12's "done when" states it: `inspect eval
tasks/length_gen.py -T targets=9000,12000 -T segments=2000` with the offline providers
(one writer whose text degrades with position, one that does not, both scattering
their lengths), ingested; the windows cover every story exactly, and the store, the
leaderboard's decay / sq_length_controlled / cliche_rate and the position plot's points
agree with a computation straight from the logs."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from inspect_ai.log import read_eval_log

from polaris_bench.cli.main import main as polaris_main
from polaris_bench.stats.inference import bootstrap_mean_ci
from polaris_bench.store import connect

pytestmark = pytest.mark.slow  # two 5-prompt runs of 9,000 and 12,000-word stories, judged whole and in windows

ROOT = Path(__file__).resolve().parents[1]
INSPECT = str(Path(sys.executable).with_name("inspect"))
WRITERS = {"offline/writer-a": ["-M", "degrade=1", "-M", "length_spread=0.3"],
           "offline/writer-b": ["-M", "length_spread=0.3"]}
RESAMPLES = "300"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("lens_e2e")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for model, margs in WRITERS.items():
        result = subprocess.run(
            [INSPECT, "eval", "tasks/length_gen.py", "-T", "prompts=5", "-T", "targets=9000,12000",
             "-T", "segments=2000", "-T", "compact=true", "--model", model, *margs,
             "--model-role", "grader=offline/judge", "--log-dir", str(base / "logs"), "--display", "none"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    db = str(base / "lens.duckdb")
    assert polaris_main(["ingest", str(base / "logs"), "--db", db]) == 0
    logs = [read_eval_log(str(p)) for p in sorted((base / "logs").rglob("*.eval"))]
    assert sorted(log.eval.model for log in logs) == sorted(WRITERS)
    return db, logs


def _windows(logs) -> pd.DataFrame:
    rows = []
    for log in logs:
        for s in log.samples:
            for e in s.scores["story_segments"].metadata["segments"]:
                rows.append({"model": log.eval.model, "sample_id": s.id, "prompt_id": s.metadata["prompt_id"],
                             "idx": e["index"], "first_word": e["first_word"], "last_word": e["last_word"],
                             "quality": math.nan if e["value"] is None else e["value"]["quality"],
                             "self_repetition": e["self_repetition"], "overlap_prior": e["overlap_prior"],
                             "cliche_rate": e["cliche_rate"], "criteria": e.get("criteria")})
    return pd.DataFrame(rows)


def _samples(logs) -> pd.DataFrame:
    rows = []
    for log in logs:
        for s in log.samples:
            length = s.scores["length_adherence"].value
            rows.append({"model": log.eval.model, "prompt_id": s.metadata["prompt_id"],
                         "target": s.metadata["target_words"], "ratio": length["length_ratio"],
                         "score": s.scores["story_quality"].value["overall"],
                         "decay": s.scores["story_segments"].value["decay_slope"],
                         "cliche_rate": s.scores["cliche_index"].value["cliche_rate"]})
    return pd.DataFrame(rows)


def _board(db: str, capsys) -> dict[str, dict]:
    capsys.readouterr()
    assert polaris_main(["leaderboard", "--db", db, "-b", "length_gen", "-f", "json", "--resamples", RESAMPLES]) == 0
    rows = json.loads(capsys.readouterr().out)["leaderboard"]
    return {r["model"].split(" ")[0]: r for r in rows if r["source"] == "run"}


def test_windows_cover_every_story_and_are_judged_or_say_why(run):
    _, logs = run
    for log in logs:
        for s in log.samples:
            segments = s.scores["story_segments"].metadata["segments"]
            words = int(s.scores["length_adherence"].value["words"])
            assert words >= 4000 and len(segments) >= 2
            assert [e["index"] for e in segments] == list(range(len(segments)))
            assert segments[0]["first_word"] == 0 and segments[-1]["last_word"] == words - 1
            for before, after in itertools.pairwise(segments):
                assert after["first_word"] == before["last_word"] + 1
            for e in segments:
                assert (e["value"] is not None) != bool(e["unscored_reason"])


def test_the_store_holds_every_window_of_the_logs(run):
    db, logs = run
    expected = _windows(logs)
    con = connect(db, read_only=True)
    stored = con.execute(
        "SELECT r.model, w.sample_id, w.idx, w.first_word, w.last_word, w.quality, w.self_repetition, "
        "w.overlap_prior, w.cliche_rate, w.criteria FROM story_windows w JOIN runs r USING (run_id)"
    ).df()
    con.close()
    merged = expected.merge(stored, on=["model", "sample_id", "idx"], suffixes=("", "_db"), validate="one_to_one")
    assert len(merged) == len(stored) == len(expected) >= 2 * 5 * (4 + 6)
    assert (merged["first_word"] == merged["first_word_db"]).all()
    assert (merged["last_word"] == merged["last_word_db"]).all()
    for col in ("quality", "self_repetition", "overlap_prior", "cliche_rate"):
        assert np.allclose(merged[col].astype(float), merged[f"{col}_db"].astype(float), equal_nan=True), col
    assert all(json.loads(db_c) == c for c, db_c in zip(merged["criteria"], merged["criteria_db"], strict=True)
               if c is not None)


def test_leaderboard_decay_length_control_and_cliches_match_the_logs(run, capsys):
    import statsmodels.formula.api as smf

    db, logs = run
    board = _board(db, capsys)
    samples = _samples(logs)
    assert set(board) == set(WRITERS)
    for model, g in samples.groupby("model"):
        row = board[model]
        decay = g["decay"].to_numpy(float)
        ci = bootstrap_mean_ci(decay, g["prompt_id"].to_numpy(), n_resamples=int(RESAMPLES))
        assert row["decay"] == pytest.approx(np.nanmean(decay))
        assert (row["decay_low"], row["decay_high"]) == pytest.approx((ci.low, ci.high))
        assert row["cliche_rate"] == pytest.approx(g["cliche_rate"].mean())
    # the degrading writer decays and piles up clichés; the other one does not
    a, b = board["offline/writer-a"], board["offline/writer-b"]
    assert a["decay_high"] < 0 and a["decay_high"] < b["decay_low"]
    assert a["cliche_rate_low"] > b["cliche_rate_high"]
    # sq_length_controlled: score ~ 0 + model + ln(length ratio) + requested length, by statsmodels
    fit = smf.ols("score ~ 0 + C(model) + np.log(ratio) + C(target)", samples).fit()
    buckets = [p for p in fit.params.index if p.startswith("C(target)")]
    mix = sum(fit.params[p] for p in buckets) / (len(buckets) + 1)
    for model in WRITERS:
        assert board[model]["sq_length_controlled"] == pytest.approx(fit.params[f"C(model)[{model}]"] + mix)


def test_position_plot_points_match_the_logs(run, tmp_path):
    db, logs = run
    png, points = tmp_path / "position.png", tmp_path / "position.csv"
    assert polaris_main(["plot", "--kind", "position", "--db", db, "-b", "length_gen", "--out", str(png),
                         "--csv", str(points), "--resamples", RESAMPLES]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    w = _windows(logs)
    w["mid"] = (w["first_word"] + w["last_word"] + 1) / 2
    got = list(csv.DictReader(io.StringIO(points.read_text())))
    assert len(got) == w.groupby(["model", "idx"]).ngroups
    for p in got:
        g = w[(w["model"] == p["model"].split(" ")[0]) & (w["idx"] == int(p["window"]))]
        assert int(p["segment_words"]) == 2000 and int(p["windows"]) == len(g)
        assert float(p["position"]) == pytest.approx(g["mid"].mean())
        assert float(p["quality"]) == pytest.approx(g["quality"].mean())
        assert float(p["self_repetition"]) == pytest.approx(g["self_repetition"].mean())
        ci = bootstrap_mean_ci(g["quality"].to_numpy(float), g["prompt_id"].to_numpy(), n_resamples=int(RESAMPLES))
        if ci.too_small:  # late windows that few stories reach: no band
            assert p["quality_low"] == "" and p["ci_status"] == "n too small"
        else:
            assert (float(p["quality_low"]), float(p["quality_high"])) == pytest.approx((ci.low, ci.high))
    # along the story: the degrading writer's last windows are worse and more repetitive than its first
    a = {int(p["window"]): p for p in got if p["model"].startswith("offline/writer-a")}
    last = max(a)
    assert float(a[last]["quality"]) < float(a[0]["quality"]) - 15
    assert float(a[last]["self_repetition"]) > float(a[0]["self_repetition"]) + 0.1
