"""The length-controlled score in `polaris leaderboard`, on a real offline sweep: one
writer at half the requested length, one at about the full length, both scattering
their lengths per prompt, judged by an offline judge that rewards length."""

from __future__ import annotations

import json
import math
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest
from store_logs import _eval, _task, store_logs

from polaris_bench.cli.main import main as polaris
from polaris_bench.stats.length_control import ControlledScore, fit_length_control
from polaris_bench.store import connect
from polaris_bench.store.queries import sample_scores

TARGETS = "300,600,900"
RESAMPLES = "200"
A = "offline/writer-a [length_bias=0.5, length_spread=0.3]"
B = "offline/writer-b [length_spread=0.3]"


@lru_cache(maxsize=1)
def sweep_logs() -> Path:
    base = Path(tempfile.mkdtemp(prefix="polaris-lenfit-"))
    length_gen = _task("length_gen")
    judge = {"length_reward": 20.0}  # points per 1,000 words on every criterion
    _eval(length_gen(prompts="6", targets=TARGETS), base / "a", "offline/writer-a", "offline/judge",
          {"length_bias": 0.5, "length_spread": 0.3}, judge)
    _eval(length_gen(prompts="6", targets=TARGETS), base / "b", "offline/writer-b", "offline/judge",
          {"length_spread": 0.3}, judge)
    return base


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("lenfit") / "polaris.duckdb"
    assert polaris(["ingest", str(sweep_logs()), "--db", str(path)]) == 0
    return path


