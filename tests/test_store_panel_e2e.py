"""A panel of three offline judges on length_gen, run from the Inspect CLI and ingested:
the store, the leaderboard in every --panel mode and polaris agreement give the numbers
that a direct computation from the logs gives (krippendorff and scipy on the raw
member values)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
INSPECT = str(Path(sys.executable).with_name("inspect"))
WRITERS = ("offline/writer-a", "offline/writer-b")
PANEL = ["--model-role", "grader=offline/judge-a", "--model-role", "grader_b=offline/judge-b",
         "--model-role", "grader_c=offline/judge-c", "-T", "judges=grader,grader_b,grader_c"]
MEMBERS = ["grader=offline/judge-a", "grader_b=offline/judge-b", "grader_c=offline/judge-c"]
RESAMPLES = "200"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from inspect_ai.log import read_eval_log

    from polaris_bench.cli.store import main

    base = tmp_path_factory.mktemp("panel_e2e")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [INSPECT, "eval", "tasks/length_gen.py", "-T", "prompts=5", "-T", "targets=150,300", "-T", "compact=true",
         "--model", ",".join(WRITERS), *PANEL, "--log-dir", str(base / "logs"), "--display", "none"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    db = str(base / "panel.duckdb")
    assert main(["ingest", str(base / "logs"), "--db", db]) == 0
    logs = [read_eval_log(str(p)) for p in sorted((base / "logs").rglob("*.eval"))]
    assert sorted(log.eval.model for log in logs) == list(WRITERS)
    return db, _from_logs(logs)


def _from_logs(logs):
    """Per sample (model, prompt, stored overall, member overall values in role order)."""
    rows = []
    for log in logs:
        for s in log.samples:
            score = s.scores["story_quality"]
            panel = score.metadata["panel"]
            assert [m["role"] for m in panel] == ["grader", "grader_b", "grader_c"]
            values = [np.nan if m["value"] is None else float(m["value"]["overall"]) for m in panel]
            stored = score.value["overall"] if isinstance(score.value, dict) else np.nan
            rows.append((log.eval.model, s.metadata["prompt_id"], float(stored), values))
    return rows


def _cli_json(capsys, *argv):
    from polaris_bench.cli.store import main

    capsys.readouterr()
    assert main([*argv, "--resamples", RESAMPLES, "-f", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _per_model(rows, per_sample):
    out = {}
    for model in WRITERS:
        vals = [v for (m, *_), v in zip(rows, per_sample) if m == model and not np.isnan(v)]
        out[model] = float(np.mean(vals))
    return out


def test_store_holds_every_member_judgement(run):
    from polaris_bench.store import connect

    db, rows = run
    con = connect(db, read_only=True)
    stored = con.execute("SELECT j.member, s.value FROM judgements j JOIN judgement_scores s "
                         "USING (run_id, sample_id, epoch, scorer, member) WHERE s.key = 'overall' "
                         "ORDER BY j.member, s.value").fetchall()
    want = sorted((i, v) for *_, values in rows for i, v in enumerate(values) if not np.isnan(v))
    assert [m for m, _ in sorted(stored)] == [m for m, _ in want]
    assert [v for _, v in sorted(stored)] == pytest.approx([v for _, v in want])
    assert con.execute("SELECT count(*) FROM judgements").fetchone()[0] == 3 * len(rows)
    con.close()


def test_leaderboard_every_panel_mode_matches_the_logs(run, capsys):
    db, rows = run
    members = np.array([r[3] for r in rows])  # sample x member
    stored = np.array([r[2] for r in rows])
    z = (members - np.nanmean(members, axis=0)) / np.nanstd(members, axis=0, ddof=1)
    trimmed = [np.mean(sorted(v[~np.isnan(v)])[1:-1]) if (~np.isnan(v)).sum() >= 3 else np.nanmean(v)
               for v in members]
    expected = {
        "mean": _per_model(rows, stored),
        "trimmed": _per_model(rows, trimmed),
        "z": _per_model(rows, np.nanmean(z, axis=1)),
        "grader_b": _per_model(rows, members[:, 1]),
        "offline/judge-c": _per_model(rows, members[:, 2]),
    }
    assert expected["mean"] == pytest.approx(_per_model(rows, np.nanmean(members, axis=1)))
    for mode, want in expected.items():
        board = _cli_json(capsys, "leaderboard", "--db", db, "--panel", mode, "--no-reference")
        got = {r["model"]: r["score"] for r in board["leaderboard"]}
        assert got == pytest.approx(want), mode
        assert all(r["unscored_rate"] == 0 for r in board["leaderboard"])
    alpha = krippendorff.alpha(reliability_data=members.T, level_of_measurement="interval")
    board = _cli_json(capsys, "leaderboard", "--db", db)
    [a] = board["agreement"]
    assert a["alpha"] == pytest.approx(alpha) and a["alpha_low"] < a["alpha"] < a["alpha_high"]
    assert a["members"] == MEMBERS
    from polaris_bench.cli.store import main

    assert main(["leaderboard", "--db", db, "--no-reference", "-f", "markdown", "--resamples", "50"]) == 0
    text = capsys.readouterr().out
    assert "Krippendorff's alpha" in text
    for judge in ("offline/judge-a", "offline/judge-b", "offline/judge-c"):  # each member's audit line
        assert f"judge {judge}: not audited" in text


def test_agreement_matches_the_logs(run, capsys):
    db, rows = run
    members = np.array([r[3] for r in rows])
    models = np.array([r[0] for r in rows])
    out = _cli_json(capsys, "agreement", "--db", db, "--no-criteria")
    [res] = out["agreement"]
    assert res["members"] == MEMBERS and res["units"] == len(rows)
    assert res["alpha"]["value"] == pytest.approx(
        krippendorff.alpha(reliability_data=members.T, level_of_measurement="interval"))
    for p in res["pairs"]:
        a, b = MEMBERS.index(p["judge_a"]), MEMBERS.index(p["judge_b"])
        keep = ~(np.isnan(members[:, a]) | np.isnan(members[:, b]))
        assert p["spearman"]["value"] == pytest.approx(sps.spearmanr(members[keep, a], members[keep, b]).statistic)
        assert p["kendall"]["value"] == pytest.approx(sps.kendalltau(members[keep, a], members[keep, b]).statistic)
    means = np.array([[np.nanmean(members[models == m, j]) for m in WRITERS] for j in range(3)])  # judge x model
    for p, (a, b) in zip(res["rankings"], itertools.combinations(range(3), 2)):
        assert (p["judge_a"], p["judge_b"]) == (MEMBERS[a], MEMBERS[b])
        assert p["kendall"]["value"] == pytest.approx(sps.kendalltau(means[a], means[b]).statistic)
    # leave-one-judge-out: per-sample means of the other members, then per model
    panel_mean = {m: np.mean(np.nanmean(members[models == m], axis=1)) for m in WRITERS}
    ranks = sps.rankdata([-panel_mean[m] for m in WRITERS], method="min")
    for loo in res["leave_one_out"]:
        j = MEMBERS.index(loo["dropped"])
        rest = {m: np.mean(np.nanmean(np.delete(members[models == m], j, axis=1), axis=1)) for m in WRITERS}
        new = sps.rankdata([-rest[m] for m in WRITERS], method="min")
        assert loo["max_rank_change"] == int(np.abs(new - ranks).max())
    # every format names the members
    from polaris_bench.cli.store import main

    for fmt in ("table", "csv", "markdown"):
        assert main(["agreement", "--db", db, "--resamples", "50", "-f", fmt]) == 0
        assert "grader_c=offline/judge-c" in capsys.readouterr().out