def board(db: Path, capsys, *extra: str) -> dict:
    assert polaris(["leaderboard", "--db", str(db), "-b", "length_gen", "--resamples", RESAMPLES, "-f", "json",
                    *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_carries_the_length_controlled_score_and_length_effect(db, capsys):
    data = board(db, capsys)
    rows = {r["model"]: r for r in data["leaderboard"] if r["source"] == "run"}
    assert set(rows) == {A, B}
    a, b = rows[A], rows[B]
    for r in (a, b):
        assert r["sq_length_controlled_low"] <= r["sq_length_controlled"] <= r["sq_length_controlled_high"]
        assert r["sq_length_controlled_status"] is None
        assert r["length_effect_low"] <= r["length_effect"] <= r["length_effect_high"]
    # the judge rewards length, so the fit finds a positive effect ...
    assert a["length_effect"] > 0 and a["length_effect_low"] > 0 and a["length_effect"] == b["length_effect"]
    # ... and gives the half-length writer back what its short stories cost it
    assert a["length_ratio"] < 0.6 and b["length_ratio"] > 0.9
    assert a["sq_length_controlled"] - a["score"] > b["sq_length_controlled"] - b["score"] + 1
    [fit] = data["length_fits"]
    assert fit["not_identified"] is None and fit["prompts"] == 6 and fit["bucket_kind"] == "requested length"
    assert fit["buckets"] == pytest.approx({"300": 1 / 3, "600": 1 / 3, "900": 1 / 3})


def test_json_agrees_with_a_direct_fit_on_the_stored_samples(db, capsys):
    rows = {r["model"]: r for r in board(db, capsys)["leaderboard"] if r["source"] == "run"}
    con = connect(db, read_only=True)
    try:
        df = sample_scores(con, "length_gen")
    finally:
        con.close()
    direct = fit_length_control(df, n_resamples=int(RESAMPLES), seed=0)
    for model, row in rows.items():
        m = direct.models[model]
        assert isinstance(m, ControlledScore)
        assert (row["sq_length_controlled"], row["sq_length_controlled_low"], row["sq_length_controlled_high"]) == \
            pytest.approx((m.value, m.low, m.high))
        assert row["n"] == m.n  # every sample scored and used
    assert rows[A]["length_effect"] == pytest.approx(direct.length_effect)


def test_table_and_markdown_show_the_column_and_the_fit(db, capsys):
    assert polaris(["leaderboard", "--db", str(db), "-b", "length_gen", "--resamples", RESAMPLES]) == 0
    out = capsys.readouterr().out
    assert "length-controlled" in out and "points per doubling of the length ratio" in out
    assert polaris(["leaderboard", "--db", str(db), "-b", "length_gen", "--resamples", RESAMPLES, "-f",
                    "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| score [95% CI] | length-controlled [95% CI] |" in md
    a_line = next(line for line in md.splitlines() if line.startswith(f"| {A} "))
    cells = [c.strip() for c in a_line.strip("|").split("|")]
    assert cells[3].count("[") == 1 and math.isfinite(float(cells[3].split()[0]))


def test_not_identified_shows_its_reason(capsys, tmp_path):
    """The shared store logs' writers both write 8% of every request: no number, the
    reason instead, in the table and in json."""
    path = tmp_path / "fixed.duckdb"
    assert polaris(["ingest", str(store_logs() / "sweeps"), "--db", str(path)]) == 0
    capsys.readouterr()
    data = board(path, capsys)
    rows = [r for r in data["leaderboard"] if r["source"] == "run"]
    assert rows and all(r["sq_length_controlled"] is None for r in rows)
    assert all(r["sq_length_controlled_status"].startswith("not identified: no spread in length ratio (all near 0.08")
               for r in rows)
    assert data["length_fits"][0]["not_identified"].startswith("no spread in length ratio")
    assert polaris(["leaderboard", "--db", str(path), "-b", "length_gen", "-f", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "length-controlled [95% CI]" not in out  # no column of reasons: one line says it
    assert "length-controlled fit (offline/judge · full; 55 samples, 5 prompts): not identified: no spread" in out


def test_a_model_not_identified_beside_identified_ones_shows_its_reason_in_the_column():
    from polaris_bench.report.tables import render_leaderboard
    from polaris_bench.store.queries import Leaderboard

    rows = [{"benchmark": "length_gen", "model": "m1", "score": 50.0, "source": "run", "sq_length_controlled": 52.0,
             "sq_length_controlled_low": 50.0, "sq_length_controlled_high": 54.0,
             "sq_length_controlled_status": None, "sq_length_controlled_short": None},
            {"benchmark": "length_gen", "model": "m2", "score": 40.0, "source": "run",
             "sq_length_controlled": math.nan, "sq_length_controlled_status": "not identified: too few samples (3 ...)",
             "sq_length_controlled_short": "not identified: too few samples"}]
    md = render_leaderboard(Leaderboard(rows=rows), "markdown")
    assert "| m1 |  | 50.0 | 52.0 [50.0, 54.0] |" in md
    assert "| m2 |  | 40.0 | not identified: too few samples |" in md


def test_benchmarks_without_requested_lengths_have_no_column():
    from polaris_bench.report.tables import render_leaderboard
    from polaris_bench.store.queries import Leaderboard

    text = render_leaderboard(Leaderboard(rows=[{"benchmark": "eqbench_creative", "model": "m", "score": 1.0,
                                                 "source": "run"}]), "markdown")
    assert "length-controlled" not in text


def test_the_fit_agrees_with_a_hand_computation_from_the_logs(db, capsys):
    """Read the logs with Inspect, fit score ~ 0 + model + ln(ratio) + requested length
    with statsmodels' formula interface, and average the bucket effects by hand: the
    leaderboard's length-controlled scores and length effect are those numbers."""
    import numpy as np  # noqa: F401 (the formula calls np.log)
    import pandas as pd
    import statsmodels.formula.api as smf
    from inspect_ai.log import read_eval_log

    rows = []
    for path in sorted(sweep_logs().rglob("*.eval")):
        log = read_eval_log(str(path))
        label = A if "writer-a" in log.eval.model else B
        for s in log.samples:
            rows.append({"model": label, "target": s.metadata["target_words"],
                         "ratio": s.scores["length_adherence"].value["length_ratio"],
                         "score": s.scores["story_quality"].value["overall"]})
    frame = pd.DataFrame(rows)
    fit = smf.ols("score ~ 0 + C(model) + np.log(ratio) + C(target)", frame).fit()
    buckets = [p for p in fit.params.index if p.startswith("C(target)")]
    mix = sum(fit.params[b] for b in buckets) / (len(buckets) + 1)  # each requested length alike
    board_rows = {r["model"]: r for r in board(db, capsys)["leaderboard"] if r["source"] == "run"}
    for model in (A, B):
        assert board_rows[model]["sq_length_controlled"] == pytest.approx(fit.params[f"C(model)[{model}]"] + mix)
    assert board_rows[A]["length_effect"] == pytest.approx(fit.params["np.log(ratio)"] * math.log(2))
